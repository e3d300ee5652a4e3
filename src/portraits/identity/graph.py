"""The ID graph as relational expressions: identifiers seen in records, and the links
between identifiers that appear in one record.

Every function here takes Ibis tables and rules and returns a table expression; nothing
connects or executes, so the same code runs on DuckDB and Spark. The runner
(:mod:`portraits.identity.resolve`) computes and stores the results.

Records are first collapsed to their distinct combinations of identifiers (twenty
million events carry a few million combinations), each with its first record: the one
with the earliest time, ties broken by source and record key. That first record is what
``explain`` shows as the cause of a link.
"""

from __future__ import annotations

from functools import reduce

import ibis
import ibis.expr.types as ir

from portraits.identity.rules import IdentityRules, TypeRule
from portraits.model.canonical import Entity

USED, JUNK, SHARED, BLOCKED = "used", "junk", "shared", "blocked"
IDENTIFIER = ("id_type", "id_value")
LINK = ("left_type", "left_value", "right_type", "right_value")
FIRST = ("entity", "source", "record_key", "order_key", "seen_at")


def normalized(value: ir.Value, rule: TypeRule) -> ir.StringValue:
    """``value`` as text after the type's normalisation steps; blank becomes NULL."""
    text: ir.StringValue = value.cast("string")
    for step in rule.normalize:
        if step == "trim":
            text = text.strip()
        elif step == "lower":
            text = text.lower()
        elif step == "upper":
            text = text.upper()
        elif step == "digits":
            text = text.re_replace(r"[^0-9]", "")
    return text.nullif("")


def is_junk(value: ir.StringValue, rule: TypeRule) -> ir.BooleanValue:
    """Whether a normalised value is a placeholder of its type."""
    tests = [value.lower().isin(list(rule.junk))] if rule.junk else []
    tests += [value.re_search(pattern) for pattern in rule.junk_patterns]
    return reduce(lambda a, b: a | b, tests, ibis.literal(False))


def record_key(table: ir.Table, ent: Entity) -> ir.StringValue:
    """The entity key of each row as one text (parts joined by ``|``)."""
    parts = [_as_text(table[name]) for name in ent.key]
    return reduce(lambda a, b: a.concat("|", b), parts)


def _as_text(value: ir.Value) -> ir.StringValue:
    # Timestamps as epoch seconds: engines print timestamps differently.
    if value.type().is_timestamp():
        return value.epoch_seconds().cast("int64").cast("string")  # type: ignore[attr-defined,no-any-return]
    return value.cast("string")


def record_combinations(table: ir.Table, ent: Entity, rules: IdentityRules) -> ir.Table | None:
    """Distinct combinations of identifiers in the records of ``table``, per source.

    Args:
        table: A canonical table with its lineage columns (``_source``, ``_loaded_at``).
        ent: Its entity.
        rules: Identity rules; they say which fields carry which identifier type.

    Returns:
        Columns ``source``, ``v0…vN`` (normalised identifiers, highest priority first, as
        :meth:`IdentityRules.identifier_fields` orders them), ``seen_at`` and
        ``last_seen_at`` (the record time, or the load time where it has none),
        ``records``, and the first record (``record_key``, ``order_key``); or None if the
        entity carries no identifier.
    """
    fields = rules.identifier_fields(ent)
    if not fields:
        return None
    when = table._loaded_at.cast("timestamp")
    if ent.time_field is not None:
        when = table[ent.time_field].cast("timestamp").coalesce(when)
    key = record_key(table, ent)
    order = (when.epoch_seconds().cast("int64").cast("string").lpad(12, "0")
             .concat("|", ent.name, "|", table._source, "|", key))
    values = {f"v{i}": normalized(table[name], rule) for i, (name, rule) in enumerate(fields)}
    rows = table.select(source=table._source, _when=when, _key=key, _order=order, **values)
    rows = rows.filter(reduce(lambda a, b: a | b, [rows[v].notnull() for v in values]))
    return rows.group_by(["source", *values]).aggregate(
        seen_at=rows._when.min(), last_seen_at=rows._when.max(), records=rows.count(),
        order_key=rows._order.min(), record_key=rows._key.argmin(rows._order))


