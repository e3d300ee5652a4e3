"""The load runner: files → mapped → cleaned → merged, with rejects and a quality report.

This is the effectful edge of ingest: it finds files, reads them, asks the engine to
compute the pure expressions from ``mapping``, ``cleaning`` and ``merge``, and stores the
results. Tables written: the entity's table, ``rejects``, ``loads``, ``quality_rules``
and ``quality_fields``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portraits.engine.base import FILE, ROW, Engine
from portraits.errors import PortraitsError
from portraits.ingest.cleaning import Cleaning, clean
from portraits.ingest.enrich import enrich
from portraits.ingest.mapping import (
    MappingContext,
    check_columns,
    map_source,
    phone_fields,
    phone_raw_text,
    tz_offset_minutes,
)
from portraits.ingest.merge import canonical_rows, count_new, new_or_changed, upserted
from portraits.ingest.phones import phone_lookup
from portraits.ingest.quality import (
    FIELDS_SCHEMA,
    LOADS_SCHEMA,
    RULES_SCHEMA,
    LoadReport,
    RuleCount,
    completeness,
    rule_counts,
    touched_rows,
)
from portraits.ingest.readers import RowProblem, TextRows, read_text_file, source_format
from portraits.model.canonical import Entity, entity
from portraits.workspace.spec import SourceSpec, WorkspaceSpec

REJECTS_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("source", pa.string()), ("file", pa.string()),
    ("row", pa.int64()), ("field", pa.string()), ("column", pa.string()),
    ("value", pa.string()), ("rule", pa.string()), ("action", pa.string()),
    ("reason", pa.string()), ("recorded_at", pa.timestamp("us")),
])
Progress = Callable[[str], None]


def source_files(root: Path, source: SourceSpec) -> list[Path]:
    """Files the source's ``path`` (a glob, relative to the workspace) matches, sorted."""
    pattern = Path(source.path)
    matches = (sorted(Path(pattern.anchor).glob(str(pattern.relative_to(pattern.anchor))))
               if pattern.is_absolute() else sorted(root.glob(source.path)))
    files = [p for p in matches if p.is_file()]
    if not files:
        raise PortraitsError(f"source '{source.name}': no file matches '{source.path}' "
                             f"in {root}")
    return files


