"""RFM (recency, frequency, monetary) scores per customer (R5.3).

Who is scored: every customer with a counted order up to the reference date. Recency is
the days since their last counted order; frequency and monetary are the counted orders
and the amount paid within the window (365 days by default) before the reference date.

Each of R, F and M becomes a score from 1 to 5, either by quintiles or by thresholds:

- quintiles: a customer's score is 1 + ⌊5 × percent rank⌋ (capped at 5), the percent rank
  being (rank − 1) / (n − 1) with ties sharing the lowest rank, so equal values always get
  equal scores and the result does not depend on row order or the engine. Recency ranks
  the other way round (the most recent buyers score 5).
- thresholds: four ascending cut points; for frequency and monetary a value at or above
  the i-th cut point scores i + 1, for recency a value at or below the i-th scores 6 − i.

Frequency defaults to thresholds (2, 3, 4, 6 orders) because most customers buy once or
twice: quintiles of so many ties would give a one-time buyer the same score as a regular.
``rfm_fm`` is the rounded mean of F and M, which the named segments read.
The named segments and value layers are standard tags (``rfm_segment``, ``value_layer``
in the tag library), so a workspace can change their rules like any tag.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final, Literal

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator

from portraits.profile.consumption import counted, person_orders
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import days_between

Quintiles = Literal["quintiles"]
RFM_FIELDS: Final[dict[str, tuple[str, str, str]]] = {
    # name: (kind, English, 中文)
    "rfm_recency_days": ("number", "Days since the last order", "最近一次购买距今天数"),
    "rfm_frequency": ("number", "Orders in the RFM window", "窗口内购买次数"),
    "rfm_monetary": ("number", "Amount paid in the RFM window (CNY)", "窗口内消费金额"),
    "rfm_r": ("number", "Recency score (1-5, 5 = most recent)", "R 分（1-5）"),
    "rfm_f": ("number", "Frequency score (1-5)", "F 分（1-5）"),
    "rfm_m": ("number", "Monetary score (1-5)", "M 分（1-5）"),
    "rfm_fm": ("number", "Mean of F and M scores, rounded half up", "F、M 平均分"),
    "rfm_score": ("string", "R, F and M scores as three digits ('545')", "RFM 分值"),
}


class RfmSpec(BaseModel):
    """How RFM is scored (``rfm:`` in ``portraits.yaml``).

    Attributes:
        window_days: Frequency and monetary count the orders of this many days before the
            reference date.
        reference_date: The day RFM is computed for (orders up to the end of the day
            before it count); the workspace's current time when empty.
        recency: ``quintiles`` or four ascending day counts (5 at or below the first).
        frequency: ``quintiles`` or four ascending order counts (5 at or above the last).
        monetary: ``quintiles`` or four ascending amounts in CNY.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(365, ge=1, le=3650)
    reference_date: date | None = None
    recency: Quintiles | tuple[float, float, float, float] = "quintiles"
    frequency: Quintiles | tuple[float, float, float, float] = (2, 3, 4, 6)
    monetary: Quintiles | tuple[float, float, float, float] = "quintiles"

    @field_validator("recency", "frequency", "monetary")
    @classmethod
    def _ascending(cls, value: object) -> object:
        if isinstance(value, tuple) and list(value) != sorted(set(value)):
            raise ValueError("the four cut points must go up, each above the last")
        return value

    def as_of(self, now: datetime) -> datetime:
        """The reference time: midnight starting ``reference_date``, else ``now``."""
        return datetime.combine(self.reference_date, time()) if self.reference_date else now


def rfm_scores(orders: ir.Table, spec: RfmSpec, as_of: datetime,
               profile: ProfileSpec | None = None) -> ir.Table:
    """One row per customer with a counted order: the fields of :data:`RFM_FIELDS`.

    Args:
        orders: Canonical orders with ``customer_id``.
        spec: Window and scoring.
        as_of: Reference time (``spec.as_of`` of the workspace's time).
        profile: Which order statuses do not count (the profile build's rule).

    Example:
        >>> rfm_scores(orders, RfmSpec(), datetime(2026, 11, 1)).rfm_segment  # doctest: +SKIP
    """
    mine = person_orders(orders, as_of)
    mine = mine.filter(counted(mine, profile or ProfileSpec()))
    start = ibis.literal(as_of - timedelta(days=spec.window_days))
    inside = mine.ordered_at > start
    facts = mine.group_by(CUSTOMER_ID).aggregate(
        _last=mine.ordered_at.max(),
        rfm_frequency=mine.count(where=inside),
        rfm_monetary=mine.total_amount.fill_null(0.0).sum(where=inside).fill_null(0.0)
        .cast("float64"),
    )
    facts = facts.mutate(rfm_recency_days=days_between(as_of, facts["_last"]))
    scored = facts.mutate(
        rfm_r=_score(facts.rfm_recency_days, spec.recency, lower_is_better=True),
        rfm_f=_score(facts.rfm_frequency, spec.frequency, lower_is_better=False),
        rfm_m=_score(facts.rfm_monetary, spec.monetary, lower_is_better=False),
    )
    fm = ((scored.rfm_f + scored.rfm_m + 1) // 2).cast("int64")  # (f+m)/2 rounded half up
    return scored.select(
        CUSTOMER_ID, "rfm_recency_days", "rfm_frequency", "rfm_monetary", "rfm_r", "rfm_f",
        "rfm_m", rfm_fm=fm,
        rfm_score=scored.rfm_r.cast("string") + scored.rfm_f.cast("string")
        + scored.rfm_m.cast("string"),
    )


def _score(value: ir.NumericValue, method: Quintiles | tuple[float, ...],
           lower_is_better: bool) -> ir.IntegerValue:
    if method == "quintiles":
        rank = ibis.percent_rank().over(order_by=value)
        bucket = ibis.least((rank * 5).floor().cast("int64"), 4)
        return ((5 - bucket) if lower_is_better else (1 + bucket)).cast("int64")
    cuts = list(method)
    if lower_is_better:
        cases = [(value <= cut, 5 - i) for i, cut in enumerate(cuts)]
    else:
        cases = [(value >= cut, i + 2) for i, cut in reversed(list(enumerate(cuts)))]
    return ibis.cases(*cases, else_=1).cast("int64")
