"""People from the ID graph: connected components and the links that merged them.

This is the edge of the core where arrays leave the engine. Nodes are integer-coded,
oldest first (the runner numbers them by first sighting); links arrive as two node
arrays and the time each was first seen. SciPy finds the spanning forest of the links in
time order (Kruskal's algorithm: a minimum spanning tree with each link weighted by its
rank in time), which is exactly the set of links that merged two clusters, and the
components of that forest, which are the people.

Customer ids are integer codes here (``C00000042`` is 42). A node may carry the code its
identifier had before (``previous``): the oldest node of a code keeps it, a component
that holds several codes keeps the oldest and records the others as merged into it, and a
component without a code gets the next free one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

NONE = -1


@dataclass(frozen=True)
class Resolution:
    """Who is who after one pass over a graph.

    Attributes:
        customer: Customer code of every node.
        merge_links: Index (into the links given) of each link that merged two clusters,
            in time order.
        merged: ``(loser, winner)`` codes: customers that joined an older one.
        split: ``(previous, now)`` codes: parts of a customer that are no longer
            connected to its oldest identifier, and the code they belong to now.
        new_customers: How many codes were handed out.
    """

    customer: np.ndarray
    merge_links: np.ndarray
    merged: np.ndarray
    split: np.ndarray
    new_customers: int


def resolve(nodes: int, left: np.ndarray, right: np.ndarray, seen: np.ndarray,
            previous: np.ndarray, next_code: int) -> Resolution:
    """Connected components of the links, with stable customer codes.

    Args:
        nodes: Number of nodes; node 0 is the oldest.
        left: One end of each link (node numbers).
        right: The other end.
        seen: When each link was first seen (any integer time; ties are broken by the
            node numbers, so the result does not depend on the order of the links).
        previous: Code each node's customer had before, or -1.
        next_code: The first code not used yet.

    Returns:
        The :class:`Resolution`.

    Example:
        >>> import numpy as np
        >>> r = resolve(3, np.array([0]), np.array([2]), np.array([5]),
        ...             np.array([-1, -1, -1]), next_code=1)
        >>> r.customer.tolist()
        [1, 2, 1]
    """
    order, forest = _spanning_forest(nodes, left, right, seen)
    _, label = connected_components(forest, directed=False)
    customer, merged, split, fresh = _codes(label, previous, next_code)
    tree = forest.tocoo()
    merging = order[np.sort(tree.data.astype(np.int64)) - 1]
    both_old = (previous[left[merging]] != NONE) & (previous[left[merging]]
                                                    == previous[right[merging]])
    return Resolution(customer, merging[~both_old], merged, split, fresh)


def _spanning_forest(nodes: int, left: np.ndarray, right: np.ndarray,
                     seen: np.ndarray) -> tuple[np.ndarray, coo_matrix]:
    """The links in time order, and the forest of those that joined two clusters.

    Each link is weighted by its rank (1 = first), so the minimum spanning forest keeps a
    link exactly when no earlier path already joined its ends.
    """
    low, high = np.minimum(left, right), np.maximum(left, right)
    order = np.lexsort((high, low, seen))
    keep = low[order] != high[order]
    # The first of several links between the same two nodes is the one that counts.
    pair = low[order] * np.int64(nodes) + high[order]
    _, first = np.unique(pair, return_index=True)
    firsts = np.zeros(len(order), dtype=bool)
    firsts[first] = True
    keep &= firsts
    rank = np.flatnonzero(keep)
    chosen = order[rank]
    weights = (rank + 1).astype(np.float64)
    graph = coo_matrix((weights, (low[chosen], high[chosen])), shape=(nodes, nodes)).tocsr()
    return order, minimum_spanning_tree(graph)


def _codes(label: np.ndarray, previous: np.ndarray,
           next_code: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    components = int(label.max()) + 1 if len(label) else 0
    count = len(label)
    holder = np.flatnonzero(previous != NONE)
    codes, first = np.unique(previous[holder], return_index=True)
    oldest = holder[first]                      # each code's oldest node
    owner = label[oldest]                       # the component that keeps the code
    keeper = np.full(components, count)
    np.minimum.at(keeper, owner, oldest)
    code_of = np.full(components, NONE, dtype=np.int64)
    kept = keeper < count
    code_of[kept] = previous[keeper[kept]]
    losers = code_of[owner] != codes
    merged = np.column_stack([codes[losers], code_of[owner[losers]]])
    start = np.full(components, count)
    np.minimum.at(start, label, np.arange(count))
    fresh = np.flatnonzero(~kept)
    fresh = fresh[np.argsort(start[fresh], kind="stable")]
    code_of[fresh] = next_code + np.arange(len(fresh))
    customer = code_of[label]
    moved = previous != NONE
    if len(codes):
        moved &= label != owner[np.minimum(np.searchsorted(codes, previous), len(codes) - 1)]
    split = np.unique(np.column_stack([previous[moved], customer[moved]]), axis=0)
    return customer, merged, split.reshape(-1, 2), len(fresh)
