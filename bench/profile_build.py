"""Benchmark: the profile build alone on DuckDB; seconds and peak RSS.

    uv run python bench/profile_build.py                     # 20,000 customers
    uv run python bench/profile_build.py --customers 200000

The synthetic data set is generated and loaded once (cached in bench/data/). Customer ids
come from the generator's truth (as in tests/profile), not from identity resolution, and
the person tables with their ids are computed into temporary tables *before* the clock
starts, so the figures are those of the profile build: `profile_interests` and
`profiles`, each written to the lake as ``ws.profiles.build`` does.
Results go to bench/results/profile_build-<customers>.json as well.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
END = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 12)


def workspace(customers: int) -> Path:
    """A loaded retail workspace with ``customers`` people (generated and loaded once)."""
    from portraits.settings import Settings
    from portraits.synth import generate
    from portraits.workspace.facade import Workspace
    from portraits.workspace.scaffold import create_workspace

    root = BENCH / "data" / f"profile-{customers}"
    if not (root / ".loaded").exists():
        print(f"generating and loading {customers:,} customers (once; cached in {root})",
              file=sys.stderr)
        create_workspace(root, force=True)
        generate(root / "data", customers=customers, seed=7, end=END)
        with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
            ws.ingest.load()
        (root / ".loaded").write_text("ok", encoding="utf-8")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from portraits.profile import ProfileInputs, build_profiles, profile_interests
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace
    from tests.profile.truth_ids import truth_inputs

    root = workspace(args.customers)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        engine = ws.engine
        mapped = truth_inputs(ws)
        inputs = ProfileInputs(**{name: None if table is None else engine.materialize(table)
                                  for name, table in vars(mapped).items()})
        events = engine.count(inputs.events) if inputs.events is not None else 0
        started = time.perf_counter()
        interests = profile_interests(inputs, NOW)
        assert interests is not None
        engine.write("profile_interests", interests)
        middle = time.perf_counter()
        engine.write("profiles", build_profiles(inputs, NOW,
                                                interests=engine.table("profile_interests")))
        done = time.perf_counter()
        profiles = engine.count(engine.table("profiles"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [("profile_interests", middle - started), ("profiles", done - middle),
            ("total", done - started)]
    print(f"{args.customers:,} customers, {events:,} events → {profiles:,} profiles")
    print("| step | seconds |\n|---|---:|")
    for step, seconds in rows:
        print(f"| {step} | {seconds:.2f} |")
    print(f"peak RSS {peak:,.0f} MB (the whole process, generation excluded when cached)")
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / f"profile_build-{args.customers}.json").write_text(json.dumps({
        "customers": args.customers, "events": events, "profiles": profiles,
        "seconds": dict(rows), "peak_rss_mb": peak}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
