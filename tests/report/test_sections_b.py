"""The preferences, risk, voice, quality and actions sections of the monthly report on the
synthetic shop (October 2026): their figures against independent pandas queries over the
raw tables, their Chinese labels, the suggested segments, and missing inputs."""

from __future__ import annotations

import math
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from portraits.report.context import MonthContext
from portraits.report.model import Section
from portraits.report.sections import actions, preferences, quality, risk, voice
from portraits.workspace.facade import Workspace
from tests.report.conftest import MONTH, Shop

START, END, PREVIOUS = datetime(2026, 10, 1), datetime(2026, 11, 1), datetime(2026, 9, 1)
CJK = re.compile(r"[\u4e00-\u9fff]")
SECTIONS = {"preferences": preferences, "risk": risk, "voice": voice, "quality": quality}


@pytest.fixture(scope="module")
def built(shop: Shop) -> dict[tuple[str, str], tuple[Section, dict[str, Any]]]:
    """Every section but actions, in both languages."""
    with shop.open() as ws:
        return {(key, lang): module.build(MonthContext(ws, MONTH, lang))  # type: ignore[arg-type]
                for key, module in SECTIONS.items() for lang in ("en", "zh-CN")}


@pytest.fixture(scope="module")
def copy(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A copy of the shop the actions may write segments into."""
    root = tmp_path_factory.mktemp("actions") / "shop"
    shutil.copytree(shop.root, root)
    return Shop(root, shop.truth)


@pytest.fixture(scope="module")
def suggested(copy: Shop) -> dict[str, tuple[Section, dict[str, Any]]]:
    with copy.open() as ws:
        return {lang: actions.build(MonthContext(ws, MONTH, lang), {})  # type: ignore[arg-type]
                for lang in ("en", "zh-CN")}


def _frame(ws: Workspace, name: str) -> pd.DataFrame:
    frame: pd.DataFrame = ws.table(name).to_pandas()
    return frame


def test_preferences_sales_match_the_order_lines(shop: Shop, built: Any) -> None:
    section, figures = built[("preferences", "en")]
    with shop.open() as ws:
        orders, items = _frame(ws, "orders"), _frame(ws, "order_items")
        products = _frame(ws, "products").drop_duplicates("product_id")
    paid = orders[~orders["status"].isin(["cancelled", "refunded"])]
    lines = items.merge(paid[["order_id", "ordered_at"]], on="order_id").merge(
        products[["product_id", "category_path"]], on="product_id")
    lines["gmv"] = lines["amount"].fillna(lines["quantity"] * lines["unit_price"])
    october = lines[(lines["ordered_at"] >= START) & (lines["ordered_at"] < END)]
    september = lines[(lines["ordered_at"] >= PREVIOUS) & (lines["ordered_at"] < START)]
    now = october.groupby("category_path")["gmv"].sum().sort_values(ascending=False)
    before = september.groupby("category_path")["gmv"].sum()
    growth = now.sub(before, fill_value=0).sort_values(ascending=False)
    assert figures["top_category"] == now.index[0]
    assert figures["top_category_gmv"] == pytest.approx(now.iloc[0])
    assert figures["top_category_previous_gmv"] == pytest.approx(before[now.index[0]])
    assert figures["top_grower_category"] == growth.index[0]
    assert figures["top_grower_category_growth"] == pytest.approx(growth.iloc[0])
    assert figures["gmv"] == pytest.approx(october["gmv"].sum())
    table = section.tables[0]
    assert [r[0] for r in table.rows] == list(now.index[:len(table.rows)])
    assert [r[1] for r in table.rows] == pytest.approx(list(now.iloc[:len(table.rows)]), abs=0.01)
    assert figures["baskets"] == paid[(paid["ordered_at"] >= START)
                                      & (paid["ordered_at"] < END)]["order_id"].isin(
        items["order_id"]).sum()
    assert 0 < len(section.tables[2].rows) <= 5
    assert figures["top_rule"] == section.tables[2].rows[0][0]


def test_risk_bands_match_the_predictions(shop: Shop, built: Any) -> None:
    _, figures = built[("risk", "en")]
    with shop.open() as ws:
        scores = _frame(ws, "predictions")
    churn = scores[scores["field"] == "churn_risk"]["value"]
    assert figures["churn_low"] == (churn < 0.3).sum()
    assert figures["churn_medium"] == ((churn >= 0.3) & (churn < 0.6)).sum()
    assert figures["churn_high"] == (churn >= 0.6).sum()
    wide = scores.pivot_table(index="customer_id", columns="field", values="value")
    clv = wide["clv"].dropna().sort_values(ascending=False)
    assert figures["clv_total"] == pytest.approx(clv.sum())
    threshold = figures["clv_top20_threshold"]
    top_fifth = clv.iloc[:math.ceil(len(clv) * 0.2)]  # deciles 1 and 2, ties by id
    assert threshold == math.floor(top_fifth.min() * 100) / 100
    at_risk = wide[(wide["clv"] >= threshold) & (wide["churn_risk"] >= 0.6)]
    assert figures["high_value_at_risk"] == len(at_risk) > 0
    assert figures["high_value_at_risk_clv"] == pytest.approx(at_risk["clv"].sum())
    assert figures["versions"].startswith("churn v1")


def test_voice_counts_the_months_reviews(shop: Shop, built: Any) -> None:
    section, figures = built[("voice", "en")]
    with shop.open() as ws:
        reviews = _frame(ws, "reviews")
        labels = _frame(ws, "review_sentiment").drop_duplicates("review_id")
    october = reviews[(reviews["created_at"] >= START) & (reviews["created_at"] < END)]
    september = reviews[(reviews["created_at"] >= PREVIOUS) & (reviews["created_at"] < START)]
    assert figures["reviews"] == len(october) > 0
    assert figures["previous_reviews"] == len(september)
    assert figures["mean_rating"] == pytest.approx(october["rating"].mean())
    marked = october.merge(labels, on="review_id")
    assert figures["negative_share"] == pytest.approx((marked["label"] == "negative").mean())
    assert section.charts and section.tables[0].rows


def test_quality_reads_the_latest_loads_when_none_ran_in_the_month(shop: Shop,
                                                                    built: Any) -> None:
    section, figures = built[("quality", "en")]
    with shop.open() as ws:
        loads = _frame(ws, "loads")
    assert not ((loads["started_at"] >= START) & (loads["started_at"] < END)).any()
    latest = loads.sort_values("started_at").drop_duplicates("source", keep="last")
    assert figures["in_month"] is False
    assert figures["rows_read"] == latest["rows_read"].sum()
    assert figures["rejected"] == latest["rejected"].sum()
    assert figures["accepted"] == latest["accepted"].sum()
    assert {r[0] for r in section.tables[0].rows} == set(latest["source"])
    assert any("latest loads" in note for note in section.notes)
    assert section.tables[1].rows  # rejection reasons


def test_quality_after_a_run_with_no_new_files(copy: Shop, built: Any) -> None:
    """Loading the same files again records skipped loads; the section still reports the
    loads that read the files (it failed on the skipped ones' missing field figures)."""
    _, before = built[("quality", "en")]
    with copy.open() as ws:
        reports = ws.ingest.load()
        assert {r.status for r in reports} == {"skipped"}
        _, figures = quality.build(MonthContext(ws, MONTH, "en"))  # type: ignore[arg-type]
    assert figures["rows_read"] == before["rows_read"] > 0
    assert figures["least_complete_field"] == before["least_complete_field"]


def test_actions_are_counted_exportable_segments(copy: Shop, suggested: Any) -> None:
    section, figures = suggested["en"]
    assert len(section.actions) >= 5
    path = copy.root / actions.SEGMENT_FILE
    assert path.is_file()
    with copy.open() as ws:
        catalog = ws.segments.catalog()
        for action in section.actions:
            assert action.segment_id in catalog
            assert action.audience == ws.segments.count(action.segment_id, record=False) > 0
            assert figures[action.key] == action.audience
            assert f"{action.audience:,}" in action.title + action.reasoning
        profiles = _frame(ws, "profiles")
    first = profiles[(profiles["orders"] == 1) & (profiles["first_order_at"] >= START)
                     & (profiles["first_order_at"] < END)]
    assert figures["second_purchase"] == len(first)
    assert figures["winback_high_clv"] == suggested["zh-CN"][1]["winback_high_clv"]


def _texts(section: Section) -> list[str]:
    texts = [section.title, section.summary]
    texts += [t.title for t in section.tables] + [c for t in section.tables for c in t.columns]
    texts += [c.title for c in section.charts] + [a.title for a in section.actions]
    return texts


def test_chinese_sections_have_chinese_labels(built: Any, suggested: Any) -> None:
    sections = [built[(key, "zh-CN")][0] for key in SECTIONS] + [suggested["zh-CN"][0]]
    for section in sections:
        for text in _texts(section):
            assert CJK.search(text), (section.key, text)
        for chart in section.charts:
            option = chart.option
            assert CJK.search(option["title"]["subtext"])
            axes = [option.get("xAxis", {}).get("name"), option.get("yAxis", {}).get("name")]
            assert all(a and CJK.search(a) for a in axes), (section.key, axes)
    for key in SECTIONS:
        english = built[(key, "en")][0]
        assert not CJK.search(english.title)
        assert all(c.option["title"]["subtext"] for c in english.charts)


def test_missing_predictions_and_sentiment_give_notes(shop: Shop, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    # A table is a folder of the workspace's lake: a copy without those folders has
    # neither predictions nor sentiment scores (nor the saved models' reports).
    shutil.copytree(shop.root, root,
                    ignore=shutil.ignore_patterns("predictions", "review_sentiment"))
    with Shop(root, shop.truth).open() as ws:
        assert not ws.engine.has_table("predictions")
        assert not ws.engine.has_table("review_sentiment")
        ctx = MonthContext(ws, MONTH, "en")
        section, figures = risk.build(ctx)
        assert figures == {} and "portraits predict score" in section.notes[0]
        section, figures = voice.build(ctx)
        assert "portraits analyze sentiment" in section.notes[0]
        assert figures["reviews"] > 0 and figures["negative_share"] is None
        section, figures = actions.build(ctx, {})
        keys = {a.key for a in section.actions}
        assert keys and not keys & {"winback_high_clv", "category_push", "likely_buyers_idle",
                                    "quality_followup"}
