"""Next-category demand, the candidate rows (R5.7): what each customer did with each leaf
category up to a cutoff and which categories their next order held (Ibis), and how
candidate rows rank (NumPy, over the rows brought to Arrow).

A category is the product's leaf ``category_path`` (``母婴/纸尿裤``), taken from the
catalogue for events and order lines alike (events carry only the top-level category);
``department`` is its top level (``母婴``). Only data up to the cutoff is read, so the
features at an earlier cutoff are the same whether or not later data exists.

The features and labels are Ibis expressions and run on any engine. The rankings work
on integer codes (customers and categories numbered in name order) with sorts, ``bincount``
and ``searchsorted``, so that a million customers' candidates rank in seconds and give
the same order as sorting the names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeAlias

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portraits.predict.inputs import PredictInputs
from portraits.profile.consumption import counted
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import days_between, epoch_seconds

VIEWED: Final = "Product Viewed"
ADDED: Final = "Product Added"
WISHLISTED: Final = "Product Added to Wishlist"
_KINDS: Final = {VIEWED: "view", ADDED: "add", WISHLISTED: "wish"}
# Weights of the decayed affinity (as in profile interests), halving every 90 days.
_WEIGHTS: Final = {"view": 1.0, "add": 3.0, "wish": 3.0, "buy": 5.0}
_DECAY: Final = math.log(2) / 90

FEATURES: Final[tuple[str, ...]] = (
    "views_7d", "views_30d", "views_90d", "views", "adds_30d", "adds_90d", "adds",
    "wishlisted", "purchases_90d", "purchases_365d", "purchases",
    "days_since_view", "days_since_purchase",
    "view_share_90d", "view_share", "department_view_share_90d", "department_view_share",
    "purchase_share", "department_purchase_share", "affinity", "customer_views",
    "customer_purchases",
    "popularity_30d", "mean_purchase_gap_days", "replenishment_ratio",
    "top_viewed", "top_bought",
)
"""Model inputs, in the order the estimator sees them."""


def catalogue(products: ir.Table) -> ir.Table:
    """Each product's leaf category (its path, else its category) and department."""
    leaf = ibis.coalesce(products.category_path, products.category)
    department = ibis.coalesce(products.category, leaf.split("/")[0])
    return products.select("product_id", category=leaf, department=department).filter(
        leaf.notnull())


def bought_categories(inputs: PredictInputs, start: datetime | None,
                      end: datetime) -> ir.Table:
    """Categories of each counted order placed in ``(start, end]``, once per order.

    Args:
        inputs: Canonical tables.
        start: Exclusive start, or None for everything before ``end``.
        end: Inclusive end.

    Returns:
        ``customer_id``, ``order_id``, ``ordered_at``, ``category``, ``department``.
    """
    orders = inputs.orders
    kept = orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at.notnull(),
                         orders.ordered_at <= ibis.literal(end), counted(orders, ProfileSpec()))
    if start is not None:
        kept = kept.filter(kept.ordered_at > ibis.literal(start))
    kept = kept.select(CUSTOMER_ID, "order_id", "ordered_at")
    lines = inputs.order_items.select("order_id", "product_id").join(kept, "order_id")
    lines = lines.join(catalogue(inputs.products), "product_id")
    return lines.select(CUSTOMER_ID, "order_id", "ordered_at", "category",
                        "department").distinct()


def _signals(inputs: PredictInputs, cutoff: datetime) -> ir.Table:
    """(customer, category, department, kind, moment) of every view, add, wish and
    bought (order, category) up to the cutoff."""
    bought = bought_categories(inputs, None, cutoff)
    parts = [bought.select(CUSTOMER_ID, "category", "department", kind=ibis.literal("buy"),
                           moment=bought.ordered_at)]
    events = inputs.events
    if events is not None:
        shown = events.filter(events[CUSTOMER_ID].notnull(), events.product_id.notnull(),
                              events.event.isin(tuple(_KINDS)),
                              events.timestamp <= ibis.literal(cutoff))
        shown = shown.select(CUSTOMER_ID, "product_id", "event", "timestamp")
        shown = shown.join(catalogue(inputs.products), "product_id")
        kind = ibis.cases(*((shown.event == name, short) for name, short in _KINDS.items()))
        parts.append(shown.select(CUSTOMER_ID, "category", "department", kind=kind,
                                  moment=shown.timestamp))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def category_popularity(inputs: PredictInputs, cutoff: datetime, days: int = 30) -> ir.Table:
    """Share of the customers who bought in the ``days`` before the cutoff that bought
    each category.

    Returns:
        ``category``, ``buyers`` and ``popularity`` (0-1).
    """
    recent = bought_categories(inputs, cutoff - timedelta(days=days), cutoff)
    per_category = recent.group_by("category").aggregate(buyers=recent[CUSTOMER_ID].nunique())
    everyone = recent.aggregate(_all=recent[CUSTOMER_ID].nunique())
    shares = per_category.cross_join(everyone)
    return shares.select("category", "buyers",
                         popularity=shares.buyers.cast("float64") / shares["_all"])


