"""Next-category demand (R5.7): exact features on tiny tables, no leakage, the model
against its baselines, and the planted personas' signature categories."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.nextcat import (
    BASELINES,
    MODEL,
    NextCategoryModel,
    NextCategorySpec,
    train_next_category,
)
from portraits.predict.nextcat_features import (
    FEATURES,
    CandidateCodes,
    category_features,
    first_hits,
    next_category_labels,
    normalised_best,
    ranked_rows,
    top_categories,
)
from portraits.synth.personas import PERSONAS
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.predict.conftest import Shop

CUTOFF = datetime(2026, 10, 1, 12, 0, 0)
DIAPERS, WIPES, PHONES = "母婴/纸尿裤", "母婴/湿巾", "数码/手机"


def _at(days: float) -> datetime:
    return CUTOFF + timedelta(days=days)


@pytest.fixture(scope="module")
def tiny() -> PredictInputs:
    """Two customers: c1 views, adds, wishes for and buys (one order cancelled, one
    after the cutoff); c2 bought wipes last month."""
    products = ibis.memtable({
        "product_id": ["p1", "p2", "p3"], "category_path": [DIAPERS, WIPES, PHONES],
        "category": ["母婴", "母婴", "数码"]})
    orders = ibis.memtable(pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"],
        "customer_id": ["c1", "c1", "c1", "c1", "c2", "c1", "c2", "c2"],
        "ordered_at": [_at(-100), _at(-40), _at(-5), _at(3), _at(-10), _at(10), _at(5),
                       _at(6)],
        "status": ["paid", "paid", "cancelled", "paid", "paid", "paid", "cancelled", None]}))
    items = ibis.memtable({
        "order_id": ["o1", "o2", "o2", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o8"],
        "product_id": ["p1", "p1", "p1", "p2", "p1", "p3", "p2", "p1", "p1", "p2", "p3"]})
    events = ibis.memtable(pd.DataFrame({
        "customer_id": ["c1"] * 7,
        "event": ["Product Viewed", "Product Viewed", "Product Viewed", "Product Added",
                  "Product Added to Wishlist", "Product Viewed", "Application Opened"],
        "timestamp": [_at(-2), _at(-20), _at(-60), _at(-10), _at(-100), _at(1), _at(-1)],
        "product_id": ["p1", "p1", "p2", "p1", "p3", "p3", None]}))
    return PredictInputs(orders=orders, order_items=items, products=products, events=events)


def _rows(table: ir.Table) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["customer_id"], r["category"]): r for r in table.to_pyarrow().to_pylist()}



def test_features_on_tiny_tables_are_exact(tiny: PredictInputs) -> None:
    rows = _rows(category_features(tiny, CUTOFF))
    assert set(rows) == {("c1", DIAPERS), ("c1", WIPES), ("c1", PHONES), ("c2", WIPES)}
    diapers = rows[("c1", DIAPERS)]
    assert {k: diapers[k] for k in (
        "views_7d", "views_30d", "views_90d", "views", "adds_30d", "adds_90d", "adds",
        "wishlisted", "purchases_90d", "purchases_365d", "purchases", "days_since_view",
        "days_since_purchase", "top_viewed", "top_bought", "customer_views",
        "customer_purchases")} == {
        "views_7d": 1, "views_30d": 2, "views_90d": 2, "views": 2, "adds_30d": 1,
        "adds_90d": 1, "adds": 1, "wishlisted": 0, "purchases_90d": 1, "purchases_365d": 2,
        "purchases": 2, "days_since_view": 2.0, "days_since_purchase": 40.0, "top_viewed": 1,
        "top_bought": 1, "customer_views": 3, "customer_purchases": 3}
    assert diapers["view_share_90d"] == pytest.approx(2 / 3)
    assert diapers["department_view_share_90d"] == pytest.approx(1.0)
    assert diapers["purchase_share"] == pytest.approx(2 / 3)
    assert diapers["department_purchase_share"] == pytest.approx(1.0)
    assert diapers["mean_purchase_gap_days"] == pytest.approx(60.0)
    assert diapers["replenishment_ratio"] == pytest.approx(40 / 60)
    assert diapers["popularity_30d"] == 0.0  # c1's only order last month was cancelled
    phones = rows[("c1", PHONES)]  # wished for only; the view after the cutoff is unseen
    assert (phones["wishlisted"], phones["views"], phones["purchases"]) == (1, 0, 0)
    assert phones["days_since_view"] is None and phones["days_since_purchase"] is None
    assert phones["top_viewed"] == 0 and phones["mean_purchase_gap_days"] is None
    wipes = rows[("c2", WIPES)]
    assert (wipes["purchases"], wipes["popularity_30d"], wipes["top_bought"]) == (1, 1.0, 1)
    assert sum(r["affinity"] for (c, _), r in rows.items() if c == "c1") == pytest.approx(1)


def test_labels_are_the_categories_of_the_first_counted_order(tiny: PredictInputs) -> None:
    labels = next_category_labels(tiny, CUTOFF, 30).to_pyarrow().to_pylist()
    assert sorted((r["customer_id"], r["category"]) for r in labels) == [
        ("c1", PHONES), ("c2", PHONES), ("c2", WIPES)]


def test_spec_rejects_more_than_three_categories() -> None:
    with pytest.raises(ValueError, match="top"):
        NextCategorySpec(top=4)


# --- the synthetic shop ------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(shop: Shop) -> Iterator[Workspace]:
    ws = shop.open()
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def inputs(workspace: Workspace) -> PredictInputs:
    ws = workspace
    return PredictInputs(orders=ws.table("orders"), order_items=ws.table("order_items"),
                         products=ws.table("products"), events=ws.analytics.table("events"),
                         profiles=ws.profiles.table(), interests=ws.profiles.interests())


@pytest.fixture(scope="module")
def to_arrow(workspace: Workspace) -> ToArrow:
    return workspace.engine.to_arrow


@pytest.fixture(scope="module")
def model(inputs: PredictInputs, to_arrow: ToArrow) -> NextCategoryModel:
    return train_next_category(inputs, to_arrow, NOW, NextCategorySpec())


@pytest.fixture(scope="module")
def scores(model: NextCategoryModel, inputs: PredictInputs, to_arrow: ToArrow) -> pa.Table:
    return model.score(inputs, to_arrow, NOW)


def _sorted(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    return frame.sort_values(["customer_id", "category"]).reset_index(drop=True)


def test_features_do_not_read_after_the_cutoff(inputs: PredictInputs,
                                               to_arrow: ToArrow) -> None:
    cutoff = NOW - timedelta(days=60)
    assert inputs.events is not None
    past = PredictInputs(
        orders=inputs.orders.filter(inputs.orders.ordered_at <= cutoff),
        order_items=inputs.order_items, products=inputs.products,
        events=inputs.events.filter(inputs.events.timestamp <= cutoff))
    full = _sorted(to_arrow(category_features(inputs, cutoff)))
    pd.testing.assert_frame_equal(full, _sorted(to_arrow(category_features(past, cutoff))))
    assert len(full) > 1000


def test_model_beats_every_baseline(model: NextCategoryModel) -> None:
    evaluation = model.evaluation
    by_method = {s.method: s for s in evaluation.scores}
    assert list(by_method) == [MODEL, *BASELINES]
    mine = by_method[MODEL]
    # Measured: model top-1 21.7 %, top-3 58.7 %, MRR 0.441 on 138 customers; the best
    # baseline (most bought) 23.2 %, 55.1 %, 0.438. A next order's category is drawn
    # at random among a persona's 3-4 signature leaves, so top-1 is capped near 25 %;
    # the model wins on ranking the whole signature (top-3). MRR is too close to assert.
    for name in BASELINES:
        theirs = by_method[name]
        assert mine.top1 > theirs.top1 or mine.topk > theirs.topk, name
    assert evaluation.customers > 100 and 0.5 < evaluation.covered <= 1


def test_predictions_follow_the_planted_personas(scores: pa.Table, shop: Shop) -> None:
    people = pq.read_table(shop.root / "data" / "truth" / "people.parquet",
                           columns=["person_id", "persona"]).to_pylist()
    persona_of = {p["person_id"]: p["persona"] for p in people}
    predicted = dict(zip(scores.column("customer_id").to_pylist(),
                         scores.column("next_category").to_pylist(), strict=True))
    for persona in PERSONAS:
        if not persona.signature:
            continue
        mine = [c for c, p in persona_of.items() if p == persona.name and c in predicted]
        share = sum(predicted[c] in persona.signature for c in mine) / len(mine)
        # Measured 0.70 (deal hunters) to 0.87 (loyalists). 70-80 % of a persona's
        # views are in its signature, but light browsers have few signals and fall
        # back on popular categories, hence the margin.
        assert len(mine) > 100 and share >= 0.6, (persona.name, share)


def test_scores_one_row_per_active_customer(scores: pa.Table, model: NextCategoryModel,
                                           inputs: PredictInputs) -> None:
    assert scores.column_names == ["customer_id", "next_category", "probability",
                                   "second_category", "third_category"]
    rows = scores.to_pylist()
    ids = [r["customer_id"] for r in rows]
    assert len(ids) == len(set(ids)) > 1000
    for r in rows:
        ranked = [r["next_category"], r["second_category"], r["third_category"]]
        assert None not in ranked and len(set(ranked)) == 3
        assert 0 < r["probability"] <= 1
    candidates = set(category_features(inputs, NOW).customer_id.to_pyarrow().to_pylist())
    without = [r for r in rows if r["customer_id"] not in candidates]
    assert without, "the shop has customers who never touched a product"
    assert all(r["next_category"] == model.popular[0] for r in without)


def test_same_seed_same_model_and_pickle_round_trip(model: NextCategoryModel,
                                                   scores: pa.Table, inputs: PredictInputs,
                                                   to_arrow: ToArrow) -> None:
    again = train_next_category(inputs, to_arrow, NOW, NextCategorySpec(seed=42),
                                trained_at=NOW)
    assert again.evaluation == model.evaluation and again.trained_at == NOW
    assert again.score(inputs, to_arrow, NOW).equals(scores)
    loaded = pickle.loads(pickle.dumps(model))
    assert isinstance(loaded, NextCategoryModel) and loaded.features == FEATURES
    assert loaded.score(inputs, to_arrow, NOW).equals(scores)


def test_evaluation_reads_in_both_languages(model: NextCategoryModel) -> None:
    evaluation = model.evaluation
    figures = json.loads(json.dumps(evaluation.to_dict()))
    assert [s["method"] for s in figures["scores"]] == [MODEL, *BASELINES]
    assert len(figures["scores"][0]["categories"]) == 5
    english = dict(evaluation.summary("en"))
    assert english["Model: top-3 hit rate"].endswith("%")
    assert "模型: 前 3 命中率" in dict(evaluation.summary("zh-CN"))
    rows = evaluation.rows()
    assert [r["method"] for r in rows] == [MODEL, *BASELINES]
    assert set(rows[0]) == {"method", "top1", "top3", "mrr", "customers"}



def test_evaluation_figures_are_those_of_the_loop_implementation(
        model: NextCategoryModel) -> None:
    # Frozen from the implementation that ranked and scored with Python loops, before the
    # rankings became arrays: the arrays must rank exactly as the loops did.
    evaluation = model.evaluation
    assert (evaluation.customers, evaluation.covered) == (138, 99 / 138)
    figures = {s.method: (s.top1, s.topk, s.mrr) for s in evaluation.scores}
    assert figures == {
        MODEL: (30 / 138, 81 / 138, 0.4406049257274187),
        "most_viewed_30d": (22 / 138, 42 / 138, 0.308234021242165),
        "most_bought": (32 / 138, 76 / 138, 0.43829565350967964),
        "most_popular": (19 / 138, 36 / 138, 0.2797960139998099),
    }
    assert model.evaluation.scores[0].categories == (
        (WIPES, 19, 11 / 48, 11 / 19), ("母婴/玩具", 19, 2 / 5, 2 / 19),
        (DIAPERS, 17, 2 / 5, 2 / 17), ("数码/手机壳", 14, 1 / 8, 1 / 14),
        ("母婴/奶粉", 14, 1 / 12, 1 / 14))



def test_rankings_break_ties_by_name_and_fill_with_popular_categories() -> None:
    frame = pa.table({"customer_id": ["c1", "c1", "c1", "c2"],
                      "category": ["A", "B", "C", "B"]})
    scores = np.array([0.2, 0.6, 0.2, 0.0])
    popular = ["B", "D", "A"]
    codes = CandidateCodes.of((frame.column("customer_id"), pa.array(["c3"])),
                              (frame.column("category"), pa.array([*popular, "E"])))
    customer, category = codes.rows(frame)
    ordered = ranked_rows(customer, category, scores)
    top = top_categories(codes, ordered, codes.category(popular), 3)
    assert [codes.name(top[:, j]).to_pylist() for j in range(3)] == [
        ["B", "B", "B"], ["A", "D", "D"], ["C", "A", "A"]]
    has, probability = normalised_best(customer, scores, 3)
    assert has.tolist() == [True, True, False] and probability[:2].tolist() == [0.6, 1.0]
    truth = codes.pairs(codes.customer(["c1", "c2", "c3", "c3"]),
                        codes.category(["D", "A", "D", "E"]))
    assert first_hits(codes, ordered, codes.category(popular), truth).tolist() == [4, 3, 2]

