"""Segments: read and check the definitions, then select, count and compare members.

Members are computed from the stored ``profiles`` and ``tags`` plus any event
aggregates a segment reads, so a count is one query; what the tags say is as of the
last ``portraits tags run``, event conditions are as of the moment of the count.
Saved member lists (static audiences such as a cluster) live in ``segment_lists``
(``list``, ``customer_id``, ``saved_at``); a ``list`` node reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel

from portraits.engine.base import Engine
from portraits.errors import Problem, SpecError, did_you_mean
from portraits.profile.schema import CUSTOMER_ID
from portraits.segments.spec import Condition, Did, SegmentFile, SegmentSpec, list_field
from portraits.tags import expr
from portraits.tags.catalog import item_line, read_yaml_file
from portraits.tags.spec import Names

_MODELS: Final[dict[str, type[BaseModel]]] = {
    "": SegmentSpec, "segments": SegmentSpec, "where": Condition, "all": Condition,
    "any": Condition, "not": Condition, "did": Did, "name": Names}
LISTS: Final = "segment_lists"


@dataclass(frozen=True)
class Segment:
    """A checked segment: its spec, where it is defined and its parsed condition."""

    spec: SegmentSpec
    condition: expr.Node
    file: str | None = None
    line: int | None = None

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class Overlap:
    """Two segments compared."""

    left: str
    right: str
    left_size: int
    right_size: int
    both: int

    @property
    def jaccard(self) -> float:
        """Members of both / members of either (0 when both are empty)."""
        either = self.left_size + self.right_size - self.both
        return self.both / either if either else 0.0


def segment_files(folder: Path) -> list[tuple[str, str]]:
    """(path, text) of ``segments/*.yaml`` and ``*.yml``, by name."""
    if not folder.is_dir():
        return []
    return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.iterdir())
            if p.suffix in (".yaml", ".yml")]


def check_segment(spec: SegmentSpec, fields: Mapping[str, expr.Kind], file: str | None = None,
                  line: int | None = None,
                  values: Mapping[str, Sequence[str]] | None = None) -> Segment:
    """``spec`` with its condition parsed and checked against the fields (and the values of
    enumerated fields and label tags); :class:`SpecError` if it is wrong."""
    fields = {**fields, **{list_field(name): "boolean" for name in spec.lists()}}
    try:
        node = expr.parse(spec.condition_text())
        kind = expr.check(node, fields, values)
    except expr.ExprError as exc:
        column = f" at column {exc.column} of '{spec.condition_text()}'" if exc.column else ""
        raise SpecError([Problem(exc.message + column, file, line, f"{spec.id}.where",
                                 exc.hint)]) from None
    if kind not in ("boolean", "null"):
        raise SpecError([Problem(f"'where' must be a condition, not {kind}", file, line,
                                 f"{spec.id}.where")])
    return Segment(spec, node, file, line)


def load_segments(files: Sequence[tuple[str, str]], fields: Mapping[str, expr.Kind],
                  values: Mapping[str, Sequence[str]] | None = None) -> dict[str, Segment]:
    """Every segment of ``files``, checked; every problem of every file at once."""
    problems: list[Problem] = []
    found: dict[str, Segment] = {}
    for path, text in files:
        parsed = read_yaml_file(path, text, problems, SegmentFile, "segments", _MODELS)
        if parsed is None:
            continue
        segment_file, data = parsed
        for i, spec in enumerate(segment_file.segments):
            line = item_line(data, "segments", i)
            if spec.id in found:
                problems.append(Problem(f"segment '{spec.id}' is defined twice", path, line,
                                        "id", f"first in {found[spec.id].file}"))
                continue
            try:
                found[spec.id] = check_segment(spec, fields, path, line, values)
            except SpecError as exc:
                problems += exc.problems
    if problems:
        raise SpecError(problems)
    return found


def pick(segments: Mapping[str, Segment], segment_id: str) -> Segment:
    """The segment ``segment_id``, or :class:`SpecError` with a did-you-mean hint."""
    if segment_id not in segments:
        hint = did_you_mean(segment_id, segments) or (
            f"defined: {', '.join(sorted(segments))}" if segments else
            "define segments in the workspace's segments/ folder")
        raise SpecError([Problem(f"no segment '{segment_id}'", hint=hint)])
    return segments[segment_id]


def members(base: ir.Table, segment: Segment, as_of: datetime) -> ir.Table:
    """The ``customer_id`` of everyone in ``segment``; ``base`` holds every field it reads."""
    held = expr.compile_to_ibis(segment.condition, base, as_of).fill_null(False)  # type: ignore[attr-defined]
    return base.filter(held).select(CUSTOMER_ID)


def size_rows(segment_id: str, size: int, counted_at: datetime) -> pa.Table:
    """One row of ``segment_history``."""
    return pa.table({"counted_at": pa.array([counted_at], pa.timestamp("us")),
                     "segment": pa.array([segment_id], pa.string()),
                     "customers": pa.array([size], pa.int64())})


def list_rows(name: str, members: ir.Table, saved_at: datetime) -> ir.Table:
    """The rows of ``segment_lists`` for the saved list ``name``: each member once."""
    people = members.select(CUSTOMER_ID).distinct()
    people = people.filter(people[CUSTOMER_ID].notnull())
    return people.select(list=ibis.literal(name, "string"),
                         customer_id=people[CUSTOMER_ID].cast("string"),
                         saved_at=ibis.literal(saved_at, "timestamp"))


def save_list(engine: Engine, name: str, members: ir.Table | pa.Table,
              saved_at: datetime) -> int:
    """Store ``members`` (a table of ``customer_id``) as the list ``name`` in
    ``segment_lists``, replacing an earlier list of that name; returns its size."""
    given = engine.materialize(members.select([CUSTOMER_ID])) if isinstance(
        members, pa.Table) else None
    new = engine.materialize(list_rows(name, given if given is not None else members,
                                       saved_at))  # type: ignore[arg-type]
    try:
        rows = new
        if engine.has_table(LISTS):
            kept = engine.table(LISTS)
            rows = kept.filter(kept.list != name).select("list", CUSTOMER_ID,
                                                         "saved_at").union(new)
        engine.write(LISTS, rows)
        return engine.count(new)
    finally:
        engine.drop_temporary(new)
        if given is not None:
            engine.drop_temporary(given)


def list_columns(lists: ir.Table, names: Iterable[str]) -> ir.Table:
    """One row per customer in any of the lists ``names``: a true/false column per list
    (:func:`list_field`), to attach to a segment's base."""
    chosen = sorted(set(names))
    mine = lists.filter(lists.list.isin(chosen))
    return mine.group_by(CUSTOMER_ID).aggregate(
        **{list_field(n): (mine.list == n).any() for n in chosen})
