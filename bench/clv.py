"""Benchmark: customer lifetime value — the purchase summary on DuckDB, the BG/NBD,
Pareto/NBD and Gamma-Gamma fits, and scoring, with the parameters recovered.

    uv run python bench/clv.py                      # 100,000 customers
    uv run python bench/clv.py --customers 20000    # quick

Data (simulated in NumPy with a fixed seed, written once to
bench/data/clv-<N>/orders.parquet; not timed): N customers whose first purchase falls
uniformly in the first year of a two-year window, then BG/NBD repeat purchases (rate
λ ~ Gamma(r, α) per day, dropout after each repeat purchase with p ~ Beta(a, b)) and
Gamma-Gamma order values (each ~ Gamma(p, ν), ν ~ Gamma(q, v)), plus 3% cancelled
orders that the summary must leave out. Two purchases that fall on one day become one
purchase day, as the summary counts them (a small bias towards fewer repeat purchases).

Timed, one after the other in one process: **summary** is ``purchase_summary`` from the
Parquet file to Arrow (Ibis building and compiling, DuckDB reading, grouping by customer
and day, then by customer); each **fit** is the maximum likelihood fit on the N rows (no
compression); **scoring** is P(alive), expected purchases over 90 days and the 365-day
lifetime value (monthly periods, 10% a year) for every customer. Peak RSS is the process's
peak so far, read after each step.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
START = datetime(2024, 1, 1)
DAYS = 730
TRUE_BGNBD = {"r": 0.25, "alpha": 20.0, "a": 0.8, "b": 2.5}  # rate per day
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 50.0}  # mean order value p·v/(q-1) = 100


def generated(customers: int) -> Path:
    """The orders of ``customers`` simulated customers as Parquet (made once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = BENCH / "data" / f"clv-{customers}" / "orders.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    first = rng.uniform(0, 365, customers)
    span = DAYS - first
    rate = rng.gamma(TRUE_BGNBD["r"], 1 / TRUE_BGNBD["alpha"], customers)
    dropout = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"], customers)
    # A Poisson process over the span, cut after the J-th repeat purchase (geometric):
    # the earliest min(N, J) of N uniform times.
    uncut = rng.poisson(rate * span)
    repeats = np.minimum(uncut, rng.geometric(dropout))
    owner = np.repeat(np.arange(customers), uncut)
    times = rng.uniform(0, 1, len(owner)) * span[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(len(owner)) - np.searchsorted(owner, owner)
    keep = rank < repeats[owner]
    owner = np.concatenate([np.arange(customers), owner[keep]])
    at = np.concatenate([first, first[owner[customers:]] + times[keep]])
    scale = 1 / rng.gamma(TRUE_GAMMA_GAMMA["q"], 1 / TRUE_GAMMA_GAMMA["v"], customers)
    amount = np.round(rng.gamma(TRUE_GAMMA_GAMMA["p"], scale[owner]), 2)
    cancelled = rng.random(len(owner)) < 0.03
    owner = np.concatenate([owner, owner[cancelled]])
    at = np.concatenate([at, at[cancelled]])
    amount = np.concatenate([amount, amount[cancelled]])
    status = np.where(np.arange(len(owner)) < len(owner) - cancelled.sum(), "paid",
                      "cancelled")
    seconds = np.round(at * 86_400).astype("int64").astype("timedelta64[s]")
    pq.write_table(pa.table({
        "order_id": np.char.add("O", np.arange(len(owner)).astype(str)),
        "customer_id": np.char.add("C", owner.astype(str)),
        "ordered_at": np.datetime64(START, "s") + seconds,
        "status": status, "total_amount": amount}), path, row_group_size=122_880)
    return path


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def _timed(steps: list[dict[str, Any]], name: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    steps.append({"step": name, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": _peak_mb()})
    return result


def main() -> None:
    """Generate (once), then time each step and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    path = generated(args.customers)

    import ibis
    import numpy as np

    from portraits.predict.clv import (
        fit_bgnbd,
        fit_gamma_gamma,
        fit_pareto_nbd,
        lifetime_value,
    )
    from portraits.predict.summary import purchase_summary

    steps: list[dict[str, Any]] = []
    con = ibis.duckdb.connect()
    orders = con.read_parquet(path, table_name="orders")
    as_of = START + timedelta(days=DAYS)
    summary = _timed(steps, "summary (Ibis on DuckDB, to Arrow)",
                     lambda: con.to_pyarrow(purchase_summary(orders, as_of)))
    x, t_x, t_end, monetary = (summary.column(c).to_numpy().astype(float)
                               for c in ("frequency", "recency", "T", "monetary"))
    bgnbd = _timed(steps, "BG/NBD fit", lambda: fit_bgnbd(x, t_x, t_end))
    pareto = _timed(steps, "Pareto/NBD fit", lambda: fit_pareto_nbd(x, t_x, t_end))
    spend = _timed(steps, "Gamma-Gamma fit", lambda: fit_gamma_gamma(x, monetary))

    def score() -> float:
        alive = bgnbd.p_alive(x, t_x, t_end)
        coming = bgnbd.expected_purchases(90, x, t_x, t_end)
        value = lifetime_value(bgnbd, spend, x, t_x, t_end, monetary, 365)
        return float(alive.mean() + coming.mean() + value.mean())

    _timed(steps, "scoring BG/NBD (P(alive), 90 days, CLV)", score)
    _timed(steps, "scoring Pareto/NBD (P(alive), 90 days, CLV)", lambda: float(
        lifetime_value(pareto, spend, x, t_x, t_end, monetary, 365).mean()
        + pareto.p_alive(x, t_x, t_end).mean()))

    print(f"\n{summary.num_rows:,} customers, "
          f"{int(np.sum(x)) + summary.num_rows:,} purchase days, file {path.name}\n")
    print(f"| {'step':<46} | {'seconds':>8} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 48}|{'-' * 10}:|{'-' * 13}:|")
    for step in steps:
        print(f"| {step['step']:<46} | {step['seconds']:8.2f} | {step['peak_rss_mb']:11.0f} |")
    print(f"\n| {'parameter':<22} | {'true':>8} | {'recovered':>9} |")
    print(f"|{'-' * 24}|{'-' * 9}:|{'-' * 10}:|")
    for name, true in TRUE_BGNBD.items():
        print(f"| {'BG/NBD ' + name:<22} | {true:8.3f} | {getattr(bgnbd, name):9.3f} |")
    for name, true in TRUE_GAMMA_GAMMA.items():
        print(f"| {'Gamma-Gamma ' + name:<22} | {true:8.3f} | {getattr(spend, name):9.3f} |")
    for name in ("r", "alpha", "s", "beta"):
        print(f"| {'Pareto/NBD ' + name:<22} | {'–':>8} | {getattr(pareto, name):9.3f} |")
    print(f"\nlog-likelihood: BG/NBD {bgnbd.log_likelihood:,.1f}, "
          f"Pareto/NBD {pareto.log_likelihood:,.1f}")


if __name__ == "__main__":
    main()
