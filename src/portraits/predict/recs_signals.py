"""The signals a recommendation blends, in NumPy and SciPy: collaborative-filtering
factors (``implicit``), co-purchase lift, item neighbours, consumables, price positions,
popularity by group, and the top-k of a score matrix.

Everything here works on integer codes (customer, product, order numbers from 0) and
returns arrays; :mod:`portraits.predict.recommend` turns tables into codes and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portraits.profile.schema import CUSTOMER_ID

if TYPE_CHECKING:
    from portraits.predict.inputs import PredictInputs, ToArrow
    from portraits.predict.recommend import RecommendSpec

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Model = Literal["als", "bpr"]


def fit_factors(user_items: sp.csr_matrix, spec: RecommendSpec) -> tuple[Floats, Floats]:
    """User and item factors of ``implicit``'s CPU ALS or BPR, seeded, in ``spec.threads``
    threads (0: ALS on every core, BPR on one; BLAS held to one thread, as ``implicit``
    asks).

    Args:
        user_items: Customers × products confidence weights (CSR, float32).
        spec: ``model``, ``factors``, ``iterations``, ``regularization``, ``alpha``,
            ``learning_rate``, ``seed`` and ``threads``.

    Returns:
        (user factors, item factors); BPR's carry its bias column, so a dot product of the
        two is the model's score either way.
    """
    # Imported before the limit is set: the limit holds for the BLAS libraries loaded.
    from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]
    from implicit.cpu.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if spec.model == "bpr":
            model = BayesianPersonalizedRanking(
                factors=spec.factors, learning_rate=spec.learning_rate,
                regularization=spec.regularization, iterations=spec.bpr_iterations,
                num_threads=spec.threads or 1, random_state=spec.seed)
        else:
            model = AlternatingLeastSquares(
                factors=spec.factors, regularization=spec.regularization, alpha=spec.alpha,
                iterations=spec.iterations, num_threads=spec.threads,  # 0: every core
                random_state=spec.seed)
        model.fit(user_items.astype(np.float32).tocsr(), show_progress=False)
    users = np.ascontiguousarray(model.user_factors, dtype=np.float32)
    items = np.ascontiguousarray(model.item_factors, dtype=np.float32)
    return users, items


def factors(history: sp.csr_matrix, spec: RecommendSpec) -> tuple[Floats, Floats]:
    """:func:`fit_factors`, or zeros when there is no interaction to learn from."""
    if history.nnz:
        return fit_factors(history, spec)
    n, m = history.shape
    return np.zeros((n, spec.factors), np.float32), np.zeros((m, spec.factors), np.float32)


def co_purchase(orders: Ints, items: Ints, n_items: int, min_orders: int,
                min_lift: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Products bought in one order: P(j in the order | i in it) and the lift, for the
    pairs seen in at least ``min_orders`` orders with a lift of at least ``min_lift``.

    Args:
        orders: Order number of each (order, product) line.
        items: Product number of each line.
        n_items: Number of products.
        min_orders: Fewest orders holding both.
        min_lift: Smallest lift, count(i, j) · N / (count(i) · count(j)).

    Returns:
        (confidence, lift), products × products, zero on the diagonal and below the
        thresholds.
    """
    n_orders = int(orders.max()) + 1 if len(orders) else 0
    basket = sp.csr_matrix((np.ones(len(orders), np.float32), (orders, items)),
                           shape=(n_orders, n_items))
    basket.data[:] = 1.0  # an item on two lines of one order counts once
    both = (basket.T @ basket).tocoo()
    single = np.asarray(basket.sum(axis=0)).ravel()
    row, col, count = both.row, both.col, both.data
    lift = count * n_orders / np.maximum(single[row] * single[col], 1.0)
    keep = (row != col) & (count >= min_orders) & (lift >= min_lift)
    row, col, count, lift = row[keep], col[keep], count[keep], lift[keep]
    shape = (n_items, n_items)
    confidence = sp.csr_matrix((count / single[row], (row, col)), shape=shape, dtype=np.float32)
    return confidence, sp.csr_matrix((lift, (row, col)), shape=shape, dtype=np.float32)


def unit_rows(factors: Floats) -> Floats:
    """Rows scaled to length 1 (zero rows stay zero), for cosine similarity."""
    norm = np.linalg.norm(factors, axis=1, keepdims=True)
    return (factors / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def neighbours(item_factors: Floats, m: int, block: int = 2048) -> sp.csr_matrix:
    """The ``m`` most similar products of each product (cosine of the item factors,
    positive only, itself left out), as a products × products CSR matrix."""
    unit = unit_rows(item_factors)
    n = len(unit)
    m = min(m, n - 1)
    if m <= 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    rows, cols, values = [], [], []
    for start in range(0, n, block):
        cosine = unit[start:start + block] @ unit.T
        ids = np.arange(start, start + len(cosine))
        cosine[ids - start, ids] = -np.inf
        best = np.argpartition(-cosine, m - 1, axis=1)[:, :m]
        picked = np.take_along_axis(cosine, best, axis=1)
        rows.append(np.repeat(ids, m))
        cols.append(best.ravel())
        values.append(np.clip(picked.ravel(), 0.0, None))
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n), dtype=np.float32)


