"""The part of the ID graph one run resolves, as integer-coded nodes and links.

Nodes are the identifiers that need a (new) customer — identifiers never seen before, and
every identifier of a customer that must be looked at again — plus one node for each
existing customer kept whole (its identifiers contracted; one no link reaches simply keeps
its id). Links are the usable links that are new, or that touch an identifier node. Nodes
are numbered oldest first (first sighting, then type and value), which is what makes the
oldest member's id win and new ids follow the order people appeared in; the links' ends
are looked up as these numbers once, and the rest of the run works on integers.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from portraits.engine.base import Engine
from portraits.identity import components, graph

CUSTOMER = "~customer"  # node type of a customer contracted to one node
NEW = "new"  # column of the usable links: first seen in this run
Keep = Callable[[ir.Table], ir.Table]
CUSTOMER_ID_SCHEMA = {"id_type": "string", "id_value": "string", "customer_id": "string",
                      "first_seen_at": "timestamp"}


def customer_code(customer_id: ir.StringValue) -> ir.IntegerValue:
    """``C00000042`` → 42."""
    return customer_id.substr(1).cast("int64")


def customer_text(code: ir.IntegerValue) -> ir.StringValue:
    """42 → ``C00000042``."""
    return ibis.literal("C").concat(code.cast("string").lpad(8, "0"))


class RunGraph:
    """Nodes and links of one run, computed in the engine and pulled as arrays.

    Nodes are integer-coded once (:meth:`_numbered`); each link's ends are then looked
    up as node numbers, so what follows — dropping links inside one node, the first link
    between two nodes — works on integers rather than on type and value strings.

    Args:
        engine: Where the tables live.
        customer_ids: The stored ``customer_ids`` (empty on the first run).
        identities: Every identifier row (:func:`graph.merge_identifier_rows`).
        ignored: :func:`graph.ignored_identifiers`.
        usable: :func:`graph.usable_links`, with ``new`` marking the links first seen in
            this run.
        recheck: Customer ids to resolve again from their identifiers.
        blocked_links: Blocked links (their customers are resolved again).
        keep: Materialises a table for the rest of the run.
    """

    def __init__(self, engine: Engine, customer_ids: ir.Table, identities: ir.Table,
                 ignored: ir.Table, usable: ir.Table, recheck: tuple[str, ...],
                 blocked_links: ir.Table, keep: Keep) -> None:
        self.engine, self.customer_ids, self.ignored = engine, customer_ids, ignored
        used = identities.group_by(list(graph.IDENTIFIER)).aggregate(
            first_seen=identities.seen_at.min()).anti_join(ignored, list(graph.IDENTIFIER))
        affected = self._affected(recheck, blocked_links)
        known = customer_ids.select(*graph.IDENTIFIER, previous=customer_ids.customer_id)
        joined = used.left_join(known, list(graph.IDENTIFIER))
        raw = joined.filter(joined.previous.isnull()
                            | joined.previous.isin(affected.customer_id)).select(
            *graph.IDENTIFIER, "first_seen", "previous")
        self.nodes = keep(self._numbered(raw))
        self.edges = keep(self._edges(self._links(usable)))

    def _affected(self, recheck: tuple[str, ...], blocked_links: ir.Table) -> ir.Table:
        ids = self.customer_ids
        lost = ids.semi_join(self.ignored, list(graph.IDENTIFIER)).select("customer_id")
        ends = blocked_links.select(id_type=blocked_links.left_type,
                                    id_value=blocked_links.left_value)
        cut = ids.semi_join(ends, list(graph.IDENTIFIER)).select("customer_id")
        asked = ibis.memtable({"customer_id": list(recheck)}, schema={"customer_id": "string"})
        return graph.stack(lost, cut, asked, distinct=True)

    def _contracted(self, raw: ir.Table) -> ir.Table:
        """Identifiers of the customers kept whole: stored, not an identifier node of
        this run, not ignored (``id_type, id_value, customer_id``)."""
        return self.customer_ids.anti_join(raw, list(graph.IDENTIFIER)).anti_join(
            self.ignored, list(graph.IDENTIFIER)).select(*graph.IDENTIFIER, "customer_id")

    def _numbered(self, raw: ir.Table) -> ir.Table:
        """The run's nodes, numbered oldest first: the identifier nodes, and one node for
        every customer kept whole (its oldest identifier's first sighting).

        A customer no link of this run reaches stays a node of its own and keeps its
        id, so numbering them all changes nothing but saves finding which are reached.
        """
        ids = self.customer_ids
        first = ids.group_by("customer_id").aggregate(first_seen=ids.first_seen_at.min())
        whole = self._contracted(raw).select("customer_id").distinct().join(first,
                                                                            "customer_id")
        nodes = graph.stack(
            raw.select(node_type=raw.id_type, node_value=raw.id_value, first_seen=raw.first_seen,
                       previous=raw.previous),
            whole.select(node_type=ibis.literal(CUSTOMER), node_value=whole.customer_id,
                         first_seen=whole.first_seen, previous=whole.customer_id))
        return nodes.mutate(node=ibis.row_number().over(
            order_by=[nodes.first_seen, nodes.node_type, nodes.node_value]))

    def _lookup(self) -> ir.Table:
        """Each usable identifier's node number, and whether it is an identifier node."""
        nodes = self.nodes
        own = nodes.filter(nodes.node_type != CUSTOMER)
        customers = nodes.filter(nodes.node_type == CUSTOMER).select(
            customer_id=nodes.node_value, node=nodes.node)
        whole = self._contracted(own.select(id_type=own.node_type, id_value=own.node_value))
        whole = whole.join(customers, "customer_id")
        return graph.stack(
            own.select(id_type=own.node_type, id_value=own.node_value, node=own.node,
                       own=ibis.literal(True)),
            whole.select(*graph.IDENTIFIER, node=whole.node, own=ibis.literal(False)))

    def _links(self, usable: ir.Table) -> ir.Table:
        """This run's links — new, or touching an identifier node — with both ends as
        node numbers; links inside one node dropped."""
        lookup = self._lookup()
        links = usable
        for side in ("left", "right"):
            ends = lookup.select(**{f"{side}_type": lookup.id_type,
                                    f"{side}_value": lookup.id_value,
                                    f"{side}_node": lookup.node, f"{side}_own": lookup.own})
            links = links.join(ends, [f"{side}_type", f"{side}_value"])
        return links.filter((links.left_own | links.right_own | links[NEW])
                            & (links.left_node != links.right_node))

    def _edges(self, links: ir.Table) -> ir.Table:
        """One row per pair of nodes: its first link (earliest record)."""
        links = links.mutate(low=ibis.least(links.left_node, links.right_node),
                             high=ibis.greatest(links.left_node, links.right_node))
        columns = ("left_node", "right_node", *graph.LINK, "entity", "source", "record_key")
        return links.group_by(["low", "high"]).aggregate(
            seen_at=links.seen_at.min(),
            _first=graph.first_of(links, columns, links.order_key)).unpack("_first")

    def next_code(self, history: ir.Table) -> int:
        """The first customer code not used by any customer, now or in the history."""
        codes = [self.customer_ids.customer_id]
        codes += [history[c] for c in ("customer_id", "left_customer_id", "right_customer_id")]
        tops = [self.engine.con.execute(customer_code(c).max()) for c in codes]
        return max([int(t) for t in tops if isinstance(t, int | np.integer)] or [0]) + 1

    def solve(self, next_code: int) -> tuple[components.Resolution, np.ndarray, np.ndarray]:
        """Pull the arrays and resolve.

        Returns:
            The resolution, each node's previous code (-1: none) and each link's
            ``(left_node, right_node)`` in the order the resolution indexes them.
        """
        nodes = self.engine.to_arrow(self.nodes.select(
            "node", previous=customer_code(self.nodes.previous).fill_null(-1)).order_by("node"))
        previous = nodes.column("previous").to_numpy()
        edges = self.engine.to_arrow(self.edges.order_by(["low", "high"]).select(
            "left_node", "right_node", seen=self.edges.seen_at.epoch_seconds().cast("int64")))
        pairs = np.column_stack([_ints(edges.column("left_node")),
                                 _ints(edges.column("right_node"))])
        resolution = components.resolve(len(previous), pairs[:, 0], pairs[:, 1],
                                         _ints(edges.column("seen")), previous, next_code)
        return resolution, previous, pairs


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=np.int64)
