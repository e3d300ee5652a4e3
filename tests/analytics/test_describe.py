"""Segment description: shares, indices, means, medians, effects and their order on ten
hand-made customers (every figure below is worked out by hand), nulls, Chinese values,
skipped fields, the words and the chart; on the shop, figures equal hand-written SQL, and
Spark gives the same descriptions and clusters as DuckDB."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from portraits.analytics.clusters import analyze_clusters
from portraits.analytics.describe import (
    MISSING,
    SegmentDescription,
    analyze_description,
    describe_segment,
)
from portraits.errors import PortraitsError
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.analytics.conftest import Shop
from tests.conftest import NOW

IDS = [f"c{i:02d}" for i in range(1, 11)]
BASE: dict[str, list[Any]] = {
    "customer_id": IDS,
    "city_tier": ["1", "1", "1", "2", "2", "new1", "3", None, "2", "1"],
    "gender": ["female", "female", "female", "male", "female", "male", "male", "female",
               "male", "male"],
    "orders": [5, 3, 4, 0, 2, 1, 0, 0, 1, 0],
    "spend": [100.0, 50.0, None, 0.0, 20.0, 10.0, None, 0.0, 5.0, 0.0],
    "vip": [True, True, False, False, True, False, False, None, False, False],
    "interests": ["母婴,食品", "母婴", "数码,母婴", None, "食品", "数码", "", "母婴", None, "美妆"],
}
MEMBERS = ["c01", "c02", "c03", "c05"]


def h(p: float, q: float) -> float:
    """Cohen's h, written out."""
    return 2 * math.asin(math.sqrt(p)) - 2 * math.asin(math.sqrt(q))


def run(con: BaseBackend, members: list[str], base: dict[str, list[Any]] | None = None,
        **options: Any) -> SegmentDescription:
    table = ibis.memtable(pa.table(base or BASE))
    people = ibis.memtable(pa.table({"customer_id": pa.array(members, pa.string())}))
    return analyze_description(people, table, con.to_pyarrow, name="Test", **options)


@pytest.fixture
def described(con: BaseBackend) -> SegmentDescription:
    return run(con, MEMBERS)


def row(d: SegmentDescription, field: str, value: str | None = None) -> dict[str, Any]:
    frame = d.to_pandas()
    hit = frame[(frame["field"] == field) & (frame["value"].isna() if value is None
                                             else frame["value"] == value)]
    assert len(hit) == 1, (field, value)
    return {str(k): v for k, v in hit.iloc[0].to_dict().items()}


def test_category_shares_are_over_known_values_with_a_missing_row(
        described: SegmentDescription) -> None:
    tier1 = row(described, "city_tier", "1")
    assert (tier1["segment_count"], tier1["segment_known"]) == (3, 4)
    assert (tier1["base_count"], tier1["base_known"]) == (4, 9)  # c08 has no city tier
    assert tier1["segment"] == 3 / 4 and tier1["base"] == 4 / 9
    assert tier1["index"] == pytest.approx(27 / 16)
    assert tier1["effect"] == pytest.approx(h(3 / 4, 4 / 9))
    assert tier1["direction"] == "over"
    assert row(described, "city_tier", "new1")["segment"] == 0.0
    assert row(described, "city_tier", "new1")["index"] == 0.0
    missing = row(described, "city_tier", MISSING)
    assert missing["measure"] == "missing"
    assert (missing["segment"], missing["base"]) == (0.0, 1 / 10)
    assert (missing["segment_known"], missing["base_known"]) == (4, 10)


def test_numbers_give_mean_median_ratio_and_d_over_the_base_sd(
        described: SegmentDescription) -> None:
    orders = row(described, "orders")
    assert orders["measure"] == "mean"
    assert (orders["segment"], orders["base"]) == (3.5, 1.6)
    assert (orders["segment_median"], orders["base_median"]) == (3.5, 1.0)
    assert orders["index"] == pytest.approx(3.5 / 1.6)
    assert orders["effect"] == pytest.approx((3.5 - 1.6) / math.sqrt(30.4 / 9))
    spend = row(described, "spend")  # c03 and c07 have no spend: left out of the mean
    assert (spend["segment_known"], spend["base_known"]) == (3, 8)
    assert spend["segment"] == pytest.approx(170 / 3)
    assert spend["base"] == pytest.approx(185 / 8)
    assert spend["segment_median"] == 50.0 and spend["base_median"] == 7.5
    assert (row(described, "spend", MISSING)["segment"],
            row(described, "spend", MISSING)["base"]) == (1 / 4, 2 / 10)