def _share(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(whole > 0, part.cast("float64") / whole, 0.0)


def _counts(signals: ir.Table, cutoff: datetime) -> ir.Table:
    """One grouped aggregation: counts per window and first/last moments."""
    kind, moment = signals.kind, signals.moment
    age_days = ((ibis.literal(epoch_seconds(cutoff)) - moment.epoch_seconds())
                .cast("float64") / 86_400)
    weight = ibis.cases(*((kind == name, value) for name, value in _WEIGHTS.items()))

    def count(name: str, days: int | None = None) -> ir.IntegerValue:
        hit = kind == name
        if days is not None:
            hit = hit & (moment > ibis.literal(cutoff - timedelta(days=days)))
        return hit.cast("int64").sum()

    buy = kind == "buy"
    return signals.group_by([CUSTOMER_ID, "category", "department"]).aggregate(
        views_7d=count("view", 7), views_30d=count("view", 30), views_90d=count("view", 90),
        views=count("view"),
        adds_30d=count("add", 30), adds_90d=count("add", 90), adds=count("add"),
        wishlisted=count("wish"),
        _weight=(weight * (age_days * -_DECAY).exp()).sum(),
        purchases_90d=count("buy", 90), purchases_365d=count("buy", 365),
        purchases=count("buy"),
        last_view_at=moment.max(where=kind == "view"),
        first_purchase_at=moment.min(where=buy), last_purchase_at=moment.max(where=buy),
    )


def _shares(rows: ir.Table) -> ir.Table:
    """Shares of the customer's views, purchases and decayed affinity; top flags."""
    customer = ibis.window(group_by=rows[CUSTOMER_ID])
    department = ibis.window(group_by=[rows[CUSTOMER_ID], rows.department])
    views_90d_all = rows.views_90d.sum().over(customer)
    views_all = rows.views.sum().over(customer)
    purchases_all = rows.purchases.sum().over(customer)
    return rows.mutate(
        view_share_90d=_share(rows.views_90d, views_90d_all),
        department_view_share_90d=_share(rows.views_90d.sum().over(department), views_90d_all),
        view_share=_share(rows.views, views_all),
        department_view_share=_share(rows.views.sum().over(department), views_all),
        purchase_share=_share(rows.purchases, purchases_all),
        department_purchase_share=_share(rows.purchases.sum().over(department), purchases_all),
        # Rounded: engines sum the decayed weights in different orders (last-bit noise).
        affinity=_share(rows["_weight"], rows["_weight"].sum().over(customer)).round(9),
        customer_views=views_all,
        customer_purchases=purchases_all,
        top_viewed=((rows.views_90d > 0)
                    & (rows.views_90d == rows.views_90d.max().over(customer))).cast("int64"),
        top_bought=((rows.purchases > 0)
                    & (rows.purchases == rows.purchases.max().over(customer))).cast("int64"),
    )


def category_features(inputs: PredictInputs, cutoff: datetime) -> ir.Table:
    """One row per (customer, category) the customer viewed, added, wished for or bought up
    to the cutoff, with what they did there.

    Args:
        inputs: Canonical tables (events optional).
        cutoff: Reference time; nothing after it is read.

    Returns:
        ``customer_id``, ``category``, ``department`` and the :data:`FEATURES`: views in
        the last 7/30/90 days and ever, cart adds in 30/90 days and ever, wishlist adds
        (ever), purchases (counted orders holding the category) in 90/365 days and ever,
        days since the last view and purchase (null if none); the category's share of
        the customer's views (90 days, ever), its department's share of them, its share
        of the customer's category purchases and its department's; ``affinity`` (its
        share of the customer's view 1 / add 3 / wish 3 / buy 5 weights, halving every 90
        days); the customer's views and category purchases in all; ``popularity_30d``
        (share of last month's buyers who bought it); the mean days between purchases
        when bought more than once and ``replenishment_ratio`` (days since the last
        purchase ÷ that mean gap: about 1 when a consumable is due again); ``top_viewed``
        / ``top_bought`` (1 where it is the customer's most viewed in 90 days / most
        bought; ties all count).

    Example:
        >>> category_features(inputs, datetime(2026, 10, 1))  # doctest: +SKIP
    """
    rows = _shares(_counts(_signals(inputs, cutoff), cutoff))
    gap = ((rows.last_purchase_at.epoch_seconds() - rows.first_purchase_at.epoch_seconds())
           .cast("float64") / 86_400 / (rows.purchases - 1).cast("float64"))
    rows = rows.mutate(
        days_since_view=days_between(cutoff, rows.last_view_at).cast("float64"),
        days_since_purchase=days_between(cutoff, rows.last_purchase_at).cast("float64"),
        mean_purchase_gap_days=ibis.ifelse(rows.purchases > 1, gap, ibis.null("float64")),
    )
    rows = rows.mutate(replenishment_ratio=ibis.ifelse(
        rows.mean_purchase_gap_days > 0,
        rows.days_since_purchase / rows.mean_purchase_gap_days, ibis.null("float64")))
    popular = category_popularity(inputs, cutoff).select("category", "popularity")
    rows = rows.left_join(popular, "category").drop("category_right")
    rows = rows.mutate(popularity_30d=rows.popularity.fill_null(0.0))
    return rows.select(CUSTOMER_ID, "category", "department", *FEATURES)


def next_category_labels(inputs: PredictInputs, cutoff: datetime,
                         horizon_days: int) -> ir.Table:
    """The categories of each customer's first counted order in ``(cutoff, cutoff +
    horizon_days]`` (every order placed at that first moment).

    Returns:
        ``customer_id``, ``category`` (one row per category of that order).
    """
    window = bought_categories(inputs, cutoff, cutoff + timedelta(days=horizon_days))
    first = window.group_by(CUSTOMER_ID).aggregate(_first_at=window.ordered_at.min())
    joined = window.join(first, [CUSTOMER_ID, window.ordered_at == first["_first_at"]])
    return joined.select(CUSTOMER_ID, "category").distinct()


def active_customers(inputs: PredictInputs, as_of: datetime) -> ir.Table:
    """Customers with any event or order up to ``as_of``: one column, ``customer_id``."""
    orders = inputs.orders
    ids = [orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at <= ibis.literal(as_of))
           .select(CUSTOMER_ID)]
    if inputs.events is not None:
        events = inputs.events
        ids.append(events.filter(events[CUSTOMER_ID].notnull(),
                                 events.timestamp <= ibis.literal(as_of)).select(CUSTOMER_ID))
    return ibis.union(*ids, distinct=True) if len(ids) > 1 else ids[0].distinct()


