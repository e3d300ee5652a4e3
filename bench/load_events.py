"""Benchmark: load Parquet events into a workspace; rows/s and peak RSS per variant.

    uv run python bench/load_events.py                  # 20M events (generated once, cached)
    uv run python bench/load_events.py --events 2000000 # a quicker run

Variants, each in its own process so peak RSS is its own:
  floor      DuckDB copies the Parquet files into the lake, no mapping or cleaning:
             the least any load can cost on this machine
  load       portraits: map, clean, de-duplicate, merge, quality report (a first load)
  reload     the same files again with --force: every message id is already stored,
             so nothing is written (the idempotency path)
Results go to bench/results/load_events-<events>.json as well.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SPEC = """\
version: 1
name: bench
engine: {{kind: duckdb{threads}}}
sources:
  - name: events
    entity: events
    path: {events}/*.parquet
    columns: {{message_id: message_id, anonymous_id: anonymous_id, user_id: user_id,
              device_id: device_id, event: event, timestamp: timestamp, platform: platform,
              device_type: device_type, os: os, channel: channel, utm_source: utm_source,
              utm_medium: utm_medium, utm_campaign: utm_campaign, ip: ip, city: city,
              product_id: product_id, category: category, order_id: order_id,
              revenue: revenue, query: query, properties: properties}}
"""


def events_data(events: int) -> Path:
    """Parquet events from the synthetic generator (about 20 per customer), cached."""
    folder = BENCH / "data" / f"retail-{events}"
    parts = folder / "events"
    if not any(parts.glob("*.parquet")):
        from portraits.synth import generate

        started = time.perf_counter()
        print(f"generating ~{events:,} events (once; cached in {folder})", file=sys.stderr)
        generate(folder, customers=max(events // 20, 100), seed=7)
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return parts


def run_variant(variant: str, workspace: Path, parts: Path) -> dict[str, object]:
    """Run one variant in this process and return its measurements."""
    started = time.perf_counter()
    if variant == "floor":
        import duckdb

        con = duckdb.connect(str(workspace / "floor.duckdb"))
        out = workspace / "floor-lake"
        shutil.rmtree(out, ignore_errors=True)
        rows = con.execute(
            "COPY (SELECT * FROM read_parquet(?)) TO '" + str(out).replace("'", "''")
            + "' (FORMAT parquet, PER_THREAD_OUTPUT true, COMPRESSION zstd)",
            [str(parts / "*.parquet")]).fetchone()
        count = int(rows[0]) if rows else 0
        extra: dict[str, object] = {}
    else:
        from portraits import Workspace
        from portraits.settings import Settings

        with Workspace(workspace, settings=Settings(lang="en")) as ws:
            (report,) = ws.ingest.load(force=True)
        count = report.rows_read
        extra = {"accepted": report.accepted, "rejected": report.rejected, "new": report.new,
                 "pass_rate": report.pass_rate}
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"variant": variant, "rows": count, "seconds": round(seconds, 2),
            "rows_per_s": round(count / seconds), "peak_rss_mb": round(peak), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    parts = events_data(args.events)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.workspace, parts)))
        return
    workspace = BENCH / "data" / f"workspace-{args.events}"
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    threads = f", threads: {args.threads}" if args.threads else ""
    (workspace / "portraits.yaml").write_text(SPEC.format(events=parts, threads=threads),
                                              encoding="utf-8")
    results = []
    for variant in ("floor", "load", "reload"):
        done = subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--variant", variant,
             "--workspace", str(workspace)], capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(results, args.events)
    out = BENCH / "results" / f"load_events-{args.events}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"written to {out.relative_to(BENCH.parent)}")


def print_table(results: list[dict[str, object]], events: int) -> None:
    """The results as a Rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Loading ~{events:,} Parquet events (DuckDB, target ≥ 1,000,000 rows/s)")
    for column in ("variant", "rows", "seconds", "rows/s", "peak RSS (MB)"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for r in results:
        table.add_row(str(r["variant"]), f"{r['rows']:,}", f"{r['seconds']:.2f}",
                      f"{r['rows_per_s']:,}", f"{r['peak_rss_mb']:,}")
    Console().print(table)


if __name__ == "__main__":
    main()
