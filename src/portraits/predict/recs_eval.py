"""Offline evaluation of recommendations on a time split (R5.7).

The models learn from interactions up to ``split_at`` and are scored against the
products each customer bought in (``split_at``, ``split_at + horizon_days``] (counted
orders only). Who counts: customers with at least one test purchase **and** at least one
training interaction (view, cart add or purchase in the training window); test buyers
without a training interaction are cold-start customers, reported apart (their hit rate
with the blend, which serves them popularity by segment, city and overall).

Per model — the fitted CF model alone (ALS, and BPR fitted for comparison), the blend,
overall popularity and popularity in the customer's segment — with the top ``k``
products per customer, the repurchase rule applied to all:

- precision@k: hits / k, averaged over customers;
- recall@k: hits / products they bought in the window, averaged;
- NDCG@k: DCG of the hits (1 / log2(rank + 1)) over the best possible DCG, averaged;
- hit rate@k: share of customers with at least one hit;
- coverage: distinct products recommended to them / products in the catalogue.

**New-product hit rate** (R5.7 "new-product recommendation accuracy"): new products are
those launched in the ``spec.new_product_days`` days up to ``split_at``. Among the
evaluated customers who bought a new product in the test window, the share whose top-k
recommendations *among new products*, ranked by content alone (affinity for the
product's category path, top category and brand, damped outside their price band — CF
cannot rank products with few or no interactions), hold a new product they bought. The
category-level hit is the share whose top-k hold a new product of a category path they
bought a new product of. Two references are reported beside it: the same hit rate of
ranking the new products by popularity, and the expected hit rate of a random pick of k
(1 − C(N − b, k) / C(N, k) for N new products, b of them bought) — when N ≤ k every
customer hits and the number says nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from math import comb
from typing import Any, Final

import numpy as np
import pyarrow as pa

from portraits.i18n import Lang
from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.recommend import (
    Recommender,
    RecommendSpec,
    fit_recommender,
    purchase_lines,
    with_model,
)
from portraits.predict.recs_rank import Method
from portraits.predict.recs_signals import lookup
from portraits.profile.schema import CUSTOMER_ID

METRICS: Final = ("precision", "recall", "ndcg", "hit_rate", "coverage")
LABELS: Final[dict[str, tuple[str, str]]] = {
    "precision": ("Precision@{k}", "精确率@{k}"),
    "recall": ("Recall@{k}", "召回率@{k}"),
    "ndcg": ("NDCG@{k}", "NDCG@{k}"),
    "hit_rate": ("Hit rate@{k}", "命中率@{k}"),
    "coverage": ("Catalogue coverage", "商品覆盖率"),
    "customers": ("Customers evaluated (test purchase and training interaction)",
                  "参与评估的客户（有测试期购买且有训练期行为）"),
    "cold_customers": ("Cold-start test buyers (no training interaction)",
                       "冷启动测试期买家（无训练期行为）"),
    "cold_hit_rate": ("Cold-start hit rate@{k} (popularity)", "冷启动命中率@{k}（热门推荐）"),
    "new_products": ("New products (launched within {days} days of the split)",
                     "新品数（切分前 {days} 天内上市）"),
    "new_product_buyers": ("Evaluated customers who bought a new product",
                           "购买新品的评估客户"),
    "new_product_hit_rate": ("New-product hit rate@{k} (content)", "新品推荐命中率@{k}（内容）"),
    "new_product_category_hit_rate": ("New-product category hit rate@{k}",
                                      "新品类目命中率@{k}"),
    "new_product_popular_hit_rate": ("New-product hit rate@{k}, by popularity",
                                     "新品命中率@{k}（按热度）"),
    "new_product_random_hit_rate": ("New-product hit rate@{k}, random pick (expected)",
                                    "新品命中率@{k}（随机，期望值）"),
}


@dataclass(frozen=True)
class ModelScores:
    """Top-k metrics of one model over the evaluated customers."""

    model: str
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float


@dataclass(frozen=True)
class RecEvaluation:
    """What the time-split evaluation found (see the module docstring for definitions).

    Attributes:
        split_at: End of training.
        horizon_days: Length of the test window.
        k: Recommendations per customer.
        models: Scores per model (CF models, ``blend``, ``popular``,
            ``popular_segment``).
        customers: Customers evaluated.
        cold_customers: Test buyers without a training interaction.
        cold_hit_rate: Their hit rate@k with the blend (None without any).
        new_product_days: A product launched this many days before the split is new.
        new_products: Products launched within ``new_product_days`` before the split.
        new_product_buyers: Evaluated customers who bought one in the test window.
        new_product_hit_rate: Share of those whose content top-k new products hold one
            they bought (None without buyers).
        new_product_category_hit_rate: Share whose top-k hold a bought category path.
        new_product_popular_hit_rate: The hit rate of new products ranked by popularity.
        new_product_random_hit_rate: The expected hit rate of a random pick of k.
    """

    split_at: datetime
    horizon_days: int
    k: int
    models: tuple[ModelScores, ...]
    customers: int
    cold_customers: int
    cold_hit_rate: float | None
    new_product_days: int
    new_products: int
    new_product_buyers: int
    new_product_hit_rate: float | None
    new_product_category_hit_rate: float | None
    new_product_popular_hit_rate: float | None
    new_product_random_hit_rate: float | None

    def model(self, name: str) -> ModelScores:
        """The scores of one model by name."""
        return next(m for m in self.models if m.model == name)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serialisable values."""
        out = asdict(self)
        out["split_at"] = self.split_at.isoformat()
        out["models"] = self.rows()
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per model: ``model`` and every metric."""
        return [asdict(m) for m in self.models]

    def summary(self, lang: Lang = "en") -> list[tuple[str, str]]:
        """(label, value) pairs in English or zh-CN, the blend's metrics first."""
        zh = lang == "zh-CN"

        def label(key: str) -> str:
            return LABELS[key][1 if zh else 0].format(k=self.k, days=self.new_product_days)

        blend = self.model("blend")
        pairs = [(f"{label(m)} ({'混合' if zh else 'blend'})", _share(getattr(blend, m)))
                 for m in METRICS]
        pairs += [(label("customers"), f"{self.customers:,}"),
                  (label("cold_customers"), f"{self.cold_customers:,}"),
                  (label("cold_hit_rate"), _share(self.cold_hit_rate)),
                  (label("new_products"), f"{self.new_products:,}"),
                  (label("new_product_buyers"), f"{self.new_product_buyers:,}")]
        pairs += [(label(key), _share(getattr(self, key))) for key in (
            "new_product_hit_rate", "new_product_category_hit_rate",
            "new_product_popular_hit_rate", "new_product_random_hit_rate")]
        return pairs


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _scores(recs: pa.Table, truth: dict[str, set[str]], k: int, catalogue: int,
            name: str) -> ModelScores:
    """Top-k metrics of one model's recommendations against the test purchases."""
    people = list(truth)
    who = lookup(recs.column(CUSTOMER_ID).combine_chunks(), pa.array(people, pa.string()))
    products = recs.column("product_id").to_pylist()
    rank = np.asarray(recs.column("rank"), np.int64)
    hit = np.array([p in truth[people[w]] for w, p in zip(who, products, strict=True)], bool)
    n = len(people)
    hits = np.bincount(who, weights=hit, minlength=n)
    gain = np.bincount(who, weights=hit / np.log2(rank + 1), minlength=n)
    bought = np.array([len(truth[p]) for p in people], float)
    ideal = np.array([sum(1 / np.log2(r + 2) for r in range(min(int(b), k))) for b in bought])
    return ModelScores(name, float(np.mean(hits / k)), float(np.mean(hits / bought)),
                       float(np.mean(gain / ideal)), float(np.mean(hits > 0)),
                       len(set(products)) / max(catalogue, 1))


