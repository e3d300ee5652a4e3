"""The review list of borderline matches, and the decisions reviewers feed back.

Pairs the model is unsure of (between ``review_above`` and ``threshold``) are exported as
a CSV that opens in Excel (UTF-8 with BOM), one pair per line with the compared values
side by side and an empty ``decision`` column. A reviewer writes ``match`` or
``no_match`` (also 是/否, 同一人/不同人, yes/no, y/n); ``portraits identity review --apply``
checks the file and keeps the decisions in the workspace (``identity/match_decisions.csv``,
versioned with the rest), where they override the model on every later run.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from portraits.errors import PortraitsError, Problem, SpecError

DECISIONS_FILE = Path("identity") / "match_decisions.csv"
REVIEW_FIELDS = ("name", "phone", "email", "birthday", "gender", "city", "address")
DECISION_SCHEMA = pa.schema([("left_id", pa.string()), ("right_id", pa.string()),
                             ("decision", pa.string())])
_SPELLINGS = {
    "match": "match", "no_match": "no_match", "yes": "match", "no": "no_match",
    "y": "match", "n": "no_match", "same": "match", "different": "no_match",
    "是": "match", "否": "no_match", "同一人": "match", "不同人": "no_match",
    "匹配": "match", "不匹配": "no_match",
}


def review_rows(pairs: pa.Table, records: pa.Table) -> list[dict[str, object]]:
    """Pairs to review with both records' compared values, most probable first.

    Args:
        pairs: Pairs with ``left_id``, ``right_id``, ``match_probability``,
            ``match_weight`` and ``decision`` (see :func:`matching.decide`).
        records: :func:`matching.match_records` as Arrow.
    """
    by_id = {r["unique_id"]: r for r in records.to_pylist()}
    rows = []
    for pair in pairs.to_pylist():
        if pair["decision"] != "review":
            continue
        left, right = by_id.get(pair["left_id"], {}), by_id.get(pair["right_id"], {})
        row: dict[str, object] = {
            "left_id": pair["left_id"], "right_id": pair["right_id"],
            "match_probability": round(float(pair["match_probability"]), 4),
            "match_weight": round(float(pair["match_weight"]), 2),
        }
        for name in REVIEW_FIELDS:
            row[f"left_{name}"] = left.get(name)
            row[f"right_{name}"] = right.get(name)
        row["decision"] = ""
        rows.append(row)
    return sorted(rows, key=lambda r: -float(r["match_probability"]))  # type: ignore[arg-type]


def write_review(rows: list[dict[str, object]], path: Path) -> None:
    """Write the review list as CSV for Excel (UTF-8 with BOM)."""
    columns = ["left_id", "right_id", "match_probability", "match_weight",
               *(f"{side}_{name}" for name in REVIEW_FIELDS for side in ("left", "right")),
               "decision"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def read_decisions(path: Path) -> pa.Table:
    """The decisions a reviewer wrote; rows left blank are skipped.

    Raises:
        SpecError: Every bad row at once (unknown decision, missing id, the same pair
            decided both ways), each with the file and line.
    """
    if not path.exists():
        raise PortraitsError(f"{path}: no such file")
    problems: list[Problem] = []
    decided: dict[frozenset[str], tuple[str, str, str, int]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"left_id", "right_id", "decision"} - set(reader.fieldnames or [])
        if missing:
            raise PortraitsError(f"{path}: columns {', '.join(sorted(missing))} are missing "
                                 "(export a review list with `portraits identity review`)")
        for line, row in enumerate(reader, start=2):
            text = (row.get("decision") or "").strip().lower()
            if not text:
                continue
            left, right = (row.get("left_id") or "").strip(), (row.get("right_id") or "").strip()
            decision = _SPELLINGS.get(text)
            if decision is None:
                problems.append(Problem(f"'{row.get('decision')}' is not a decision",
                                        str(path), line, "decision",
                                        "write match or no_match (是/否)"))
            elif not left or not right:
                problems.append(Problem("left_id and right_id are both needed", str(path),
                                        line, "left_id" if not left else "right_id"))
            else:
                key = frozenset((left, right))
                earlier = decided.get(key)
                if earlier is not None and earlier[2] != decision:
                    problems.append(Problem(f"this pair was decided '{earlier[2]}' on line "
                                            f"{earlier[3]}", str(path), line, "decision"))
                decided[key] = (left, right, decision, line)
    if problems:
        raise SpecError(problems)
    return pa.Table.from_pylist(
        [{"left_id": a, "right_id": b, "decision": d} for a, b, d, _ in decided.values()],
        schema=DECISION_SCHEMA)


def keep_decisions(new: pa.Table, root: Path) -> pa.Table:
    """Merge ``new`` decisions into the workspace's file (a new decision on a pair wins)."""
    path = root / DECISIONS_FILE
    old = read_decisions(path) if path.exists() else DECISION_SCHEMA.empty_table()
    merged: dict[frozenset[str], dict[str, str]] = {}
    for row in [*old.to_pylist(), *new.to_pylist()]:
        merged[frozenset((row["left_id"], row["right_id"]))] = row
    table = pa.Table.from_pylist(list(merged.values()), schema=DECISION_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, list(DECISION_SCHEMA.names))
        writer.writeheader()
        writer.writerows(table.to_pylist())
    return table


def workspace_decisions(root: Path) -> pa.Table | None:
    """The decisions kept in the workspace, or None if there are none."""
    path = root / DECISIONS_FILE
    return read_decisions(path) if path.exists() else None
