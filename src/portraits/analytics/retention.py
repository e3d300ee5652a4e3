"""Retention: of the people who started in a period, how many came back N periods later.

Definitions follow PostHog's retention insight:

* **Cohort** — ``first_time``: the period of a person's first-ever start event (before the
  date range too; a person whose first time falls outside the range is in no cohort).
  ``recurring``: every period in the range in which the person did the start event.
* **Periods** are calendar days, weeks (Monday to Sunday) or months; period 0 is the
  cohort's own period and is its size (100 %).
* **Retained in period N** — ``on``: did the return event in period N exactly.
  ``on_or_after``: in period N or any later one (PostHog's "on or after"; a curve that
  never rises).
* Only complete periods are shown: a period that has not ended by the data's end (the
  analysis time) is null, never a misleading 0 %.
* **Repurchase rate** is the special case start = return = an order, first-time cohorts,
  ``on_or_after``: the share of first-time buyers who bought again within N periods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Self

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from portraits.analytics.chart import Chart
from portraits.analytics.result import Analysis
from portraits.i18n import Lang, text

CUSTOMER_ID = "customer_id"
Period = Literal["day", "week", "month"]
EPOCH = date(1970, 1, 1)
MONDAY = 4  # 1970-01-05, the first Monday, is epoch day 4


class RetentionSpec(BaseModel):
    """A retention table.

    Example:
        >>> RetentionSpec(start_event="Signed Up", period="week", periods=8).mode
        'on'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_event: str | None = Field(None, description="Cohort event; any event when omitted.")
    return_event: str | None = Field(None, description="Return event; any when omitted.")
    cohort: Literal["first_time", "recurring"] = "first_time"
    period: Period = "week"
    periods: int = Field(8, ge=1, le=120, description="Periods after period 0.")
    mode: Literal["on", "on_or_after"] = "on"
    since: datetime | None = Field(None, description="Cohorts from this time on.")
    until: datetime | None = Field(None, description="Cohorts before this time.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("the date range ends before it starts")
        return self

    @classmethod
    def repurchase(cls, period: Period = "month", periods: int = 6,
                   event: str = "Order Completed") -> RetentionSpec:
        """Repurchase rate: first-time buyers who ordered again in or after period N."""
        return cls(start_event=event, return_event=event, cohort="first_time",
                   period=period, periods=periods, mode="on_or_after")


def period_index(ts: ir.TimestampValue, period: Period) -> ir.IntegerValue:
    """A calendar period as a whole number (days, weeks or months since 1970)."""
    if period == "day":
        return ts.date().epoch_days()
    if period == "week":
        return (ts.truncate("W").date().epoch_days() - MONDAY) // 7
    return ts.year() * 12 + ts.month() - 1


def period_start(index: int, period: Period) -> date:
    """The first day of a period given by :func:`period_index`."""
    if period == "day":
        return EPOCH + timedelta(days=index)
    if period == "week":
        return EPOCH + timedelta(days=index * 7 + MONDAY)
    return date(index // 12, index % 12 + 1, 1)


def retention_counts(events: ir.Table, spec: RetentionSpec) -> ir.Table:
    """``cohort`` (period index), ``n`` (0…periods) and ``people`` retained; ``n = 0``
    is the cohort's size."""
    e = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp.notnull())
    e = e.select(CUSTOMER_ID, "event", "timestamp", p=period_index(e.timestamp, spec.period))
    starts = e if spec.start_event is None else e.filter(e.event == spec.start_event)
    in_range = ibis.literal(True)
    if spec.since is not None:
        in_range &= starts.timestamp >= spec.since
    if spec.until is not None:
        in_range &= starts.timestamp < spec.until
    if spec.cohort == "first_time":
        first = starts.group_by(CUSTOMER_ID).aggregate(
            at=starts.timestamp.min(), cohort=starts.p.min())
        keep = ibis.literal(True)
        if spec.since is not None:
            keep &= first.at >= spec.since
        if spec.until is not None:
            keep &= first.at < spec.until
        cohorts = first.filter(keep).select(CUSTOMER_ID, "cohort")
    else:
        cohorts = starts.filter(in_range).select(CUSTOMER_ID, cohort=starts.p).distinct()
    back = e if spec.return_event is None else e.filter(e.event == spec.return_event)
    back = back.select(CUSTOMER_ID, r=back.p).distinct()
    hits = cohorts.join(back, CUSTOMER_ID)
    hits = hits.mutate(n=hits.r - hits.cohort)
    hits = hits.filter(hits.n >= 1, hits.n <= spec.periods)
    sizes = cohorts.group_by("cohort").aggregate(people=lambda t: t[CUSTOMER_ID].nunique())
    sizes = sizes.mutate(n=ibis.literal(0, "int64"))
    if spec.mode == "on":
        kept = hits.group_by(["cohort", "n"]).aggregate(
            people=lambda t: t[CUSTOMER_ID].nunique())
    else:
        last = hits.group_by([CUSTOMER_ID, "cohort"]).aggregate(last=hits.n.max())
        kept = ibis.union(*(last.filter(last["last"] >= k).group_by("cohort").aggregate(
            n=ibis.literal(k, "int64"), people=lambda t: t.count())
            for k in range(1, spec.periods + 1)), distinct=False)
    columns = ("cohort", "n", "people")
    return ibis.union(sizes.select(*columns), kept.select(
        kept.cohort, kept.n.cast("int64"), kept.people), distinct=False)


@dataclass(frozen=True)
class RetentionResult(Analysis):
    """Cohorts × periods: people retained and the rate (null where not yet observed)."""

    spec: RetentionSpec
    cells: pd.DataFrame  # cohort (date), n, people, rate

    def to_pandas(self) -> pd.DataFrame:
        """One row per cohort: its start, size, and the retention rate per period
        (columns ``0`` … ``N``)."""
        if self.cells.empty:
            return pd.DataFrame(columns=["cohort", "size"])
        wide = self.cells.pivot(index="cohort", columns="n", values="rate")
        sizes = self.cells[self.cells["n"] == 0].set_index("cohort")["people"]
        wide.insert(0, "size", sizes.astype("int64"))
        wide.columns = [str(c) for c in wide.columns]
        return wide.reset_index()

    def people(self) -> pd.DataFrame:
        """Like :meth:`to_pandas` with counts of people instead of rates."""
        wide = self.cells.pivot(index="cohort", columns="n", values="people")
        wide.columns = [str(c) for c in wide.columns]
        return wide.reset_index()

    def average(self) -> pd.Series:
        """Per period, the share retained over all cohorts observed that far (weighted by
        cohort size, as PostHog's mean row)."""
        observed = self.cells[self.cells["rate"].notna()]
        sizes = self.cells[self.cells["n"] == 0].set_index("cohort")["people"]
        base = observed.assign(size=observed["cohort"].map(sizes))
        sums = base.groupby("n")[["people", "size"]].sum()
        return (sums["people"] / sums["size"]).rename("rate")

    def chart(self, lang: Lang = "en") -> Chart:
        """A heatmap: cohorts down, periods across, retention in % in the cells."""
        frame = self.to_pandas()
        periods = [c for c in frame.columns if c not in ("cohort", "size")]
        cohorts = [f"{c} ({int(s):,})" for c, s in zip(frame["cohort"], frame["size"],
                                                          strict=True)]
        data = [[j, i, None if pd.isna(v) else round(float(v) * 100, 1)]
                for i, row in enumerate(frame[periods].itertuples(index=False))
                for j, v in enumerate(row)]
        unit = text(f"an.period_{self.spec.period}", lang)
        return Chart({
            "title": {"text": text("an.retention_title", lang, unit=unit,
                                   mode=text(f"an.mode_{self.spec.mode}", lang)),
                      "subtext": self.takeaway(lang)},
            "tooltip": {"position": "top"},
            "xAxis": {"type": "category", "data": periods, "name": unit},
            "yAxis": {"type": "category", "data": cohorts, "inverse": True,
                      "name": text("an.cohort", lang)},
            "visualMap": {"min": 0, "max": 100, "show": False},
            "series": [{"type": "heatmap", "unit": "%", "data": data,
                        "label": {"show": True}}]})

    def takeaway(self, lang: Lang = "en") -> str:
        """Average retention after one period and after the last observed one."""
        mean = self.average()
        later = mean[mean.index > 0]
        if later.empty:
            return text("an.retention_none", lang)
        unit = text(f"an.period_{self.spec.period}", lang)
        return text("an.retention_takeaway", lang, first=float(later.iloc[0]),
                    last=float(later.iloc[-1]), n=int(later.index[-1]), unit=unit,
                    cohorts=int((self.cells["n"] == 0).sum()))


def analyze_retention(events: ir.Table, spec: RetentionSpec,
                      to_arrow: Callable[[ir.Table], pa.Table],
                      as_of: datetime) -> RetentionResult:
    """Run a retention analysis.

    Args:
        events: Events (or orders shaped as events) with ``customer_id``, ``event`` and
            ``timestamp``.
        spec: The analysis.
        to_arrow: Executes an expression (the engine's ``to_arrow``).
        as_of: The data's end: periods starting after it are not observed.
    """
    counts = to_arrow(retention_counts(events, spec)).to_pandas()
    now = int(_index_of(as_of, spec.period))
    rows = []
    for cohort, group in counts.groupby("cohort"):
        size = int(group.loc[group["n"] == 0, "people"].sum())
        found = dict(zip(group["n"].astype(int), group["people"].astype(int), strict=True))
        for n in range(spec.periods + 1):
            observed = n == 0 or int(cohort) + n < now  # complete periods only
            people = found.get(n, 0) if observed else None
            rows.append({"cohort": period_start(int(cohort), spec.period), "n": n,
                         "people": people,
                         "rate": people / size if observed and size and people is not None
                         else None})
    cells = pd.DataFrame(rows, columns=["cohort", "n", "people", "rate"])
    return RetentionResult(spec, cells)


def _index_of(moment: datetime, period: Period) -> int:
    day = (moment.date() - EPOCH).days
    if period == "day":
        return day
    if period == "week":
        return (day - moment.weekday() - MONDAY) // 7
    return moment.year * 12 + moment.month - 1
