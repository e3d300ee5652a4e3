"""Frequent itemsets on one machine: a sparse basket × item matrix, counted exactly.

:mod:`portraits.analytics.basket` uses this miner on DuckDB (``BasketSpec.method``
``matrix``, the default there) and keeps its relational miner for Spark, where the order
lines should stay distributed rather than be collected to the driver.

Why it is hand-written: there is no maintained fast miner on PyPI to call instead.
mlxtend's ``fpgrowth`` (pure Python over pandas) is the baseline this has to beat by 10×,
pyfim's last release is from 2020, and efficient-apriori is pure Python. Why SciPy and
NumPy: they are already dependencies, building the matrix (sorting each basket's items
and dropping an item's second line in a basket) is one compiled call, and the counting is
a handful of whole-array operations with no Python loop over baskets or itemsets.

How it counts. The matrix X has a row per basket and a column per item that could be
frequent (columns in the order the items are to be listed). Singles are its column sums.
Pairs are the upper triangle of XᵀX, computed row by row (each basket adds one to every
pair of its items) into one ``bincount`` (or, when the possible keys far outnumber the
candidates, a sort of the keys). Level k extends each frequent (k-1)-itemset P, in every
basket that holds it, by each of the basket's items after P's last item: that is Yᵀ X,
with Y the baskets × frequent-(k-1)-itemsets indicator, grouped by the (k-1)-prefix and
restricted to the items after it. SciPy's general sparse product computes every entry of
XᵀX and YᵀX (both triangles, the items before the prefix) and was slower in our
measurements: 11 vs 8 ms for the pairs and 5 vs 2 ms for the triples of 100k baskets of
four lines, 40 vs 30 and 56 vs 30 ms with nine lines. Every count is exact, so a candidate
with an infrequent subset is dropped by its own count: Apriori's pruning would only save
counting work, and all of a prefix's extensions in a basket are counted in the same pass.
Only the occurrences of frequent itemsets are extended to the next level. Memory grows
with the candidates, i.e. with the pairs (triples, …) of frequent items per basket, as for
the relational miner's self-joins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

if TYPE_CHECKING:
    import pyarrow as pa

    from portraits.analytics.basket import BasketSpec

Codes = NDArray[np.int64]
DENSE_TALLY: int = 1 << 20  # a bincount over the candidate keys up to this many, at least


@dataclass(frozen=True)
class Levels:
    """Frequent itemsets by size: ``items[k-1]`` is an (m, k) array of item codes (rows in
    ascending order, each row ascending), ``counts[k-1]`` their baskets and ``keys[k-1]``
    (parent row × width + last item, ascending) to find them again."""

    items: list[Codes]
    counts: list[Codes]
    keys: list[Codes]
    width: int

    def find(self, codes: Codes) -> Codes:
        """The rows of these itemsets (each row ascending, every one frequent) in their
        level."""
        row = np.searchsorted(self.keys[0], codes[:, 0])
        for j in range(1, codes.shape[1]):
            row = np.searchsorted(self.keys[j], row * self.width + codes[:, j])
        return row


def basket_matrix(baskets: NDArray[np.integer], items: NDArray[np.integer], rows: int,
                  columns: int) -> sparse.csr_array:
    """The binary baskets × items matrix: one stored entry per (basket, item), however many
    lines hold it, column indices ascending within each row."""
    matrix = sparse.csr_array((np.ones(len(items), dtype=bool), (baskets, items)),
                              shape=(rows, columns))
    matrix.sum_duplicates()  # a no-op when the conversion already did it
    return matrix


def frequent_levels(matrix: sparse.csr_array, min_count: int, max_len: int) -> Levels:
    """Every itemset of 1 to ``max_len`` columns held by at least ``min_count`` rows.

    Args:
        matrix: From :func:`basket_matrix`; an itemset lists its columns in ascending order.
        min_count: The frequency threshold, in baskets (at least 1).
        max_len: The largest itemset.

    Returns:
        The frequent itemsets with their exact counts, in codes that are the matrix's
        column numbers.
    """
    width, indices = matrix.shape[1], matrix.indices
    rows = matrix.tocoo().row  # each stored entry's row
    counts = np.bincount(indices, minlength=width).astype(np.int64)
    frequent = np.flatnonzero(counts >= min_count)
    if len(frequent) < width:  # keep only frequent columns (their order kept)
        code = np.full(width, -1, dtype=indices.dtype)
        code[frequent] = np.arange(len(frequent))
        coded = code[indices]
        held = np.flatnonzero(coded >= 0)
        rows = rows[held]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))])
        return _relabelled(frequent, _levels(coded[held], indptr, rows, len(frequent),
                                             counts[frequent], min_count, max_len), width)
    return _levels(indices, matrix.indptr, rows, width, counts, min_count, max_len)


def _relabelled(columns: Codes, levels: Levels, width: int) -> Levels:
    """Levels in the codes of the kept columns, back in the matrix's column numbers."""
    items = [columns[level] for level in levels.items]
    keys = [items[0][:, 0]]
    for k in range(1, len(items)):
        parent = levels.keys[k] // levels.width
        keys.append(parent * width + items[k][:, -1])
    return Levels(items, levels.counts, keys, width)


