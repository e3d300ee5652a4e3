"""Compare every table of two workspaces, e.g. the demo run on DuckDB and on Spark.

    PORTRAITS_NOW=2026-11-01T12:00:00 uv run portraits demo /tmp/duck --customers 10000
    PORTRAITS_ENGINE=spark PORTRAITS_NOW=2026-11-01T12:00:00 \\
        uv run portraits demo /tmp/spark --customers 10000
    uv run python bench/parity.py /tmp/duck /tmp/spark

Reads the Parquet lakes directly (both engines write the same layout), sorts each table by
all its columns and compares: row counts and every non-float value exactly, floats to a
relative 1e-6. Columns that name a run (load and run ids, file fingerprints, timings)
differ by design and are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

RUN_COLUMNS: Final = {"_load_id", "load_id", "run_id", "fingerprint", "seconds",
                      "started_at", "finished_at", "saved_at"}


def _frame(folder: Path) -> pd.DataFrame:
    frame = pq.read_table(folder).to_pandas()
    kept = [c for c in frame.columns if c not in RUN_COLUMNS]
    frame = frame[kept]
    try:
        return frame.sort_values(kept, kind="stable", na_position="last").reset_index(drop=True)
    except TypeError:  # lists or mixed types: sort by their text
        order = frame.astype(str).sort_values(kept, kind="stable").index
        return frame.loc[order].reset_index(drop=True)


def differing_columns(left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """Columns whose values differ (floats beyond a relative 1e-6)."""
    bad = []
    for column in left.columns:
        a, b = left[column], right[column]
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            same = np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-6, atol=1e-9,
                               equal_nan=True)
        else:
            same = a.astype(str).equals(b.astype(str))
        if not same:
            bad.append(column)
    return bad


def compare(left: Path, right: Path) -> list[tuple[str, str]]:
    """(table, verdict) for every table of either lake."""
    lakes = [root / ".portraits" / "lake" for root in (left, right)]
    names = sorted({p.name for lake in lakes for p in lake.iterdir()
                    if p.is_dir() and not p.name.startswith(".")})
    verdicts = []
    for name in names:
        a, b = (lake / name for lake in lakes)
        if not (a.exists() and b.exists()):
            verdicts.append((name, f"only in {left if a.exists() else right}"))
            continue
        fa, fb = _frame(a), _frame(b)
        if len(fa) != len(fb) or list(fa.columns) != list(fb.columns):
            verdicts.append((name, f"shape {fa.shape} vs {fb.shape}"))
            continue
        bad = differing_columns(fa, fb)
        verdicts.append((name, f"{len(fa):,} rows same" if not bad
                         else f"{len(fa):,} rows; differ: {', '.join(bad)}"))
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", type=Path)
    parser.add_argument("right", type=Path)
    args = parser.parse_args()
    for name, verdict in compare(args.left, args.right):
        print(f"{name:24s} {verdict}")


if __name__ == "__main__":
    main()