def fingerprint(files: list[Path]) -> str:
    """SHA-256 over the files' contents: the same bytes give the same fingerprint."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


class Loader:
    """Loads sources of one workspace into one engine."""

    def __init__(self, spec: WorkspaceSpec, root: Path, engine: Engine, now: datetime,
                 progress: Progress | None = None) -> None:
        self.spec, self.root, self.engine, self.now = spec, root, engine, now
        self.progress = progress or (lambda _msg: None)

    def load(self, source: SourceSpec, force: bool = False) -> LoadReport:
        """Load every file of ``source``; a user mistake raises :class:`PortraitsError`."""
        started = time.perf_counter()
        files = source_files(self.root, source)
        report = LoadReport(
            load_id=f"{self.now:%Y%m%dT%H%M%S}-{source.name}-{uuid.uuid4().hex[:6]}",
            source=source.name, entity=source.entity,
            files=[self._display(p) for p in files], started_at=self.now)
        report.fingerprint = fingerprint(files)
        previous = self._previous_load(source, report.fingerprint)
        if previous and not force:
            report.status, report.message = "skipped", f"same files as load {previous}"
            report.seconds = time.perf_counter() - started
            self._record(report)
            return report
        try:
            self._run(source, files, report)
        except PortraitsError as exc:
            report.status, report.message = "failed", str(exc)
            report.seconds = time.perf_counter() - started
            self._record(report)
            raise
        report.seconds = time.perf_counter() - started
        self._record(report)
        return report

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def _run(self, source: SourceSpec, files: list[Path], report: LoadReport) -> None:
        ent = entity(source.entity)
        self.progress(f"reading {len(files)} file(s) of {source.name}")
        raw, problems = self._read(source, files)
        check_columns(source, raw.columns, ", ".join(report.files))
        ctx = MappingContext(tz_offset_minutes(self.spec.timezone),
                             self._phones(raw, source, ent), str(self.root) + "/")
        self.progress(f"mapping and cleaning {source.name}")
        cleaning = clean(map_source(raw, source, ent, ctx), source, ent, self.now)
        # Parquet sources: the mapped rows are not materialised on DuckDB, they are as large
        # as the input (9 GB of memory for 20M events); the passes below read only the
        # columns they need, and the accepted rows are computed once, straight into the
        # lake's scratch folder. Text sources are in memory already, and their parsing
        # (dates by regular expression) is what costs: it is done once, here.
        in_memory = source_format(source, files[0]) != "parquet"
        marked = (self.engine.materialize(cleaning.marked) if in_memory
                  else self.engine.reusable(cleaning.marked))
        try:
            self._finish(source, ent, cleaning, marked, problems, report)
        finally:
            if in_memory:
                self.engine.drop_temporary(marked)
            else:
                self.engine.release(marked)

    def _finish(self, source: SourceSpec, ent: Entity, cleaning: Cleaning, marked: ir.Table,
                problems: list[RowProblem], report: LoadReport) -> None:
        repeated = [self.engine.materialize(keys) for keys in cleaning.repeated(marked)]
        # One pass over the input for the (few) rows duplicates and findings come from.
        noted = self.engine.materialize(
            cleaning.noted(marked, repeated).select(*cleaning.noted_columns(marked)))
        duplicates = self.engine.materialize(cleaning.duplicates(noted, repeated))
        rejected = self.engine.materialize(cleaning.rejected(noted, duplicates))
        kept = cleaning.accepted(marked, rejected if self.engine.count(rejected) else None)
        findings = self.engine.materialize(cleaning.findings(cleaning.flagged(noted))
                                           .union(duplicates)
                                           .union(self._problem_table(problems)))
        self.progress(f"writing the accepted rows of {source.name}")
        accepted = enrich(kept, ent)
        staged = self.engine.stage(canonical_rows(accepted, ent, self._lineage(accepted, report)))
        try:
            self.progress(f"measuring the quality of {source.name}")
            self._measure(report, marked, staged.select(*cleaning.fields), findings,
                          list(cleaning.fields), ent)
            self.progress(f"merging {report.accepted:,} rows into {ent.name}")
            self._merge(staged, ent, report)
        except BaseException:
            self.engine.discard(staged)
            raise
        self._store_rejects(findings, report)
        for temporary in [*repeated, noted, duplicates, rejected, findings]:
            self.engine.drop_temporary(temporary)

    def _read(self, source: SourceSpec, files: list[Path]) -> tuple[ir.Table, list[RowProblem]]:
        formats = {source_format(source, p) for p in files}
        if len(formats) > 1:
            raise PortraitsError(f"source '{source.name}' matches files of several formats "
                                 f"({', '.join(sorted(formats))}); give each its own source")
        fmt = formats.pop()
        if fmt == "parquet":
            return self.engine.read_parquet(files), []
        parts: list[TextRows] = [read_text_file(p, source, fmt) for p in files]
        table = pa.concat_tables([p.table for p in parts], promote_options="permissive")
        return self.engine.materialize(table), [x for p in parts for x in p.problems]

    def _phones(self, raw: ir.Table, source: SourceSpec, ent: Entity) -> ir.Table | None:
        fields = phone_fields(source, ent)
        if not fields:
            return None
        texts = [raw.select(v=phone_raw_text(raw, source, f)) for f in fields]
        union = texts[0]
        for t in texts[1:]:
            union = union.union(t)
        distinct = self.engine.to_arrow(union.filter(union.v.notnull()).distinct())
        region = source.phone_region or self.spec.phone_region
        return self.engine.materialize(phone_lookup(distinct.column("v").to_pylist(), region))

    def _problem_table(self, problems: list[RowProblem]) -> ir.Table:
        table = pa.table({
            "file": pa.array([p.file for p in problems], pa.string()),
            "row": pa.array([p.row for p in problems], pa.int64()),
            "field": pa.array([None] * len(problems), pa.string()),
            "column": pa.array([None] * len(problems), pa.string()),
            "value": pa.array([p.text for p in problems], pa.string()),
            "rule": pa.array([p.rule for p in problems], pa.string()),
            "action": pa.array(["rejected"] * len(problems), pa.string()),
            "reason": pa.array([p.reason for p in problems], pa.string()),
        })
        return self.engine.materialize(table)

    def _measure(self, report: LoadReport, marked: ir.Table, accepted: ir.Table,
                 findings: ir.Table, fields: list[str], ent: Entity) -> None:
        con = self.engine.con
        counts = con.to_pyarrow(completeness(accepted, fields, ent)).to_pylist()[0]
        rows = int(counts.pop("__rows"))
        with_id = counts.pop("__with_identifier", None)
        report.accepted = rows
        report.completeness = {f: (int(counts[f]) / rows if rows else 0.0) for f in fields}
        report.integration_rate = (int(with_id) / rows if rows and with_id is not None
                                   else None)
        rules = con.to_pyarrow(rule_counts(findings)).to_pylist()
        report.rules = [RuleCount(r["rule"], r["field"], r["action"], int(r["rows"]))
                        for r in rules]
        by_action: dict[str, int] = {}
        for r in report.rules:
            by_action[r.action] = by_action.get(r.action, 0) + r.rows
        report.rejected = int(con.execute(touched_rows(findings, "rejected")))
        report.duplicates = sum(r.rows for r in report.rules if r.rule.startswith("duplicate"))
        report.nulled = by_action.get("nulled", 0)
        report.filled = by_action.get("filled", 0)
        report.flagged = by_action.get("flagged", 0)
        report.rows_read = int(con.execute(marked.count())) + sum(
            r.rows for r in report.rules if r.rule in ("wrong_field_count", "malformed_json"))
        touched = touched_rows(findings.filter(findings.action != "rejected"))
        report.touched_accepted = int(con.execute(touched))

    @staticmethod
    def _lineage(accepted: ir.Table, report: LoadReport) -> dict[str, ir.Value]:
        return {"_source": ibis.literal(report.source), "_load_id": ibis.literal(report.load_id),
                "_file": accepted[FILE], "_row": accepted[ROW],
                "_loaded_at": ibis.literal(report.started_at)}

    def _merge(self, staged: ir.Table, ent: Entity, report: LoadReport) -> None:
        """Merge the staged canonical rows into the entity's table; the stage is used up.

        A first load, and an append whose rows are all new, adopt the staged files as they
        are: the data is written once.
        """
        engine = self.engine
        existing = engine.table(ent.name) if engine.has_table(ent.name) else None
        if existing is None:
            engine.commit(ent.name, staged)
            report.new = report.accepted
        elif ent.mode == "append":
            # Append-only: skip stored message ids.
            fresh = new_or_changed(staged, existing, ent)
            report.new = engine.count(fresh)
            if report.new == report.accepted:
                engine.commit(ent.name, staged, "append")
            else:
                if report.new:
                    engine.write(ent.name, fresh, "append")
                engine.discard(staged)
        else:
            changed = engine.materialize(new_or_changed(staged, existing, ent))
            report.new = int(engine.con.execute(count_new(changed, existing, ent)))
            report.changed = engine.count(changed) - report.new
            if report.new or report.changed:
                engine.write(ent.name, upserted(existing, changed, ent))
            engine.drop_temporary(changed)
            engine.discard(staged)
        report.unchanged = report.accepted - report.new - report.changed

    def _store_rejects(self, findings: ir.Table, report: LoadReport) -> None:
        rows = findings.select(
            load_id=ibis.literal(report.load_id), source=ibis.literal(report.source),
            file=findings.file, row=findings.row, field=findings.field,
            column=findings.column, value=findings.value, rule=findings.rule,
            action=findings.action, reason=findings.reason,
            recorded_at=ibis.literal(report.started_at, "timestamp"))
        self.engine.write("rejects", rows, "append")

    def _previous_load(self, source: SourceSpec, digest: str) -> str | None:
        if not self.engine.has_table("loads"):
            return None
        loads = self.engine.table("loads")
        hit = loads.filter((loads.source == source.name) & (loads.fingerprint == digest)
                           & (loads.status == "ok")).select("load_id").limit(1)
        rows = self.engine.to_arrow(hit).column("load_id").to_pylist()
        return str(rows[0]) if rows else None

    def _record(self, report: LoadReport) -> None:
        eng = self.engine
        loads = pa.Table.from_pylist([report.loads_row()], schema=LOADS_SCHEMA)
        eng.write("loads", eng.materialize(loads), "append")
        rules = pa.Table.from_pylist(
            [{"load_id": report.load_id, "rule": r.rule, "field": r.field, "action": r.action,
              "rows": r.rows} for r in report.rules], schema=RULES_SCHEMA)
        eng.write("quality_rules", eng.materialize(rules), "append")
        fields = pa.Table.from_pylist(
            [{"load_id": report.load_id, "field": f, "completeness": c,
              "filled_rows": round(c * report.accepted)}
             for f, c in report.completeness.items()], schema=FIELDS_SCHEMA)
        eng.write("quality_fields", eng.materialize(fields), "append")