def test_true_false_fields_report_the_share_of_true_only(
        described: SegmentDescription) -> None:
    vip = row(described, "vip", "true")
    assert (vip["segment"], vip["base"]) == (3 / 4, 3 / 9)
    assert vip["index"] == pytest.approx(2.25)
    assert "false" not in set(described.to_pandas().query("field == 'vip'")["value"])


def test_list_items_count_people_whose_list_holds_them(described: SegmentDescription) -> None:
    mother = row(described, "interests", "母婴")
    assert (mother["segment_count"], mother["segment_known"]) == (3, 4)
    assert (mother["base_count"], mother["base_known"]) == (4, 7)  # '' counts as missing
    assert row(described, "interests", "美妆")["segment"] == 0.0
    assert row(described, "interests", MISSING)["base"] == 3 / 10


def test_features_are_ranked_by_effect_size(described: SegmentDescription) -> None:
    expected = [("gender", "female"), ("gender", "male"), ("interests", MISSING),
                ("orders", None), ("spend", None), ("vip", "true"), ("interests", "美妆"),
                ("city_tier", "3"), ("city_tier", "new1"), ("city_tier", MISSING),
                ("vip", MISSING), ("city_tier", "1"), ("interests", "食品"),
                ("interests", "母婴"), ("city_tier", "2"), ("spend", MISSING),
                ("interests", "数码")]
    frame = described.to_pandas()
    got = [(f, None if pd.isna(v) else v) for f, v in zip(frame["field"], frame["value"],
                                                          strict=True)]
    assert got == expected
    assert frame.loc[0, "effect"] == pytest.approx(math.pi / 2)
    assert described.size == 4 and described.base_size == 10


def test_sentences_in_english_and_chinese(described: SegmentDescription) -> None:
    top = described.top_features()
    assert MISSING not in set(top["value"].dropna())
    en = described.sentences()
    assert en[:3] == ["Women ×2.0 (100% vs 50%)", "Men ×0 (0% vs 50%)",
                      "Orders ×2.2 (mean 3.50 vs 1.60)"]
    assert "Tier-1 city ×1.7 (75% vs 44%)" in en
    assert "Interests: 母婴 ×1.3 (75% vs 57%)" in en
    zh = described.sentences("zh-CN")
    assert "一线城市 ×1.7（75% 对 44%）" in zh
    assert "兴趣类目：母婴 ×1.3（75% 对 57%）" in zh
    assert zh[2] == "订单数 ×2.2（均值 3.50 对 1.60）"
    assert described.takeaway("en") == ("4 customers (40.0% of 10); most distinctive: "
                                        "Women ×2.0 (100% vs 50%).")


def test_members_outside_the_base_and_repeats_are_ignored(con: BaseBackend) -> None:
    d = run(con, [*MEMBERS, "c01", "stranger"])
    assert d.size == 4
    assert row(d, "city_tier", "1")["segment"] == 3 / 4


def test_an_empty_segment_says_so(con: BaseBackend) -> None:
    d = run(con, [])
    assert d.size == 0 and d.base_size == 10
    assert d.to_pandas().empty
    assert d.takeaway("zh-CN") == "该人群在全体客户中没有成员。"


def test_id_like_text_is_skipped_and_fields_can_be_chosen(con: BaseBackend) -> None:
    ids = [f"p{i:03d}" for i in range(60)]
    base: dict[str, list[Any]] = {"customer_id": ids, "nickname": [f"n{i}" for i in range(60)],
            "tier": ["a", "b"] * 30, "score": [i % 7 for i in range(60)]}
    d = run(con, ids[:10], base)
    assert d.skipped == ("nickname",)
    assert set(d.to_pandas()["field"]) == {"tier", "score"}
    chosen = run(con, ids[:10], base, fields={"score": "category"})
    assert set(chosen.to_pandas()["field"]) == {"score"}
    assert len(chosen.to_pandas()) == 7  # as a category, every value is a row
    assert chosen.skipped == ()
    with pytest.raises(PortraitsError, match="did you mean 'score'"):
        run(con, ids[:10], base, fields={"scor": "number"})
    with pytest.raises(PortraitsError, match="number, category or list"):
        run(con, ids[:10], base, fields={"score": "text"})


def test_the_queries_are_a_few_aggregates(con: BaseBackend) -> None:
    table = ibis.memtable(pa.table(BASE))
    members = table.filter(table.customer_id.isin(MEMBERS)).select("customer_id")
    queries = describe_segment(members, table)
    assert dict(queries.fields) == {"city_tier": "category", "gender": "category",
                                    "orders": "number", "spend": "number",
                                    "vip": "category", "interests": "list"}
    for query in (queries.totals, queries.values, queries.skipped, queries.numbers):
        assert isinstance(query, ir.Table)


