"""Benchmark: identity resolution and the profile build, beside a hand-written DuckDB SQL of
the same profile query (the floor) and a straightforward pandas one; wall s, rows/s, peak RSS.

    uv run python bench/identity_profile.py                            # 1M customers (~25M events)
    uv run python bench/identity_profile.py --customers 100000         # a quicker run
    uv run python bench/identity_profile.py --customers 2000 --check   # do the three agree?
    uv run python bench/identity_profile.py --customers 100000 --identity  # identity alone

The data comes from the synthetic generator (seed 7), cached in bench/data/retail-<20×N>/
and shared with load_events.py (the same call makes the same files). The reference time
("now", the profiles' as-of) is the day the generated data ends.

Stages, each in its own process so peak RSS is its own:
  load                       ws.ingest.load() of every source into a fresh workspace
  identity (no matching)     ws.identity.resolve() with `identity: {matching: {enabled:
                             false}}`: the ID graph alone
  identity                   ws.identity.resolve() with the default spec: the ID graph plus
                             probabilistic matching of the customer records with Splink; its
                             customer_ids are what every profile stage reads
  profile (portraits, full)  ws.profiles.build(ws.identity.customer_ids()): every field of
                             docs/profiles.md, interests included, written to the lake
  profile (portraits)        the shared profile + RFM query (below) from Portraits' own code:
                             attach_customer_id, person_events, order_facts, rfm_scores,
                             spine, attach
  profile (SQL floor)        the same query hand-written in DuckDB SQL over the lake's Parquet
  profile (pandas)           the same query in pandas: read_parquet, merge, groupby.agg, rank

The shared query and the three versions of it live in portraits.bench.shared (see its
docstring; ``portraits bench`` runs them too): the profile core (events, active days, first
and last seen; orders, spend, average order value, first and last order, days since the
last order, discount share) and RFM as rfm_scores gives it. Each of the three writes its
result as Parquet, and every run compares the three results: counts, strings and times
exactly, floats to 1e-9.

Rows are the records read: all sources for ``load``, new records for ``identity``, events
plus orders for the profile stages. Results go to bench/results/identity_profile-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portraits.bench import shared

if TYPE_CHECKING:
    from portraits import Workspace

BENCH = Path(__file__).resolve().parent
LAKE = Path(".portraits") / "lake"
STAGES = ("load", "identity (no matching)", "identity", "profile (portraits, full)",
          "profile (portraits)", "profile (SQL floor)", "profile (pandas)")
CHECK_STAGES = ("load", "identity (no matching)", "profile (portraits)",
                "profile (SQL floor)", "profile (pandas)")
CORE = {"profile (portraits)": "portraits", "profile (SQL floor)": "floor",
        "profile (pandas)": "pandas"}
IDENTITY = "\nidentity:\n"
NO_MATCHING = "\nidentity:\n  matching: {enabled: false}\n"
IDENTITY_TABLES = ("identities", "identity_links", "customer_ids", "merge_history",
                   "identity_loads", "identity_runs", "match_pairs")


def generated(customers: int) -> Path:
    """The generator's files for ``customers`` people (made once; load_events.py's cache)."""
    folder = BENCH / "data" / f"retail-{customers * 20}"
    if not (folder / "truth" / "truth.json").exists():
        from portraits.synth import generate

        started = time.perf_counter()
        print(f"generating {customers:,} customers (once; cached in {folder})", file=sys.stderr)
        generate(folder, customers=customers, seed=7)
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def reference_time(data: Path) -> datetime:
    """The day the generated data ends (exclusive), at midnight."""
    truth = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(truth["end"])


def fresh_workspace(customers: int, data: Path) -> Path:
    """A new retail workspace whose ``data`` folder is the cached generated files."""
    from portraits.workspace.scaffold import create_workspace

    root = BENCH / "data" / f"identity-profile-{customers}"
    shutil.rmtree(root, ignore_errors=True)
    create_workspace(root)
    (root / "data").rmdir()
    (root / "data").symlink_to(data, target_is_directory=True)
    return root


def open_workspace(root: Path, as_of: datetime) -> Workspace:
    from portraits import Workspace
    from portraits.settings import Settings

    return Workspace(root, settings=Settings(now=as_of, lang="en"))


def import_libraries(stage: str) -> None:
    """Import what the stage needs before the clock starts: startup is not its work."""
    if stage == "profile (SQL floor)":
        import duckdb  # noqa: F401
    elif stage == "profile (pandas)":
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    else:
        import portraits.identity.resolve
        import portraits.profile.build
        import portraits.workspace.facade  # noqa: F401


def run_stage(stage: str, root: Path, as_of: datetime) -> dict[str, Any]:
    """Run one stage in this process and return its measurements."""
    outputs = root / "bench-out"
    import_libraries(stage)
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    if stage == "load":
        with open_workspace(root, as_of) as ws:
            reports = ws.ingest.load()
        extra["rows"] = sum(r.rows_read for r in reports)
    elif stage.startswith("identity"):
        with open_workspace(root, as_of) as ws:
            report = ws.identity.resolve()
        extra |= {"rows": report.records, "identifiers": report.identifiers,
                  "people": report.people, "matched_pairs": report.matched_pairs}
    elif stage == "profile (portraits, full)":
        with open_workspace(root, as_of) as ws:
            extra["result_rows"] = ws.profiles.build(ws.identity.customer_ids())
    elif stage == "profile (portraits)":
        with open_workspace(root, as_of) as ws:
            shared.check_rules(ws)
            ws.engine.write("profile_core", shared.portraits_query(ws, as_of))
            extra["result_rows"] = ws.engine.count(ws.engine.table("profile_core"))
    elif stage == "profile (SQL floor)":
        extra["result_rows"] = shared.floor_query(root / LAKE, as_of, outputs / "floor")
    else:
        profile = shared.pandas_query(root / LAKE, as_of)
        (outputs / "pandas").mkdir(parents=True, exist_ok=True)
        profile.to_parquet(outputs / "pandas" / "part-0.parquet", index=False)
        extra["result_rows"] = len(profile)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if stage == "profile (portraits)":  # beside the others, for the comparison
        shutil.rmtree(outputs / "portraits", ignore_errors=True)
        shutil.copytree(root / LAKE / "profile_core", outputs / "portraits")
    return {"stage": stage, "seconds": round(seconds, 2), "peak_rss_mb": round(peak), **extra}


def differences(outputs: Path) -> list[str]:
    """Where the three results of the shared query differ (empty: they agree)."""
    import pandas as pd

    return shared.differences({name: pd.read_parquet(outputs / name)
                               for name in CORE.values()})


def input_rows(root: Path) -> int:
    """Events plus orders in the lake (from the Parquet footers)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(part).metadata.num_rows for table in ("events", "orders")
               for part in (root / LAKE / table).glob("*.parquet"))


