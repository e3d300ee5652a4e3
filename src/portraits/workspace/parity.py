"""Compare every table two workspaces wrote, e.g. the same pipeline on DuckDB and on Spark.

Both engines write the same Parquet lake layout, so the lakes are read directly. Each table
is sorted by all its columns and compared: row counts, column names and every non-float
value exactly; floats to a relative 1e-6 (engines sum in different orders). Left out:
columns that name a run (load and run ids, file fingerprints, timings), which differ by
design, and Splink's ``match_weight`` and ``match_probability``. The model is trained once,
in an in-process DuckDB, so its parameters are the same on both engines; but the engine
that scores compares Chinese text with its own edit distance and Jaro-Winkler, which
DuckDB counts in UTF-8 bytes and Spark in characters, so a pair can land on another
comparison level and get another weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

LAKE: Final = Path(".portraits") / "lake"
RUN_COLUMNS: Final = frozenset({"_load_id", "load_id", "run_id", "fingerprint", "seconds",
                                "started_at", "finished_at", "saved_at"})
ENGINE_DEPENDENT: Final = {"match_pairs": frozenset({"match_weight", "match_probability"})}
RTOL: Final = 1e-6


@dataclass(frozen=True)
class TableVerdict:
    """How one table compares: ``differ`` lists the columns whose values differ."""

    table: str
    rows: int
    same: bool
    problem: str = ""
    differ: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.same:
            return f"{self.table}: {self.rows:,} rows, same"
        detail = self.problem or "differ in " + ", ".join(self.differ)
        return f"{self.table}: {detail}"


def lake_frame(folder: Path, table: str = "") -> pd.DataFrame:
    """A lake table without its run columns, sorted by every column."""
    frame = pq.read_table(folder).to_pandas()
    dropped = RUN_COLUMNS | ENGINE_DEPENDENT.get(table, frozenset())
    kept = [c for c in frame.columns if c not in dropped]
    frame = frame[kept]
    try:
        ordered: pd.DataFrame = frame.sort_values(kept, kind="stable", na_position="last")
    except TypeError:  # lists or mixed types: sort by their text
        ordered = frame.loc[frame.astype(str).sort_values(kept, kind="stable").index]
    return ordered.reset_index(drop=True)


def differing_columns(left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """Columns whose values differ (floats beyond a relative ``RTOL``)."""
    bad = []
    for column in left.columns:
        a, b = left[column], right[column]
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            same = np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=RTOL, atol=1e-9,
                               equal_nan=True)
        else:
            same = a.astype(str).equals(b.astype(str))
        if not same:
            bad.append(column)
    return bad


def compare_workspaces(left: Path, right: Path) -> list[TableVerdict]:
    """A verdict for every table of either workspace's lake."""
    lakes = [root / LAKE for root in (left, right)]
    names = sorted({p.name for lake in lakes if lake.exists() for p in lake.iterdir()
                    if p.is_dir() and not p.name.startswith(".")})
    verdicts = []
    for name in names:
        a, b = (lake / name for lake in lakes)
        if not (a.exists() and b.exists()):
            verdicts.append(TableVerdict(name, 0, False,
                                         f"only in {left if a.exists() else right}"))
            continue
        fa, fb = lake_frame(a, name), lake_frame(b, name)
        if len(fa) != len(fb) or list(fa.columns) != list(fb.columns):
            verdicts.append(TableVerdict(name, len(fa), False,
                                         f"shape {fa.shape} vs {fb.shape}"))
            continue
        bad = differing_columns(fa, fb)
        verdicts.append(TableVerdict(name, len(fa), not bad, differ=tuple(bad)))
    return verdicts