def rebuy_rates(customers: Ints, items: Ints, orders: Ints, n_items: int) -> Floats:
    """Per product, the share of its buyers who bought it in two or more orders."""
    pairs = np.unique(np.stack([customers, items, orders]), axis=1)
    who, counts = np.unique(pairs[:2], axis=1, return_counts=True)
    buyers = np.bincount(who[1], minlength=n_items)
    again = np.bincount(who[1], weights=counts >= 2, minlength=n_items)
    return (again / np.maximum(buyers, 1)).astype(np.float32)


def consumables(rates: Floats, buyers: Ints, group: Ints, spec: RecommendSpec,
                forced: npt.NDArray[np.bool_], barred: npt.NDArray[np.bool_]
                ) -> npt.NDArray[np.bool_]:
    """Products customers re-buy: the product's own re-buy rate reaches
    ``spec.consumable_rate`` (with at least ``spec.consumable_min_buyers`` buyers), or its
    category's buyer-weighted rate does; ``forced`` and ``barred`` (the spec's category
    overrides) win."""
    n_groups = int(group.max()) + 1 if len(group) else 0
    again = np.bincount(group, weights=rates * buyers, minlength=n_groups)
    total = np.bincount(group, weights=buyers, minlength=n_groups)
    group_rate = again / np.maximum(total, 1)
    own = (buyers >= spec.consumable_min_buyers) & (rates >= spec.consumable_rate)
    shared = (total[group] >= spec.consumable_min_buyers) & (
        group_rate[group] >= spec.consumable_rate)
    return ((own | shared) | forced) & ~barred


def price_positions(price: npt.NDArray[np.float64], group: Ints) -> Floats:
    """Where each product's price sits in its category: 0 the cheapest, 1 the dearest
    (0.5 for a lone product or an unknown price)."""
    position = np.full(len(price), 0.5, dtype=np.float32)
    known = np.isfinite(price)
    order = np.lexsort((price, group))
    order = order[known[order]]
    grouped = group[order]
    starts = np.searchsorted(grouped, grouped, side="left")
    ends = np.searchsorted(grouped, grouped, side="right")
    rank = np.arange(len(order)) - starts
    span = ends - starts - 1
    position[order] = np.where(span > 0, rank / np.maximum(span, 1), 0.5)
    return position


def popularity_by(group: Ints, bought: sp.csr_matrix, n_groups: int) -> Floats:
    """Buyers of each product within each group (groups × products); rows of customers
    without a group (code −1) are left out."""
    known = group >= 0
    member = sp.csr_matrix((np.ones(int(known.sum()), np.float32),
                            (group[known], np.flatnonzero(known))),
                           shape=(n_groups, bought.shape[0]))
    return np.asarray((member @ bought).todense(), dtype=np.float32)


def lookup(values: pa.Array, index: pa.Array) -> Ints:
    """Position of each value in ``index`` (−1 when absent)."""
    found = pc.index_in(values, value_set=index)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def _codes(values: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.str_], Ints]:
    """Sorted distinct strings (null as "") and each value's code: sorted, so that codes,
    and hence the seeded factors, do not depend on the order the engine returns rows."""
    text = np.asarray(pc.fill_null(values, "").to_numpy(zero_copy_only=False), dtype=str)
    names, codes = np.unique(text, return_inverse=True)
    return names, codes.astype(np.int64)


def _onehot(codes: Ints, width: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(len(codes), np.float32), (np.arange(len(codes)), codes)),
                         shape=(len(codes), width))


