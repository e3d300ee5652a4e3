"""Ranking customers over candidate products (R5.7): the blend and the business rules of
:mod:`portraits.predict.recommend`, evaluated only where a product can reach a
customer's top k instead of over every customer × product pair.

A customer's candidates are the union of

- the ALS/BPR top ``spec.cf_candidates`` (one dense product of the batch's factors with
  the item factors, cut by a sampled per-customer threshold, never sorted in full);
- the ``spec.pair_candidates`` best bought-together and similar products of what they
  bought and interacted with (the sparse item-to-item signals, exact per row);
- the ``spec.group_candidates`` most popular products of their favourite leaf
  categories, top categories and brands (content), of their segment and city, and
  overall (with room for the products the repurchase rule takes away).

Every signal is then computed at those cells only, in padded ``customers × candidates``
arrays. Each signal is scaled by the customer's best value over the products that may be
recommended: exactly for ALS/BPR, bought together, similar and popularity, over the
candidates for content. A catalogue of at most ``spec.cf_candidates`` products (or a
``candidates`` list that short) is ranked in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from portraits.predict.recs_signals import Fitted, Floats, Ints

if TYPE_CHECKING:
    from portraits.predict.recommend import RecommendSpec

Method = Literal["blend", "cf", "content", "popular", "popular_segment"]
CELLS: Final = 1 << 24  # customer × product scores held at once (one batch)
SHARES: Final = {"blend": None, "popular_segment": (1.0, 0.0, 0.01)}
DAMP: Final = {"cf": 0.0, "content": 0.01}


def top_k(scores: Floats, k: int) -> tuple[Ints, Floats]:
    """Column numbers and values of the ``k`` highest finite scores of each row, best
    first (−inf marks a product that may not be recommended; rows may come out short,
    padded with −1)."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.empty((len(scores), 0), np.int64), np.empty((len(scores), 0), np.float32)
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(scores, best, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    best = np.take_along_axis(best, order, axis=1)
    picked = np.take_along_axis(picked, order, axis=1)
    best = np.where(np.isfinite(picked), best, -1)
    return best.astype(np.int64), picked


def best_columns(scores: Floats, n: int) -> Ints:
    """Columns of about the ``n`` highest scores of each row (−1 padding), in no order.

    A threshold per row, read off a strided sample of the columns, keeps the cells above
    it, found eight at a time (the boolean mask read as 64-bit words): the exact top
    ``count`` of the row, ``count`` about ``n``. Rows the threshold misjudges (fewer than
    ``n / 2`` or more than ``2n`` cells above it) get their exact top ``n``.
    """
    rows, width = scores.shape
    if n >= width:
        return np.tile(np.arange(width), (rows, 1))
    if rows == 0 or n <= 0:
        return np.full((rows, max(n, 0)), -1, np.int64)
    sample = scores[:, ::max(1, width // 1024)]
    q = min(sample.shape[1] - 1, n * sample.shape[1] // width)
    bar = -np.partition(-sample, q, axis=1)[:, q]
    above = np.zeros((rows, -(-width // 8) * 8), bool)
    np.greater_equal(scores, bar[:, None], out=above[:, :width])
    row, word = np.nonzero(above.view(np.uint64))
    hit, bit = np.nonzero(above.reshape(rows, -1, 8)[row, word])
    row, col = row[hit], word[hit] * 8 + bit
    count = np.bincount(row, minlength=rows)
    good = (2 * count >= n) & (count <= 2 * n)
    kept = good[row]
    row, col = row[kept], col[kept]
    out = np.full((rows, max(n, int(count[good].max(initial=0)))), -1, np.int64)
    out[row, np.arange(len(row)) - np.concatenate([[0], np.cumsum(count * good)])[row]] = col
    bad = np.flatnonzero(~good)
    if len(bad):
        out[bad, :n] = np.argpartition(-scores[bad], n - 1, axis=1)[:, :n]
    return out


def best_in_rows(matrix: sp.csr_matrix, n: int) -> Ints:
    """Columns of each row's ``n`` largest stored values (−1 padding)."""
    counts = np.diff(matrix.indptr)
    width = int(counts.max(initial=0))
    rows = matrix.shape[0]
    if width == 0 or n <= 0:
        return np.full((rows, 0), -1, np.int64)
    row = np.repeat(np.arange(rows), counts)
    pos = np.arange(matrix.nnz) - matrix.indptr[:-1][row]
    cols = np.full((rows, width), -1, np.int64)
    vals = np.full((rows, width), -np.inf, np.float32)
    cols[row, pos] = matrix.indices
    vals[row, pos] = matrix.data
    if width <= n:
        return cols
    pick = np.argpartition(-vals, n - 1, axis=1)[:, :n]
    return np.take_along_axis(cols, pick, axis=1)


def best_by_code(code: Ints, n_codes: int, score: Floats, eligible: npt.NDArray[np.bool_],
                 n: int) -> Ints:
    """The ``n`` highest-scoring eligible products of each code (category, brand), one
    row per code and a last row of −1 for "none"."""
    items = np.flatnonzero(eligible)
    order = items[np.lexsort((items, -score[items], code[items]))]
    grouped = code[order]
    pos = np.arange(len(order)) - np.searchsorted(grouped, grouped, side="left")
    keep = pos < n
    table = np.full((n_codes + 1, n), -1, np.int64)
    table[grouped[keep], pos[keep]] = order[keep]
    return table


def _scaled_groups(popularity: Floats, eligible: npt.NDArray[np.bool_]) -> Floats:
    """Groups × products popularity, each row divided by its best eligible product, with a
    last row of zeros for customers without a group."""
    masked = np.where(eligible[None, :], np.maximum(popularity, 0.0), 0.0)
    top = masked.max(axis=1, keepdims=True) if masked.size else np.ones((len(masked), 1))
    scaled = (masked / np.where(top > 0, top, 1.0)).astype(np.float32)
    return np.vstack([scaled, np.zeros((1, len(eligible)), np.float32)])


@dataclass(frozen=True, eq=False)
class Pools:
    """What one ``recommend`` call ranks from: the eligible products (listed, and among the
    requested candidates), the item-to-item signals restricted to them and the popular
    products per group.

    Attributes:
        eligible: Per product, whether it may be recommended.
        items: The eligible product numbers.
        position: Per product, its column among ``items`` (−1 if not eligible).
        exhaustive: Few enough eligible products to rank them all.
        together: Bought-together confidence, eligible columns only.
        neighbours: Item neighbours, eligible columns only.
        segment, city, overall: Popularity scaled to each group's best (last row: none).
        best_segment, best_city: Most popular products per segment and city.
        overall_order: Eligible products by overall popularity, best first.
        best_leaf, best_top, best_brand: Most popular products per leaf category, top
            category and brand.
    """

    eligible: npt.NDArray[np.bool_]
    items: Ints
    position: Ints
    exhaustive: bool
    together: sp.csr_matrix
    neighbours: sp.csr_matrix
    segment: Floats
    city: Floats
    overall: Floats
    best_segment: Ints
    best_city: Ints
    overall_order: Ints
    best_leaf: Ints
    best_top: Ints
    best_brand: Ints


def pools(data: Fitted, spec: RecommendSpec, allowed: npt.NDArray[np.bool_] | None) -> Pools:
    """The candidate pools of a ``recommend`` call (``allowed``: its product filter)."""
    eligible = data.listed if allowed is None else data.listed & allowed
    items = np.flatnonzero(eligible)
    position = np.full(len(eligible), -1, np.int64)
    position[items] = np.arange(len(items))
    keep = sp.diags(eligible.astype(np.float32))
    n = spec.group_candidates
    segment = _scaled_groups(data.segment_popularity, eligible)
    city = _scaled_groups(data.city_popularity, eligible)
    overall = _scaled_groups(data.popularity[None, :], eligible)[0]

    def best(scaled: Floats) -> Ints:
        width = min(n, len(items))
        ranked = np.argsort(-scaled[:, items], axis=1, kind="stable")[:, :width]
        out = items[ranked] if len(items) else np.full((len(scaled), 0), -1, np.int64)
        out[-1] = -1
        return out

    popularity = data.popularity.astype(np.float32)
    tops = int(data.item_top.max(initial=-1)) + 1
    return Pools(
        eligible, items, position, len(items) <= spec.cf_candidates,
        sp.csr_matrix(data.together @ keep), sp.csr_matrix(data.neighbours @ keep),
        segment, city, overall, best(segment), best(city),
        items[np.argsort(-overall[items], kind="stable")],
        best_by_code(data.item_leaf, data.leaf_affinity.shape[1], popularity, eligible, n),
        best_by_code(data.item_top, max(tops, data.top_affinity.shape[1]), popularity,
                     eligible, n),
        best_by_code(data.item_brand, data.brand_affinity.shape[1], popularity, eligible, n))


def _favourites(affinity: Floats, table: Ints, n: int) -> Ints:
    """The products of ``table`` for each customer's ``n`` highest positive affinities."""
    n = min(n, affinity.shape[1])
    if n <= 0:
        return np.full((len(affinity), 0), -1, np.int64)
    fav = np.argpartition(-affinity, n - 1, axis=1)[:, :n]
    fav = np.where(np.take_along_axis(affinity, fav, axis=1) > 0, fav, len(table) - 1)
    return table[fav].reshape(len(affinity), -1)


def _cells(table: np.ndarray, row: Ints, col: Ints) -> Floats:
    """``table[row[:, None], col]`` as one flat ``take`` (faster than 2-D fancy indexing)."""
    flat = (row * table.shape[1])[:, None] + col
    out: Floats = np.take(table.reshape(-1), flat)
    return out


def _values_at(matrix: sp.csr_matrix, cand: Ints, buffer: Floats) -> Floats:
    """A sparse batch (customers × products) read at each row's candidates, through a
    dense scratch buffer that is left zeroed."""
    row = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    flat = buffer.reshape(-1)
    at = row * buffer.shape[1] + matrix.indices
    flat[at] = matrix.data
    out = _cells(buffer, np.arange(len(cand)), np.maximum(cand, 0))
    flat[at] = 0.0
    out[cand < 0] = 0.0
    return out


def _share_of_best(values: Floats, top: Floats | None = None) -> Floats:
    """Values (negative to 0) divided by each row's best (``top``, else the row max)."""
    values = np.maximum(values, 0.0).astype(np.float32)
    top = values.max(axis=1) if top is None and values.size else top
    if top is None:
        return values
    values /= np.where(top > 0, top, 1.0).astype(np.float32)[:, None]
    return values


def _price_match(data: Fitted, safe: Ints, known: npt.NDArray[np.bool_], cand: Ints,
                 spec: RecommendSpec) -> Floats:
    """1 inside the customer's price band, down to 1 − ``price_penalty`` at the far end of
    a category's range; 1 when the customer's band is unknown."""
    band = np.where(known, data.customer_price[safe], np.nan).astype(np.float32)
    unknown = np.isnan(band)
    gap = np.abs(data.item_price[cand] - np.where(unknown, 0, band)[:, None])
    gap -= np.float32(spec.price_tolerance)
    np.clip(gap, 0, 1 - spec.price_tolerance, out=gap)
    gap *= np.float32(-spec.price_penalty / max(1 - spec.price_tolerance, 1e-9))
    gap += np.float32(1.0)
    gap[unknown] = 1.0
    return gap


@dataclass(frozen=True, eq=False)
class _Batch:
    """One batch of customers: codes, who is known and active, their group codes and the
    signals computed once for both the candidates and the scores."""

    safe: Ints
    known: npt.NDArray[np.bool_]
    on: Floats
    groups: tuple[Ints, Ints]
    recent: sp.csr_matrix
    cf: Floats | None
    pairs: tuple[sp.csr_matrix, ...]
    affinities: tuple[Floats, ...]


def _batch(data: Fitted, rows: Ints, method: Method, pool: Pools) -> _Batch:
    known = rows >= 0
    safe = np.where(known, rows, 0)
    on = (known & data.active[safe]).astype(np.float32)[:, None]
    groups = (np.where(known, data.segment[safe], -1), np.where(known, data.city[safe], -1))
    recent = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ data.recent[safe])
    cf = (data.user_factors[safe] @ data.item_factors[pool.items].T
          if method in ("blend", "cf") else None)
    pairs = ((sp.csr_matrix(data.bought[safe] @ pool.together),
              sp.csr_matrix(data.history[safe] @ pool.neighbours))
             if method == "blend" else ())
    affinities = (tuple(a[safe].toarray() * on for a in (
        data.leaf_affinity, data.top_affinity, data.brand_affinity))
        if method in ("blend", "content") else ())
    return _Batch(safe, known, on, groups, recent, cf, pairs, affinities)


def _candidates(spec: RecommendSpec, pool: Pools, batch: _Batch, k: int,
                shares: tuple[float, float, float]) -> list[Ints]:
    """Each source's candidate products per customer (−1 padding)."""
    n = len(batch.safe)
    if pool.exhaustive:
        return [np.tile(pool.items, (n, 1))]
    sources = []
    if batch.cf is not None:
        live = np.flatnonzero(batch.on[:, 0])
        best = best_columns(batch.cf[live], spec.cf_candidates)
        picked = np.full((n, best.shape[1]), -1, np.int64)
        picked[live] = np.where(best >= 0, pool.items[np.maximum(best, 0)], -1)
        sources.append(picked)
    sources += [best_in_rows(s, spec.pair_candidates) for s in batch.pairs]
    sources += [_favourites(a, t, f) for a, t, f in zip(
        batch.affinities, (pool.best_leaf, pool.best_top, pool.best_brand), (2, 1, 1),
        strict=False)]
    for share, best, group in zip(shares, (pool.best_segment, pool.best_city),
                                  batch.groups, strict=False):
        if share:
            sources.append(best[group])
    extra = int(np.diff(batch.recent.indptr).max(initial=0))
    return [*sources, np.tile(pool.overall_order[:spec.group_candidates + k + extra], (n, 1))]


def _parts(data: Fitted, spec: RecommendSpec, pool: Pools, batch: _Batch, method: Method,
           cand: Ints, buffer: Floats) -> tuple[dict[int, Floats], Floats | None]:
    """The weighted signals at the candidates, by position in ``SIGNALS``, and the price
    match (blend and content only)."""
    n, c, blend = len(cand), np.maximum(cand, 0), method == "blend"
    on, every = batch.on, np.arange(len(cand))
    parts: dict[int, Floats] = {}
    if batch.cf is not None:
        top = batch.cf.max(axis=1) if batch.cf.shape[1] else np.zeros(n, np.float32)
        at = _cells(batch.cf, every, np.maximum(pool.position[c], 0))
        parts[0] = _share_of_best(at, top) * on * (spec.cf_weight if blend else 1.0)
    for i, (signal, weight) in enumerate(zip(batch.pairs, (spec.together_weight,
                                                           spec.similar_weight),
                                             strict=False), start=1):
        top = (signal.max(axis=1).toarray().ravel().astype(np.float32) if signal.shape[1]
               else np.zeros(n, np.float32))
        parts[i] = _share_of_best(_values_at(signal, cand, buffer), top) * on * weight
    price = None
    if batch.affinities:
        price = _price_match(data, batch.safe, batch.known, c, spec)
        content = np.zeros(cand.shape, np.float32)
        for dense, codes, weight in zip(batch.affinities, (
                data.item_leaf, data.item_top, data.item_brand), (0.5, 0.2, 0.3), strict=True):
            content += weight * _cells(dense, every, codes[c])
        content *= price * (cand >= 0)
        parts[3] = _share_of_best(content) * on * (spec.content_weight if blend else 1.0)
    shares = SHARES.get(method, (0.0, 0.0, 1.0)) or (
        spec.segment_share, spec.city_share, 1 - spec.segment_share - spec.city_share)
    damp = spec.popular_weight if blend else DAMP.get(method, 1.0)
    scale = np.where(on > 0, damp, 1.0).astype(np.float32)
    for i, (scaled, group) in enumerate(zip((pool.segment, pool.city), batch.groups,
                                            strict=True), start=4):
        if shares[i - 4]:
            parts[i] = _cells(scaled, np.where(group >= 0, group, len(scaled) - 1), c) * (
                scale * shares[i - 4])
    if shares[2]:
        parts[6] = pool.overall[c] * (scale * shares[2])
    return parts, price


def rank(data: Fitted, spec: RecommendSpec, rows: Ints, k: int, method: Method,
         pool: Pools) -> tuple[Ints, Floats, Ints]:
    """Top-k products of a batch of customers (codes, −1 unknown), their scores and the
    signal behind each (by position in :data:`portraits.predict.recommend.SIGNALS`)."""
    batch = _batch(data, rows, method, pool)
    shares = SHARES.get(method, (0.0, 0.0, 1.0)) or (spec.segment_share, spec.city_share, 1.0)
    sources = _candidates(spec, pool, batch, k, shares)
    cand = np.concatenate(sources, axis=1)
    buffer = np.zeros((len(rows), len(data.products)), np.float32)
    parts, price = _parts(data, spec, pool, batch, method, cand, buffer)
    total = np.zeros(cand.shape, np.float32)
    for value in parts.values():
        total += value
    if method == "blend" and price is not None:  # one factor for every signal of a cell:
        total *= price                           # the reasons hold
    total[(cand < 0) | ~pool.eligible[np.maximum(cand, 0)]] = -np.inf
    total[_values_at(batch.recent, cand, buffer) > 0] = -np.inf
    return _distinct_top(cand, total, parts, k, len(sources))


def _distinct_top(cand: Ints, total: Floats, parts: dict[int, Floats], k: int,
                  copies: int) -> tuple[Ints, Floats, Ints]:
    """The ``k`` best distinct products per row (a product is among the candidates at most
    ``copies`` times), best first, and the signal contributing most to each."""
    n, width = cand.shape
    wide = min(width, k * max(copies, 1))
    if wide <= 0:
        empty = np.empty((n, 0), np.int64)
        return empty, np.empty((n, 0), np.float32), empty
    at = (np.argpartition(-total, wide - 1, axis=1)[:, :wide] if wide < width
          else np.tile(np.arange(width), (n, 1)))
    value, item = np.take_along_axis(total, at, 1), np.take_along_axis(cand, at, 1)
    order: Ints = np.lexsort((item, -value), axis=1)
    at, value, item = (np.take_along_axis(at, order, 1), np.take_along_axis(value, order, 1),
                       np.take_along_axis(item, order, 1))
    dup = np.zeros(at.shape, bool)
    dup[:, 1:] = item[:, 1:] == item[:, :-1]
    value = np.where(dup, np.float32(-np.inf), value)
    order = np.argsort(-value, axis=1, kind="stable")[:, :k]
    at, value, item = (np.take_along_axis(at, order, 1), np.take_along_axis(value, order, 1),
                       np.take_along_axis(item, order, 1))
    item = np.where(np.isfinite(value), item, -1)
    stacked = np.zeros((7, *at.shape), np.float32)
    for i, part in parts.items():
        stacked[i] = np.take_along_axis(part, at, 1)
    return item, value, np.argmax(stacked, axis=0)
