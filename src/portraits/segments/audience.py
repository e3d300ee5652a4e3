"""Segments: read and check the definitions, then select, count and compare members.

Members are computed from the stored ``profiles`` and ``tags`` plus any event
aggregates a segment reads, so a count is one query; what the tags say is as of the
last ``portraits tags run``, event conditions are as of the moment of the count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel

from portraits.errors import Problem, SpecError, did_you_mean
from portraits.profile.schema import CUSTOMER_ID
from portraits.segments.spec import Condition, Did, SegmentFile, SegmentSpec
from portraits.tags import expr
from portraits.tags.catalog import item_line, read_yaml_file
from portraits.tags.spec import Names

_MODELS: Final[dict[str, type[BaseModel]]] = {
    "": SegmentSpec, "segments": SegmentSpec, "where": Condition, "all": Condition,
    "any": Condition, "not": Condition, "did": Did, "name": Names}


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
