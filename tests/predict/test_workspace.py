"""``ws.predict`` and ``portraits predict`` end to end on a copy of the synthetic shop:
train with saved versions and reports, score into ``predictions``, and read the scores
from segments, tags and exports like profile fields."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from portraits.errors import PortraitsError
from portraits.predict.store import MODELS, PREDICTION_FIELDS
from portraits.settings import Settings, get_settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.shop import Shop

runner = CliRunner()
ENV = {"PORTRAITS_NOW": NOW.isoformat(), "COLUMNS": "220"}


def run(*args: str, code: int = 0) -> str:
    """Invoke the CLI with "now" pinned (settings are read once per process: read them
    again inside the call, and forget them after)."""
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, list(args), env=ENV)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def scored(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A copy of the shop with every model trained once and everyone scored."""
    root = tmp_path_factory.mktemp("predict-ws") / "shop"
    shutil.copytree(shop.root, root, symlinks=True)
    copy = Shop(root, shop.truth)
    out = run("predict", "train", "-p", str(root))
    assert out.count("Report saved") == len(MODELS)
    run("predict", "score", "-p", str(root))
    return copy


def test_train_saves_versions_reports_and_evaluations(scored: Shop) -> None:
    for model in MODELS:
        meta = json.loads((scored.root / "models" / f"{model}-v1.json").read_text("utf-8"))
        assert meta["version"] == "v1" and meta["as_of"] == NOW.isoformat()
        assert meta["evaluation"], model
        report = (scored.root / "reports" / "predictions" / f"{model}-v1.md").read_text("utf-8")
        assert report.startswith("# ") and "| Metric | Value |" in report
    clv = json.loads((scored.root / "models" / "clv-v1.json").read_text("utf-8"))
    assert set(clv["parameters"]) == {"BGNBD", "GammaGamma"}


def test_scores_are_stored_per_model_and_field(scored: Shop) -> None:
    with scored.open() as ws:
        rows = ws.engine.to_arrow(ws.predict.table()).to_pandas()
        wide = ws.engine.to_arrow(ws.predict.columns()).to_pandas().set_index("customer_id")
        profiles = ws.engine.count(ws.profiles.table())
    assert set(rows.model) == {"churn", "propensity", "clv", "next_category"}
    assert set(rows.field) == {f.name for f in PREDICTION_FIELDS}
    assert rows.groupby(["customer_id", "field"]).size().max() == 1
    assert (rows.version == "v1").all() and (rows.scored_at == pd.Timestamp(NOW)).all()
    assert wide.churn_risk.dropna().between(0, 1).all() and wide.clv.dropna().ge(0).all()
    # Churn and CLV score buyers; propensity and next category everyone seen.
    assert wide.churn_risk.notna().sum() < wide.purchase_propensity.notna().sum() <= profiles
    buyers = wide.dropna(subset=["churn_risk"])
    assert buyers.p_alive.notna().all() and buyers.next_category.notna().all()


def test_segments_tags_and_exports_read_predictions(scored: Shop, tmp_path: Path) -> None:
    with scored.open() as ws:
        wide = ws.engine.to_arrow(ws.predict.columns()).to_pandas()
        expected = int(((wide.churn_risk >= 0.6) & (wide.clv >= 1000)).sum())
        assert expected > 0
        assert ws.segments.count("valuable_predicted_churners", record=False) == expected
        likely = int((wide.purchase_propensity >= 0.5).sum())
        assert ws.segments.count("likely_buyers_next_month", record=False) == likely
        (scored.root / "tags" / "risk.yaml").write_text(
            "tags:\n  - id: predicted_churner\n    name: {en: Predicted churner, zh-CN: 预测流失}"
            "\n    category: value\n    kind: rule\n    when: churn_risk >= 0.6\n",
            encoding="utf-8")
        run_ = ws.tags.run()
        assert run_.count("predicted_churner") == int((wide.churn_risk >= 0.6).sum())
        out = tmp_path / "risk.csv"
        ws.segments.export("valuable_predicted_churners", out,
                           columns=["customer_id", "churn_risk", "clv", "next_category"])
    exported = pd.read_csv(out, encoding="utf-8-sig")
    assert len(exported) == expected and exported.churn_risk.ge(0.6).all()


def test_counting_every_segment_at_once_equals_one_by_one(scored: Shop) -> None:
    from portraits.tags import expr

    with scored.open() as ws:
        if not ws.engine.has_table("tags"):
            ws.tags.run()
        catalog = ws.segments.catalog()
        # The example library mixes plain fields, predictions and windowed event counts:
        # one base must carry what each of them reads.
        assert any(expr.windows_read(s.condition) for s in catalog.values())
        one_by_one = {sid: ws.segments.count(sid, record=False) for sid in catalog}
        before = ws.engine.count(ws.table("segment_history")) if ws.engine.has_table(
            "segment_history") else 0
        at_once = ws.segments.count_all()
        assert at_once == one_by_one and list(at_once) == list(catalog)
        assert any(at_once.values())
        history = ws.table("segment_history").to_pandas()
        assert len(history) == before + len(catalog)
        latest = history[history.counted_at == history.counted_at.max()]
        assert dict(zip(latest.segment, latest.customers, strict=True)) == at_once
        assert ws.segments.count_all(["young_mothers_tier1"], record=False) == {
            "young_mothers_tier1": one_by_one["young_mothers_tier1"]}
        assert ws.segments.count_all([], record=False) == {}