def _scaled(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Each row divided by its largest value."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    top = matrix.max(axis=1).toarray().ravel()
    return sp.csr_matrix(sp.diags(np.where(top > 0, 1 / np.where(top > 0, top, 1), 0.0))
                         @ matrix, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class Fitted:
    """Everything a :class:`~portraits.predict.recommend.Recommender` scores with.

    Customers and products are numbered by sorted id; matrices are customers × products
    (``history`` weights, ``bought`` 0/1, ``recent`` 0/1 of recent non-consumable
    purchases), products × products (``together`` confidence and ``lift``,
    ``neighbours`` cosine) and customers × category/brand (affinities scaled to 1).
    """

    customers: pa.Array
    products: pa.Array
    listed: npt.NDArray[np.bool_]
    active: npt.NDArray[np.bool_]
    user_factors: Floats
    item_factors: Floats
    history: sp.csr_matrix
    bought: sp.csr_matrix
    recent: sp.csr_matrix
    together: sp.csr_matrix
    lift: sp.csr_matrix
    neighbours: sp.csr_matrix
    consumable: npt.NDArray[np.bool_]
    leaves: npt.NDArray[np.str_]
    item_leaf: Ints
    item_top: Ints
    item_brand: Ints
    leaf_affinity: sp.csr_matrix
    top_affinity: sp.csr_matrix
    brand_affinity: sp.csr_matrix
    item_price: Floats
    customer_price: Floats
    segment: Ints
    city: Ints
    segment_popularity: Floats
    city_popularity: Floats
    popularity: Floats
    launched_at: npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class _Catalogue:
    """Product ids (sorted) with their category, brand, price and launch codes."""

    ids: pa.Array
    leaf_names: npt.NDArray[np.str_]
    leaf: Ints
    top_names: npt.NDArray[np.str_]
    top: Ints
    brand: Ints
    price: npt.NDArray[np.float64]
    launched_at: npt.NDArray[np.datetime64]
    stated_tops: Ints  # codes of the interests' categories, in top_names
    listed: npt.NDArray[np.bool_]  # in the catalogue (others are never recommended)


def _catalogue(inputs: PredictInputs, to_arrow: ToArrow, seen: list[pa.Table],
               interest: pa.Table | None) -> _Catalogue:
    products = inputs.products
    catalogue = to_arrow(products.select(
        "product_id", leaf=ibis.coalesce(products.category_path, products.category),
        top=products.category, brand=products.brand, price=products.price.cast("float64"),
        launched_at=products.launched_at.cast("date")).distinct(on="product_id"))
    ids = _ids([catalogue, *seen], "product_id")
    at = lookup(catalogue.column("product_id").combine_chunks(), ids)

    def aligned(column: str) -> list[object]:
        """A catalogue column by product number (None where the catalogue has none)."""
        out = np.full(len(ids), None, dtype=object)
        out[at] = catalogue.column(column).to_pylist()
        return list(out)

    stated = interest.column("category").to_pylist() if interest is not None else []
    leaf_names, leaf = _codes(pa.array(aligned("leaf"), pa.string()))
    top_names, tops = _codes(pa.array([*aligned("top"), *stated], pa.string()))
    _, brand = _codes(pa.array(aligned("brand"), pa.string()))
    price = np.array([np.nan if v is None else v for v in aligned("price")], float)
    launched = np.array(aligned("launched_at"), dtype="datetime64[D]")
    m = len(ids)
    listed = np.zeros(m, bool)
    listed[at] = True
    return _Catalogue(ids, leaf_names, leaf, top_names, tops[:m], brand, price, launched,
                      tops[m:], listed)


def _ids(tables: list[pa.Table], column: str) -> pa.Array:
    """The sorted distinct ids of a column over several tables."""
    return pa.array(np.unique(np.concatenate([
        np.asarray(t.column(column).to_numpy(zero_copy_only=False), dtype=str)
        for t in tables])).tolist(), pa.string())


def _customer_price(buyer: Ints, item: Ints, item_price: Floats, n: int, people: pa.Table,
                    person: Ints, spec: RecommendSpec) -> Floats:
    """Mean price position of what each customer bought, else their spending level's."""
    paid = np.bincount(buyer, weights=item_price[item], minlength=n)
    count = np.bincount(buyer, minlength=n)
    band = np.where(count > 0, paid / np.maximum(count, 1), np.nan)
    levels = dict(spec.spending_positions)
    guessed = np.array([levels.get(v, np.nan) if v else np.nan
                        for v in people.column("spending_level").to_pylist()], float)
    fill = np.isnan(band[person])
    band[person[fill]] = guessed[fill]
    return band.astype(np.float32)


def _top_affinity(history: sp.csr_matrix, goods: _Catalogue, interest: pa.Table | None,
                  customers: pa.Array) -> sp.csr_matrix:
    """Top-category affinity: the profile's interests where it has any, else the
    customer's own interactions."""
    width = len(goods.top_names)
    derived = history @ _onehot(goods.top, width)
    if interest is None:
        return _scaled(derived)
    holder = lookup(interest.column(CUSTOMER_ID).combine_chunks(), customers)
    known = holder >= 0
    stated = sp.csr_matrix(
        (np.asarray(interest.column("affinity").fill_null(0.0), np.float32)[known],
         (holder[known], goods.stated_tops[known])), shape=(history.shape[0], width))
    has = np.diff(stated.indptr) > 0
    return _scaled(sp.diags((~has).astype(np.float32)) @ derived + stated)


def _groups(people: pa.Table, person: Ints, n: int, bought: sp.csr_matrix
            ) -> tuple[list[Ints], list[Floats]]:
    """Segment and city codes per customer (−1 unknown) and buyers per product in each."""
    codes_out, popularity = [], []
    for column in ("segment", "city"):
        labels, code = _codes(people.column(column))
        codes = np.full(n, -1, np.int64)
        codes[person] = np.where(np.asarray(pc.is_null(people.column(column))), -1, code)
        codes_out.append(codes)
        popularity.append(popularity_by(codes, bought, len(labels)))
    return codes_out, popularity


def fit_arrays(inputs: PredictInputs, to_arrow: ToArrow, weights: pa.Table, lines: pa.Table,
               as_of: datetime, spec: RecommendSpec) -> Fitted:
    """Fit every signal from the interactions, the purchase lines and the catalogue,
    profiles and interests (fetched here: one small query each)."""
    interest = (to_arrow(inputs.interests.select(CUSTOMER_ID, "category", "affinity"))
                if inputs.interests is not None else None)
    goods = _catalogue(inputs, to_arrow, [weights, lines], interest)
    people = _people(inputs, to_arrow)
    customers = _ids([weights, lines, people], CUSTOMER_ID)
    n, m = len(customers), len(goods.ids)

    who = lookup(weights.column(CUSTOMER_ID).combine_chunks(), customers)
    what = lookup(weights.column("product_id").combine_chunks(), goods.ids)
    history = sp.csr_matrix((np.asarray(weights.column("weight"), np.float32), (who, what)),
                            shape=(n, m))
    users, items = factors(history, spec)

    buyer = lookup(lines.column(CUSTOMER_ID).combine_chunks(), customers)
    item = lookup(lines.column("product_id").combine_chunks(), goods.ids)
    _, order = _codes(lines.column("order_id"))
    bought = sp.csr_matrix((np.ones(len(item), np.float32), (buyer, item)), shape=(n, m))
    bought.data[:] = 1.0
    buyers = np.asarray(bought.sum(axis=0)).ravel().astype(np.int64)
    leaves, tops = goods.leaf_names[goods.leaf], goods.top_names[goods.top]
    consumable = consumables(
        rebuy_rates(buyer, item, order, m), buyers, goods.leaf, spec,
        np.isin(leaves, spec.consumable_categories) | np.isin(tops, spec.consumable_categories),
        np.isin(leaves, spec.durable_categories) | np.isin(tops, spec.durable_categories))
    ordered = np.asarray(lines.column("ordered_at").to_numpy(zero_copy_only=False),
                         dtype="datetime64[us]")
    cutoff = np.datetime64(as_of - timedelta(days=spec.repurchase_days), "us")
    blocked = (ordered > cutoff) & ~consumable[item]
    recent = sp.csr_matrix((np.ones(int(blocked.sum()), np.float32),
                            (buyer[blocked], item[blocked])), shape=(n, m))
    together, lift = co_purchase(order, item, m, spec.min_co_orders, spec.min_lift)

    item_price = price_positions(goods.price, goods.leaf)
    person = lookup(people.column(CUSTOMER_ID).combine_chunks(), customers)
    (segment, city), (by_segment, by_city) = _groups(people, person, n, bought)
    interacted = np.diff(history.tocsc().indptr)
    popularity = buyers + 0.01 * interacted / max(int(interacted.max(initial=0)), 1)
    return Fitted(
        customers, goods.ids, goods.listed, np.diff(history.indptr) > 0, users, items,
        history, bought, recent, together, lift, neighbours(items, spec.neighbours), consumable,
        goods.leaf_names, goods.leaf, goods.top, goods.brand,
        _scaled(history @ _onehot(goods.leaf, len(goods.leaf_names))),
        _top_affinity(history, goods, interest, customers),
        _scaled(history @ _onehot(goods.brand, int(goods.brand.max(initial=0)) + 1)),
        item_price, _customer_price(buyer, item, item_price, n, people, person, spec),
        segment, city, by_segment, by_city, popularity.astype(np.float32), goods.launched_at)


def _people(inputs: PredictInputs, to_arrow: ToArrow) -> pa.Table:
    """``customer_id``, ``segment`` (value layer, else spending level), ``city`` and
    ``spending_level`` of the profiles (none without profiles)."""
    empty = pa.table({c: pa.array([], pa.string()) for c in
                      (CUSTOMER_ID, "segment", "city", "spending_level")})
    profiles = inputs.profiles
    if profiles is None:
        return empty
    def text(name: str) -> ibis.Value:
        return (profiles[name].cast("string") if name in profiles.columns
                else ibis.null("string"))
    segment = ibis.coalesce(text("value_layer"), text("spending_level"))
    return to_arrow(profiles.select(CUSTOMER_ID, segment=segment, city=text("city"),
                                    spending_level=text("spending_level")))