def with_memory_limit(spec: str, limit: str) -> str:
    """The workspace spec with DuckDB's memory limit set."""
    engine = "  kind: duckdb"
    assert spec.count(engine) == 1, "the template's engine section moved"
    return spec.replace(engine, f"{engine}\n  memory_limit: {limit}", 1)


def prepare(stage: str, root: Path, template: str) -> None:
    """Before an identity stage: no identity tables yet, and the stage's spec."""
    if not stage.startswith("identity"):
        return
    for table in IDENTITY_TABLES:
        shutil.rmtree(root / LAKE / table, ignore_errors=True)
    assert template.count(IDENTITY) == 1, "the template's identity section moved"
    spec = (template.replace(IDENTITY, NO_MATCHING) if stage == "identity (no matching)"
            else template)
    (root / "portraits.yaml").write_text(spec, encoding="utf-8")


def workspace_and_stages(args: argparse.Namespace, data: Path) -> tuple[Path, tuple[str, ...]]:
    """The workspace to run in and the stages to run: identity alone reuses a loaded one."""
    root = BENCH / "data" / f"identity-profile-{args.customers}"
    if args.identity:
        loaded = (root / LAKE / "events").is_dir()
        if not loaded:
            root = fresh_workspace(args.customers, data)
        identity = ("identity (no matching)", "identity")
        return root, identity if loaded else ("load", *identity)
    return fresh_workspace(args.customers, data), CHECK_STAGES if args.check else STAGES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--check", action="store_true",
                        help="only the stages the comparison needs; exit 1 if results differ")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="DuckDB's memory_limit for every stage, e.g. 12GB (it spills "
                             "to disk beyond it); DuckDB's default is 80%% of the RAM")
    parser.add_argument("--identity", action="store_true",
                        help="only the identity stages, on the workspace an earlier run "
                             "loaded (loaded first if it never was)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        data = generated(args.customers)
        if args.stage != "generate":
            result = run_stage(args.stage, args.workspace, reference_time(data))
            print(json.dumps(result))
        return
    # Generating in a process of its own keeps this one small: a child's peak RSS starts
    # from its parent's.
    subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--stage",
                    "generate"], check=True)
    data = generated(args.customers)
    as_of = reference_time(data)
    root, stages = workspace_and_stages(args, data)
    # An interrupted run may have left the no-matching spec behind.
    template = (root / "portraits.yaml").read_text(encoding="utf-8").replace(NO_MATCHING,
                                                                             IDENTITY)
    if args.memory_limit:
        template = with_memory_limit(template, args.memory_limit)
        (root / "portraits.yaml").write_text(template, encoding="utf-8")
    results = []
    for stage in stages:
        prepare(stage, root, template)
        print(f"{stage} …", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, __file__, "--customers", str(args.customers), "--stage", stage,
             "--workspace", str(root)], check=False, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{stage} failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if stage.startswith("profile"):
            result["rows"] = input_rows(root)
        result["rows_per_s"] = round(result["rows"] / result["seconds"])
        results.append(result)
    found = [] if args.identity else differences(root / "bench-out")
    report(results, found, args.customers, as_of)
    if not args.check and not args.identity:
        out = BENCH / "results" / f"identity_profile-{args.customers}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"customers": args.customers, "as_of": as_of.isoformat(),
                                   "same_results": not found, "stages": results}, indent=2),
                       encoding="utf-8")
        print(f"written to {out.relative_to(BENCH.parent)}")
    if found:
        sys.exit(1)