def _hit_rate(recs: pa.Table, truth: dict[str, set[str]]) -> float | None:
    if not truth:
        return None
    got: dict[str, set[str]] = {}
    for who, what in zip(recs.column(CUSTOMER_ID).to_pylist(),
                         recs.column("product_id").to_pylist(), strict=True):
        got.setdefault(who, set()).add(what)
    return sum(bool(got.get(c, set()) & bought) for c, bought in truth.items()) / len(truth)


def _new_products(rec: Recommender, truth: dict[str, set[str]], split_at: datetime,
                  k: int) -> dict[str, Any]:
    """The new-product hit rates (content, category, popularity, random)."""
    data = rec.arrays
    start = np.datetime64((split_at - timedelta(days=rec.spec.new_product_days)).date(), "D")
    new = (data.launched_at > start) & (data.launched_at <= np.datetime64(split_at.date(), "D"))
    ids = set(data.products.filter(pa.array(new)).to_pylist())
    buyers = {c: b & ids for c, b in truth.items() if b & ids}
    out: dict[str, Any] = {"new_products": len(ids), "new_product_buyers": len(buyers)}
    if not buyers:
        return out | dict.fromkeys(("new_product_hit_rate", "new_product_category_hit_rate",
                                    "new_product_popular_hit_rate",
                                    "new_product_random_hit_rate"))
    leaf = dict(zip(data.products.to_pylist(), data.leaves[data.item_leaf].tolist(),
                    strict=True))
    content = rec.recommend(list(buyers), k, "content", candidates=sorted(ids))
    popular = rec.recommend(list(buyers), k, "popular", candidates=sorted(ids))
    by_leaf = {c: {leaf[p] for p in b} for c, b in buyers.items()}
    picked_leaf = pa.table({CUSTOMER_ID: content.column(CUSTOMER_ID), "product_id": pa.array(
        [leaf[p] for p in content.column("product_id").to_pylist()], pa.string())})
    n = len(ids)
    random = [1 - comb(n - len(b), k) / comb(n, k) if n > k else 1.0 for b in buyers.values()]
    return out | {"new_product_hit_rate": _hit_rate(content, buyers),
                  "new_product_category_hit_rate": _hit_rate(picked_leaf, by_leaf),
                  "new_product_popular_hit_rate": _hit_rate(popular, buyers),
                  "new_product_random_hit_rate": float(np.mean(random))}


