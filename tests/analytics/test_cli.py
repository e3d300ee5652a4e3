"""``portraits analyze funnel|paths|retention`` end to end on the synthetic shop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from tests.analytics.conftest import Shop
from tests.conftest import NOW

runner = CliRunner()
ENV = {"PORTRAITS_NOW": NOW.isoformat(), "COLUMNS": "200"}
STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


@pytest.fixture
def own_shop(shop: Shop, tmp_path: Path) -> Shop:
    """A copy of the shop for a test that writes to it (saved lists, stored scores)."""
    root = tmp_path / "shop"
    shutil.copytree(shop.root, root, symlinks=True)
    return Shop(root, shop.truth)


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exit_code == 0, result.output
    return result.output


def test_funnel_prints_steps_and_saves_chart_and_table(shop: Shop, tmp_path: Path) -> None:
    out = run("analyze", "funnel", *STEPS, "-p", str(shop.root), "--chart",
              str(tmp_path / "f.png"), "--out", str(tmp_path / "f.csv"))
    assert "Checkout Started" in out and "largest drop" in out
    frame = pd.read_csv(tmp_path / "f.csv", encoding="utf-8-sig")
    with shop.open() as ws:
        direct = ws.analytics.funnel(STEPS).to_pandas()
    assert frame["people"].tolist() == direct["people"].tolist()
    assert (tmp_path / "f.png").stat().st_size > 5_000


def test_funnel_in_chinese_with_breakdown_and_echarts_json(shop: Shop, tmp_path: Path) -> None:
    out = run("--lang", "zh-CN", "analyze", "funnel", *STEPS[:2], "-p", str(shop.root),
              "--breakdown", "city_tier", "--window", "1d", "--chart",
              str(tmp_path / "f.json"))
    assert "浏览商品" in out and "转化率" in out
    option = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert option["series"][0]["type"] == "bar"


def test_user_mistakes_get_one_clear_line(shop: Shop) -> None:
    result = runner.invoke(app, ["analyze", "funnel", "Product Viewd", "Order Completed",
                                 "-p", str(shop.root)], env=ENV)
    assert result.exit_code == 2
    assert "did you mean 'Product Viewed'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["analyze", "funnel", *STEPS, "-p", str(shop.root),
                                 "--breakdown", "city_teir"], env=ENV)
    assert result.exit_code == 2 and "city_tier" in result.output
    result = runner.invoke(app, ["analyze", "funnel", *STEPS, "--window", "two weeks"],
                           env=ENV)
    assert result.exit_code == 2 and "not a duration" in result.output


def test_paths_and_retention(shop: Shop, tmp_path: Path) -> None:
    out = run("analyze", "paths", "-p", str(shop.root), "--start", "Product Viewed",
              "--steps", "4", "--chart", str(tmp_path / "p.svg"))
    assert "Where sessions end" in out and "(exit)" in out
    out = run("--lang", "zh-CN", "analyze", "retention", "-p", str(shop.root), "--period",
              "month", "--periods", "3", "--repurchase", "--out", str(tmp_path / "r.xlsx"))
    assert "按月留存" in out
    assert len(pd.read_excel(tmp_path / "r.xlsx")) > 3


def test_sentiment_stores_scores_the_profile_reads(own_shop: Shop, tmp_path: Path) -> None:
    shop = own_shop
    out = run("--lang", "zh-CN", "analyze", "sentiment", "-p", str(shop.root), "--min-count",
              "2", "--chart", str(tmp_path / "s.png"))
    assert "痛点" in out and "尺码" in out
    with shop.open() as ws:
        assert ws.engine.count(ws.table("review_sentiment")) == ws.engine.count(
            ws.table("reviews"))


def test_describe_clusters_and_basket(own_shop: Shop, tmp_path: Path) -> None:
    shop = own_shop
    out = run("analyze", "describe", "young_mothers_tier1", "-p", str(shop.root), "--top", "8",
              "--chart", str(tmp_path / "d.png"))
    assert "×" in out and "•" in out
    out = run("--lang", "zh-CN", "analyze", "clusters", "-p", str(shop.root), "--max-k", "5",
              "--save", "1", "--segment-id", "cluster_one", "--out", str(tmp_path / "c.csv"))
    assert "轮廓系数" in out and "cluster_one.yaml" in out
    with shop.open() as ws:
        clusters = pd.read_csv(tmp_path / "c.csv", encoding="utf-8-sig")
        assert ws.segments.count("cluster_one", record=False) == int(clusters["size"].iloc[0])
    out = run("analyze", "basket", "-p", str(shop.root), "--level", "category",
              "--min-support", "0.01", "--top", "5", "--method", "relational")
    assert "Lift" in out and "Substitutes" in out
    result = runner.invoke(app, ["analyze", "basket", "-p", str(shop.root), "--min-support",
                                 "2"], env=ENV)
    assert result.exit_code == 2 and "min_support" in result.output
