"""The identity runner: new records → identifiers and links → people, stored in the lake.

The effectful edge of identity resolution. Each run reads only the records of loads it
has not seen (``identity_loads``), adds their identifiers and links, and re-resolves
only what they touch: every customer known before is one node (its identifiers
contracted), new identifiers are nodes of their own, and so are the identifiers of
customers that must be looked at again (an identifier of theirs became shared or was
blocked). A run with no new load and unchanged blocks writes nothing.

Tables written: ``identities``, ``identity_links``, ``customer_ids``, ``merge_history``,
``identity_loads`` and ``identity_runs``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from portraits.engine.base import Engine
from portraits.identity import components, graph
from portraits.identity.blocks import Blocks
from portraits.identity.matching import Matcher
from portraits.identity.plan import (
    CUSTOMER,
    CUSTOMER_ID_SCHEMA,
    NEW,
    Keep,
    RunGraph,
    customer_code,
    customer_text,
)
from portraits.identity.rules import IdentityRules
from portraits.model.canonical import ENTITIES, Entity

IDENTITIES, LINKS, CUSTOMER_IDS = "identities", "identity_links", "customer_ids"
MERGE_HISTORY, LOADS, RUNS = "merge_history", "identity_loads", "identity_runs"
MERGE, SPLIT = "merge", "split"
IDENTITY_COLUMNS = ("id_type", "id_value", "entity", "source", "record_key", "order_key",
                    "seen_at", "last_seen_at", "records", "junk")


@dataclass
class ResolveReport:
    """What one run did.

    Attributes:
        run_id: Id of the run (in ``identity_runs`` and ``merge_history``).
        status: ``ok``, or ``unchanged`` when there was nothing new.
        records: Records read (only those of loads not resolved before).
        identifiers: Identifiers known in all.
        ignored: Identifiers not used to merge, per reason (junk, shared, blocked).
        people: Customers in all.
        new_people: Customers this run created.
        merges: Links that joined two clusters in this run.
        merged_customers: Existing customers that joined an older one.
        splits: Parts of customers that were separated and got a new id.
        matched_pairs: Customer-record pairs probabilistic matching linked (decided
            ``match`` by the model or a reviewer).
        review_pairs: Pairs left for a person to review.
        skipped_keys: Blocking keys of matching shared by too many records to pair
            (``identity.matching.max_block_size``; listed in ``match_skipped_keys``).
        seconds: Wall time.
    """

    run_id: str
    status: str = "ok"
    records: int = 0
    identifiers: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    people: int = 0
    new_people: int = 0
    merges: int = 0
    merged_customers: int = 0
    splits: int = 0
    matched_pairs: int = 0
    review_pairs: int = 0
    skipped_keys: int = 0
    seconds: float = 0.0


class Scratch:
    """The tables one run computes once and reads several times; forgotten at its end.

    Args:
        engine: Where they are computed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.kept: list[ir.Table] = []
        self.spilled: list[ir.Table] = []

    def keep(self, data: ir.Table) -> ir.Table:
        """``data`` computed once into a temporary table (in memory on DuckDB)."""
        kept = self.engine.materialize(data)
        self.kept.append(kept)
        return kept

    def spill(self, data: ir.Table) -> ir.Table:
        """``data`` computed once into the lake's scratch storage (:meth:`Engine.stage`).

        For the largest tables: DuckDB then reads compressed Parquet rather than holding
        the rows in memory, and a table that is stored whole is adopted without a copy.
        ``data`` must not read in-memory tables (``ibis.memtable``).
        """
        staged = self.engine.stage(data)
        self.spilled.append(staged)
        return staged

    def adopt(self, name: str, staged: ir.Table) -> None:
        """Store a spilled table as table ``name``."""
        self.spilled.remove(staged)
        self.engine.commit(name, staged)

    def close(self) -> None:
        """Forget every table kept or spilled (and not adopted)."""
        for table in self.kept:
            self.engine.drop_temporary(table)
        for table in self.spilled:
            self.engine.discard(table)


