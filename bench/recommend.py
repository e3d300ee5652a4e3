"""Benchmark: recommendations — implicit ALS and BPR, the blend, and popularity, on
planted structure.

    uv run python bench/recommend.py                          # 200,000 users × 20,000 items
    uv run python bench/recommend.py --users 50000 --items 5000 --threads 2
    uv run python bench/recommend.py --users 1000000 --items 10000 --skip bpr,evaluate

Data (simulated in NumPy with a fixed seed, not timed): ``--groups`` latent taste groups;
every item belongs to one group (with a brand, a price and a category per group), every
user to one or two. A user has 1 + Poisson(``--per-user``) interactions over 180 days, 80%
on items of their groups (Zipf within the group) and 20% on items of any group (Zipf
overall); each is a view (70%), a cart add (20%) or a purchase (10%). The test window holds
1–3 more purchases per user from the same distribution in the 30 days after the split.
The tables go into an in-memory DuckDB (events, orders, order_items, products, profiles)
and Portraits reads them through Ibis, as in a workspace.

Timed, in one process (peak RSS is the process's so far): the whole ``fit_recommender``
(queries, signals, ALS), ALS and BPR fits alone on the same matrix, scoring every user's
top 10 with the blend, with ALS alone and with popularity, and ``evaluate_recommender``
(fits ALS and BPR again and scores the five models for the test buyers); ``--skip``
leaves out the BPR fit and/or the evaluation (minutes at a million users). Scoring steps
also report the peak RSS they added over the fitted model (measured by resetting the
high-water mark where the kernel allows, else the process's peak). Results also go to
bench/results/recommend-<users>-<items>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SPLIT = datetime(2026, 10, 1)
Step = tuple[str, float, str, float]  # label, seconds, note, peak RSS (MB)


def simulate(users: int, items: int, groups: int, per_user: float, seed: int
             ) -> dict[str, Any]:
    """Events, orders, order lines, products and profiles with planted taste groups."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    item_group = rng.integers(0, groups, items)
    members = [np.flatnonzero(item_group == g) for g in range(groups)]
    zipf = [1 / np.arange(1, len(m) + 1) ** 0.8 for m in members]
    first = rng.integers(0, groups, users)
    second = np.where(rng.random(users) < 0.5, rng.integers(0, groups, users), first)

    def draw(who: np.ndarray) -> np.ndarray:
        own = np.where(rng.random(len(who)) < 0.5, first[who], second[who])
        picked = np.empty(len(who), np.int64)
        for g in range(groups):
            at = np.flatnonzero(own == g)
            picked[at] = rng.choice(members[g], len(at), p=zipf[g] / zipf[g].sum())
        anywhere = rng.random(len(who)) < 0.2
        overall = 1 / np.arange(1, items + 1) ** 0.8
        picked[anywhere] = rng.choice(items, int(anywhere.sum()), p=overall / overall.sum())
        return picked

    who = np.repeat(np.arange(users), 1 + rng.poisson(per_user, users))
    what = draw(who)
    kind = rng.choice(3, len(who), p=[0.7, 0.2, 0.1])
    start = SPLIT - timedelta(days=180)
    when = np.datetime64(start, "s") + rng.integers(0, 180 * 86_400, len(who))
    test_who = np.repeat(np.arange(users), rng.integers(1, 4, users))
    test_what = draw(test_who)
    test_when = np.datetime64(SPLIT, "s") + rng.integers(1, 30 * 86_400, len(test_who))
    customer = np.char.add("U", np.char.zfill(np.arange(users).astype(str), 7))
    sku = np.char.add("I", np.char.zfill(np.arange(items).astype(str), 6))
    names = ["Product Viewed", "Product Added"]
    seen = kind < 2
    bought = np.concatenate([np.flatnonzero(~seen), len(who) + np.arange(len(test_who))])
    all_who, all_what = np.concatenate([who, test_who]), np.concatenate([what, test_what])
    all_when = np.concatenate([when, test_when])
    order = np.char.add("O", np.arange(len(bought)).astype(str))
    top = np.array([f"类目{g % 12}" for g in range(groups)])
    launched = np.datetime64(SPLIT.date(), "D") - rng.integers(1, 1500, items)
    return {
        "events": pa.table({
            "customer_id": customer[who[seen]],
            "event": np.array(names)[kind[seen]], "timestamp": when[seen],
            "product_id": sku[what[seen]]}),
        "orders": pa.table({"order_id": order, "customer_id": customer[all_who[bought]],
                            "ordered_at": all_when[bought], "status": ["paid"] * len(bought),
                            "total_amount": np.ones(len(bought))}),
        "order_items": pa.table({"order_id": order, "line_no": np.ones(len(bought), np.int64),
                                 "product_id": sku[all_what[bought]],
                                 "quantity": np.ones(len(bought), np.int64)}),
        "products": pa.table({
            "product_id": sku, "category": top[item_group],
            "category_path": np.char.add(np.char.add(top[item_group], "/"),
                                         item_group.astype(str)),
            "brand": np.char.add("B", (item_group * 3 + rng.integers(0, 3, items)).astype(str)),
            "price": rng.lognormal(5, 0.6, items), "launched_at": launched}),
        "profiles": pa.table({
            "customer_id": customer,
            "city": np.array(["北京", "上海", "广州", "深圳", "成都"])[rng.integers(0, 5, users)],
            "spending_level": np.array(["high", "mid", "mass"])[rng.integers(0, 3, users)]}),
        "interactions": len(who), "test_purchases": len(test_who),
    }


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss() -> float:
    """Current and peak resident set (MB) since the last :func:`_reset_peak`, from
    /proc (Linux); the process's lifetime peak elsewhere."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return _peak()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return float(fields["VmHWM"].split()[0]) / 1024


def _reset_peak() -> None:
    """Reset the kernel's high-water mark so the next step's peak is its own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--per-user", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", default="", help="comma-separated: bpr, evaluate")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    import ibis

    from portraits.predict.inputs import PredictInputs
    from portraits.predict.recommend import RecommendSpec, fit_recommender
    from portraits.predict.recs_eval import evaluate_recommender
    from portraits.predict.recs_signals import fit_factors

    data = simulate(args.users, args.items, args.groups, args.per_user, args.seed)
    con = ibis.duckdb.connect()
    tables = {name: con.create_table(name, data[name]) for name in
              ("events", "orders", "order_items", "products", "profiles")}
    inputs = PredictInputs(tables["orders"], tables["order_items"], tables["products"],
                           tables["events"], tables["profiles"])
    spec = RecommendSpec(threads=args.threads)
    rows: list[Step] = []

    def timed(label: str, run: Any, note: str = "") -> Any:
        _reset_peak()
        started = time.perf_counter()
        out = run()
        rows.append((label, time.perf_counter() - started, note, _rss()))
        return out

    rec = timed("fit_recommender (queries + signals + ALS)",
                lambda: fit_recommender(inputs, con.to_pyarrow, SPLIT, spec))
    matrix = rec.arrays.history
    rows[-1] = (*rows[-1][:2], f"{matrix.nnz:,} customer × product pairs", rows[-1][3])
    timed("ALS fit alone", lambda: fit_factors(matrix, spec),
          f"{spec.factors} factors, {spec.iterations} iterations")
    bpr = RecommendSpec(model="bpr", threads=args.threads)
    if "bpr" not in skip:
        timed("BPR fit alone", lambda: fit_factors(matrix, bpr), f"{bpr.bpr_iterations} epochs")
    n = len(rec.customers)
    timed("top 10 for every user: blend", lambda: rec.recommend(k=10), f"{n:,} users")
    timed("top 10 for every user: ALS alone", lambda: rec.recommend(k=10, method="cf"))
    timed("top 10 for every user: popularity", lambda: rec.recommend(k=10, method="popular"))
    found = None
    if "evaluate" not in skip:
        found = timed("evaluate_recommender (time split, 5 models)",
                      lambda: evaluate_recommender(inputs, con.to_pyarrow, SPLIT, spec, 30, 10))
        rows[-1] = (*rows[-1][:2], f"{found.customers:,} test buyers", rows[-1][3])

    report(args, data, rows, found)