def test_scoring_again_replaces_only_that_models_rows(scored: Shop) -> None:
    with scored.open() as ws:
        before = ws.engine.to_arrow(ws.predict.table()).to_pandas()
        ws.predict.score(["churn"])
        after = ws.engine.to_arrow(ws.predict.table()).to_pandas()
    key = ["customer_id", "model", "field"]
    pd.testing.assert_frame_equal(before.sort_values(key).reset_index(drop=True),
                                  after.sort_values(key).reset_index(drop=True))


def test_a_second_training_is_v2_with_the_same_scores(scored: Shop) -> None:
    with scored.open() as ws:
        trained = ws.predict.train("churn")
        assert trained.version == "v2"
        first = ws.engine.to_arrow(ws.predict.table()).to_pandas()
        ws.predict.score(["churn"])
        second = ws.engine.to_arrow(ws.predict.table()).to_pandas()
        versions = [m["version"] for m in ws.predict.models() if m["model"] == "churn"]
    assert versions == ["v1", "v2"]
    mine = ["customer_id", "value"]
    old = first[first.model == "churn"].sort_values("customer_id")[mine].reset_index(drop=True)
    new = second[second.model == "churn"].sort_values("customer_id")
    assert (new.version == "v2").all()
    pd.testing.assert_frame_equal(old, new[mine].reset_index(drop=True))


def test_evaluate_prints_every_table_in_chinese_and_saves_the_report(scored: Shop) -> None:
    out = run("--lang", "zh-CN", "predict", "evaluate", "churn", "-p", str(scored.root))
    for title in ("留出窗口上的评估", "影响得分的因素", "提升度", "校准"):
        assert title in out
    assert "越高" in out  # importances in plain words
    assert not re.search(r"\bpr\.", out)
    saved = re.search(r"评估报告已保存到 (\S+\.md)", out.replace("\n", ""))
    assert saved is not None
    report = Path(saved.group(1)).read_text("utf-8")
    assert "| 指标 | 值 |" in report and "十分位" in report
    for model in ("clv", "next_category", "recommend"):
        out = run("--lang", "zh-CN", "predict", "evaluate", model, "-p", str(scored.root))
        assert "与基线对比" in out or "复购次数" in out
        assert not re.search(r"\bpr\.", out)


def test_recommend_for_one_customer_by_id(scored: Shop) -> None:
    with scored.open() as ws:
        customer = ws.engine.to_arrow(ws.predict.recommendations().limit(1))[
            "customer_id"][0].as_py()
        stored = ws.engine.to_arrow(ws.predict.recommendations(customer)).to_pandas()
    out = run("--lang", "zh-CN", "predict", "recommend", customer, "-k", "5", "-p",
              str(scored.root))
    assert "推荐理由" in out and out.count("SKU") == 5
    assert list(stored["rank"]) == list(range(1, 11))
    assert stored.product_id.iloc[0] in out


def test_models_lists_saved_versions(scored: Shop) -> None:
    out = run("predict", "models", "-p", str(scored.root))
    assert all(m in out for m in MODELS) and "v1" in out


def test_mistakes_are_one_clear_line(shop: Shop, tmp_path: Path) -> None:
    out = run("predict", "train", "chrun", "-p", str(shop.root), code=2)
    assert "no model 'chrun'" in out and "churn" in out and "Traceback" not in out
    empty = tmp_path / "fresh"
    shutil.copytree(shop.root, empty, symlinks=True,
                    ignore=shutil.ignore_patterns("models", "reports"))
    out = run("predict", "score", "-p", str(empty), code=2)
    assert "no model trained yet" in out
    out = run("predict", "recommend", "P0000001", "-p", str(empty), code=2)
    assert "no recommend model trained yet" in out
    out = run("predict", "evaluate", "clv", "--version", "v9", "-p", str(empty), code=2)
    assert "no saved clv model v9" in out
    with Shop(empty, shop.truth).open() as ws, pytest.raises(PortraitsError,
                                                            match="predict score"):
        ws.predict.columns()


def test_a_shared_block_is_one_moment_and_runs_common_queries_once(
        shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the clock running (not pinned), churn and propensity trained in one block are
    as of the block's start, so propensity's four feature frames come from churn's."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(Settings, "current_time",
                        lambda self: NOW + timedelta(seconds=next(ticks)))
    root = tmp_path / "shop"
    shutil.copytree(shop.root, root, symlinks=True,
                    ignore=shutil.ignore_patterns("models", "reports"))
    with Workspace(root, settings=Settings(lang="en")) as ws:
        with ws.predict.shared_queries() as shared:
            trained = [ws.predict.train(m) for m in ("churn", "propensity")]
            assert shared.hits == 4
            ws.predict.score(["churn", "propensity"])  # nested: the block's moment
            assert shared.hits == 5  # the features at the moment, once for both
        assert trained[0].as_of == trained[1].as_of == NOW
        # Outside a block every call reads the clock again.
        assert ws.predict.train("churn").as_of > NOW