def test_the_chart_names_axes_and_draws(described: SegmentDescription, tmp_path: Path) -> None:
    chart = described.chart("zh-CN")
    option = chart.option
    assert option["title"]["text"] == "Test 的人群特征"
    assert option["title"]["subtext"].startswith("4 人（占全体 10 人的 40.0%）")
    assert option["yAxis"]["data"][0] == "女性 ×2.0"
    assert "Cohen" in option["xAxis"]["name"]
    assert option["series"][0]["data"][0]["value"] == pytest.approx(math.pi / 2, abs=1e-3)
    png = described.save_chart(tmp_path / "describe.png", lang="zh-CN")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_figures_equal_hand_written_sql_on_the_shop(shop: Shop) -> None:
    """young_mothers_tier1 written out in SQL over the stored profiles and tags."""
    with shop.open() as ws:
        base = ws.profiles.table().join(ws.tags.table(), "customer_id")
        members = ws.segments.members("young_mothers_tier1")
        d = analyze_description(members, base, ws.engine.to_arrow, name="Young mothers")
        got = ws.engine.con.sql("""
            SELECT count(*) AS size,
                   count(*) FILTER (WHERE p.city_tier = 'new1') AS tier_new1,
                   count(p.city_tier) AS tier_known,
                   avg(p.orders) AS orders_mean,
                   quantile_cont(p.orders, 0.5) AS orders_median
            FROM profiles p JOIN tags t USING (customer_id)
            WHERE t.mother_baby_fan AND t.city_tier_group IN ('tier1', 'new_tier1')
              AND coalesce(p.age, 99) < 35""").to_pyarrow().to_pylist()[0]
        everyone = ws.engine.con.sql("""
            SELECT count(*) AS size, avg(orders) AS mean, stddev_samp(orders) AS sd,
                   count(*) FILTER (WHERE city_tier = 'new1') AS tier_new1,
                   count(city_tier) AS tier_known
            FROM profiles""").to_pyarrow().to_pylist()[0]
    assert (d.size, d.base_size) == (got["size"], everyone["size"])
    new1 = row(d, "city_tier", "new1")
    assert (new1["segment_count"], new1["segment_known"]) == (got["tier_new1"],
                                                               got["tier_known"])
    assert new1["segment"] == got["tier_new1"] / got["tier_known"]
    assert new1["base"] == everyone["tier_new1"] / everyone["tier_known"]
    orders = row(d, "orders")
    assert (orders["segment"], orders["base"]) == (got["orders_mean"], everyone["mean"])
    assert orders["segment_median"] == got["orders_median"]
    # the standard deviation is a streaming sum: equal to the last digits, not the bit
    assert orders["effect"] == pytest.approx(
        (got["orders_mean"] - everyone["mean"]) / everyone["sd"], rel=1e-12)
    assert d.top_features(1).loc[0, "field"] == "mother_baby_fan"


@pytest.mark.spark
@pytest.mark.slow
def test_descriptions_and_clusters_are_the_same_on_spark(shop: Shop, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(shop.root, root, ignore=shutil.ignore_patterns("data"))
    found, clusters = {}, {}
    for engine in ("duckdb", "spark"):
        with Workspace(root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
            assert ws.engine.name == engine
            base = ws.profiles.table().join(ws.tags.table(), "customer_id")
            members = ws.segments.members("young_mothers_tier1")
            found[engine] = analyze_description(members, base, ws.engine.to_arrow)
            clusters[engine] = analyze_clusters(base, ws.engine.to_arrow, k=4)
            ws.segments.save_list(f"cluster_on_{engine}", clusters[engine].members(2))
            assert ws.segments.count(f"cluster_on_{engine}") == clusters[engine].sizes[1]
    duck, spark = (found[e].to_pandas().sort_values(["field", "value"]).reset_index(drop=True)
                   for e in ("duckdb", "spark"))
    assert (found["spark"].size, found["spark"].skipped) == (found["duckdb"].size,
                                                             found["duckdb"].skipped)
    for column in duck.columns:
        if pd.api.types.is_float_dtype(duck[column]):
            assert duck[column].to_numpy() == pytest.approx(
                spark[column].to_numpy(), rel=1e-9, nan_ok=True), column
        else:
            assert duck[column].tolist() == spark[column].tolist(), column
    assert found["spark"].sentences("zh-CN") == found["duckdb"].sentences("zh-CN")
    assert clusters["spark"].assignments.equals(clusters["duckdb"].assignments)
    assert clusters["spark"].summary("zh-CN") == clusters["duckdb"].summary("zh-CN")
