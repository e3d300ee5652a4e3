"""Recommendations on the synthetic shop: planted personas and pairs are found, ALS beats
popularity on a time split, the business rules hold, fits are reproducible and pickle."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from datetime import datetime, timedelta

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.recommend import (
    Recommender,
    RecommendSpec,
    fit_recommender,
    interactions,
    purchase_lines,
)
from portraits.predict.recs_eval import RecEvaluation, evaluate_recommender
from portraits.synth.personas import PERSONAS
from tests.conftest import NOW
from tests.shop import Shop

POPULAR = {"popular_segment", "popular_city", "popular"}


@pytest.fixture(scope="module")
def inputs(shop: Shop) -> PredictInputs:
    ws = shop.open()
    layers = ws.tags.table().select("customer_id", "value_layer")
    return PredictInputs(
        orders=ws.analytics.table("orders"), order_items=ws.table("order_items"),
        products=ws.table("products"), events=ws.analytics.table("events"),
        profiles=ws.profiles.table().join(layers, "customer_id"),
        interests=ws.table("profile_interests"))


@pytest.fixture(scope="module")
def to_arrow(shop: Shop) -> ToArrow:
    return shop.open().engine.to_arrow


@pytest.fixture(scope="module")
def rec(inputs: PredictInputs, to_arrow: ToArrow) -> Recommender:
    return fit_recommender(inputs, to_arrow, NOW, RecommendSpec())


@pytest.fixture(scope="module")
def evaluation(inputs: PredictInputs, to_arrow: ToArrow) -> RecEvaluation:
    return evaluate_recommender(inputs, to_arrow, NOW - timedelta(days=30), RecommendSpec(),
                                horizon_days=30, k=10)


def test_interactions_weigh_views_adds_and_capped_purchases() -> None:
    con = ibis.duckdb.connect()
    at = datetime(2026, 1, 10)
    events = ibis.memtable({
        "customer_id": ["c1", "c1", "c1", "c1", "c2"],
        "event": ["Product Viewed", "Product Viewed", "Product Added", "Signed In",
                  "Product Viewed"],
        "timestamp": [at, at, at, at, at + timedelta(days=30)],  # c2's view is too late
        "product_id": ["p1", "p1", "p1", None, "p1"]})
    orders = ibis.memtable({"order_id": ["o1", "o2"], "customer_id": ["c1", "c1"],
                            "ordered_at": [at, at], "status": ["paid", "cancelled"]})
    items = ibis.memtable({"order_id": ["o1", "o2"], "line_no": [1, 1],
                           "product_id": ["p1", "p1"], "quantity": [5, 1]})
    products = ibis.memtable({"product_id": ["p1"]})
    inputs = PredictInputs(orders, items, products, events)
    got = con.to_pyarrow(interactions(inputs, datetime(2026, 1, 20), RecommendSpec()))
    assert got.to_pylist() == [{"customer_id": "c1", "product_id": "p1",
                                "weight": 2 * 1.0 + 3.0 + 5.0 * 3, "views": 2,
                                "cart_adds": 1, "purchases": 1, "last_at": at}]
    decayed = con.to_pyarrow(interactions(inputs, at + timedelta(days=10),
                                          RecommendSpec(half_life_days=10.0)))
    assert decayed.column("weight")[0].as_py() == pytest.approx(20.0 / 2)


def test_each_persona_gets_its_signature_categories(shop: Shop, inputs: PredictInputs,
                                                    rec: Recommender, to_arrow: ToArrow) -> None:
    people = pq.read_table(shop.root / "data" / "truth" / "people.parquet",
                           columns=["person_id", "persona"]).to_pylist()
    persona = {p["person_id"]: p["persona"] for p in people}
    paths = to_arrow(inputs.products.select("product_id", "category_path"))
    path = dict(zip(paths.column("product_id").to_pylist(),
                    paths.column("category_path").to_pylist(), strict=True))
    recs = rec.recommend(k=10)
    seen: dict[str, Counter[str]] = {}
    for who, what in zip(recs.column("customer_id").to_pylist(),
                         recs.column("product_id").to_pylist(), strict=True):
        if who in persona:
            seen.setdefault(persona[who], Counter())[path[what]] += 1
    for p in PERSONAS:
        if p.signature:
            top = seen[p.name].most_common(1)[0][0]
            assert top in p.signature, (p.name, seen[p.name].most_common(3))


def test_planted_pair_is_bought_together(shop: Shop, rec: Recommender) -> None:
    for pair in shop.truth["bought_together"]:
        together = rec.bought_together(pair["anchor"], k=3)
        assert together.column("product_id")[0].as_py() == pair["partner"]
        assert together.column("lift")[0].as_py() > 1.5
    similar = rec.similar(shop.truth["bought_together"][0]["anchor"], k=5)
    assert similar.num_rows == 5 and set(similar.column("reason").to_pylist()) == {"similar"}
    assert rec.similar("no such product").num_rows == 0


def test_als_beats_popularity_on_a_time_split(evaluation: RecEvaluation) -> None:
    als, popular = evaluation.model("als"), evaluation.model("popular")
    assert evaluation.customers > 100
    for metric in ("precision", "recall", "ndcg", "hit_rate"):
        assert getattr(als, metric) > getattr(popular, metric), metric
    assert evaluation.model("blend").ndcg > evaluation.model("popular_segment").ndcg
    assert {r["model"] for r in evaluation.rows()} == {
        "als", "bpr", "blend", "popular", "popular_segment"}
    json.dumps(evaluation.to_dict())
    labels = dict(evaluation.summary("zh-CN"))
    assert "新品推荐命中率@10（内容）" in labels
    assert "Hit rate@10 (blend)" in dict(evaluation.summary())


def test_same_seed_same_recommendations(inputs: PredictInputs, rec: Recommender,
                                        to_arrow: ToArrow) -> None:
    again = fit_recommender(inputs, to_arrow, NOW, RecommendSpec())
    assert again.recommend(k=10).equals(rec.recommend(k=10))
    bpr = RecommendSpec(model="bpr", bpr_iterations=30)
    first = fit_recommender(inputs, to_arrow, NOW, bpr).recommend(k=5, method="cf")
    assert first.equals(fit_recommender(inputs, to_arrow, NOW, bpr).recommend(k=5, method="cf"))
    assert set(first.column("reason").to_pylist()) <= {"bpr", "popular"}


def test_recently_bought_durables_are_not_recommended(inputs: PredictInputs, rec: Recommender,
                                                      to_arrow: ToArrow) -> None:
    spec = rec.spec
    recent = to_arrow(purchase_lines(inputs, NOW, NOW - timedelta(days=spec.repurchase_days))
                      .select("customer_id", "product_id"))
    consumable = set(rec.products.filter(pa.array(rec.arrays.consumable)).to_pylist())
    durable = {(c, p) for c, p in zip(recent.column("customer_id").to_pylist(),
                                      recent.column("product_id").to_pylist(), strict=True)
               if p not in consumable}
    assert durable and consumable  # the rule has work to do both ways
    recs = rec.recommend(k=10)
    pairs = set(zip(recs.column("customer_id").to_pylist(),
                    recs.column("product_id").to_pylist(), strict=True))
    assert not pairs & durable
    forced = RecommendSpec(durable_categories=("食品", "母婴", "家居", "数码", "美妆", "服饰",
                                               "运动"))
    assert not fit_recommender(inputs, to_arrow, NOW, forced).arrays.consumable.any()


def test_cold_start_gets_popular_items_with_reasons(inputs: PredictInputs, rec: Recommender,
                                                    to_arrow: ToArrow) -> None:
    data = rec.arrays
    cold = rec.customers.filter(pa.array(~data.active)).to_pylist()
    assert cold  # people who only registered: no segment, so their city's and overall
    recs = rec.recommend(cold, k=10)
    assert {"popular_city", "popular"} == set(recs.column("reason").to_pylist())
    # Customers without interactions in the last 45 days, but with a value layer.
    short = fit_recommender(inputs, to_arrow, NOW, RecommendSpec(history_days=45))
    lapsed = short.customers.filter(pa.array(~short.arrays.active
                                             & (short.arrays.segment >= 0))).to_pylist()
    reasons = Counter(short.recommend(lapsed, k=10).column("reason").to_pylist())
    assert set(reasons) == POPULAR and reasons["popular_segment"] > 0
    stranger = rec.recommend(["nobody"], k=3)
    assert stranger.column("reason").to_pylist() == ["popular"] * 3
    best = rec.products[int(data.popularity.argmax())].as_py()
    assert stranger.column("product_id")[0].as_py() == best
    ranks = rec.recommend(cold[:5], k=4).column("rank").to_pylist()
    assert ranks == [1, 2, 3, 4] * 5


def test_pickle_round_trip(rec: Recommender) -> None:
    again = pickle.loads(pickle.dumps(rec))
    some = rec.customers.to_pylist()[:200]
    assert again.recommend(some, k=10).equals(rec.recommend(some, k=10))
    product = rec.products[0].as_py()
    assert again.similar(product).equals(rec.similar(product))


def test_candidates_rank_like_every_product(inputs: PredictInputs, rec: Recommender,
                                            to_arrow: ToArrow) -> None:
    """Small candidate pools (ALS top 30 of the shop's products, 10 per item-to-item
    signal and popular list) keep the exhaustive ranking's top 10 almost whole."""
    every = fit_recommender(inputs, to_arrow, NOW, RecommendSpec(cf_candidates=10_000))
    few = fit_recommender(inputs, to_arrow, NOW, RecommendSpec(
        cf_candidates=30, pair_candidates=10, group_candidates=10))
    assert len(rec.products) > 30  # the pools really are smaller than the catalogue

    def pairs(table: pa.Table) -> set[tuple[str, str]]:
        return set(zip(table.column("customer_id").to_pylist(),
                       table.column("product_id").to_pylist(), strict=True))

    for method in ("blend", "cf"):
        full = every.recommend(k=10, method=method)
        cut = few.recommend(k=10, method=method)
        assert cut.num_rows == full.num_rows
        assert len(pairs(cut) & pairs(full)) / full.num_rows > 0.9, method
