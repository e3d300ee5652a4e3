"""``ws.tags``: run the tag set, explain a tag, and read tag history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from portraits.errors import PortraitsError

if TYPE_CHECKING:
    from portraits.tags.catalog import TagSet
    from portraits.tags.why import TagExplanation
    from portraits.workspace.facade import Workspace

TAGS = "tags"
HISTORY = "tag_history"


@dataclass(frozen=True)
class TagCount:
    """How many customers carry a tag (rule tags) or each of its labels."""

    tag: str
    label: str | None
    customers: int


@dataclass(frozen=True)
class TagRun:
    """What ``ws.tags.run()`` did."""

    run_at: datetime
    customers: int
    tags: int
    counts: tuple[TagCount, ...]

    def count(self, tag: str, label: str | None = None) -> int:
        """Customers carrying ``tag`` (with ``label`` for a label tag)."""
        return sum(c.customers for c in self.counts if c.tag == tag
                   and (label is None or c.label == label))


class TagsNamespace:
    """Tags per customer from the standard library and ``tags/*.yaml`` (``ws.tags``).

    Example:
        >>> run = ws.tags.run()                                   # doctest: +SKIP
        >>> run.count("rfm_segment", "champions")                 # doctest: +SKIP
        >>> ws.tags.why("C00000042", "coupon_lover").holds        # doctest: +SKIP
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def catalog(self) -> TagSet:
        """The checked tag set: standard tags and the workspace's, in dependency order."""
        from portraits.tags.catalog import load_tags, workspace_files
        from portraits.tags.compute import field_values, tag_fields

        return load_tags(tag_fields(), workspace_files(self._ws.root / "tags"),
                         values=field_values())

    def _sources(self) -> dict[str, ir.Table | None]:
        """Profiles, orders and events with customer ids, and interests."""
        from portraits.identity.resolve import CUSTOMER_IDS
        from portraits.workspace.facade import ProfilesNamespace, _with_customer_ids

        ws = self._ws
        if not ws.engine.has_table(ProfilesNamespace.TABLE):
            raise PortraitsError("no profiles yet; run 'portraits profile build' first")
        ids = ws.table(CUSTOMER_IDS) if ws.engine.has_table(CUSTOMER_IDS) else None
        found: dict[str, ir.Table | None] = {}
        for name in ("profiles", "orders", "events", ProfilesNamespace.INTERESTS):
            table = ws.table(name) if ws.engine.has_table(name) else None
            if name == ProfilesNamespace.TABLE:  # tags read predictions as profile fields
                table = ws.profiles.with_predictions()
            if table is not None and "customer_id" not in table.columns:
                table = _with_customer_ids(ws, name, table, ids)
            found[name] = table
        return found

    def compute(self, as_of: datetime | None = None, tagset: TagSet | None = None,
                keep_inputs: bool = False) -> ir.Table:
        """The tags table as an expression (not stored): RFM fields and a column per tag
        (and with ``keep_inputs`` every field the tags read)."""
        from portraits.profile.spec import ProfileSpec
        from portraits.tags.compute import build_tags

        ws = self._ws
        src = self._sources()
        profiles = src["profiles"]
        assert profiles is not None
        return build_tags(profiles, src["orders"], src["events"], src["profile_interests"],
                          tagset or self.catalog(), ws.spec.rfm,
                          as_of or ws.settings.current_time(), ProfileSpec(), keep_inputs)

    def run(self, as_of: datetime | None = None) -> TagRun:
        """Compute every tag, store ``tags`` and add this run's assignments to ``tag_history``.

        A second run at the same time replaces that run's history (runs are idempotent).
        """
        from portraits.tags.compute import tag_history_rows

        ws = self._ws
        as_of = as_of or ws.settings.current_time()
        tagset = self.catalog()
        ws.engine.write(TAGS, self.compute(as_of, tagset))
        stored = ws.table(TAGS)
        rows = tag_history_rows(stored, tagset, as_of)
        if ws.engine.has_table(HISTORY):
            history = ws.table(HISTORY)
            if ws.engine.count(history.filter(history.run_at == ibis.literal(as_of))):
                kept = history.filter(history.run_at != ibis.literal(as_of))
                ws.engine.write(HISTORY, kept.union(rows.cast(kept.schema())))
            else:
                ws.engine.write(HISTORY, rows, mode="append")
        else:
            ws.engine.write(HISTORY, rows)
        return TagRun(as_of, ws.engine.count(stored), len(tagset), self._counts(as_of))

    def _counts(self, run_at: datetime) -> tuple[TagCount, ...]:
        history = self._ws.table(HISTORY)
        mine = history.filter(history.run_at == ibis.literal(run_at))
        counts = mine.group_by(["tag", "value"]).aggregate(customers=mine.count())
        rows = self._ws.engine.to_arrow(counts.order_by(["tag", "value"])).to_pylist()
        return tuple(TagCount(r["tag"], None if r["value"] == "true" else r["value"],
                              int(r["customers"])) for r in rows)

    def table(self) -> ir.Table:
        """The stored tags of the last run (``customer_id``, RFM fields, one column per tag)."""
        return self._ws.table(TAGS)

    def why(self, customer: str, tag: str, as_of: datetime | None = None) -> TagExplanation:
        """Why ``customer`` carries ``tag`` or not, from the current rules and data."""
        from portraits.tags.why import explain_row, explanation_plan

        ws = self._ws
        tagset = self.catalog()
        chosen = tagset.get(tag)
        as_of = as_of or ws.settings.current_time()
        # Over everyone, then the one customer: RFM quintiles rank a customer among all.
        tagged = self.compute(as_of, tagset, keep_inputs=True)
        tagged = tagged.filter(tagged.customer_id == customer)
        joiner, plan = explanation_plan(chosen, tagged, as_of)
        rows = ws.engine.to_arrow(tagged.select(chosen.id, **plan.columns)).to_pylist()
        if not rows:
            raise PortraitsError(f"no profile for customer '{customer}'; look the customer up "
                                 "with 'portraits profile show'")
        return explain_row(chosen, customer, joiner, plan, rows[0])

    def history(self, tag: str) -> ir.Table:
        """Customers per run (and label) of ``tag``: its population over time."""
        history = self._ws.table(HISTORY)
        mine = history.filter(history.tag == tag)
        return mine.group_by(["run_at", "value"]).aggregate(customers=mine.count()).order_by(
            ["run_at", "value"])

    def changes(self, tag: str, value: str = "true") -> dict[str, Any]:
        """Who entered and who left ``tag`` (with ``value``) between the last two runs."""
        ws = self._ws
        history = ws.table(HISTORY)
        runs = sorted(r["run_at"] for r in ws.engine.to_arrow(
            history.select("run_at").distinct()).to_pylist())
        if len(runs) < 2:
            return {"runs": runs, "entered": [], "left": []}
        mine = history.filter(history.tag == tag, history.value == value)

        def members(run: datetime) -> set[str]:
            part = mine.filter(mine.run_at == ibis.literal(run)).select("customer_id")
            return {r["customer_id"] for r in ws.engine.to_arrow(part).to_pylist()}

        before, after = members(runs[-2]), members(runs[-1])
        return {"runs": runs[-2:], "entered": sorted(after - before),
                "left": sorted(before - after)}
