"""The purchase summary the lifetime-value models fit on (R5.7), the purchases of a holdout
period, and how well the models predicted them.

A purchase is a day with at least one counted order (``portraits.profile.consumption``:
cancelled and refunded orders do not count), as in Fader and Hardie's CDNOW data and the
``lifetimes`` convention: two orders on one day are one purchase of their summed value.
Days are calendar days of the naive order time, as ``portraits.profile.spine`` counts them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from portraits.predict.clv import BGNBD, Array, GammaGamma, ParetoNBD
from portraits.profile.consumption import counted, person_orders
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import epoch_seconds

TOP_FREQUENCY = 7  # the by-frequency table groups 7 and more repeat purchases


def _purchase_days(orders: ir.Table, spec: ProfileSpec) -> ir.Table:
    """One row per customer and purchase day: the day number, its orders and value."""
    paid = orders.filter(counted(orders, spec))
    day = (paid.ordered_at.epoch_seconds() // 86_400).cast("int64")
    dated = paid.mutate(_day=day, _amount=paid.total_amount.fill_null(0.0).cast("float64"))
    return dated.group_by([CUSTOMER_ID, "_day"]).aggregate(
        _orders=dated.count(), _amount=dated["_amount"].sum())


def purchase_summary(orders: ir.Table, as_of: datetime, unit_days: float = 1.0,
                     spec: ProfileSpec | None = None) -> ir.Table:
    """Frequency, recency, T and mean value per customer, as of ``as_of``.

    Args:
        orders: Canonical orders with ``customer_id``.
        as_of: End of the calibration period: later orders are left out.
        unit_days: Days per unit of ``recency`` and ``T`` (7 for weeks).
        spec: Which statuses do not count (the defaults when omitted).

    Returns:
        One row per customer with a counted order: ``customer_id``, ``frequency``
        (purchase days after the first), ``recency`` (first to last purchase day) and
        ``T`` (first purchase day to the day of ``as_of``), both in units; ``monetary``
        (mean value of the repeat purchase days, 0 without any), ``orders`` and ``spend``.

    Example:
        >>> purchase_summary(ws.table("orders"), datetime(2026, 6, 1))  # doctest: +SKIP
    """
    days = _purchase_days(person_orders(orders, as_of), spec or ProfileSpec())
    per = days.group_by(CUSTOMER_ID).aggregate(
        _days=days.count(), _first=days["_day"].min(), _last=days["_day"].max(),
        _first_amount=days["_amount"].argmin(days["_day"]),
        orders=days["_orders"].sum(), spend=days["_amount"].sum())
    frequency = (per["_days"] - 1).cast("int64")
    today = ibis.literal(epoch_seconds(as_of) // 86_400)
    repeat_spend = per.spend - per["_first_amount"]
    return per.select(
        CUSTOMER_ID, frequency=frequency,
        recency=(per["_last"] - per["_first"]).cast("float64") / unit_days,
        T=(today - per["_first"]).cast("float64") / unit_days,
        monetary=ibis.ifelse(frequency > 0, repeat_spend / frequency.cast("float64"), 0.0),
        orders=per.orders.cast("int64"), spend=per.spend)


def holdout_purchases(orders: ir.Table, start: datetime, end: datetime,
                      spec: ProfileSpec | None = None) -> ir.Table:
    """Purchases (days with counted orders) and their value per customer in (start, end].

    Args:
        orders: Canonical orders with ``customer_id``.
        start: The calibration period's ``as_of`` (excluded).
        end: End of the holdout period (included).
        spec: Which statuses do not count.

    Returns:
        ``customer_id``, ``purchases`` and ``spend`` for each customer who bought.
    """
    mine = person_orders(orders, end)
    later = mine.filter(mine.ordered_at > ibis.literal(start))
    days = _purchase_days(later, spec or ProfileSpec())
    return days.group_by(CUSTOMER_ID).aggregate(
        purchases=days.count().cast("int64"), spend=days["_amount"].sum())


LABELS: dict[str, tuple[str, str]] = {
    "customers": ("Customers (calibration)", "客户数（校准期）"),
    "holdout_days": ("Holdout days", "验证期天数"),
    "mae": ("MAE of purchases per customer", "每客户购买次数 MAE"),
    "rmse": ("RMSE of purchases per customer", "每客户购买次数 RMSE"),
    "correlation": ("Correlation, predicted vs actual", "预测与实际的相关系数"),
    "predicted_purchases": ("Predicted purchases (total)", "预测购买次数（合计）"),
    "actual_purchases": ("Actual purchases (total)", "实际购买次数（合计）"),
    "purchases_error": ("Error of the total", "合计误差"),
    "buyers": ("Holdout buyers", "验证期购买客户"),
    "predicted_spend": ("Predicted value per purchase (buyers)", "预测客单价（购买客户）"),
    "actual_spend": ("Actual value per purchase (buyers)", "实际客单价（购买客户）"),
    "spend_error": ("Error of the value per purchase", "客单价误差"),
    "predicted_revenue": ("Predicted revenue", "预测销售额"),
    "actual_revenue": ("Actual revenue", "实际销售额"),
    "revenue_error": ("Error of the revenue", "销售额误差"),
}
_PERCENT = {"purchases_error", "spend_error", "revenue_error"}


@dataclass(frozen=True)
class ClvEvaluation:
    """Predicted against actual holdout purchases and spend of the calibration customers.

    Attributes:
        customers: Customers in the calibration summary.
        holdout_days: Length of the holdout period.
        mae, rmse, correlation: Of predicted vs actual purchases per customer.
        predicted_purchases, actual_purchases, purchases_error: Totals; error relative.
        buyers: Customers who bought in the holdout.
        predicted_spend, actual_spend, spend_error: Mean value per purchase over the
            buyers, Gamma-Gamma's expectation vs what they spent per purchase day.
        predicted_revenue, actual_revenue, revenue_error: Expected purchases times expected
            value, summed, vs the holdout spend of the calibration customers.
        by_frequency: Per calibration frequency 0..6 and 7+ (Fader and Hardie's
            conditional expectations): customers, mean predicted and actual purchases,
            buyers, mean predicted and actual value per purchase.
    """

    customers: int
    holdout_days: float
    mae: float
    rmse: float
    correlation: float
    predicted_purchases: float
    actual_purchases: float
    purchases_error: float
    buyers: int
    predicted_spend: float
    actual_spend: float
    spend_error: float
    predicted_revenue: float
    actual_revenue: float
    revenue_error: float
    by_frequency: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-serialisable (NaN where undefined becomes None)."""
        safe: dict[str, Any] = _json_safe(asdict(self) | {"by_frequency": list(self.by_frequency)})
        return safe

    def rows(self) -> list[dict[str, Any]]:
        """The by-frequency table, one dict per row."""
        return [dict(row) for row in self.by_frequency]

    def summary(self, lang: str = "en") -> list[tuple[str, str]]:
        """(label, formatted value) for each headline figure, in ``lang`` (en or zh-CN)."""
        pick = 1 if lang == "zh-CN" else 0
        values = self.to_dict()
        out = []
        for key, labels in LABELS.items():
            value = values[key]
            if value is None:
                text = "–"
            elif key in _PERCENT:
                text = f"{value:+.1%}"
            elif isinstance(value, int) or key == "holdout_days":
                text = f"{value:,.0f}"
            else:
                text = f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
            out.append((labels[pick], text))
        return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _column(table: pa.Table, name: str) -> Array:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _relative(predicted: float, actual: float) -> float:
    return (predicted - actual) / actual if actual else float("nan")