def identifier_rows(combos: ir.Table, ent: Entity, rules: IdentityRules) -> ir.Table:
    """One row per identifier in each combination of the entity: where first seen, how
    often, junk or not. Not merged: :func:`merge_identifier_rows` merges the rows of every
    entity (and of earlier runs) in one pass.

    Returns:
        Columns ``id_type, id_value, entity, source, record_key, order_key, seen_at,
        last_seen_at, records, junk`` (the junk flag from the type's rules).
    """
    parts = []
    for i, (_, rule) in enumerate(rules.identifier_fields(ent)):
        value = combos[f"v{i}"]
        parts.append(combos.filter(value.notnull()).select(
            id_type=ibis.literal(rule.name), id_value=value, entity=ibis.literal(ent.name),
            source=combos.source, record_key=combos.record_key, order_key=combos.order_key,
            seen_at=combos.seen_at, last_seen_at=combos.last_seen_at, records=combos.records,
            junk=is_junk(value, rule)))
    return ibis.union(*parts, distinct=False)


def merge_identifier_rows(rows: ir.Table) -> ir.Table:
    """Rows of :func:`identifier_rows` (of several runs) as one row per identifier and
    entity and source: the first record, first and last time, records in all."""
    return rows.group_by([*IDENTIFIER, "entity", "source"]).aggregate(
        record_key=rows.record_key.argmin(rows.order_key), order_key=rows.order_key.min(),
        seen_at=rows.seen_at.min(), last_seen_at=rows.last_seen_at.max(),
        records=rows.records.sum(), junk=rows.junk.max())


def link_rows(combos: ir.Table, ent: Entity, rules: IdentityRules) -> ir.Table | None:
    """Links between every two non-junk identifiers seen in one record, one row per
    combination that shows the link. Not merged: :func:`first_links` keeps the first
    record of each link over every entity in one pass.

    The higher-priority identifier is on the left (two values of one type: the smaller).

    Returns:
        Columns ``left_type, left_value, right_type, right_value`` and the combination's
        first record (``entity, source, record_key, order_key, seen_at``); None if no
        record of the entity can hold two identifiers.
    """
    fields = rules.identifier_fields(ent)
    parts = []
    for i, (_, first) in enumerate(fields):
        for j in range(i + 1, len(fields)):
            left, right = first, fields[j][1]
            a, b = combos[f"v{i}"], combos[f"v{j}"]
            keep = a.notnull() & b.notnull() & ~is_junk(a, left) & ~is_junk(b, right)
            if left.name == right.name:
                keep &= a != b
                a, b = ibis.least(a, b), ibis.greatest(a, b)
            elif (right.priority, left.name) > (left.priority, right.name):
                left, right, a, b = right, left, b, a
            parts.append(combos.filter(keep).select(
                left_type=ibis.literal(left.name), left_value=a,
                right_type=ibis.literal(right.name), right_value=b,
                entity=ibis.literal(ent.name), source=combos.source,
                record_key=combos.record_key, order_key=combos.order_key,
                seen_at=combos.seen_at))
    if not parts:
        return None
    return ibis.union(*parts, distinct=False)


def first_links(links: ir.Table) -> ir.Table:
    """One row per link: its first record (earliest time, then source and record key)."""
    firsts = links.group_by(list(LINK)).aggregate(
        _first=first_of(links, ("entity", "source", "record_key"), links.order_key),
        order_key=links.order_key.min(), seen_at=links.seen_at.min())
    return firsts.unpack("_first").select(*LINK, "entity", "source", "record_key",
                                          "order_key", "seen_at")


def first_of(table: ir.Table, columns: tuple[str, ...], key: ir.Value) -> ir.StructValue:
    """The ``columns`` of the row with the smallest ``key``, as one struct (an aggregate).

    One arg-min of a struct, rather than one per column: DuckDB's arg-min with text
    payloads is the costliest part of these aggregates (about three times as fast on the
    identity links), and every column surely comes from the same row.
    """
    return ibis.struct({c: table[c] for c in columns}).argmin(key)


def _by_type(column: ir.StringValue, values: dict[str, int], default: int) -> ir.IntegerValue:
    cases = [(column == name, value) for name, value in values.items()]
    return ibis.cases(*cases, else_=default) if cases else ibis.literal(default)