def report(results: list[dict[str, Any]], found: list[str], customers: int,
           as_of: datetime) -> None:
    """The results as a Rich table, the ratios against the targets, and the comparison."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Identity + profile, {customers:,} customers, as of {as_of:%Y-%m-%d}")
    for column in ("stage", "rows", "wall s", "rows/s", "peak RSS (MB)", "result"):
        table.add_column(column, justify="left" if column == "stage" else "right",
                         no_wrap=True)
    for r in results:
        result = r.get("people", r.get("result_rows"))
        table.add_row(r["stage"], f"{r['rows']:,}", f"{r['seconds']:.2f}",
                      f"{r['rows_per_s']:,}", f"{r['peak_rss_mb']:,}",
                      "" if result is None else f"{result:,}")
    console = Console()
    console.print(table)
    console.print("rows: records read (load: all sources; identity: new records; profile: "
                  "events + orders). result: people, or profile rows written.")
    seconds = {r["stage"]: r["seconds"] for r in results}
    if "profile (portraits)" not in seconds:
        return
    portraits, floor = seconds["profile (portraits)"], seconds["profile (SQL floor)"]
    pandas = seconds["profile (pandas)"]
    for label, ratio, target, met in (
            ("portraits / SQL floor", portraits / floor, "≤ 1.3×", portraits / floor <= 1.3),
            ("pandas / portraits", pandas / portraits, "≥ 3×", pandas / portraits >= 3)):
        console.print(f"{label}: {ratio:.2f}× (target {target}: {'met' if met else 'NOT met'})")
    if found:
        console.print("[red]The three results differ:[/red] " + "; ".join(found))
    else:
        console.print("The three results agree (counts, strings and times exactly, floats "
                      "to 1e-9).")


if __name__ == "__main__":
    main()
