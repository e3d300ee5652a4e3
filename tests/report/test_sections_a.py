"""The overview, portrait, value and behaviour sections against independent queries on
the shop, in English and Chinese."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from portraits.report.context import MonthContext
from portraits.report.model import Section
from portraits.workspace.facade import Workspace
from tests.report.conftest import MONTH, Shop

START, END, PREVIOUS = datetime(2026, 10, 1), datetime(2026, 11, 1), datetime(2026, 9, 1)
NAMES = ("overview", "portrait", "value", "behaviour")
CJK = re.compile(r"[\u4e00-\u9fff]")
Built = dict[tuple[str, str], tuple[Section, dict[str, Any]]]


@pytest.fixture(scope="module")
def ws(shop: Shop) -> Iterator[Workspace]:
    with shop.open() as opened:
        yield opened


@pytest.fixture(scope="module")
def built(ws: Workspace) -> Built:
    """Every section in both languages, built once."""
    out: Built = {}
    for name in NAMES:
        module = importlib.import_module(f"portraits.report.sections.{name}")
        for lang in ("en", "zh-CN"):
            out[(name, lang)] = module.build(MonthContext(ws, MONTH, lang))
    return out


def frame(ws: Workspace, name: str) -> pd.DataFrame:
    table: pd.DataFrame = ws.engine.to_arrow(ws.analytics.table(name)).to_pandas()
    return table


def paid(ws: Workspace) -> pd.DataFrame:
    orders = frame(ws, "orders")
    return orders[~orders["status"].isin(["cancelled", "refunded"])
                  & orders["ordered_at"].notna()]


def active_ids(ws: Workspace, since: datetime, until: datetime) -> set[str]:
    events, orders = frame(ws, "events"), paid(ws)
    seen = events[(events["timestamp"] >= since) & (events["timestamp"] < until)]
    bought = orders[(orders["ordered_at"] >= since) & (orders["ordered_at"] < until)]
    return set(seen["customer_id"].dropna()) | set(bought["customer_id"].dropna())


def test_overview_figures_match_the_raw_tables(ws: Workspace, built: Built) -> None:
    _, figures = built[("overview", "en")]
    orders = paid(ws)
    october = orders[(orders["ordered_at"] >= START) & (orders["ordered_at"] < END)]
    assert figures["orders"] == len(october)
    assert figures["gmv"] == pytest.approx(october["total_amount"].fillna(0).sum())
    assert figures["average_order_value"] == pytest.approx(figures["gmv"] / len(october))
    now, before = active_ids(ws, START, END), active_ids(ws, PREVIOUS, START)
    assert figures["active_customers"] == len(now)
    assert figures["active_customers_previous"] == len(before)
    assert figures["retention"] == pytest.approx(len(now & before) / len(before))
    buyers = set(october["customer_id"].dropna())
    earlier = set(orders[orders["ordered_at"] < START]["customer_id"].dropna())
    assert figures["repurchase_rate"] == pytest.approx(len(buyers & earlier) / len(buyers))
    profiles = ws.engine.to_arrow(ws.profiles.table()).to_pandas()
    first = profiles[["registered_at", "first_seen_at", "first_order_at"]].min(axis=1)
    assert figures["customers"] == int((first < END).sum())
    assert figures["new_customers"] == int(((first >= START) & (first < END)).sum())
    assert figures["gmv_2026_10"] == pytest.approx(figures["gmv"])


def test_portrait_shares_are_of_the_active_customers(ws: Workspace, built: Built) -> None:
    _, figures = built[("portrait", "en")]
    now = active_ids(ws, START, END)
    profiles = ws.engine.to_arrow(ws.profiles.table()).to_pandas()
    active = profiles[profiles["customer_id"].isin(now)]
    assert figures["active_customers"] == len(now)
    tiers = active["city_tier"].value_counts()
    for tier, n in tiers.items():
        assert figures[f"city_tier.{tier}"] == pytest.approx(n / len(now))
    genders = active["gender"].value_counts()
    assert figures["gender.female"] == pytest.approx(genders["female"] / len(now))
    assert sum(v for k, v in figures.items() if k.startswith("age_band.")) == pytest.approx(1)


def test_value_layers_equal_the_tags_at_each_month_end(ws: Workspace, built: Built) -> None:
    _, figures = built[("value", "en")]
    after = ws.engine.to_arrow(ws.tags.compute(END)).to_pandas()
    before = ws.engine.to_arrow(ws.tags.compute(START)).to_pandas()
    for layer, n in after["value_layer"].value_counts().items():
        assert figures[f"layer.{layer}"] == n
    for layer, n in before["value_layer"].value_counts().items():
        assert figures[f"layer.{layer}_previous"] == n
    for segment, n in after["rfm_segment"].value_counts().items():
        assert figures[f"segment.{segment}"] == n
    both = before.merge(after, on="customer_id", suffixes=("_b", "_a"))
    both = both[both["value_layer_b"].notna() & both["value_layer_a"].notna()]
    flows = sum(v for k, v in figures.items() if k.startswith("flow."))
    assert flows == len(both) == figures["stayed"] + figures["moved"]
    high = both[(both["value_layer_b"] == "high_value")
                & (both["value_layer_a"] == "churn_warning")]
    assert figures.get("flow.high_value→churn_warning", 0) == len(high)


def test_sankey_sides_are_distinct(built: Built) -> None:
    section, _ = built[("value", "en")]
    sankey = next(c for c in section.charts if c.kind == "sankey")
    links = sankey.option["series"][0]["links"]
    assert links
    assert not {x["source"] for x in links} & {x["target"] for x in links}


def test_behaviour_funnel_matches_the_analysis(ws: Workspace, built: Built) -> None:
    _, figures = built[("behaviour", "en")]
    steps = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
    rows = ws.analytics.funnel(steps, since=START, until=END).overall()
    people = [figures[f"funnel.{s.lower().replace(' ', '_')}"] for s in steps]
    assert people == rows["people"].tolist()
    drops = rows["dropped"].tolist()
    assert figures["drop.lost"] == max(drops[1:])
    assert drops[figures["drop.step"] - 1] == figures["drop.lost"]
    paths = ws.analytics.paths(steps=5, since=START, until=END)
    assert figures["paths.sessions"] == paths.sessions
    assert figures["paths.top1.sessions"] == int(paths.top(1)["sessions"].iloc[0])


@pytest.mark.parametrize("name", NAMES)
def test_chinese_output_has_no_english_only_labels(built: Built, name: str) -> None:
    section, _ = built[(name, "zh-CN")]
    texts = [section.title, section.summary, *(k.label for k in section.kpis),
             *(t.title for t in section.tables), *(c for t in section.tables for c in t.columns),
             *(c.title for c in section.charts), *(c.option["title"]["subtext"]
                                                   for c in section.charts)]
    assert section.summary
    missing = [t for t in texts if not CJK.search(t) and t != "App"]
    assert not missing


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("name", NAMES)
def test_every_chart_has_a_title_takeaway_and_axis_names(built: Built, name: str,
                                                         lang: str) -> None:
    section, figures = built[(name, lang)]
    assert section.key == name
    assert section.charts
    assert figures
    for chart in section.charts:
        title = chart.option["title"]
        assert title["text"]
        assert title["subtext"]
        if chart.kind in ("bar", "line"):
            assert chart.option["xAxis"]["name"]
            assert chart.option["yAxis"]["name"]
