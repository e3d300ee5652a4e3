"""Benchmark: funnels, paths and retention over the events of N customers.

    uv run python bench/analytics.py                      # 1,000,000 customers (~20M events)
    uv run python bench/analytics.py --customers 20000    # a quick run

Uses the workspace bench/tags.py prepares (generated, loaded, profiled; events and orders
stored with the truth's customer ids; cached in bench/data/tags-<N>/). Timed, in one
process on DuckDB, each analysis from the stored events to its figures:

- funnel: Product Viewed → Product Added → Checkout Started → Order Completed, 14 days,
  sequential; the same strict, and in any order; and sequential broken down by city tier;
- paths: 5 steps from Product Viewed, sessions split at 30 minutes;
- retention: weekly first-time cohorts over any event, 8 weeks; repurchase by month.

Results also go to bench/results/analytics-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def timed(name: str, run: Callable[[], Any], rows: list[dict[str, Any]]) -> Any:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    rows.append({"analysis": name, "seconds": round(seconds, 2)})
    print(f"{name:<32} {seconds:8.2f} s", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace
    from tags import prepared

    root, as_of = prepared(args.customers)
    rows: list[dict[str, Any]] = []
    with Workspace(root, settings=Settings(now=as_of, lang="en")) as ws:
        events = ws.engine.count(ws.table("events"))
        a = ws.analytics
        funnel = timed("funnel (sequential)", lambda: a.funnel(STEPS), rows)
        timed("funnel (strict)", lambda: a.funnel(STEPS, order="strict"), rows)
        timed("funnel (any order)", lambda: a.funnel(STEPS, order="any"), rows)
        timed("funnel by city tier", lambda: a.funnel(STEPS, breakdown="city_tier"), rows)
        timed("paths from Product Viewed", lambda: a.paths(start="Product Viewed"), rows)
        timed("retention (weekly, 8)", a.retention, rows)
        timed("repurchase (monthly, 6)", a.repurchase, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.customers:,} customers, {events:,} events; peak RSS {peak:,.0f} MB")
    print(f"{'analysis':<32} {'seconds':>8} {'M events/s':>11}")
    for row in rows:
        print(f"{row['analysis']:<32} {row['seconds']:8.2f} "
              f"{events / row['seconds'] / 1e6:11.2f}")
    print(f"funnel entrants {int(funnel.overall()['people'].iloc[0]):,}, conversion "
          f"{funnel.conversion():.1%}")
    out = BENCH / "results" / f"analytics-{args.customers}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"customers": args.customers, "events": events,
                               "peak_rss_mb": round(peak), "rows": rows}, indent=2),
                   encoding="utf-8")


if __name__ == "__main__":
    main()
