"""Benchmark: next-category demand — candidate features and labels, training, evaluation,
scoring.

    uv run python bench/nextcat.py                      # 1,000,000 customers (~20M events)
    uv run python bench/nextcat.py --customers 20000    # a quick run
    uv run python bench/nextcat.py --sample 0           # without the before/after sample

Uses the workspace bench/tags.py prepares (generated, loaded, profiled; cached in
bench/data/tags-<N>/), as bench/churn.py does. Its stored events are narrow (no
``product_id``), so the product events the model reads (views, cart and wishlist adds)
are taken once from the generator's files with the truth's customer ids, as the workspace
loaded them (timestamps at its +08:00), and cached in bench/data/nextcat-<N>/ (not timed).
Timed, in one process on DuckDB (``NextCategorySpec`` defaults: 30-day horizon, 3
training windows, top 3, one OpenMP thread):

- features + labels: the candidate rows as of each training cutoff, to Arrow and sorted,
  with the label of each row (its category is in the customer's next order);
- training: the fit on the stacked rows;
- evaluation: the holdout window's candidates and labels, the model beside the three
  baselines (top-1, top-k, MRR, per-category precision and recall);
- scoring: candidates as of the reference time, scores, rankings and probabilities of
  every active customer (``NextCategoryModel.score``);
- before/after: the ranking and probabilities (to the Arrow table the model returns) of
  ``--sample`` customers' candidates, then of all, by the loops the model used before (a
  copy below) and by the arrays it uses now; the two tables must be equal.

Peak RSS is the process's, read after each step. Results also go to
bench/results/nextcat-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
_KINDS = ("Product Viewed", "Product Added", "Product Added to Wishlist")


def product_events(root: Path, customers: int) -> Path:
    """The product events of the generated files with the truth's customer ids (once)."""
    out = BENCH / "data" / f"nextcat-{customers}" / "events.parquet"
    if out.exists():
        return out
    import duckdb
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from tests.profile.truth_ids import identifier_map, truth_people

    started = time.perf_counter()
    print(f"product events of {customers:,} customers (once; cached in {out.parent})",
          file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    ids, part = out.parent / "ids.parquet", out.with_suffix(".part")
    pq.write_table(identifier_map(truth_people(root)), ids)
    events = root / "data" / "events"
    kinds = ", ".join(f"'{k}'" for k in _KINDS)
    # What the workspace's loader does: ISO text with Z is shifted to +08:00; the app's
    # Parquet timestamps are local already; ids mapped as tests/profile/truth_ids.py does.
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          WITH raw AS (
            SELECT user_id, device_id, anonymous_id, event, "timestamp", product_id
            FROM read_parquet('{events}/*.parquet') WHERE event IN ({kinds})
            UNION ALL
            SELECT userId, context.device.id, anonymousId, event,
                   CAST(replace("timestamp", 'Z', '') AS TIMESTAMP) + INTERVAL 8 HOUR,
                   properties.product_id
            FROM read_json('{events}/*.jsonl', format='newline_delimited',
                           ignore_errors=true, columns={{
                userId: 'VARCHAR', anonymousId: 'VARCHAR', event: 'VARCHAR',
                "timestamp": 'VARCHAR', context: 'STRUCT(device STRUCT(id VARCHAR))',
                properties: 'STRUCT(product_id VARCHAR)'}})
            WHERE event IN ({kinds})
          ), ids AS (SELECT * FROM read_parquet('{ids}'))
          SELECT coalesce(u.customer_id, d.customer_id, a.customer_id) AS customer_id,
                 raw.event, raw."timestamp", raw.product_id
          FROM raw
          LEFT JOIN ids u ON raw.user_id = u.id_value
          LEFT JOIN ids d ON raw.device_id = d.id_value
          LEFT JOIN ids a ON raw.anonymous_id = a.id_value
        ) TO '{part}' (FORMAT parquet, COMPRESSION zstd)""")
    con.close()
    ids.unlink()
    part.rename(out)  # only a finished file counts as cached
    print(f"product events in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out


def timed(name: str, run: Callable[[], Any], rows: list[dict[str, Any]],
          count: Callable[[Any], int]) -> Any:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append({"step": name, "seconds": round(seconds, 2), "rows": count(result),
                 "peak_rss_mb": round(peak)})
    print(f"{name:<52} {seconds:8.2f} s", file=sys.stderr)
    return result


def loop_scores(frame: Any, scores: Any, popular: Sequence[str], customers: Sequence[str],
                top: int) -> Any:
    """The ranking and probabilities as the model computed them before: Python loops
    over candidate rows and customers (a copy, for the before/after; customers without
    candidates get a null probability here and in :func:`array_scores`)."""
    import numpy as np
    import pyarrow as pa

    ids = np.asarray(frame.column("customer_id").to_pylist(), dtype=object)
    categories = np.asarray(frame.column("category").to_pylist(), dtype=object)
    order = np.lexsort((categories.astype(str), -scores, ids.astype(str)))
    ranked: dict[str, list[str]] = {}
    for i in order:
        ranked.setdefault(str(ids[i]), []).append(str(categories[i]))
    for ranking in ranked.values():
        ranking.extend(c for c in popular if c not in ranking)
    best: dict[str, float] = {}
    total: dict[str, float] = {}
    count: Counter[str] = Counter()
    for customer, value in zip(frame.column("customer_id").to_pylist(), scores, strict=True):
        best[customer] = max(best.get(customer, 0.0), float(value))
        total[customer] = total.get(customer, 0.0) + float(value)
        count[customer] += 1
    normalised = {c: best[c] / total[c] if total[c] > 0 else 1.0 / count[c] for c in best}
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for customer in sorted(customers):
        first: list[str | None] = [*ranked.get(customer, list(popular))[:top], None, None]
        for name, value in zip(COLUMNS, (customer, first[0], normalised.get(customer),
                                         first[1], first[2]), strict=True):
            columns[name].append(value)
    return pa.table(columns, schema=schema())


COLUMNS = ("customer_id", "next_category", "probability", "second_category",
           "third_category")


def schema() -> Any:
    import pyarrow as pa

    return pa.schema([(name, pa.float64() if name == "probability" else pa.string())
                      for name in COLUMNS])


def array_scores(frame: Any, scores: Any, popular: Sequence[str], customers: Any,
                 top: int) -> Any:
    """The same with the model's arrays now (as ``NextCategoryModel.score`` does)."""
    import numpy as np
    import pyarrow as pa

    from portraits.predict.nextcat_features import (
        CandidateCodes,
        normalised_best,
        ranked_rows,
        top_categories,
    )

    codes = CandidateCodes.of((frame.column("customer_id"), customers),
                              (frame.column("category"), pa.array(popular, pa.string())))
    customer, category = codes.rows(frame)
    ranked = top_categories(codes, ranked_rows(customer, category, scores),
                            codes.category(popular), top)
    has, probability = normalised_best(customer, scores, len(codes.customers))
    rows = np.sort(codes.customer(customers))
    none = np.full(len(rows), -1)
    names = [codes.name(ranked[rows, j] if j < top else none) for j in range(3)]
    return pa.table([codes.customers.take(pa.array(rows)), names[0],
                     pa.array(probability[rows], pa.float64(), mask=~has[rows]),
                     names[1], names[2]], schema=schema())