# --- rankings of candidate rows, as arrays ---------------------------------------------


Strings: TypeAlias = pa.Array | pa.ChunkedArray


@dataclass(frozen=True)
class CandidateCodes:
    """Customers and categories numbered in name order, so that sorting codes sorts
    names (code-point order, as Python's ``sorted``) and pairs are single integers."""

    customers: pa.Array
    categories: pa.Array

    @classmethod
    def of(cls, customers: Sequence[Strings], categories: Sequence[Strings]) -> CandidateCodes:
        """Codes for every name in the given columns."""
        return cls(_vocabulary(customers), _vocabulary(categories))

    def customer(self, values: Strings | Sequence[str]) -> np.ndarray:
        """Codes of customer ids (-1 for unknown ones)."""
        return _index(values, self.customers)

    def category(self, values: Strings | Sequence[str]) -> np.ndarray:
        """Codes of categories (-1 for unknown ones)."""
        return _index(values, self.categories)

    def rows(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Customer and category codes of a table's rows."""
        return self.customer(table.column(CUSTOMER_ID)), self.category(table.column("category"))

    def pairs(self, customer: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Distinct (customer, category) pairs as sorted integers."""
        pairs = np.sort(customer * len(self.categories) + category)
        # Not np.unique: it takes seconds on millions of rows where a sort takes 0.1 s.
        return pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs

    def split(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Customer and category codes of pairs."""
        return np.divmod(pairs, len(self.categories))

    def name(self, category: np.ndarray) -> pa.Array:
        """Category names of codes; null for -1."""
        return self.categories.take(pa.array(category, pa.int64(), mask=category < 0))


def _vocabulary(columns: Sequence[Strings]) -> pa.Array:
    """Distinct names, sorted by Arrow (bytes of UTF-8: the code-point order)."""
    chunks = [chunk for column in columns
              for chunk in pa.chunked_array(column).cast(pa.string()).chunks]
    distinct = pa.chunked_array(chunks, pa.string()).unique().drop_null()
    return distinct.take(pc.sort_indices(distinct))


def _index(values: Strings | Sequence[str], vocabulary: pa.Array) -> np.ndarray:
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array(values, pa.string())
    found = pc.index_in(values, value_set=vocabulary).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in a sorted array."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values)


def ranked_rows(customer: np.ndarray, category: np.ndarray, scores: np.ndarray,
                keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate rows by customer, score (highest first) and category name: their
    customer, category and place in the customer's ranking (0, 1, ...)."""
    if keep is not None:
        customer, category, scores = customer[keep], category[keep], scores[keep]
    order = np.lexsort((category, -scores, customer))
    customer, category = customer[order], category[order]
    index = np.arange(len(customer))
    starts = np.ones(len(customer), dtype=bool)
    starts[1:] = customer[1:] != customer[:-1]
    return customer, category, index - np.maximum.accumulate(np.where(starts, index, 0))


def top_categories(codes: CandidateCodes, ordered: tuple[np.ndarray, ...],
                   popular: np.ndarray, top: int) -> np.ndarray:
    """The first ``top`` categories of each customer's ranking (its candidates, then the
    popular categories it lacks) as a customers × top array of codes, -1 past the end."""
    customer, category, place = ordered
    ranked = np.full((len(codes.customers), top), -1, dtype=np.int64)
    first = place < top
    ranked[customer[first], place[first]] = category[first]
    filled = np.minimum(np.bincount(customer, minlength=len(codes.customers)), top)
    candidates = codes.pairs(customer, category)
    everyone = np.arange(len(codes.customers), dtype=np.int64)
    for popular_category in popular[:top]:  # enough: at most top - 1 are candidates
        rows = np.flatnonzero((filled < top) & ~member(
            everyone * len(codes.categories) + popular_category, candidates))
        ranked[rows, filled[rows]] = popular_category
        filled[rows] += 1
    return ranked


def normalised_best(customer: np.ndarray, scores: np.ndarray,
                    customers: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether each customer has candidates, and their best score divided by the sum of
    their candidates' scores (1 / candidates when that is 0)."""
    best, total = np.zeros(customers), np.zeros(customers)
    np.maximum.at(best, customer, scores)
    np.add.at(total, customer, scores)  # one row at a time, in order: the loop's sums
    count = np.bincount(customer, minlength=customers)
    with np.errstate(divide="ignore", invalid="ignore"):
        return count > 0, np.where(total > 0, best / total, 1.0 / count)


def first_hits(codes: CandidateCodes, ordered: tuple[np.ndarray, ...], popular: np.ndarray,
               truth: np.ndarray) -> np.ndarray:
    """Per customer, the rank (1, 2, ...) in their whole ranking of the first category of
    their next order; 0 when it is neither a candidate nor popular."""
    customer, category, place = ordered
    n, width = len(codes.customers), len(codes.categories)
    rank = np.zeros(n, dtype=np.int64)
    hit = member(customer * width + category, truth)
    # Rows are in ranking order, so a customer's first hit row is the best ranked.
    found, first = np.unique(customer[hit], return_index=True)
    rank[found] = place[hit][first] + 1
    popularity = np.full(width, -1, dtype=np.int64)
    popularity[popular] = np.arange(len(popular))
    bought_by, bought = codes.split(truth)
    missed = (rank[bought_by] == 0) & (popularity[bought] >= 0)
    best = np.full(n, width, dtype=np.int64)
    np.minimum.at(best, bought_by[missed], popularity[bought[missed]])
    # Its rank: the candidates, then the popular categories before it not among them.
    held_by, held = codes.split(codes.pairs(customer, category))
    before = np.bincount(held_by[(popularity[held] >= 0)
                                 & (popularity[held] < best[held_by])], minlength=n)
    late = best < width
    rank[late] = np.bincount(customer, minlength=n)[late] + best[late] - before[late] + 1
    return rank
