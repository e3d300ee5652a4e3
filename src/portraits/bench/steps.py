"""One measured step of ``portraits bench``, run in a process of its own so that its peak
memory is its own (a child's RSS starts from nothing, not from its parent's):

    python -m portraits.bench.steps WORKSPACE STEP --now 2026-11-25T00:00:00

prints one JSON line: step, engine, seconds, rows, output, peak_rss_mb, detail. The steps
are the pipeline's stages (``portraits run``) and the shared profile + RFM query three
ways: ``query`` (Portraits' modules on the workspace's engine), ``floor`` (hand-written
DuckDB SQL) and ``pandas``; each query writes its result under ``bench-out/`` for the
comparison. Libraries are imported before the clock starts: start-up is not the work.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from portraits.bench.measure import measure

LAKE: Final = Path(".portraits") / "lake"
OUT: Final = "bench-out"
QUERIES: Final = ("query", "floor", "pandas")


def lake_rows(root: Path, tables: tuple[str, ...]) -> int:
    """Rows of lake tables, from the Parquet footers (no scan)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(part).metadata.num_rows for table in tables
               for part in (root / LAKE / table).glob("*.parquet"))


def _open(root: Path, now: datetime, engine: str) -> Any:
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace

    return Workspace(root, settings=Settings(now=now, lang="en", engine=engine))  # type: ignore[arg-type]


def run_step(root: Path, step: str, now: datetime, engine: str) -> dict[str, Any]:
    """Run ``step`` on the workspace at ``root`` and measure it."""
    from portraits.bench import shared

    out = root / OUT / f"{step}-{engine}" if step == "query" else root / OUT / step
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = lake_rows(root, ("events", "orders"))
    if step == "floor":
        with measure() as m:
            output = shared.floor_query(root / LAKE, now, out)
        return _row(step, "duckdb", m.seconds, rows, output, m.peak_rss_mb, "DuckDB SQL")
    if step == "pandas":
        import pandas  # noqa: F401  (imported before the clock)

        with measure() as m:
            frame = shared.pandas_query(root / LAKE, now)
            out.mkdir()
            frame.to_parquet(out / "part-0.parquet", index=False)
        return _row(step, "pandas", m.seconds, rows, len(frame), m.peak_rss_mb, "pandas")
    with _open(root, now, engine) as ws:
        ws.engine.has_table("events")  # connects (Spark's JVM starts) before the clock
        if step == "query":
            shared.check_rules(ws)
            for table in ("events", "orders"):  # their customer maps: one per identity run
                ws.identity.attach(table)
            with measure() as m:
                ws.engine.write("bench_shared", shared.portraits_query(ws, now))
            shutil.copytree(root / LAKE / "bench_shared", out)
            output = lake_rows(root, ("bench_shared",))
            return _row(step, engine, m.seconds, rows, output, m.peak_rss_mb, "portraits")
        with measure() as m:  # the stage times itself, after counting its input rows
            ran = ws.pipeline.run_stage(step, train="missing")
        return _row(step, engine, ran.seconds, ran.rows, ran.output, m.peak_rss_mb, ran.detail)


def _row(step: str, engine: str, seconds: float, rows: int, output: int, peak: float,
         detail: str) -> dict[str, Any]:
    return {"step": step, "engine": engine, "seconds": round(seconds, 3), "rows": rows,
            "output": output, "peak_rss_mb": round(peak), "detail": detail}


def generate_step(folder: Path, customers: int, seed: int, end: datetime) -> dict[str, Any]:
    """Write the synthetic data set (the truth file says where it ends)."""
    from portraits.synth import generate

    with measure() as m:
        summary = generate(folder, customers=customers, seed=seed, end=end.date())
    events = sum(n for name, n in summary.files.items() if name.startswith("events"))
    return _row("generate", "python", m.seconds, events, customers, m.peak_rss_mb,
                f"{sum(summary.files.values()):,} rows in {len(summary.files)} files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path, help="workspace (or data folder: generate)")
    parser.add_argument("step")
    parser.add_argument("--now", type=datetime.fromisoformat, required=True)
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.step == "generate":
        row = generate_step(args.workspace, args.customers, args.seed, args.now)
    else:
        row = run_step(args.workspace, args.step, args.now, args.engine)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
