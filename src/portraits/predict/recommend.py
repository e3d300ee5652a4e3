"""Product recommendations (R5.7): collaborative filtering blended with item-to-item,
content and popularity signals under business rules.

A customer's score for a product is a weighted sum of signals, each scaled so that the
customer's best product scores 1:

- ``als`` (or ``bpr``): ``implicit``'s CPU ALS or BPR on confidence weights from views,
  cart adds and purchases (:func:`interactions`);
- ``bought_together``: the products the customer bought, times P(j | i) of the pairs
  bought in one order with a lift of at least ``min_lift``;
- ``similar``: the products they interacted with, times the cosine of the item factors
  (each product's ``neighbours`` nearest);
- ``content``: their affinity for the product's leaf category (``category_path``), top
  category (``profile_interests``, else their own interactions) and brand;
- ``popular_segment``, ``popular_city``, ``popular``: buyers of the product among the
  customer's value layer (else spending level), their city, and everyone. These carry a
  cold-start customer (no interactions) and break ties for the others.

Rules: only products in the catalogue are recommended; a product the customer bought in
the last ``repurchase_days`` is not recommended again unless it is consumable (re-bought
at ``consumable_rate`` or more, see :func:`portraits.predict.recs_signals.consumables`,
or in ``consumable_categories``); ``content`` and the blend are damped for products outside
the customer's price band (the mean price position of what they bought within its
category, else their spending level).
Each recommendation's ``reason`` is the signal that contributed most to it.

Scoring does not visit every customer × product pair: each customer's candidates (ALS/BPR
top, item-to-item neighbours of their history, popular products of their categories,
brands and groups) are ranked in batches, see :mod:`portraits.predict.recs_rank`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.recs_rank import Method, pools, rank, top_k
from portraits.predict.recs_signals import (
    Fitted,
    Ints,
    Model,
    factors,
    fit_arrays,
    lookup,
    neighbours,
    unit_rows,
)
from portraits.profile.consumption import counted
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec

VIEWED: Final = "Product Viewed"
ADDED: Final = "Product Added"
SIGNALS: Final = ("cf", "bought_together", "similar", "content", "popular_segment",
                  "popular_city", "popular")
CELLS: Final = 1 << 24  # customer × product cells held at once (a batch of customers)


@dataclass(frozen=True)
class RecommendSpec:
    """How interactions are weighted, the models fitted, the signals blended and the
    rules applied.

    Attributes:
        model: ``als`` (implicit ALS) or ``bpr`` (Bayesian personalised ranking).
        factors: Latent factors.
        iterations: ALS sweeps.
        regularization: L2 penalty of either model.
        alpha: ALS confidence scale (confidence = 1 + alpha × weight).
        learning_rate: BPR step.
        bpr_iterations: BPR epochs (50: on the demo's time split BPR's hit rate@10 is
            20.9 % after 50 and 20.7 % after 100, in 6 s less).
        seed: Random seed of the factor initialisation (and BPR's sampling).
        threads: Threads of the fit; 0 (the default) fits ALS on every core, whose result
            does not depend on them, and BPR on one, whose sampling does.
        view_weight: Weight of a product view.
        cart_weight: Weight of a cart add.
        purchase_weight: Weight of a unit bought, up to ``max_quantity`` units a line.
        max_quantity: Units of one order line that count.
        half_life_days: Interactions lose half their weight every this many days (None:
            no decay).
        history_days: Interactions from this many days before ``as_of`` (None: all).
        repurchase_days: A non-consumable product bought this recently is not
            recommended.
        consumable_rate: A product (or its category) is consumable when this share of its
            buyers bought it in two or more orders.
        consumable_min_buyers: Buyers needed before a rate counts.
        consumable_categories: Categories or category paths always consumable.
        durable_categories: Categories or category paths never consumable.
        min_co_orders: Orders holding both products, at least, for bought together.
        min_lift: Lift of a bought-together pair, at least.
        neighbours: Similar products kept per product for the ``similar`` signal.
        price_tolerance: Distance in price position (0–1 within a category) that costs
            nothing.
        price_penalty: Share of the score lost at the far end of the price range.
        spending_positions: Price position assumed for a spending level when the
            customer's own purchases give none.
        cf_weight: Blend weight of ALS/BPR.
        together_weight: Blend weight of bought together.
        similar_weight: Blend weight of similar products.
        content_weight: Blend weight of content.
        popular_weight: Blend weight of the popularity signals for customers with
            interactions (cold-start customers get popularity alone).
        segment_share: Share of popularity from the customer's segment.
        city_share: Share from their city (the rest is overall popularity).
        new_product_days: A product launched this many days before the split is new
            (evaluation).
        cf_candidates: Products per customer taken from ALS/BPR's top (a catalogue this
            small is ranked in full).
        pair_candidates: Products per customer taken from bought together and from
            similar products.
        group_candidates: Popular products taken per favourite category and brand, per
            segment, city and overall.
    """

    model: Model = "als"
    factors: int = 32
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 2.0
    learning_rate: float = 0.05
    bpr_iterations: int = 50
    seed: int = 42
    threads: int = 0
    view_weight: float = 1.0
    cart_weight: float = 3.0
    purchase_weight: float = 5.0
    max_quantity: int = 3
    half_life_days: float | None = None
    history_days: int | None = 730
    repurchase_days: int = 90
    consumable_rate: float = 0.2
    consumable_min_buyers: int = 5
    consumable_categories: tuple[str, ...] = ()
    durable_categories: tuple[str, ...] = ()
    min_co_orders: int = 2
    min_lift: float = 1.5
    neighbours: int = 20
    price_tolerance: float = 0.35
    price_penalty: float = 0.5
    spending_positions: tuple[tuple[str, float], ...] = (("high", 0.8), ("mid", 0.5),
                                                         ("mass", 0.2))
    cf_weight: float = 1.0
    together_weight: float = 0.5
    similar_weight: float = 0.3
    content_weight: float = 0.3
    popular_weight: float = 0.05
    segment_share: float = 0.5
    city_share: float = 0.3
    new_product_days: int = 60
    cf_candidates: int = 100
    pair_candidates: int = 30
    group_candidates: int = 20


def window_start(as_of: datetime, spec: RecommendSpec, since: datetime | None) -> datetime | None:
    """The earliest interaction counted: ``since``, else ``history_days`` before ``as_of``."""
    if since is not None:
        return since
    return as_of - timedelta(days=spec.history_days) if spec.history_days else None


def purchase_lines(inputs: PredictInputs, as_of: datetime,
                   since: datetime | None = None) -> ir.Table:
    """Lines of counted orders placed in (``since``, ``as_of``]: ``order_id``,
    ``customer_id``, ``product_id``, ``ordered_at`` and ``quantity`` (at least 1)."""
    orders = inputs.orders
    kept = orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at <= as_of,
                         counted(orders, ProfileSpec()))
    if since is not None:
        kept = kept.filter(kept.ordered_at > since)
    items = inputs.order_items.filter(inputs.order_items.product_id.notnull())
    lines = items.join(kept.select("order_id", CUSTOMER_ID, "ordered_at"), "order_id")
    quantity = ibis.ifelse(lines.quantity.isnull() | (lines.quantity < 1), 1, lines.quantity)
    return lines.select("order_id", CUSTOMER_ID, "product_id", "ordered_at",
                        quantity=quantity.cast("int64"))


def interactions(inputs: PredictInputs, as_of: datetime, spec: RecommendSpec,
                 since: datetime | None = None) -> ir.Table:
    """Customer × product confidence weights from views, cart adds and purchases.

    Args:
        inputs: Events and orders with ``customer_id``.
        as_of: Nothing later counts.
        spec: Weights, quantity cap, half-life and history window.
        since: Nothing at or before this counts (default: ``history_days`` back).

    Returns:
        ``customer_id``, ``product_id``, ``weight``, ``views``, ``cart_adds``,
        ``purchases`` (order lines) and ``last_at``.

    Example:
        >>> interactions(inputs, datetime(2026, 10, 1), RecommendSpec())  # doctest: +SKIP
    """
    start = window_start(as_of, spec, since)
    zero = ibis.literal(0, "int64")
    lines = purchase_lines(inputs, as_of, start)
    parts = [lines.select(
        CUSTOMER_ID, "product_id", at=lines.ordered_at, views=zero, cart_adds=zero,
        purchases=ibis.literal(1, "int64"),
        weight=spec.purchase_weight * ibis.least(lines.quantity, spec.max_quantity
                                                 ).cast("float64"))]
    if inputs.events is not None:
        ev = inputs.events
        ev = ev.filter(ev[CUSTOMER_ID].notnull(), ev.product_id.notnull(),
                       ev.event.isin((VIEWED, ADDED)), ev.timestamp <= as_of)
        if start is not None:
            ev = ev.filter(ev.timestamp > start)
        viewed = (ev.event == VIEWED).cast("int64")
        parts.append(ev.select(
            CUSTOMER_ID, "product_id", at=ev.timestamp, views=viewed, cart_adds=1 - viewed,
            purchases=zero, weight=ibis.ifelse(ev.event == VIEWED, spec.view_weight,
                                               spec.cart_weight).cast("float64")))
    both = ibis.union(*parts, distinct=False)
    weight = both.weight
    if spec.half_life_days:
        age = (ibis.literal(as_of).epoch_seconds() - both.at.epoch_seconds()) / 86_400
        weight = weight * (age.cast("float64") * (-math.log(2) / spec.half_life_days)).exp()
    return both.group_by(CUSTOMER_ID, "product_id").aggregate(
        weight=weight.sum(), views=both.views.sum(), cart_adds=both.cart_adds.sum(),
        purchases=both.purchases.sum(), last_at=both.at.max())


@dataclass(frozen=True, eq=False)
class Recommender:
    """A fitted recommender: arrays only, so it pickles and scores without an engine.

    Attributes:
        spec: The spec it was fitted with.
        as_of: End of the interactions it learnt from.
        arrays: Codes, factors, item-to-item matrices, affinities and popularity.
    """

    spec: RecommendSpec
    as_of: datetime
    arrays: Fitted = field(repr=False)

    @property
    def customers(self) -> pa.Array:
        """Customer ids it knows (with interactions or a profile)."""
        return self.arrays.customers

    @property
    def products(self) -> pa.Array:
        """Product ids it can recommend."""
        return self.arrays.products

    def recommend(self, customer_ids: Sequence[str] | None = None, k: int = 10,
                  method: Method = "blend", candidates: Sequence[str] | None = None
                  ) -> pa.Table:
        """The top ``k`` products per customer.

        Args:
            customer_ids: Whom to recommend to (default: every known customer). Unknown
                ids are treated as cold-start customers without a segment or city.
            k: Products per customer.
            method: ``blend`` (everything), or one signal alone for comparison: ``cf``
                (ALS/BPR), ``content``, ``popular``, ``popular_segment``. The repurchase
                rule holds for all.
            candidates: Recommend only among these products (e.g. new arrivals).

        Returns:
            ``customer_id``, ``rank`` (1..k), ``product_id``, ``score``, ``reason``.

        Example:
            >>> rec.recommend(["P0000042"], k=5).to_pylist()  # doctest: +SKIP
        """
        data = self.arrays
        if customer_ids is None:
            wanted, rows = data.customers, np.arange(len(data.customers))
        else:
            wanted = pa.array(list(customer_ids), pa.string())
            rows = lookup(wanted, data.customers)
        allowed = None
        if candidates is not None:
            allowed = np.zeros(len(data.products), bool)
            found = lookup(pa.array(list(candidates), pa.string()), data.products)
            allowed[found[found >= 0]] = True
        pool = pools(data, self.spec, allowed)
        batch = max(1, CELLS // max(len(data.products), 1))
        parts = [rank(data, self.spec, rows[s:s + batch], k, method, pool)
                 for s in range(0, len(rows), batch)]
        picked = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, 0), np.int64)
        width = picked.shape[1] if picked.ndim == 2 else 0
        score = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, 0))
        reason = np.concatenate([p[2] for p in parts]) if parts else np.empty((0, 0), np.int64)
        keep = picked.ravel() >= 0
        who = np.repeat(np.arange(len(rows)), width)[keep]
        return pa.table({
            CUSTOMER_ID: wanted.take(pa.array(who)),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(rows))[keep], pa.int32()),
            "product_id": data.products.take(pa.array(picked.ravel()[keep])),
            "score": pa.array(score.ravel()[keep].astype(np.float64)),
            "reason": pa.array(self._reason_names()).take(pa.array(reason.ravel()[keep])),
        })

    def similar(self, product_id: str, k: int = 10) -> pa.Table:
        """The ``k`` products closest to one in the factor space (cosine).

        Returns:
            ``product_id``, ``rank``, ``score`` (cosine), ``reason`` ("similar"); empty
            for an unknown product.
        """
        data = self.arrays
        item = int(lookup(pa.array([product_id], pa.string()), data.products)[0])
        if item < 0:
            return _item_table(data.products, np.empty(0, np.int64), np.empty(0), "similar")
        unit = unit_rows(data.item_factors)
        cosine = (unit @ unit[item])[None, :]
        cosine[0, item] = -np.inf
        best, value = top_k(cosine, k)
        return _item_table(data.products, best[0], value[0], "similar")

    def bought_together(self, product_id: str, k: int = 10) -> pa.Table:
        """The products most often in the same order as one (lift-filtered).

        Returns:
            ``product_id``, ``rank``, ``score`` (share of its orders that hold the other
            product), ``lift``, ``reason`` ("bought_together"); empty when none passes.
        """
        data = self.arrays
        item = int(lookup(pa.array([product_id], pa.string()), data.products)[0])
        if item < 0:
            empty = _item_table(data.products, np.empty(0, np.int64), np.empty(0),
                                "bought_together")
            return empty.append_column("lift", pa.array([], pa.float64()))
        row = data.together.getrow(item)
        order = np.lexsort((row.indices, -row.data))[:k]
        cols = row.indices[order]
        table = _item_table(data.products, cols, row.data[order], "bought_together")
        lift = data.lift.getrow(item).toarray().ravel()[cols].astype(np.float64)
        return table.append_column("lift", pa.array(lift))

    def _reason_names(self) -> list[str]:
        return [self.spec.model if s == "cf" else s for s in SIGNALS]


def _item_table(products: pa.Array, items: Ints, score: np.ndarray, reason: str) -> pa.Table:
    keep = items >= 0
    items, score = items[keep], np.asarray(score, np.float64)[keep]
    return pa.table({"product_id": products.take(pa.array(items, pa.int64())),
                     "rank": pa.array(np.arange(1, len(items) + 1), pa.int32()),
                     "score": pa.array(score, pa.float64()),
                     "reason": pa.array([reason] * len(items), pa.string())})


def with_model(rec: Recommender, model: Model) -> Recommender:
    """``rec`` with its collaborative filter fitted again as ``model`` (``als`` or
    ``bpr``) on the same interactions; every other signal is kept (the evaluation's
    rival model, without a second pass over the data)."""
    spec = replace(rec.spec, model=model)
    users, items = factors(rec.arrays.history, spec)
    arrays = replace(rec.arrays, user_factors=users, item_factors=items,
                     neighbours=neighbours(items, spec.neighbours))
    return Recommender(spec, rec.as_of, arrays)


def fit_recommender(inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
                    spec: RecommendSpec | None = None,
                    since: datetime | None = None) -> Recommender:
    """Fit every signal on the interactions up to ``as_of``.

    Args:
        inputs: Canonical tables with ``customer_id`` (profiles and interests optional).
        to_arrow: Runs an expression on the engine.
        as_of: End of the training data.
        spec: Weights, models, rules (default :class:`RecommendSpec`).
        since: Start of the training data (default ``history_days`` before ``as_of``).

    Returns:
        The fitted :class:`Recommender`.

    Example:
        >>> rec = fit_recommender(inputs, engine.to_arrow, as_of)  # doctest: +SKIP
        >>> rec.recommend(k=10)  # doctest: +SKIP
    """
    spec = spec or RecommendSpec()
    start = window_start(as_of, spec, since)
    weights = to_arrow(interactions(inputs, as_of, spec, since))
    lines = to_arrow(purchase_lines(inputs, as_of, start).select(
        "order_id", CUSTOMER_ID, "product_id", "ordered_at"))
    return Recommender(spec, as_of, fit_arrays(inputs, to_arrow, weights, lines, as_of, spec))