class Resolver:
    """Runs identity resolution on one engine.

    Args:
        engine: The workspace's engine (its lake holds the canonical tables).
        rules: Identity rules of the workspace.
        blocks: Blocked identifiers and links.
        now: The run's time (recorded in the history).
    """

    def __init__(self, engine: Engine, rules: IdentityRules, blocks: Blocks,
                 now: datetime, matcher: Matcher | None = None) -> None:
        self.engine, self.rules, self.blocks, self.now = engine, rules, blocks, now
        self.matcher = matcher

    def table(self, name: str) -> ir.Table:
        """A stored identity table, or an empty one of its schema before the first run."""
        if self.engine.has_table(name):
            return self.engine.table(name)
        schema = ibis.schema(SCHEMAS[name]).to_pyarrow()
        return ibis.memtable(pa.Table.from_pylist([], schema=schema))

    def resolve(self, cause: str = "", recheck: tuple[str, ...] = (),
                rematch: bool = False) -> ResolveReport:
        """Resolve what is new since the last run.

        Args:
            cause: Why customers are split, for the history (``split`` passes the block).
            recheck: Customer ids to resolve again from their identifiers.
            rematch: Run probabilistic matching even if no customer record is new (after
                reviewers' decisions changed).

        Returns:
            The run's :class:`ResolveReport`.
        """
        started = time.perf_counter()
        report = ResolveReport(run_id=uuid.uuid4().hex[:12])
        done = self.table(LOADS).load_id.to_pyarrow().to_pylist()
        fresh = self._new_records({str(d) for d in done})
        loads = sorted({load for _, _, ids in fresh for load in ids})
        if (not loads and self.blocks.digest == self._last_blocks() and not recheck
                and not rematch):
            report.status = "unchanged"
            return self._totals(report, started)
        scratch = Scratch(self.engine)
        try:
            self._run(report, fresh, cause, recheck, scratch, rematch)
        finally:
            scratch.close()
        if loads:
            self._append(LOADS, [{"load_id": load, "run_id": report.run_id} for load in loads])
        return self._totals(report, started)

    def _append(self, name: str, rows: list[dict[str, object]]) -> None:
        schema = ibis.schema(SCHEMAS[name]).to_pyarrow()
        kept = self.engine.materialize(pa.Table.from_pylist(rows, schema=schema))
        self.engine.write(name, kept, "append")
        self.engine.drop_temporary(kept)

    def _new_records(self, done: set[str]) -> list[tuple[Entity, ir.Table, list[str]]]:
        found = []
        for ent in ENTITIES.values():
            if ent.derived or not self.rules.identifier_fields(ent):
                continue
            if not self.engine.has_table(ent.name):
                continue
            table = self.engine.table(ent.name)
            if done:
                table = table.filter(table._load_id.notin(sorted(done)))
            ids = table.select("_load_id").distinct()._load_id.to_pyarrow().to_pylist()
            if ids:
                found.append((ent, table, [str(i) for i in ids]))
        return found

    def _last_blocks(self) -> str:
        runs = self.table(RUNS)
        last = runs.order_by(runs.sequence.desc()).limit(1).blocks.to_pyarrow().to_pylist()
        return str(last[0]) if last else Blocks().digest

    def _run(self, report: ResolveReport, fresh: list[tuple[Entity, ir.Table, list[str]]],
             cause: str, recheck: tuple[str, ...], scratch: Scratch,
             rematch: bool = False) -> None:
        keep = scratch.keep
        rows, links, combos = [], [], []
        for ent, table, _ in fresh:
            combos.append(keep(graph.record_combinations(table, ent, self.rules)))
            report.records += int(self.engine.con.execute(combos[-1].records.sum()) or 0)
            rows.append(graph.identifier_rows(combos[-1], ent, self.rules))
            if (found := graph.link_rows(combos[-1], ent, self.rules)) is not None:
                links.append(found)
        # New customer records may match older ones that share no identifier with them.
        customers_changed = rematch or any(ent.name == "customers" for ent, _, _ in fresh)
        if customers_changed and self.matcher is not None and (
                matched := self.matcher(keep)) is not None:
            links.append(matched)
            report.matched_pairs, report.review_pairs = self.matcher.counts
            report.skipped_keys = self.matcher.skipped.num_rows
        identities, added, all_links = self._identifiers_and_links(rows, links, scratch)
        for table in combos:  # read only by the two above: their memory is free again
            self.engine.drop_temporary(table)
        ignored = keep(graph.ignored_identifiers(
            identities, graph.shared_identifiers(all_links, self.rules),
            self.blocks.identifier_table()))
        usable = graph.usable_links(all_links, ignored, self.blocks.link_table())
        plan = RunGraph(self.engine, self.table(CUSTOMER_IDS), identities, ignored, usable,
                        recheck, self.blocks.link_table(), keep)
        resolution, previous, pairs = plan.solve(plan.next_code(self.table(MERGE_HISTORY)))
        customer_ids = keep(self._customer_ids(plan, resolution))
        history = self._history(report.run_id, plan, resolution, previous, pairs, cause, keep)
        self.engine.write(CUSTOMER_IDS, customer_ids)
        if history is not None:
            self.engine.write(MERGE_HISTORY, history, "append")
        self.engine.write(IDENTITIES, _with_status(identities, ignored))
        if added is not None and self.engine.has_table(LINKS):
            self.engine.write(LINKS, all_links.drop(NEW))
        elif added is not None:  # the first links: the staged rows become the table
            scratch.adopt(LINKS, added)
        report.new_people = resolution.new_customers
        report.merges = len(resolution.merge_links)
        report.merged_customers = len(resolution.merged)
        report.splits = len(resolution.split)

    def _identifiers_and_links(self, rows: list[ir.Table], links: list[ir.Table],
                               scratch: Scratch) -> tuple[ir.Table, ir.Table | None, ir.Table]:
        """Every identifier (stored and new rows merged), the links first seen in this
        run (None if none), and all links with ``new`` marking those.

        Each is merged in one pass over the rows of every entity. All links are the
        stored ones and the new ones stacked, not merged again: new links are by
        definition not among the stored ones. The first two are the run's largest
        tables: they are spilled, and read only by a few passes.
        """
        stored = self.table(IDENTITIES)
        before = stored.select(*IDENTITY_COLUMNS[:-1], junk=stored.status == graph.JUNK)
        if not rows:  # nothing new: the stored rows (or none yet, in memory)
            identities = scratch.keep(graph.merge_identifier_rows(before))
        elif self.engine.has_table(IDENTITIES):
            identities = scratch.spill(graph.merge_identifier_rows(graph.stack(before, *rows)))
        else:
            identities = scratch.spill(graph.merge_identifier_rows(graph.stack(*rows)))
        old_links = self.table(LINKS)
        if not links:
            return identities, None, old_links.mutate(**{NEW: ibis.literal(False)})
        added = graph.first_links(graph.stack(*links))
        if self.engine.has_table(LINKS):
            added = added.anti_join(old_links, list(graph.LINK))
        added = scratch.spill(added)
        all_links = graph.stack(old_links.mutate(**{NEW: ibis.literal(False)}),
                                added.mutate(**{NEW: ibis.literal(True)}))
        return identities, added, all_links

    def _customer_ids(self, plan: RunGraph, resolution: components.Resolution) -> ir.Table:
        """The stored customer ids with this run's identifiers added and customers that
        merged renamed; identifiers no longer used are dropped."""
        codes = ibis.memtable(pa.table({
            "node": pa.array(np.arange(len(resolution.customer), dtype=np.int64)),
            "code": pa.array(resolution.customer)}))
        nodes = plan.nodes.join(codes, "node")
        raw = nodes.filter(nodes.node_type != CUSTOMER)
        moved = nodes.filter((nodes.node_type == CUSTOMER)
                             & (customer_code(nodes.previous) != nodes.code))
        old = plan.customer_ids.anti_join(plan.ignored, list(graph.IDENTIFIER))
        old = old.anti_join(raw.select(id_type=raw.node_type, id_value=raw.node_value),
                            list(graph.IDENTIFIER))
        old = old.left_join(moved.select(_old=moved.node_value, _new=customer_text(moved.code)),
                            old.customer_id == moved.node_value)
        kept = old.select(*graph.IDENTIFIER, customer_id=old._new.coalesce(old.customer_id),
                          first_seen_at=old.first_seen_at)
        added = raw.select(id_type=raw.node_type, id_value=raw.node_value,
                           customer_id=customer_text(raw.code), first_seen_at=raw.first_seen)
        return graph.stack(kept, added)

    def _history(self, run_id: str, plan: RunGraph, resolution: components.Resolution,
                 previous: np.ndarray, pairs: np.ndarray, cause: str,
                 keep: Keep) -> ir.Table | None:
        """This run's merges and splits, as rows of ``merge_history``.

        The arrays are kept as tables first, so the rows can be written straight away
        rather than kept as a table of their own (DuckDB's copy sees no in-memory tables).
        """
        at = ibis.literal(self.now).cast("timestamp")
        parts = []
        if len(resolution.merge_links):
            chosen = pairs[resolution.merge_links]
            merged = keep(ibis.memtable(pa.table({
                "left_node": pa.array(chosen[:, 0]), "right_node": pa.array(chosen[:, 1]),
                "code": pa.array(resolution.customer[chosen[:, 0]]),
                "left_code": pa.array(previous[chosen[:, 0]]),
                "right_code": pa.array(previous[chosen[:, 1]])})))
            edges = plan.edges.join(merged, ["left_node", "right_node"])
            parts.append(edges.select(
                kind=ibis.literal(MERGE), seen_at=edges.seen_at, entity=edges.entity,
                source=edges.source, record_key=edges.record_key,
                **{n: edges[n] for n in graph.LINK},
                left_customer_id=_code_or_null(edges.left_code),
                right_customer_id=_code_or_null(edges.right_code),
                customer_id=customer_text(edges.code), reason=ibis.null("string")))
        if len(resolution.split):
            split = keep(ibis.memtable(pa.table({"was": pa.array(resolution.split[:, 0]),
                                                 "now": pa.array(resolution.split[:, 1])})))
            parts.append(split.select(
                kind=ibis.literal(SPLIT), seen_at=at, entity=ibis.null("string"),
                source=ibis.null("string"), record_key=ibis.null("string"),
                **{n: ibis.null("string") for n in graph.LINK},
                left_customer_id=customer_text(split.was), right_customer_id=ibis.null("string"),
                customer_id=customer_text(split.now),
                reason=ibis.literal(cause or "re-resolved")))
        if not parts:
            return None
        rows = graph.stack(*parts)
        rows = rows.mutate(run_id=ibis.literal(run_id), resolved_at=at)
        return rows.select(*SCHEMAS[MERGE_HISTORY])

    def _totals(self, report: ResolveReport, started: float) -> ResolveReport:
        if self.engine.has_table(CUSTOMER_IDS):
            ids = self.engine.table(CUSTOMER_IDS)
            report.people = self.engine.count(ids.select("customer_id").distinct())
            report.identifiers = self.engine.count(ids)
        if self.engine.has_table(IDENTITIES):
            identities = self.engine.table(IDENTITIES)
            ignored = identities.filter(identities.status != graph.USED).select(
                "id_type", "id_value", "status").distinct()
            counts = ignored.group_by("status").aggregate(n=ignored.count())
            report.ignored = {str(r["status"]): int(r["n"])
                              for r in self.engine.to_arrow(counts).to_pylist()}
            report.identifiers += sum(report.ignored.values())
        report.seconds = time.perf_counter() - started
        if report.status == "ok":
            self._append(RUNS, [{
                "run_id": report.run_id, "sequence": self.engine.count(self.table(RUNS)) + 1,
                "resolved_at": self.now, "blocks": self.blocks.digest,
                "records": report.records, "people": report.people,
                "new_people": report.new_people, "merges": report.merges,
                "splits": report.splits}])
        return report


