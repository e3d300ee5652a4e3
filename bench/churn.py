"""Benchmark: churn risk and purchase propensity — features, training, evaluation, scoring.

    uv run python bench/churn.py                      # 1,000,000 customers (~20M events)
    uv run python bench/churn.py --customers 20000    # a quick run
    uv run python bench/churn.py --task churn --windows 1

Uses the workspace bench/tags.py prepares (generated, loaded, profiled; orders and events
stored with the truth's customer ids, narrow: no discount or coupon columns, so those two
features are null; cached in bench/data/tags-<N>/). Timed, in one process on DuckDB, per
task (``ClassifierSpec`` defaults: 30-day horizon, 3 training windows, 200,000 training
rows at most, isotonic calibration over 3 folds, one OpenMP thread):

- features: features as of each cutoff with the labels of the window after it, to Arrow
  (``labelled_frame``), one row per training cutoff and one for the holdout;
- training: the seeded sample of the stacked frames and the fit (``fit_estimator``);
- evaluation: holdout scores, ROC/PR-AUC, calibration, lift and permutation importance on
  at most 10,000 rows (``evaluate_holdout``);
- scoring: features as of the reference time and the scores of the whole population
  (``Classifier.score``).

Peak RSS is the process's. Results also go to bench/results/churn-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def timed(name: str, run: Callable[[], Any], rows: list[dict[str, Any]],
          count: Callable[[Any], int]) -> Any:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    rows.append({"step": name, "seconds": round(seconds, 2), "rows": count(result)})
    print(f"{name:<44} {seconds:8.2f} s", file=sys.stderr)
    return result


def run_task(task: str, root: Path, as_of: datetime, args: argparse.Namespace,
             rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time one task's steps; its holdout figures."""
    import pyarrow as pa

    from portraits.predict.classify import (
        Classifier,
        ClassifierSpec,
        evaluate_holdout,
        fit_estimator,
        holdout_cutoff,
        labelled_frame,
        training_cutoffs,
    )
    from portraits.predict.features import FEATURES
    from portraits.predict.inputs import PredictInputs
    from portraits.settings import Settings
    from portraits.workspace.facade import Workspace

    spec = ClassifierSpec(task=task, horizon_days=args.horizon,  # type: ignore[arg-type]
                          training_windows=args.windows, max_rows=args.max_rows)
    with Workspace(root, settings=Settings(now=as_of, lang="en")) as ws:
        inputs = PredictInputs(orders=ws.table("orders"), order_items=ws.table("order_items"),
                               products=ws.table("products"), events=ws.table("events"))
        to_arrow = ws.engine.to_arrow
        frames = [timed(f"{task}: features as of {cutoff:%Y-%m-%d}",
                        partial(labelled_frame, inputs, to_arrow, cutoff, spec), rows,
                        lambda t: t.num_rows)
                  for cutoff in training_cutoffs(as_of, spec)]
        stacked = pa.concat_tables(frames)
        fitted = timed(f"{task}: training (sample + fit)",
                       partial(fit_estimator, stacked, spec), rows, lambda f: f[1])
        del frames, stacked
        holdout = timed(f"{task}: holdout features", lambda: labelled_frame(
            inputs, to_arrow, holdout_cutoff(as_of, spec), spec), rows, lambda t: t.num_rows)
        evaluation = timed(f"{task}: evaluation", lambda: evaluate_holdout(
            fitted[0], holdout, spec), rows, lambda e: e.holdout_rows)
        model = Classifier(spec, fitted[0], tuple(FEATURES), as_of, as_of, fitted[1],
                           fitted[2], evaluation)
        scores = timed(f"{task}: scoring (features + predict)",
                       lambda: model.score(inputs, to_arrow), rows, lambda t: t.num_rows)
    return {"task": task, "roc_auc": evaluation.roc_auc, "pr_auc": evaluation.pr_auc,
            "brier": evaluation.brier, "base_rate": evaluation.base_rate,
            "mean_predicted": evaluation.mean_predicted, "scored": scores.num_rows,
            "top_features": [r.feature for r in evaluation.importances[:5]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--task", choices=("churn", "propensity", "both"), default="both")
    parser.add_argument("--windows", type=int, default=3, help="training windows")
    parser.add_argument("--horizon", type=int, default=30, help="days")
    parser.add_argument("--max-rows", type=int, default=200_000, help="training sample")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    from tags import prepared

    root, as_of = prepared(args.customers)
    tasks = ("churn", "propensity") if args.task == "both" else (args.task,)
    rows: list[dict[str, Any]] = []
    figures = [run_task(task, root, as_of, args, rows) for task in tasks]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.customers:,} customers, as of {as_of:%Y-%m-%d}, {args.windows} training "
          f"windows of {args.horizon} days, ≤ {args.max_rows:,} training rows; "
          f"peak RSS {peak:,.0f} MB")
    print(f"{'step':<44} {'seconds':>8} {'rows':>10}")
    for row in rows:
        print(f"{row['step']:<44} {row['seconds']:8.2f} {row['rows']:>10,}")
    for f in figures:
        print(f"{f['task']}: holdout ROC-AUC {f['roc_auc']:.3f}, PR-AUC {f['pr_auc']:.3f}, "
              f"Brier {f['brier']:.4f}, observed {f['base_rate']:.1%} vs predicted "
              f"{f['mean_predicted']:.1%}; {f['scored']:,} scored; top features "
              f"{', '.join(f['top_features'])}")
    out = BENCH / "results" / f"churn-{args.customers}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"customers": args.customers, "as_of": as_of.isoformat(),
                               "peak_rss_mb": round(peak), "rows": rows,
                               "figures": figures}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
