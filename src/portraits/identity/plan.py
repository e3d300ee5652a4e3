"""The part of the ID graph one run resolves, as integer-coded nodes and links.

Nodes are the identifiers that need a (new) customer — identifiers never seen before, and
every identifier of a customer that must be looked at again — plus one node for each
existing customer that a link of this run reaches (its identifiers contracted). Links are
the usable links that are new, or that touch an identifier node. Nodes are numbered oldest
first (first sighting, then type and value), which is what makes the oldest member's id
win and new ids follow the order people appeared in.
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

    Args:
        engine: Where the tables live.
        customer_ids: The stored ``customer_ids`` (empty on the first run).
        identities: Every identifier row (:func:`graph.merge_identifier_rows`).
        ignored: :func:`graph.ignored_identifiers`.
        usable: :func:`graph.usable_links`.
        added: Links first seen in this run (None if none).
        recheck: Customer ids to resolve again from their identifiers.
        blocked_links: Blocked links (their customers are resolved again).
        keep: Materialises a table for the rest of the run.
    """

    def __init__(self, engine: Engine, customer_ids: ir.Table, identities: ir.Table,
                 ignored: ir.Table, usable: ir.Table, added: ir.Table | None,
                 recheck: tuple[str, ...], blocked_links: ir.Table, keep: Keep) -> None:
        self.engine, self.customer_ids, self.ignored = engine, customer_ids, ignored
        used = identities.group_by(list(graph.IDENTIFIER)).aggregate(
            first_seen=identities.seen_at.min()).anti_join(ignored, list(graph.IDENTIFIER))
        affected = self._affected(recheck, blocked_links)
        known = customer_ids.select(*graph.IDENTIFIER, previous=customer_ids.customer_id)
        joined = used.left_join(known, list(graph.IDENTIFIER))
        raw = keep(joined.filter(joined.previous.isnull()
                                 | joined.previous.isin(affected.customer_id))
                   .select(*graph.IDENTIFIER, "first_seen", "previous"))
        self.affected = affected
        links = keep(self._links(usable, added, raw))  # read twice below: computed once
        self.nodes = keep(self._numbered(raw, links))
        self.edges = keep(self._edges(links))

    def _affected(self, recheck: tuple[str, ...], blocked_links: ir.Table) -> ir.Table:
        ids = self.customer_ids
        lost = ids.semi_join(self.ignored, list(graph.IDENTIFIER)).select("customer_id")
        ends = blocked_links.select(id_type=blocked_links.left_type,
                                    id_value=blocked_links.left_value)
        cut = ids.semi_join(ends, list(graph.IDENTIFIER)).select("customer_id")
        asked = ibis.memtable({"customer_id": list(recheck)}, schema={"customer_id": "string"})
        return graph.stack(lost, cut, asked, distinct=True)

    def _lookup(self, raw: ir.Table) -> ir.Table:
        """Where each usable identifier sits in this run's graph: itself, or its customer."""
        ids = self.customer_ids.anti_join(raw, list(graph.IDENTIFIER)).anti_join(
            self.ignored, list(graph.IDENTIFIER))
        return graph.stack(
            raw.select(*graph.IDENTIFIER, node_type=raw.id_type, node_value=raw.id_value),
            ids.select(*graph.IDENTIFIER, node_type=ibis.literal(CUSTOMER),
                       node_value=ids.customer_id))

    def _links(self, usable: ir.Table, added: ir.Table | None, raw: ir.Table) -> ir.Table:
        """This run's links with both ends as nodes; links inside one customer dropped."""
        touching = [usable.semi_join(raw.select(**{f"{side}_type": raw.id_type,
                                                   f"{side}_value": raw.id_value}),
                                     [f"{side}_type", f"{side}_value"])
                    for side in ("left", "right")]
        if added is not None:
            touching.append(usable.semi_join(added, list(graph.LINK)))
        links = ibis.union(*touching, distinct=True)
        lookup = self._lookup(raw)
        for side in ("left", "right"):
            ends = lookup.select(**{f"{side}_type": lookup.id_type,
                                    f"{side}_value": lookup.id_value,
                                    f"{side}_node_type": lookup.node_type,
                                    f"{side}_node_value": lookup.node_value})
            links = links.join(ends, [f"{side}_type", f"{side}_value"])
        return links.filter((links.left_node_type != links.right_node_type)
                            | (links.left_node_value != links.right_node_value))

    def _numbered(self, raw: ir.Table, links: ir.Table) -> ir.Table:
        ids = self.customer_ids
        first = ids.group_by("customer_id").aggregate(first_seen=ids.first_seen_at.min())
        reached = ibis.union(*[links.filter(links[f"{side}_node_type"] == CUSTOMER).select(
            customer_id=links[f"{side}_node_value"]) for side in ("left", "right")],
            distinct=True).join(first, "customer_id")
        nodes = graph.stack(
            raw.select(node_type=raw.id_type, node_value=raw.id_value, first_seen=raw.first_seen,
                       previous=raw.previous),
            reached.select(node_type=ibis.literal(CUSTOMER), node_value=reached.customer_id,
                           first_seen=reached.first_seen, previous=reached.customer_id))
        return nodes.mutate(node=ibis.row_number().over(
            order_by=[nodes.first_seen, nodes.node_type, nodes.node_value]))

    def _edges(self, links: ir.Table) -> ir.Table:
        for side in ("left", "right"):
            nodes = self.nodes.select(**{f"{side}_node_type": self.nodes.node_type,
                                         f"{side}_node_value": self.nodes.node_value,
                                         f"{side}_node": self.nodes.node})
            links = links.join(nodes, [f"{side}_node_type", f"{side}_node_value"])
        links = links.mutate(low=ibis.least(links.left_node, links.right_node),
                             high=ibis.greatest(links.left_node, links.right_node))
        first = links.order_key
        columns = ["left_node", "right_node", *graph.LINK, "entity", "source", "record_key"]
        return links.group_by(["low", "high"]).aggregate(
            seen_at=links.seen_at.min(), order_key=first.min(),
            **{c: links[c].argmin(first) for c in columns})

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