def _code_or_null(code: ir.IntegerValue) -> ir.StringValue:
    return ibis.ifelse(code >= 0, customer_text(code), ibis.null("string"))


def _with_status(identities: ir.Table, ignored: ir.Table) -> ir.Table:
    joined = identities.left_join(ignored, list(graph.IDENTIFIER))
    return joined.select(*IDENTITY_COLUMNS[:-1], status=joined.status.coalesce(graph.USED),
                         reason=joined.reason)


SCHEMAS: dict[str, dict[str, str]] = {
    IDENTITIES: {"id_type": "string", "id_value": "string", "entity": "string",
                 "source": "string", "record_key": "string", "order_key": "string",
                 "seen_at": "timestamp", "last_seen_at": "timestamp", "records": "int64",
                 "status": "string", "reason": "string"},
    LINKS: {**dict.fromkeys(graph.LINK, "string"), "entity": "string", "source": "string",
            "record_key": "string", "order_key": "string", "seen_at": "timestamp"},
    CUSTOMER_IDS: CUSTOMER_ID_SCHEMA,
    MERGE_HISTORY: {"run_id": "string", "resolved_at": "timestamp", "kind": "string",
                    "seen_at": "timestamp", "entity": "string", "source": "string",
                    "record_key": "string", **dict.fromkeys(graph.LINK, "string"),
                    "left_customer_id": "string", "right_customer_id": "string",
                    "customer_id": "string", "reason": "string"},
    LOADS: {"load_id": "string", "run_id": "string"},
    RUNS: {"run_id": "string", "sequence": "int64", "resolved_at": "timestamp",
           "blocks": "string",
           "records": "int64", "people": "int64", "new_people": "int64", "merges": "int64",
           "splits": "int64"},
}