def before_after(inputs: Any, to_arrow: Any, model: Any, as_of: datetime, sample: int,
                 rows: list[dict[str, Any]]) -> bool:
    """Time the old loops and the arrays on the candidates of ``sample`` customers; True
    when both give the same rankings and probabilities."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from portraits.predict.nextcat_features import active_customers, category_features

    frame = timed("scoring parts: candidate features to Arrow", lambda: to_arrow(
        category_features(inputs, as_of)).sort_by([("customer_id", "ascending"),
                                                    ("category", "ascending")]),
        rows, lambda t: t.num_rows)
    active = to_arrow(active_customers(inputs, as_of)).column("customer_id")
    chosen = pc.sort_indices(active).to_numpy()[:: max(1, len(active) // sample)][:sample]
    customers = active.take(pa.array(chosen))
    part = frame.filter(pc.is_in(frame.column("customer_id"), value_set=customers))
    popular = model.popular
    scores = timed(f"scoring parts: predict ({part.num_rows:,} rows of {sample:,})",
                   lambda: model_scores(model, part), rows, len)
    before = timed(f"scoring parts: rank, loops (before), {sample:,}", lambda: loop_scores(
        part, scores, popular, customers.to_pylist(), model.spec.top), rows, len)
    after = timed(f"scoring parts: rank, arrays (after), {sample:,}", lambda: array_scores(
        part, scores, popular, customers, model.spec.top), rows, len)
    everyone = timed("scoring parts: predict, all candidates",
                     lambda: model_scores(model, frame), rows, len)
    before_all = timed("scoring parts: rank, loops (before), all", lambda: loop_scores(
        frame, everyone, popular, active.to_pylist(), model.spec.top), rows, len)
    after_all = timed("scoring parts: rank, arrays (after), all", lambda: array_scores(
        frame, everyone, popular, active, model.spec.top), rows, len)
    return bool(before.equals(after) and before_all.equals(after_all))


def model_scores(model: Any, frame: Any) -> Any:
    import numpy as np

    from portraits.predict.inputs import one_thread

    matrix = np.column_stack([frame.column(name).to_numpy(zero_copy_only=False)
                              .astype(np.float64) for name in model.features])
    with one_thread():
        return model.estimator.predict_proba(matrix)[:, 1]


def run(root: Path, events: Path, as_of: datetime, args: argparse.Namespace,
        rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time each step; the holdout figures."""
    import numpy as np

    from portraits.predict.inputs import PredictInputs
    from portraits.predict.nextcat import (
        NextCategoryModel,
        NextCategorySpec,
        evaluate_next_category,
        fit_next_category,
        labelled_window,
        training_cutoffs,
    )
    from portraits.predict.nextcat_features import FEATURES, category_popularity
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace

    spec = NextCategorySpec(horizon_days=args.horizon, training_windows=args.windows)
    with Workspace(root, settings=Settings(now=as_of, lang="en")) as ws:
        inputs = PredictInputs(orders=ws.table("orders"), order_items=ws.table("order_items"),
                               products=ws.table("products"),
                               events=ws.engine.read_parquet([events]))
        to_arrow = ws.engine.to_arrow
        windows = [timed(f"features + labels as of {cutoff:%Y-%m-%d}",
                         partial(labelled_window, inputs, to_arrow, cutoff, spec.horizon_days),
                         rows, lambda w: len(w[1]))
                   for cutoff in training_cutoffs(as_of, spec)]
        matrix = np.vstack([m for m, _ in windows])
        target = np.concatenate([t for _, t in windows])
        del windows
        positives, stacked = float(target.mean()), len(target)
        estimator = timed("training (fit)", partial(fit_next_category, matrix, target,
                                                    spec.seed), rows, lambda _: stacked)
        del matrix, target
        evaluation = timed("evaluation (holdout features, labels, 4 rankings)",
                           lambda: evaluate_next_category(inputs, to_arrow, estimator, as_of,
                                                          spec), rows, lambda e: e.customers)
        popular = to_arrow(category_popularity(inputs, as_of)).sort_by(
            [("popularity", "descending"), ("category", "ascending")]).column("category")
        model = NextCategoryModel(estimator, FEATURES, spec, as_of, as_of,
                                  tuple(popular.to_pylist()), evaluation)
        scores = timed("scoring all customers (NextCategoryModel.score)",
                       lambda: model.score(inputs, to_arrow, as_of), rows, lambda t: t.num_rows)
        same = before_after(inputs, to_arrow, model, as_of, args.sample, rows) \
            if args.sample else None
    return {"positives": positives, "evaluation": evaluation.to_dict(),
            "scored": scores.num_rows, "same_as_loops": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--windows", type=int, default=3, help="training windows")
    parser.add_argument("--horizon", type=int, default=30, help="days")
    parser.add_argument("--sample", type=int, default=100_000,
                        help="customers of the before/after (0: none)")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    from tags import prepared

    root, as_of = prepared(args.customers)
    events = product_events(root, args.customers)
    rows: list[dict[str, Any]] = []
    figures = run(root, events, as_of, args, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.customers:,} customers, as of {as_of:%Y-%m-%d}, {args.windows} training "
          f"windows of {args.horizon} days; peak RSS {peak:,.0f} MB")
    print(f"{'step':<52} {'seconds':>8} {'rows':>10} {'peak MB':>8}")
    for row in rows:
        print(f"{row['step']:<52} {row['seconds']:8.2f} {row['rows']:>10,} "
              f"{row['peak_rss_mb']:>8,}")
    evaluation = figures["evaluation"]
    print(f"holdout {evaluation['cutoff'][:10]}: {evaluation['customers']:,} customers, "
          f"covered {evaluation['covered']:.1%}; {figures['positives']:.1%} positive "
          f"training rows; {figures['scored']:,} scored")
    for s in evaluation["scores"]:
        print(f"  {s['method']:<16} top-1 {s['top1']:.1%}  top-{evaluation['k']} "
              f"{s['topk']:.1%}  MRR {s['mrr']:.3f}")
    if figures["same_as_loops"] is not None:
        print(f"loops and arrays give equal tables: {figures['same_as_loops']}")
    out = BENCH / "results" / f"nextcat-{args.customers}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"customers": args.customers, "as_of": as_of.isoformat(),
                               "peak_rss_mb": round(peak), "rows": rows,
                               "figures": figures}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
