"""Benchmark: every standard tag + RFM + lifecycle over N profiles, and segment counts.

    uv run python bench/tags.py                      # 1,000,000 customers (~20M events)
    uv run python bench/tags.py --customers 20000    # a quick run

Set-up, done once and cached in bench/data/tags-<N>/ (not timed): the generator's files
(shared with identity_profile.py), a load, and the profiles built with customer ids from
the generator's truth (as bench/profile_build.py does). Timed, in one process on DuckDB:

- tags: ``build_tags`` (RFM scores, windowed event and order aggregates, affinities, the
  57 standard tags in dependency order, lifecycle stage) written to the lake as ``tags``;
- history: this run's assignments appended to ``tag_history``;
- segment counts, cold and warm (the second of two runs): one over tags and RFM fields,
  one with an event condition (did Product Added in the last day and no order).

Targets (issue 4, 2 cores): tags + RFM + lifecycle over 1M profiles ≤ 10 s; a segment
count over 1M profiles ≤ 0.5 s warm. Results also go to bench/results/tags-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def prepared(customers: int) -> tuple[Path, datetime]:
    """A workspace with loaded data and built profiles (made once), and its reference time."""
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(ROOT))
    from identity_profile import generated, reference_time
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace
    from portraits.workspace.scaffold import create_workspace
    from tests.profile.truth_ids import profile_from_truth

    data = generated(customers)
    as_of = reference_time(data)
    root = BENCH / "data" / f"tags-{customers}"
    if not (root / ".ready").exists():
        print(f"loading {customers:,} customers and building profiles (once; cached in "
              f"{root})", file=sys.stderr)
        create_workspace(root, force=True)
        if (root / "data").is_dir() and not (root / "data").is_symlink():
            (root / "data").rmdir()
        if not (root / "data").exists():
            (root / "data").symlink_to(data, target_is_directory=True)
        with Workspace(root, settings=Settings(now=as_of, lang="en")) as ws:
            ws.ingest.load()
            # What tags and segments read, with the truth's customer ids (a bench-only
            # workspace: the loaded orders and events are replaced by narrow ones).
            profile_from_truth(ws, as_of, keep=KEPT)
        (root / ".ready").write_text("ok", encoding="utf-8")
    return root, as_of


KEPT = {"orders": ("customer_id", "order_id", "ordered_at", "status", "total_amount"),
        "events": ("customer_id", "timestamp", "event")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    root, as_of = prepared(args.customers)

    from rich.console import Console
    from rich.table import Table

    from portraits.profile.rfm import RfmSpec
    from portraits.segments.spec import SegmentSpec
    from portraits.settings import Settings
    from portraits.tags.catalog import load_tags
    from portraits.tags.compute import build_tags, tag_fields, tag_history_rows
    from portraits.workspace.facade import Workspace

    steps: list[tuple[str, float, int]] = []
    with Workspace(root, settings=Settings(now=as_of, lang="en")) as ws:
        engine = ws.engine
        tagset = load_tags(tag_fields())
        profiles = engine.count(engine.table("profiles"))
        started = time.perf_counter()
        engine.write("tags", build_tags(engine.table("profiles"), engine.table("orders"),
                                        engine.table("events"),
                                        engine.table("profile_interests"), tagset, RfmSpec(),
                                        as_of))
        steps.append(("tags + RFM + lifecycle → tags", time.perf_counter() - started, profiles))
        started = time.perf_counter()
        rows = tag_history_rows(engine.table("tags"), tagset, as_of)
        engine.write("tag_history", rows)
        assignments = engine.count(engine.table("tag_history"))
        steps.append(("history → tag_history", time.perf_counter() - started, assignments))
        segments = {
            "over tags and RFM": SegmentSpec(
                id="at_risk_big", name={"en": "a", "zh-CN": "a"},
                where="rfm_segment in ['at_risk', 'cant_lose_them'] and rfm_monetary >= 2000 "
                      "and reachable"),
            "with an event condition": SegmentSpec(
                id="cart_today", name={"en": "b", "zh-CN": "b"},
                where={"all": [{"did": {"event": "Product Added", "within_days": 1}},
                               {"not": {"did": {"event": "Order Completed",
                                                "within_days": 1}}}]}),
        }
        for label, spec in segments.items():
            for run in ("cold", "warm"):
                started = time.perf_counter()
                size = ws.segments.count(spec, record=False)
                steps.append((f"segment count {label} ({run})", time.perf_counter() - started,
                              size))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = Table(title=f"Tags and segments, {profiles:,} profiles, as of {as_of:%Y-%m-%d}, "
                        f"{len(tagset)} tags")
    for column in ("step", "seconds", "rows / members"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step, seconds, count in steps:
        table.add_row(step, f"{seconds:.2f}", f"{count:,}")
    console = Console()
    console.print(table)
    console.print(f"peak RSS {peak:,.0f} MB (the whole process)")
    out = BENCH / "results" / f"tags-{args.customers}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"customers": args.customers, "profiles": profiles,
                               "tags": len(tagset), "peak_rss_mb": round(peak),
                               "steps": [{"step": s, "seconds": round(t, 3), "rows": n}
                                         for s, t, n in steps]}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
