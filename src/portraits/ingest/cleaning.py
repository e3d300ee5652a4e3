"""Cleaning rules compiled to Ibis: checks, nulling, fills, de-duplication, findings.

Every finding about a row is kept in the findings table (the workspace's ``rejects``):
the file, row number, field, source column, raw value, rule, what was done and why.
``action`` says what happened: ``rejected`` (the row was not loaded), ``nulled`` (the
value was removed, the row loaded), ``filled`` (a missing value was filled) or
``flagged`` (loaded as it is, noted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_

import ibis
import ibis.expr.types as ir

from portraits.engine.base import FILE, ROW
from portraits.ingest.mapping import bad_name, raw_name
from portraits.model.canonical import Entity, FieldDef, OutlierRule
from portraits.workspace.spec import FillValue, OutlierSpec, SourceSpec

ACTIONS = {"reject": "rejected", "null": "nulled", "flag": "flagged", "fill": "filled"}
# A little slack for clocks that run ahead of the loader's.
CLOCK_SKEW = timedelta(minutes=10)
FINDING_COLUMNS = ("file", "row", "field", "column", "value", "rule", "action", "reason")
UNREADABLE = {"date": ("unparsable_date", "a date"),
              "timestamp": ("unparsable_timestamp", "a date and time"),
              "int64": ("not_a_number", "a whole number"),
              "float64": ("not_a_number", "a number"),
              "boolean": ("not_a_boolean", "yes/no")}

Reason = Callable[[ir.Table], ir.StringValue]


@dataclass(frozen=True)
class Check:
    """One rule compiled for one field: where it fires, what is done, and why."""

    field: str | None
    rule: str
    action: str
    condition: Callable[[ir.Table], ir.BooleanValue]
    reason: Reason


@dataclass(frozen=True)
class Cleaning:
    """A compiled cleaning plan.

    ``marked`` holds the typed values after nulling and filling, the raw text and one
    boolean column per check. Materialise it once, then take :meth:`accepted` and
    :meth:`findings` from the stored copy so the mapping is computed only once.
    """

    marked: ir.Table
    checks: tuple[Check, ...]
    fields: tuple[str, ...]
    source: SourceSpec
    ent: Entity

    def stages(self) -> list[DedupeStage]:
        """The de-duplication stages: the declared keys, then the entity key."""
        stages = []
        spec = self.source.cleaning.dedupe
        if spec is not None:
            order = (spec.order_by,) if spec.order_by else ()
            stages.append(DedupeStage(spec.keys, order, spec.keep, "duplicate"))
        keep = "first" if self.ent.mode == "append" else "last"
        stages.append(DedupeStage(self.ent.key, (), keep, "duplicate_key"))
        return stages

    def candidates(self, marked: ir.Table) -> ir.Table:
        """Rows no rejecting check fired on."""
        checks = list(self.checks)
        return marked.filter(~_any(marked, [c for c in checks if c.action == "rejected"], checks))

    def repeated(self, marked: ir.Table) -> list[ir.Table]:
        """Per stage, the keys that occur more than once among all rows: small.

        Counted before any check, so only the key columns are read (a fifth of the cost
        of counting the accepted rows); a key repeated only by rejected rows is a harmless
        extra suspect, because :meth:`duplicates` ranks the accepted rows alone.
        """
        return [_repeated_keys(marked, list(stage.keys)) for stage in self.stages()]

    def noted(self, marked: ir.Table, repeated: list[ir.Table]) -> ir.Table:
        """Rows any check fired on, or whose key is one of a stage's ``repeated`` keys.

        Usually few, and every row that :meth:`duplicates` and :meth:`findings` are made
        of: materialise it (with :meth:`noted_columns`), and the large input is read
        once for both instead of once for each.
        """
        checks = list(self.checks)
        repeats = [_one_key(marked, list(stage.keys)).isin(_one_key(keys, list(stage.keys)))
                   .fill_null(False)
                   for stage, keys in zip(self.stages(), repeated, strict=True)]
        return marked.filter(reduce(or_, repeats, _any(marked, checks, checks)))

    def noted_columns(self, marked: ir.Table) -> list[str]:
        """The columns :meth:`duplicates` and :meth:`findings` read: where, the checks,
        the checked values, and the de-duplication keys and order."""
        wanted = [ROW, FILE, *(c for c in marked.columns if c.startswith("__chk_"))]
        for check in self.checks:
            if check.field is not None:
                wanted += [check.field, raw_name(check.field)]
        for stage in self.stages():
            wanted += [*stage.keys, *stage.order]
        return [c for c in dict.fromkeys(wanted) if c in marked.columns]

    def duplicates(self, marked: ir.Table, repeated: list[ir.Table]) -> ir.Table:
        """The duplicate rows, as findings: every stage's rows that are not kept.

        ``marked`` may be :meth:`noted` (it holds every row with a repeated key). Small;
        materialise it once, then :meth:`accepted` drops these rows.
        """
        table = self.candidates(marked)
        found = []
        for stage, keys in zip(self.stages(), repeated, strict=True):
            dupes = _duplicates(table, stage, keys)
            found.append(dupes)
            table = table.anti_join(_row_ids(dupes), [FILE, ROW])
        return _union(found)

    def rejected(self, noted: ir.Table, duplicates: ir.Table) -> ir.Table:
        """The (file, row) of every row not loaded: a rejecting check fired on it, or it
        is a duplicate. Small: taken from :meth:`noted` and :meth:`duplicates`."""
        checks = list(self.checks)
        hit = noted.filter(_any(noted, [c for c in checks if c.action == "rejected"], checks))
        return hit.select(FILE, ROW).union(_row_ids(duplicates))

    def accepted(self, marked: ir.Table, rejected: ir.Table | None) -> ir.Table:
        """Rows of ``marked`` less the ``rejected`` ones (None: no row is rejected).

        Looking the few rejected rows up costs less than evaluating every check on every
        row again: the checks read values the mapping computes, and the mapping is then
        computed once, for the columns written.
        """
        kept = marked if rejected is None else marked.anti_join(rejected, [FILE, ROW])
        return kept.select(ROW, FILE, *self.fields)

    def flagged(self, marked: ir.Table) -> ir.Table:
        """Rows on which any check fired: usually few; materialise before :meth:`findings`."""
        checks = list(self.checks)
        return marked.filter(_any(marked, checks, checks))

    def findings(self, flagged: ir.Table) -> ir.Table:
        """One row per check that fired (duplicates come from :meth:`duplicates`)."""
        if not self.checks:
            return flagged.filter(ibis.literal(False)).select(**_empty_findings())
        return _union([_findings(flagged, i, c, self.source) for i, c in enumerate(self.checks)])


@dataclass(frozen=True)
class DedupeStage:
    """Rows with equal ``keys`` are duplicates; ``keep`` says which one stays."""

    keys: tuple[str, ...]
    order: tuple[str, ...]
    keep: str
    rule: str


def clean(mapped: ir.Table, source: SourceSpec, ent: Entity, now: datetime) -> Cleaning:
    """Compile the source's cleaning rules over a mapped table.

    Args:
        mapped: Output of :func:`portraits.ingest.mapping.map_source`.
        source: The source spec with its cleaning rules.
        ent: The canonical entity.
        now: The load time; bounds the "not in the future" rules.
    """
    fields = [f for f in source.columns if ent.has_field(f)]
    first = list(_value_checks(source, ent, fields, now, mapped.columns))
    nulling = {f: [c for c in first if c.field == f and c.action == "nulled"] for f in fields}
    # Keep the original of a value that may be cleared, so the finding can show it.
    mapped = mapped.mutate(**{raw_name(f): mapped[f] for f, cs in nulling.items()
                              if cs and raw_name(f) not in mapped.columns})
    checked = _mark(mapped, first)
    nulled = checked.mutate(**{
        f: ibis.ifelse(_any(checked, cs, first), ibis.null(checked[f].type()), checked[f])
        for f, cs in nulling.items() if cs
    })
    second = list(_missing_checks(source, ent, fields))
    marked = _fill(_mark(nulled, second, offset=len(first)), source)
    return Cleaning(marked, tuple(first + second), tuple(fields), source, ent)


def _empty_findings() -> dict[str, ir.Value]:
    return {"file": ibis.null("string"), "row": ibis.null("int64"),
            **{c: ibis.null("string") for c in FINDING_COLUMNS[2:]}}


def _check_column(i: int) -> str:
    return f"__chk_{i}"


def _mark(table: ir.Table, checks: list[Check], offset: int = 0) -> ir.Table:
    if not checks:
        return table
    return table.mutate(**{_check_column(offset + i): c.condition(table).fill_null(False)
                           for i, c in enumerate(checks)})


def _any(table: ir.Table, checks: list[Check], all_checks: list[Check]) -> ir.BooleanValue:
    """True where any of ``checks`` (marked earlier as ``__chk_<i>``) fired."""
    marks = [table[_check_column(i)] for i, c in enumerate(all_checks) if c in checks]
    return reduce(or_, marks) if marks else ibis.literal(False)


def _value_checks(source: SourceSpec, ent: Entity, fields: list[str], now: datetime,
                  columns: list[str]) -> Iterator[Check]:
    """Unreadable values, then the model's and the spec's outlier rules."""
    for field in fields:
        fdef = ent.field(field)
        mapping = source.columns[field]
        unreadable_action = ("rejected" if fdef.required or source.cleaning.invalid == "reject"
                             else "nulled")
        if bad_name(field) in columns:
            rule, what = _unreadable(field, fdef, mapping.transform, mapping.map is not None)
            yield Check(field, rule, unreadable_action, _column_is_true(bad_name(field)),
                        _quoting(field, "cannot read ", f" as {what}"))
        if source.cleaning.builtin_outliers:
            for outlier in fdef.outliers:
                yield _outlier_check(field, fdef, outlier, now)
    for spec_rule in source.cleaning.outliers:
        fdef = ent.field(spec_rule.field)
        for outlier in _spec_outliers(spec_rule):
            yield _outlier_check(spec_rule.field, fdef, outlier, now)


def _unreadable(field: str, fdef: FieldDef, transforms: tuple[str, ...],
                mapped: bool) -> tuple[str, str]:
    if fdef.dtype in UNREADABLE:
        return UNREADABLE[fdef.dtype]
    if field == "phone" or "phone" in transforms:
        return "invalid_phone", "a phone number"
    if field == "email" or "email" in transforms:
        return "invalid_email", "an e-mail address"
    if fdef.enum is not None:
        return "unknown_value", f"one of {', '.join(fdef.enum)}"
    return "unknown_value", "a value of the map" if mapped else "text"


def _spec_outliers(spec: OutlierSpec) -> Iterator[OutlierRule]:
    name = spec.rule
    if spec.min is not None:
        yield OutlierRule(name or "below_minimum", "min", spec.min, spec.action)
    if spec.greater_than is not None:
        yield OutlierRule(name or "not_above_minimum", "greater_than", spec.greater_than,
                          spec.action)
    if spec.max is not None:
        yield OutlierRule(name or "above_maximum", "max", spec.max, spec.action)
    if spec.not_before is not None:
        yield OutlierRule(name or "too_early", "not_before", spec.not_before.isoformat(),
                          spec.action)
    if spec.not_future:
        yield OutlierRule(name or "future_timestamp", "not_future", None, spec.action)


def _outlier_check(field: str, fdef: FieldDef, rule: OutlierRule, now: datetime) -> Check:
    action = ACTIONS[rule.action]
    if fdef.required and action == "nulled":
        action = "rejected"
    value = rule.value
    kind = rule.kind
    is_date = fdef.dtype == "date"
    if kind in ("min", "greater_than", "max"):
        bound = float(value)  # type: ignore[arg-type]
        text = f"{bound:g}"
        condition: Callable[[ir.Table], ir.BooleanValue] = {
            "min": lambda t: t[field] < bound,
            "greater_than": lambda t: t[field] <= bound,
            "max": lambda t: t[field] > bound,
        }[kind]
        words = {"min": f" is below {text}", "greater_than": f" is not above {text}",
                 "max": f" is above {text}"}[kind]
    elif kind == "not_before":
        earliest = date.fromisoformat(str(value))
        limit: object = earliest if is_date else datetime.combine(earliest, datetime.min.time())
        condition = lambda t: t[field] < ibis.literal(limit)
        words = f" is before {earliest.isoformat()}"
    elif kind == "not_future":
        latest: object = now.date() if is_date else now + CLOCK_SKEW
        condition = lambda t: t[field] > ibis.literal(latest)
        words = f" is in the future (after {now:%Y-%m-%d %H:%M})"
    else:  # age_between
        low, high = (int(x) for x in str(value).split(","))
        youngest, oldest = _birthday_bounds(now.date(), low, high)
        condition = lambda t: (t[field] > youngest) | (t[field] < oldest)
        words = f" gives an age outside {low}-{high} years"
    return Check(field, rule.rule, action, condition, _quoting(field, f"{field} ", words))


def _birthday_bounds(today: date, low: int, high: int) -> tuple[date, date]:
    def years_ago(n: int) -> date:
        try:
            return today.replace(year=today.year - n)
        except ValueError:  # 29 February
            return today.replace(year=today.year - n, day=28)

    return years_ago(low), years_ago(high + 1) + timedelta(days=1)


def _missing_checks(source: SourceSpec, ent: Entity, fields: list[str]) -> Iterator[Check]:
    for field in fields:
        policy = source.cleaning.missing.get(field)
        fdef = ent.field(field)
        missing = _column_is_null(field)
        if policy == "drop" and not fdef.required:
            yield Check(field, "missing_value", "rejected", missing,
                        _fixed(f"{field} is missing (policy: drop the row)"))
        elif policy == "flag":
            yield Check(field, "missing_value", "flagged", missing,
                        _fixed(f"{field} is missing (policy: flag)"))
        elif policy is not None and not fdef.required:
            yield Check(field, "missing_value", "filled", missing, _filling(field, policy))
        if fdef.required:
            # Missing means no text at all; unreadable text is reported as such, not twice.
            yield Check(field, "missing_required", "rejected", _raw_is_null(field),
                        _fixed(f"required field {field} is missing"))


Condition = Callable[[ir.Table], ir.BooleanValue]


def _column_is_true(column: str) -> Condition:
    return lambda t: t[column]


def _column_is_null(column: str) -> Condition:
    return lambda t: t[column].isnull()


def _raw_is_null(field: str) -> Condition:
    return lambda t: _raw(t, field).isnull()


def _raw(table: ir.Table, field: str) -> ir.Value:
    """The value as read: its own raw column if it was parsed or may be cleared."""
    name = raw_name(field)
    return table[name] if name in table.columns else table[field]


def _fixed(message: str) -> Reason:
    return lambda _t: ibis.literal(message)


def _quoting(field: str, before: str, after: str) -> Reason:
    return lambda t: _quote(_raw(t, field), before, after)


def _filling(field: str, policy: object) -> Reason:
    return lambda t: _fill_reason(t, field, policy)


def _fill_value(table: ir.Table, field: str, policy: object) -> ir.Value:
    if isinstance(policy, FillValue):
        return ibis.literal(policy.fill).cast(table[field].type())
    if policy == "median":
        return table[field].median()
    return _mode(table, field)


def _mode(table: ir.Table, field: str) -> ir.Scalar:
    """The most frequent value; of equally frequent ones the smallest, so runs and engines
    agree (DuckDB's ``mode`` picks any of them, and Spark has none in Ibis)."""
    present = table.filter(table[field].notnull())
    counts = present.group_by(field).aggregate(__copies=ibis._.count())
    return counts.order_by([ibis.desc("__copies"), field]).limit(1)[field].as_scalar()


def _fill_reason(table: ir.Table, field: str, policy: object) -> ir.StringValue:
    how = "a given value" if isinstance(policy, FillValue) else f"the {policy}"
    return (ibis.literal(f"{field} was missing; filled with {how}: ")
            + _fill_value(table, field, policy).cast("string").fill_null("(none)"))


def _fill(table: ir.Table, source: SourceSpec) -> ir.Table:
    fills = {f: p for f, p in source.cleaning.missing.items()
             if p not in ("drop", "flag") and f in table.columns}
    if not fills:
        return table
    return table.mutate(**{f: table[f].fill_null(_fill_value(table, f, p))
                           for f, p in fills.items()})


def _quote(raw: ir.Value, before: str, after: str) -> ir.StringValue:
    text = raw.cast("string").fill_null("")
    return ibis.literal(before) + "'" + text + "'" + ibis.literal(after)


def _findings(table: ir.Table, index: int, check: Check, source: SourceSpec) -> ir.Table:
    field = check.field
    column = source.columns[field].column if field else None
    value = _raw(table, field) if field else ibis.null("string")
    hits = table.filter(table[_check_column(index)])
    return hits.select(
        file=hits[FILE], row=hits[ROW],
        field=ibis.literal(field, "string"), column=ibis.literal(column, "string"),
        value=value.cast("string") if field else ibis.null("string"),
        rule=ibis.literal(check.rule), action=ibis.literal(check.action),
        reason=check.reason(hits),
    )


def _repeated_keys(table: ir.Table, keys: list[str]) -> ir.Table:
    # Incomplete keys are dropped after grouping, in one condition with the count: a
    # filter on the key alone is pushed below the mapping into the scan, which then
    # maps the key twice (2 of 8 s on 20M events).
    counted = table.group_by(keys).aggregate(__copies=ibis._.count())
    complete = reduce(lambda a, b: a & b, [counted[k].notnull() for k in keys])
    return counted.filter(ibis.ifelse(counted.__copies > 1, complete, False)).drop("__copies")


def _duplicates(table: ir.Table, stage: DedupeStage, repeated: ir.Table) -> ir.Table:
    """The rows of ``table`` that repeat a complete key of another row, as findings.

    ``repeated`` holds the keys seen more than once (a hash aggregate), so the ordered
    window that picks the row to keep runs over those few rows only.
    """
    keys = list(stage.keys)
    needed = dict.fromkeys([*keys, *stage.order])
    suspects = table.select(FILE, ROW, *needed).semi_join(repeated, keys)
    sort = [*(suspects[o] for o in stage.order), suspects[FILE], suspects[ROW]]
    if stage.keep == "last":
        sort = [s.desc() for s in sort]
    window = ibis.window(group_by=[suspects[k] for k in keys], order_by=sort)
    ranked = suspects.mutate(
        __rank=ibis.row_number().over(window),  # Ibis numbers rows from 0: rank 0 is kept
        __kept_row=suspects[ROW].first().over(window),
        __kept_file=suspects[FILE].first().over(window),
    )
    dupes = ranked.filter(ranked.__rank > 0)
    key_text = ", ".join(keys)
    return dupes.select(
        file=dupes[FILE], row=dupes[ROW], field=ibis.literal(key_text),
        column=ibis.null("string"),
        value=_key_value(dupes, keys), rule=ibis.literal(stage.rule),
        action=ibis.literal("rejected"),
        reason=(ibis.literal(f"duplicate ({key_text}) of row ")
                + dupes.__kept_row.cast("string") + " in " + dupes.__kept_file),
    )


def _row_ids(findings: ir.Table) -> ir.Table:
    """The (file, row) of findings, named as in the mapped rows."""
    return findings.select(**{FILE: findings.file, ROW: findings.row})


def _one_key(table: ir.Table, keys: list[str]) -> ir.Value:
    """The key as one value: the column itself, or the parts as text with a separator
    no key holds (NULL if a part is)."""
    if len(keys) == 1:
        return table[keys[0]]
    parts = [table[k].cast("string") for k in keys]
    return reduce(lambda a, b: a + "\x1f" + b, parts)


def _key_value(table: ir.Table, keys: list[str]) -> ir.StringValue:
    parts = [table[k].cast("string").fill_null("") for k in keys]
    return reduce(lambda a, b: a + " | " + b, parts)


def _union(tables: list[ir.Table]) -> ir.Table:
    return reduce(lambda a, b: a.union(b), tables)