def shared_identifiers(links: ir.Table, rules: IdentityRules) -> ir.Table:
    """Identifiers seen with more values of one higher-priority person type than their
    type's ``max_people`` allows (a tablet that several members sign in on).

    Returns:
        Columns ``id_type, id_value, reason`` (e.g. ``seen with 12 member_id values,
        more than 1``).
    """
    limits = {name: rule.max_people for name, rule in rules.types.items() if rule.max_people}
    if not limits:
        return _empty_status()
    priority = {name: rule.priority for name, rule in rules.types.items() if rule.person}
    ends = [("left", "right"), ("right", "left")]
    sides = ibis.union(*[links.select(
        id_type=links[f"{me}_type"], id_value=links[f"{me}_value"],
        other=links[f"{other}_type"]) for me, other in ends], distinct=False)
    sides = sides.filter(sides.id_type.isin(list(limits)))
    sides = sides.filter(_by_type(sides.other, priority, -1) > _by_type(sides.id_type,
                                                                        priority, -1))
    counts = sides.group_by(["id_type", "id_value", "other"]).aggregate(seen=sides.count())
    over = counts.filter(counts.seen > _by_type(counts.id_type, limits, 0))
    worst = over.group_by(list(IDENTIFIER)).aggregate(
        seen=over.seen.max(), other=over.other.argmax(over.seen.cast("string").lpad(12, "0")
                                                      .concat(over.other)))
    limit = _by_type(worst.id_type, limits, 0).cast("string")
    return worst.select(*IDENTIFIER, reason=ibis.literal("seen with ").concat(
        worst.seen.cast("string"), " ", worst.other, " values, more than ", limit))


def _empty_status() -> ir.Table:
    return ibis.memtable({"id_type": [], "id_value": [], "reason": []},
                         schema={"id_type": "string", "id_value": "string", "reason": "string"})


def ignored_identifiers(identities: ir.Table, shared: ir.Table,
                        blocked: ir.Table) -> ir.Table:
    """Every identifier not used to merge, with why: blocked, junk or shared.

    Args:
        identities: Rows of :func:`identifier_rows` (the ``junk`` flag).
        shared: :func:`shared_identifiers`.
        blocked: Identifiers a person blocked (``id_type, id_value``).

    Returns:
        Columns ``id_type, id_value, status, reason``; one row per identifier.
    """
    junk = identities.filter(identities.junk).select(*IDENTIFIER).distinct()
    parts = [
        blocked.select(*IDENTIFIER, status=ibis.literal(BLOCKED),
                       reason=ibis.literal("blocked in identity/blocks.yaml"), rank=0),
        junk.select(*IDENTIFIER, status=ibis.literal(JUNK),
                    reason=ibis.literal("placeholder value"), rank=1),
        shared.select(*IDENTIFIER, status=ibis.literal(SHARED), reason=shared.reason, rank=2),
    ]
    every = ibis.union(*parts, distinct=False)
    return every.group_by(list(IDENTIFIER)).aggregate(
        status=every.status.argmin(every.rank), reason=every.reason.argmin(every.rank))


def linked_identifiers(links: ir.Table, members: ir.Table) -> ir.Table:
    """Identifiers at the other end of a link from any of ``members`` (``id_type,
    id_value``): what a person's records showed beside their own identifiers."""
    others = []
    for me, other in (("left", "right"), ("right", "left")):
        mine = links.semi_join(members.select(**{f"{me}_type": members.id_type,
                                                 f"{me}_value": members.id_value}),
                               [f"{me}_type", f"{me}_value"])
        others.append(mine.select(id_type=mine[f"{other}_type"],
                                  id_value=mine[f"{other}_value"]))
    return ibis.union(*others, distinct=True)


def usable_links(links: ir.Table, ignored: ir.Table, blocked_links: ir.Table) -> ir.Table:
    """Links whose both ends are used to merge and that nobody blocked."""
    for side in ("left", "right"):
        off = ignored.select(**{f"{side}_type": ignored.id_type,
                                f"{side}_value": ignored.id_value})
        links = links.anti_join(off, [f"{side}_type", f"{side}_value"])
    return links.anti_join(blocked_links, list(LINK))


def stack(*tables: ir.Table, distinct: bool = False) -> ir.Table:
    """Tables stacked by column name, typed as the first (all nullable): stored and
    computed columns may differ in nullability or timestamp precision by engine."""
    if len(tables) == 1:
        return tables[0].distinct() if distinct else tables[0]
    types = {name: dtype.copy(nullable=True) for name, dtype in tables[0].schema().items()}
    return ibis.union(*[t.select(**{n: t[n].cast(d) for n, d in types.items()})
                        for t in tables], distinct=distinct)
