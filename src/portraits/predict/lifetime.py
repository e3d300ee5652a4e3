"""Customer lifetime value for a workspace: fit, evaluate on a holdout, score.

The purchase summary (:mod:`portraits.predict.summary`) is computed on the engine; the
models (:mod:`portraits.predict.clv`) are fitted in NumPy/SciPy on one row per distinct
(frequency, recency, T) with its count as weight, which is exact and much smaller.
Time is counted in weeks, as in the literature (CDNOW), so the parameters read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portraits.predict.clv import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    lifetime_value,
)
from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.spec import PredictSpec
from portraits.predict.summary import (
    ClvEvaluation,
    evaluate_clv,
    holdout_purchases,
    purchase_summary,
)
from portraits.profile.schema import CUSTOMER_ID

UNIT_DAYS: Final = 7.0
# A small L2 penalty keeps the purchase-frequency fit off the boundary of parameter space
# when purchases are very regular (synthetic or subscription-like data), where plain
# maximum likelihood runs a and b of BG/NBD towards infinity. lifetimes' docs suggest
# 0.001–0.1.
PENALIZER: Final = 0.001


@dataclass(frozen=True)
class ClvModel:
    """Fitted purchase-frequency and spend models, and how they did on the holdout.

    Attributes:
        transactions: BG/NBD or Pareto/NBD, fitted on all purchases up to ``as_of``.
        spend: Gamma-Gamma.
        as_of: The data the final fit saw ends here.
        evaluation: The same models fitted up to ``as_of − holdout_days`` against the
            purchases of the holdout that followed.
    """

    transactions: BGNBD | ParetoNBD
    spend: GammaGamma
    as_of: datetime
    evaluation: ClvEvaluation

    def score(self, inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
              spec: PredictSpec) -> pa.Table:
        """P(alive), expected purchases over ``spec.clv_horizon_days``, expected spend
        per purchase and the discounted CLV of every customer with a purchase."""
        summary = _summary(inputs, to_arrow, as_of)
        x, t_x, big_t, m = (_column(summary, c) for c in ("frequency", "recency", "T",
                                                         "monetary"))
        horizon = spec.clv_horizon_days / UNIT_DAYS
        value = lifetime_value(self.transactions, self.spend, x, t_x, big_t, m,
                               horizon_days=spec.clv_horizon_days,
                               discount_rate_annual=spec.discount_rate, margin=spec.margin,
                               unit_days=UNIT_DAYS)
        return pa.table({
            CUSTOMER_ID: summary[CUSTOMER_ID],
            "p_alive": self.transactions.p_alive(x, t_x, big_t),
            "expected_purchases": self.transactions.expected_purchases(horizon, x, t_x, big_t),
            "expected_spend": self.spend.expected_spend(x, m),
            "clv": value})


def _summary(inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime) -> pa.Table:
    table = to_arrow(purchase_summary(inputs.orders, as_of, UNIT_DAYS))
    return table.sort_by(CUSTOMER_ID)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=float)


def fit_models(summary: pa.Table, model: str) -> tuple[BGNBD | ParetoNBD, GammaGamma]:
    """Fit the purchase-frequency model and Gamma-Gamma on a purchase summary."""
    distinct = summary.group_by(["frequency", "recency", "T"]).aggregate(
        [(CUSTOMER_ID, "count")]).sort_by([("frequency", "ascending"),
                                           ("recency", "ascending"), ("T", "ascending")])
    x, t_x, big_t = (_column(distinct, c) for c in ("frequency", "recency", "T"))
    weights = _column(distinct, f"{CUSTOMER_ID}_count")
    fit = fit_pareto_nbd if model == "pareto_nbd" else fit_bgnbd
    transactions = fit(x, t_x, big_t, weights=weights, penalizer=PENALIZER)
    repeat = summary.filter(pc.greater(summary["frequency"], 0))
    # No penalty here: it pulls q towards 0, below the q > 1 a finite mean needs.
    spend = fit_gamma_gamma(_column(repeat, "frequency"), _column(repeat, "monetary"))
    return transactions, spend


def train_clv(inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
              spec: PredictSpec) -> ClvModel:
    """Fit up to ``as_of − clv_holdout_days`` and compare with the holdout's purchases,
    then fit again on everything up to ``as_of`` (the model that scores)."""
    holdout_days = spec.clv_holdout_days
    cutoff = as_of - timedelta(days=holdout_days)
    calibration = _summary(inputs, to_arrow, cutoff)
    if calibration.num_rows < 50:
        from portraits.errors import PortraitsError

        raise PortraitsError(f"CLV needs at least 50 customers with purchases before "
                             f"{cutoff:%Y-%m-%d}; found {calibration.num_rows}")
    transactions, spend = fit_models(calibration, spec.clv_model)
    actual = to_arrow(holdout_purchases(inputs.orders, cutoff, as_of))
    evaluation = evaluate_clv(calibration, actual, transactions, spend, holdout_days,
                              unit_days=UNIT_DAYS)
    final_transactions, final_spend = fit_models(_summary(inputs, to_arrow, as_of),
                                                 spec.clv_model)
    return ClvModel(final_transactions, final_spend, as_of, evaluation)


def parameters(model: ClvModel) -> dict[str, Any]:
    """The fitted parameters, by model, for the report."""
    def fields(fitted: Any) -> dict[str, float]:
        return {k: round(float(v), 6) for k, v in vars(fitted).items()}

    return {type(model.transactions).__name__: fields(model.transactions),
            "GammaGamma": fields(model.spend)}