def _levels(indices: NDArray[np.integer], indptr: NDArray[np.integer],
            rows: NDArray[np.integer], width: int, singles: Codes, min_count: int,
            max_len: int) -> Levels:
    """Level-wise counting over the rows of a CSR structure whose columns all are frequent.

    An occurrence is a frequent itemset (its row in its level) held by a basket, with the
    position where the basket's copy of its last item is stored; the level's candidates are
    the occurrences' extensions by each later item of the same basket. Arrays are int32
    where the sizes allow (half the memory traffic)."""
    small = _dtype(len(indices))
    ends = indptr[1:].astype(small)[rows]  # where each entry's row ends
    itemset: NDArray[np.integer] = indices  # level 1: an item's row is its code
    position = np.arange(len(indices), dtype=small)
    items: list[Codes] = [np.arange(width, dtype=np.int64)[:, None]]
    counts, keys = [singles], [np.arange(width, dtype=np.int64)]
    for k in range(2, max_len + 1):
        followers = ends[position]  # the basket's items after the last one (in place)
        followers -= position
        followers -= 1
        total = int(followers.sum())
        if not total:
            break
        span = _dtype(total + len(indices))
        shift = np.cumsum(followers, dtype=span)  # after = position + 1 + i-th follower
        np.subtract(shift, followers, out=shift)
        np.subtract(position + 1, shift, out=shift)
        occurrence = np.repeat(np.arange(len(position), dtype=small), followers)
        after = shift[occurrence]
        after += np.arange(total, dtype=span)
        space = len(items[-1]) * width  # candidate key: itemset row × width + next item
        key = itemset.astype(_dtype(space))[occurrence]
        key *= width
        key += indices[after]
        found, tally, index = _tally(key, space, min_count, need_index=k < max_len)
        if not len(found):
            break
        items.append(np.column_stack([items[-1][found // width], found % width]))
        counts.append(tally)
        keys.append(found)
        if index is not None:
            kept = np.flatnonzero(index >= 0)
            itemset, position = index[kept], after[kept]
    return Levels(items, counts, keys, width)


def _dtype(size: int) -> type[np.signedinteger]:
    """int32 for values below ``size`` where it fits, else int64."""
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


def _dense(space: int, keys: int) -> bool:
    """Count with one counter per possible key (a bincount), or sort the keys."""
    return space <= max(4 * keys, DENSE_TALLY)  # memory: at most 32 bytes a key


def _tally(key: NDArray[np.integer], space: int, min_count: int, need_index: bool
           ) -> tuple[Codes, Codes, NDArray[np.integer] | None]:
    """The frequent keys (ascending), their counts and, per key, its frequent row or -1."""
    if _dense(space, len(key)):
        tally = np.bincount(key, minlength=space)
        found = np.flatnonzero(tally >= min_count)
        if not need_index:
            return found, tally[found], None
        row = np.full(space, -1, dtype=_dtype(len(found)))
        row[found] = np.arange(len(found))
        return found, tally[found], row[key]
    distinct, inverse, every = np.unique(key, return_inverse=True, return_counts=True)
    kept = every >= min_count
    if not need_index:
        return distinct[kept].astype(np.int64), every[kept], None
    row = np.where(kept, np.cumsum(kept) - 1, -1)
    return distinct[kept].astype(np.int64), every[kept], row[inverse]


@dataclass(frozen=True)
class Mined:
    """The frequent itemsets of :func:`mine`: ``table`` as from
    :func:`portraits.analytics.basket.frequent_itemsets`, ``baskets`` (N), and the levels
    with the item of each code (``values``)."""

    table: pa.Table
    baskets: int
    levels: Levels
    values: pa.Array


def mine(lines: pa.Table, names: pa.Table | None, spec: BasketSpec) -> Mined:
    """Frequent itemsets from paid order lines.

    Args:
        lines: ``basket`` (small whole numbers), ``item``: one row per line, as from
            :func:`portraits.analytics.basket.basket_items`.
        names: ``item``, ``name`` (:func:`portraits.analytics.basket.item_names`); the
            items name themselves when omitted.
        spec: ``min_support``, ``min_count`` and ``max_len``.

    Returns:
        The itemsets in the columns of the relational miner, and what :func:`rules_of` needs.
    """
    import pyarrow.compute as pc

    from portraits.analytics.basket import min_basket_count

    basket = lines.column("basket").to_numpy()
    n = int(np.count_nonzero(np.bincount(basket))) if len(basket) else 0
    threshold = min_basket_count(n, spec)
    values, matrix = _candidate_matrix(basket, lines.column("item"), threshold)
    levels = frequent_levels(matrix, threshold, spec.max_len)
    if names is None:
        named = values
    else:
        named = names.column("name").take(pc.index_in(values, names.column("item")))
    return Mined(_itemsets_table(levels, values, named, n, spec.max_len), n, levels, values)


def _candidate_matrix(basket: NDArray[np.integer], item: pa.ChunkedArray, threshold: int
                      ) -> tuple[pa.Array, sparse.csr_array]:
    """The items on at least ``threshold`` lines (fewer cannot be frequent), in ascending
    order, so that every itemset lists its items in that order; and the matrix of their
    baskets (a column per item, in that order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(item.combine_chunks())
    coded = encoded.indices.to_numpy()
    candidates = np.flatnonzero(np.bincount(coded, minlength=len(encoded.dictionary))
                                >= threshold)
    values = encoded.dictionary.take(pa.array(candidates))
    ranked = np.asarray(pc.sort_indices(values))
    candidates, values = candidates[ranked], values.take(pa.array(ranked))
    code = np.full(len(encoded.dictionary), -1, dtype=np.int32)
    code[candidates] = np.arange(len(candidates))
    coded = code[coded]
    held = coded >= 0
    rows = int(basket.max()) + 1 if len(basket) else 0
    return values, basket_matrix(basket[held], coded[held], rows, len(candidates))


def _itemsets_table(levels: Levels, values: pa.Array, names: pa.Array, n: int,
                    width: int) -> pa.Table:
    import pyarrow as pa

    codes = _padded(levels.items, width)
    count = np.concatenate(levels.counts)
    columns: dict[str, pa.Array] = {"size": pa.array(np.repeat(
        np.arange(1, len(levels.items) + 1), [len(c) for c in levels.counts]), pa.int64())}
    for kind, source in (("item", values), ("name", names)):
        for j in range(width):
            columns[f"{kind}_{j + 1}"] = source.take(_positions(codes[:, j]))
    columns |= {"count": pa.array(count, pa.int64()),
                "baskets": pa.array(np.full(len(count), n), pa.int64()),
                "support": pa.array(count.astype(np.float64) / np.float64(n))}
    return pa.table(columns)


def _padded(parts: list[Codes], width: int) -> Codes:
    """The rows of every part, padded with -1 to ``width`` columns."""
    padded = np.full((sum(len(p) for p in parts), width), -1, dtype=np.int64)
    row = 0
    for part in parts:
        padded[row:row + len(part), :part.shape[1]] = part
        row += len(part)
    return padded


def _positions(codes: Codes) -> pa.Array:
    """Codes as take() indices, null where -1 (past an itemset's size)."""
    import pyarrow as pa

    return pa.array(codes, pa.int64(), mask=codes < 0)


def _splits(levels: Levels) -> Iterator[tuple[Codes, Codes, Codes, Codes, Codes]]:
    """Per itemset size and choice of antecedent positions: the antecedents' and the
    consequents' codes, and the counts of the whole, of A and of C."""
    for k in range(2, len(levels.items) + 1):
        whole, count = levels.items[k - 1], levels.counts[k - 1]
        for r in range(1, k):
            for antecedent in combinations(range(k), r):
                consequent = [p for p in range(k) if p not in antecedent]
                a, c = whole[:, list(antecedent)], whole[:, consequent]
                yield (a, c, count, levels.counts[r - 1][levels.find(a)],
                       levels.counts[k - r - 1][levels.find(c)])


def rules_of(mined: Mined, spec: BasketSpec) -> pa.Table | None:
    """Rules A → C from every split of each frequent itemset of two or more items, with
    the columns and the figures (the same floating-point operations) of
    :func:`portraits.analytics.basket.association_rules`; ``None`` without such itemsets."""
    import pyarrow as pa

    width, splits = spec.max_len - 1, list(_splits(mined.levels))
    if not splits:
        return None
    a_codes = _padded([s[0] for s in splits], width)
    c_codes = _padded([s[1] for s in splits], width)
    count, a_count, c_count = (np.concatenate([s[i] for s in splits]) for i in (2, 3, 4))
    n = np.float64(mined.baskets)
    together, a_n, c_n = (x.astype(np.float64) for x in (count, a_count, c_count))
    confidence = together / a_n
    lift = together * n / (a_n * c_n)
    kept = (confidence >= spec.min_confidence) & (lift >= spec.min_lift)
    certain = a_n == together
    with np.errstate(divide="ignore", invalid="ignore"):  # masked where certain
        conviction = (n - c_n) * a_n / (n * (a_n - together))
    columns: dict[str, pa.Array] = {}
    for side, codes in (("antecedent", a_codes), ("consequent", c_codes)):
        for j in range(width):
            columns[f"{side}_{j + 1}"] = mined.values.take(_positions(codes[kept, j]))
    for side, codes in (("antecedent", a_codes), ("consequent", c_codes)):
        columns[f"{side}_size"] = pa.array((codes[kept] >= 0).sum(axis=1), pa.int64())
    columns |= {
        "count": pa.array(count[kept], pa.int64()),
        "baskets": pa.array(np.full(int(kept.sum()), mined.baskets), pa.int64()),
        "antecedent_count": pa.array(a_count[kept], pa.int64()),
        "consequent_count": pa.array(c_count[kept], pa.int64()),
        "support": pa.array((together / n)[kept]),
        "confidence": pa.array(confidence[kept]), "lift": pa.array(lift[kept]),
        "leverage": pa.array(((together * n - a_n * c_n) / (n * n))[kept]),
        "conviction": pa.array(conviction[kept], mask=certain[kept])}
    return pa.table(columns)