def evaluate_recommender(inputs: PredictInputs, to_arrow: ToArrow, split_at: datetime,
                         spec: RecommendSpec | None = None, horizon_days: int = 30,
                         k: int = 10) -> RecEvaluation:
    """Fit on the data up to ``split_at`` and score the test window after it.

    Args:
        inputs: Canonical tables with ``customer_id``.
        to_arrow: Runs an expression on the engine.
        split_at: End of training, start of the test window.
        spec: The recommender's spec (its ``model`` is the CF model; the other one is
            fitted too, for comparison).
        horizon_days: Length of the test window.
        k: Recommendations per customer.

    Returns:
        The :class:`RecEvaluation`.

    Example:
        >>> evaluate_recommender(inputs, engine.to_arrow, datetime(2026, 10, 1))  # doctest: +SKIP
    """
    spec = spec or RecommendSpec()
    rec = fit_recommender(inputs, to_arrow, split_at, spec)
    rival = with_model(rec, "bpr" if spec.model == "als" else "als")
    test = to_arrow(purchase_lines(inputs, split_at + timedelta(days=horizon_days), split_at)
                    .select(CUSTOMER_ID, "product_id").distinct())
    truth: dict[str, set[str]] = {}
    for who, what in zip(test.column(CUSTOMER_ID).to_pylist(),
                         test.column("product_id").to_pylist(), strict=True):
        truth.setdefault(who, set()).add(what)
    at = lookup(pa.array(list(truth), pa.string()), rec.customers)
    warm = np.where(at >= 0, rec.arrays.active[np.maximum(at, 0)], False)
    evaluated = {c: b for (c, b), w in zip(truth.items(), warm, strict=True) if w}
    cold = {c: b for (c, b), w in zip(truth.items(), warm, strict=True) if not w}
    people, catalogue = list(evaluated), len(rec.products)
    runs: list[tuple[str, Recommender, Method]] = [
        (spec.model, rec, "cf"), (rival.spec.model, rival, "cf"), ("blend", rec, "blend"),
        ("popular", rec, "popular"), ("popular_segment", rec, "popular_segment")]
    models = tuple(_scores(model.recommend(people, k, method), evaluated, k, catalogue, name)
                   for name, model, method in runs) if people else ()
    cold_hits = _hit_rate(rec.recommend(list(cold), k), cold) if cold else None
    return RecEvaluation(split_at, horizon_days, k, models, len(evaluated), len(cold),
                         cold_hits, spec.new_product_days,
                         **_new_products(rec, evaluated, split_at, k))