def report(args: argparse.Namespace, data: dict[str, Any], rows: list[Step],
           found: Any) -> None:
    """Print the tables and write the JSON results."""
    print(f"\n{data['interactions']:,} interactions ({args.users:,} users × {args.items:,} "
          f"items, {args.groups} taste groups), {data['test_purchases']:,} test purchases, "
          f"{args.threads} threads\n")
    print(f"peak RSS over the steps {max(r[3] for r in rows):,.0f} MB\n")
    print("| step | seconds | peak RSS in step (MB) | note |\n|---|---:|---:|---|")
    for label, seconds, note, peak in rows:
        print(f"| {label} | {seconds:.2f} | {peak:,.0f} | {note} |")
    print("\n| model | precision@10 | recall@10 | NDCG@10 | hit rate@10 | coverage |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in found.rows() if found else []:
        print(f"| {m['model']} | {m['precision']:.4f} | {m['recall']:.4f} | {m['ndcg']:.4f} | "
              f"{m['hit_rate']:.3f} | {m['coverage']:.3f} |")
    out = BENCH / "results" / f"recommend-{args.users}-{args.items}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"steps": [dict(zip(("step", "seconds", "note", "peak_rss_mb"),
                                                  r, strict=True)) for r in rows],
                               "evaluation": found.to_dict() if found else None,
                               "peak_rss_mb": max(r[3] for r in rows),
                               "interactions": int(data["interactions"])},
                              ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
