"""How one person was assembled: identifiers, merges in order, identifiers left out.

Reads the tables identity resolution wrote; the result is plain data that the CLI
renders (with PII masked unless asked otherwise) and the API can return as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from portraits.engine.base import Engine
from portraits.errors import PortraitsError
from portraits.identity import graph
from portraits.identity.blocks import Identifier, parse_identifier
from portraits.identity.resolve import CUSTOMER_IDS, IDENTITIES, LINKS, MERGE_HISTORY
from portraits.identity.rules import IdentityRules

CUSTOMER_ID = re.compile(r"^C\d{8}$")


@dataclass(frozen=True)
class Sighting:
    """One identifier of the person and where it was seen."""

    id_type: str
    id_value: str
    first_seen: datetime | None
    last_seen: datetime | None
    records: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One entry of the merge history: a link that joined two clusters, or a split."""

    kind: str
    seen_at: datetime | None
    resolved_at: datetime | None
    entity: str | None
    source: str | None
    record_key: str | None
    left: Identifier | None
    right: Identifier | None
    left_customer_id: str | None
    right_customer_id: str | None
    customer_id: str | None
    reason: str | None


@dataclass(frozen=True)
class Ignored:
    """An identifier seen in a record with the person's identifiers but not used to merge
    (shared or blocked), and why. Junk values form no links, so they are not listed here;
    ``explain`` on a junk value says that it is junk."""

    id_type: str
    id_value: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class Explanation:
    """Everything ``portraits identity explain`` shows."""

    query: Identifier
    customer_id: str | None
    status: str
    reason: str | None = None
    identifiers: list[Sighting] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


def parse_query(text: str, rules: IdentityRules) -> Identifier:
    """``type:value`` (or a customer id) with the value normalised as resolution does.

    A phone may be given without +86 (``13912345678``).
    """
    if CUSTOMER_ID.match(text.strip()):
        return "customer_id", text.strip()
    id_type, value = parse_identifier(text)
    if id_type not in rules.aliases:
        raise PortraitsError(f"'{id_type}' is not an identifier type; types: "
                             f"{', '.join(sorted(rules.aliases))}")
    rule = rules.types[rules.namespace(id_type)]
    value = value.strip()
    if "lower" in rule.normalize:
        value = value.lower()
    if rule.name == "phone" and re.fullmatch(r"1\d{10}", value):
        value = "+86" + value
    return rule.name, value


def explain(engine: Engine, query: Identifier) -> Explanation:
    """How the person holding ``query`` was assembled.

    Args:
        engine: The workspace's engine, after ``identity resolve``.
        query: ``(type, value)`` from :func:`parse_query`, or ``("customer_id", id)``.
    """
    if not engine.has_table(CUSTOMER_IDS):
        raise PortraitsError("no identities resolved yet; run 'portraits identity resolve'")
    ids = engine.table(CUSTOMER_IDS)
    if query[0] == "customer_id":
        customer: str | None = query[1]
    else:
        found = _rows(engine, ids.filter((ids.id_type == query[0]) & (ids.id_value == query[1])))
        customer = str(found[0]["customer_id"]) if found else None
    if customer is None:
        return _not_a_customer(engine, query)
    members = ids.filter(ids.customer_id == customer).select(*graph.IDENTIFIER)
    if not _rows(engine, members.limit(1)):
        return Explanation(query, customer, "unknown", "no such customer id")
    return Explanation(query, customer, graph.USED, None, _sightings(engine, members),
                       _steps(engine, members, customer), _ignored(engine, members))


def _rows(engine: Engine, table: ir.Table) -> list[dict[str, Any]]:
    return list(engine.to_arrow(table).to_pylist())


def _not_a_customer(engine: Engine, query: Identifier) -> Explanation:
    identities = engine.table(IDENTITIES)
    seen = _rows(engine, identities.filter((identities.id_type == query[0])
                                           & (identities.id_value == query[1]))
                 .select("status", "reason").limit(1))
    if not seen:
        return Explanation(query, None, "unknown", "never seen in any record")
    return Explanation(query, None, str(seen[0]["status"]), seen[0]["reason"])


def _sightings(engine: Engine, members: ir.Table) -> list[Sighting]:
    identities = engine.table(IDENTITIES).semi_join(members, list(graph.IDENTIFIER))
    per = identities.group_by(list(graph.IDENTIFIER)).aggregate(
        first_seen=identities.seen_at.min(), last_seen=identities.last_seen_at.max(),
        records=identities.records.sum(), sources=identities.source.collect(distinct=True))
    rows = _rows(engine, per)
    return sorted((Sighting(r["id_type"], r["id_value"], r["first_seen"], r["last_seen"],
                            int(r["records"]), tuple(sorted(r["sources"] or ())))
                   for r in rows), key=lambda s: (s.first_seen or datetime.max, s.id_type))


def _steps(engine: Engine, members: ir.Table, customer: str) -> list[Step]:
    if not engine.has_table(MERGE_HISTORY):
        return []
    history = engine.table(MERGE_HISTORY)
    by_left = history.semi_join(members.select(left_type=members.id_type,
                                               left_value=members.id_value),
                                ["left_type", "left_value"])
    by_right = history.semi_join(members.select(right_type=members.id_type,
                                                right_value=members.id_value),
                                 ["right_type", "right_value"])
    by_id = history.filter((history.customer_id == customer)
                           | (history.left_customer_id == customer)
                           | (history.right_customer_id == customer))
    rows = _rows(engine, ibis.union(by_left, by_right, by_id, distinct=True))
    steps = [Step(r["kind"], r["seen_at"], r["resolved_at"], r["entity"], r["source"],
                  r["record_key"], _pair(r, "left"), _pair(r, "right"),
                  r["left_customer_id"], r["right_customer_id"], r["customer_id"],
                  r["reason"]) for r in rows]
    return sorted(steps, key=lambda s: (s.resolved_at or datetime.min,
                                        s.seen_at or datetime.min, s.kind,
                                        s.record_key or "", s.left or ("", "")))


def _pair(row: dict[str, Any], side: str) -> Identifier | None:
    kind, value = row[f"{side}_type"], row[f"{side}_value"]
    return (str(kind), str(value)) if kind is not None else None


def _ignored(engine: Engine, members: ir.Table) -> list[Ignored]:
    if not engine.has_table(LINKS):
        return []
    near = graph.linked_identifiers(engine.table(LINKS), members)
    identities = engine.table(IDENTITIES)
    off = identities.filter(identities.status != graph.USED).select(
        *graph.IDENTIFIER, "status", "reason").distinct()
    rows = _rows(engine, off.semi_join(near, list(graph.IDENTIFIER)))
    unique = {(r["id_type"], r["id_value"]): r for r in rows}
    return [Ignored(t, v, str(r["status"]), r["reason"]) for (t, v), r in sorted(unique.items())]

