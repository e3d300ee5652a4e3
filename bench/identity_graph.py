"""Benchmark: connected components and merge history of the ID graph; wall s, identifiers/s,
peak RSS.

    uv run python bench/identity_graph.py                       # 10M identifiers
    uv run python bench/identity_graph.py --identifiers 1000000
    uv run python bench/identity_graph.py --customers 20000     # also a whole resolve

Variants, each in its own process so peak RSS is its own:
  components  the SciPy step alone on a synthetic graph shaped like the retail data
              (people of 2-12 identifiers, about 1.7 links per identifier, one link in
              50 joins two people): time-ordered spanning forest, components, ids
  resolve     (with --customers) generate, load and resolve a retail workspace on
              DuckDB; only the resolve is timed
Results go to bench/results/identity_graph-<size>.json as well.
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


def components_graph(identifiers: int, seed: int = 7) -> tuple:  # type: ignore[type-arg]
    """Links of a synthetic ID graph: per person a star around the member id plus as many
    links again inside the person, and one link in 50 between two random people."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 13, identifiers // 7 + 1)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), identifiers) + 1]
    nodes = int(sizes.sum())
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    member = np.arange(nodes)
    star = member != start
    size_of = np.repeat(sizes, sizes)
    # A star around each person's first identifier, then as many links again inside it.
    other = start + (rng.random(nodes) * size_of).astype(np.int64)
    left = np.concatenate([start[star], member[star]])
    right = np.concatenate([member[star], other[star]])
    across = len(left) // 50
    left = np.concatenate([left, rng.integers(0, nodes, across)])
    right = np.concatenate([right, rng.integers(0, nodes, across)])
    seen = rng.integers(1_600_000_000, 1_760_000_000, len(left))
    previous = np.full(nodes, -1, dtype=np.int64)
    return nodes, left.astype(np.int64), right.astype(np.int64), seen, previous


def run_variant(variant: str, size: int, workspace: Path | None) -> dict[str, object]:
    """Run one variant in this process and return its measurements."""
    if variant == "components":
        from portraits.identity.components import resolve

        nodes, left, right, seen, previous = components_graph(size)
        started = time.perf_counter()
        result = resolve(nodes, left, right, seen, previous, next_code=1)
        seconds = time.perf_counter() - started
        extra = {"links": len(left), "people": result.new_customers,
                 "merges": len(result.merge_links)}
        count = nodes
    else:
        from portraits import Workspace
        from portraits.settings import Settings

        assert workspace is not None
        with Workspace(workspace, settings=Settings(lang="en")) as ws:
            started = time.perf_counter()
            report = ws.identity.resolve()
            seconds = time.perf_counter() - started
        count = report.identifiers
        extra = {"records": report.records, "people": report.people, "merges": report.merges}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"variant": variant, "identifiers": count, "seconds": round(seconds, 2),
            "identifiers_per_s": round(count / seconds), "peak_rss_mb": round(peak), **extra}


def prepare_workspace(customers: int) -> Path:
    """A retail workspace with generated data, loaded (cached between runs)."""
    from portraits import Workspace
    from portraits.settings import Settings
    from portraits.workspace.scaffold import create_workspace

    root = BENCH / "data" / f"identity-{customers}"
    if not (root / ".portraits" / "lake" / "events").exists():
        shutil.rmtree(root, ignore_errors=True)
        create_workspace(root)
        with Workspace(root, settings=Settings(lang="en")) as ws:
            print(f"generating and loading {customers:,} customers (once)", file=sys.stderr)
            ws.synth.generate(customers=customers, seed=7)
            ws.ingest.load()
    for table in ("identities", "identity_links", "customer_ids", "merge_history",
                  "identity_loads", "identity_runs"):
        shutil.rmtree(root / ".portraits" / "lake" / table, ignore_errors=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identifiers", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=0,
                        help="also resolve a generated retail workspace of this size")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.size, args.workspace)))
        return
    plan: list[tuple[str, int, Path | None]] = [("components", args.identifiers, None)]
    if args.customers:
        plan.append(("resolve", args.customers, prepare_workspace(args.customers)))
    results = []
    for variant, size, workspace in plan:
        command = [sys.executable, __file__, "--variant", variant, "--size", str(size)]
        if workspace is not None:
            command += ["--workspace", str(workspace)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(results)
    out = BENCH / "results" / f"identity_graph-{args.identifiers}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"written to {out.relative_to(BENCH.parent)}")


def print_table(results: list[dict[str, object]]) -> None:
    """The results as a Rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ID graph (target: components of 10M identifiers ≤ 60 s on 2 cores)")
    for column in ("variant", "identifiers", "links/records", "people", "merges", "wall s",
                   "identifiers/s", "peak RSS (MB)"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for r in results:
        table.add_row(str(r["variant"]), f"{r['identifiers']:,}",
                      f"{r.get('links', r.get('records', 0)):,}", f"{r['people']:,}",
                      f"{r['merges']:,}", f"{r['seconds']:.2f}", f"{r['identifiers_per_s']:,}",
                      f"{r['peak_rss_mb']:,}")
    Console().print(table)


if __name__ == "__main__":
    main()