def _mean(values: Array) -> float:
    return float(values.mean()) if values.size else float("nan")


def _by_frequency(x: Array, predicted: Array, actual: Array, spend_predicted: Array,
                  spend_actual: Array) -> tuple[dict[str, Any], ...]:
    rows = []
    group = np.minimum(x, TOP_FREQUENCY).astype(np.int64)
    for g in range(TOP_FREQUENCY + 1):
        mine = group == g
        bought = mine & (actual > 0)
        rows.append({
            "frequency": f"{g}+" if g == TOP_FREQUENCY else str(g),
            "customers": int(mine.sum()),
            "predicted_purchases": _mean(predicted[mine]),
            "actual_purchases": _mean(actual[mine]),
            "buyers": int(bought.sum()),
            "predicted_spend": _mean(spend_predicted[bought]),
            "actual_spend": _mean(spend_actual[bought]),
        })
    return tuple(rows)


def evaluate_clv(calibration: pa.Table, holdout: pa.Table,
                 transactions: BGNBD | ParetoNBD, spend: GammaGamma, holdout_days: float,
                 unit_days: float = 1.0) -> ClvEvaluation:
    """Compare the models' predictions for the calibration customers with the holdout.

    Args:
        calibration: :func:`purchase_summary` as of the split, collected to Arrow.
        holdout: :func:`holdout_purchases` from the split to its end, collected to Arrow
            (customers absent from ``calibration`` are ignored: they were not predicted).
        transactions: The purchase model fitted on ``calibration``.
        spend: The Gamma-Gamma model fitted on ``calibration``.
        holdout_days: Length of the holdout period in days.
        unit_days: Days per unit of the summary's ``recency`` and ``T``.

    Returns:
        The evaluation.
    """
    joined = calibration.select([CUSTOMER_ID, "frequency", "recency", "T", "monetary"]).join(
        holdout.select([CUSTOMER_ID, "purchases", "spend"]), CUSTOMER_ID,
        join_type="left outer")
    x, t_x, t_end, monetary = (_column(joined, c) for c in ("frequency", "recency", "T",
                                                            "monetary"))
    actual = np.nan_to_num(_column(joined, "purchases"))
    revenue = np.nan_to_num(_column(joined, "spend"))
    predicted = transactions.expected_purchases(holdout_days / unit_days, x, t_x, t_end)
    value = spend.expected_spend(x, monetary)
    buyers = actual > 0
    per_purchase = np.divide(revenue, actual, out=np.zeros_like(revenue), where=buyers)
    error = predicted - actual
    same = predicted.size > 1 and predicted.std() > 0 and actual.std() > 0
    predicted_spend, actual_spend = _mean(value[buyers]), _mean(per_purchase[buyers])
    predicted_revenue = float((predicted * value).sum())
    return ClvEvaluation(
        customers=int(x.size), holdout_days=float(holdout_days),
        mae=float(np.abs(error).mean()) if x.size else float("nan"),
        rmse=float(np.sqrt((error ** 2).mean())) if x.size else float("nan"),
        correlation=float(np.corrcoef(predicted, actual)[0, 1]) if same else float("nan"),
        predicted_purchases=float(predicted.sum()), actual_purchases=float(actual.sum()),
        purchases_error=_relative(float(predicted.sum()), float(actual.sum())),
        buyers=int(buyers.sum()), predicted_spend=predicted_spend, actual_spend=actual_spend,
        spend_error=_relative(predicted_spend, actual_spend),
        predicted_revenue=predicted_revenue, actual_revenue=float(revenue.sum()),
        revenue_error=_relative(predicted_revenue, float(revenue.sum())),
        by_frequency=_by_frequency(x, predicted, actual, value, per_purchase))
