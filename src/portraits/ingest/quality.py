"""The quality report of one load: counts, rules that fired, completeness, integration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portraits.model.canonical import Entity

LOADS_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("source", pa.string()), ("entity", pa.string()),
    ("files", pa.string()), ("fingerprint", pa.string()), ("status", pa.string()),
    ("message", pa.string()), ("started_at", pa.timestamp("us")), ("seconds", pa.float64()),
    ("rows_read", pa.int64()), ("accepted", pa.int64()), ("rejected", pa.int64()),
    ("duplicates", pa.int64()), ("nulled", pa.int64()), ("filled", pa.int64()),
    ("flagged", pa.int64()), ("new", pa.int64()), ("changed", pa.int64()),
    ("unchanged", pa.int64()), ("pass_rate", pa.float64()),
    ("integration_rate", pa.float64()),
])
RULES_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("rule", pa.string()), ("field", pa.string()),
    ("action", pa.string()), ("rows", pa.int64()),
])
FIELDS_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("field", pa.string()), ("filled_rows", pa.int64()),
    ("completeness", pa.float64()),
])


@dataclass(frozen=True)
class RuleCount:
    """How many rows one rule hit on one field, and what was done."""

    rule: str
    field: str | None
    action: str
    rows: int


@dataclass
class LoadReport:
    """Everything a person needs to trust (or fix) one load."""

    load_id: str
    source: str
    entity: str
    files: list[str]
    started_at: datetime
    status: str = "ok"
    message: str = ""
    seconds: float = 0.0
    fingerprint: str = ""
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    nulled: int = 0
    filled: int = 0
    flagged: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    integration_rate: float | None = None
    touched_accepted: int = 0
    rules: list[RuleCount] = field(default_factory=list)
    completeness: dict[str, float] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float | None:
        """Share of rows read that were loaded without any finding."""
        if not self.rows_read:
            return None
        touched = self.rejected + self.touched_accepted
        return max(0.0, (self.rows_read - touched) / self.rows_read)

    def loads_row(self) -> dict[str, object]:
        """This report as a row of the ``loads`` table."""
        row = {name: getattr(self, name, None) for name in LOADS_SCHEMA.names}
        row["files"] = "\n".join(self.files)
        row["pass_rate"] = self.pass_rate
        return row


def rule_counts(findings: ir.Table) -> ir.Table:
    """Distinct rows per (rule, field, action)."""
    return (findings.group_by(["rule", "field", "action"])
            .aggregate(rows=(findings.file + ":" + findings.row.cast("string")).nunique())
            .order_by([ibis.desc("rows"), "rule", "field", "action"]))


def touched_rows(findings: ir.Table, action: str | None = None) -> ir.IntegerScalar:
    """Distinct rows with a finding (of ``action``, if given)."""
    hits = findings if action is None else findings.filter(findings.action == action)
    return (hits.file + ":" + hits.row.cast("string")).nunique()


def completeness(accepted: ir.Table, fields: list[str], ent: Entity) -> ir.Table:
    """One row: total rows, non-null count per field, rows with at least one identifier."""
    ids = [f.name for f in ent.identifier_fields if f.name in accepted.columns]
    measures: dict[str, ir.Scalar] = {"__rows": accepted.count()}
    for f in fields:
        measures[f] = accepted[f].count()
    if ids:
        any_id = ibis.literal(False)
        for name in ids:
            any_id = any_id | accepted[name].notnull()
        measures["__with_identifier"] = any_id.sum()
    return accepted.aggregate(**measures)
