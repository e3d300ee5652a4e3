"""Funnels: how many people go through ordered steps within a conversion window.

Definitions follow PostHog's funnels (docs/analytics/funnels.md says where they differ):

* A person **enters** with a first-step event inside the date range; the **conversion
  window** (14 days by default, inclusive) runs from that event.
* ``sequential``: each step must come after the previous one; other events may come
  between. ``strict``: the steps must be consecutive events of the person. ``any``: the
  steps may happen in any order within the window.
* A person counts once, at the **furthest step** any of their attempts reached.
* Events at the same timestamp are taken in the order of their message ids; one event
  never fills two steps.
* The **counted conversion** of a person is the earliest attempt that reached their
  furthest step; its step times give the time between steps, and its first event gives
  the breakdown value (PostHog's first-touch attribution).
* An **exclusion** (event E between steps X and Y) removes a person from the funnel when
  E happened between their counted conversion's step X and step Y (or, if they never
  reached Y, between step X and the end of the window).

Sequential funnels are computed with window functions in one pass per step: for each
step-``i`` event the latest start of a chain ending in a step-``i-1`` event before it
(a later start leaves more window, so the latest is the best) — exact, and the same on
DuckDB and Spark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Self

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from portraits.analytics.chart import Chart
from portraits.analytics.eventlog import event_sequence
from portraits.analytics.result import Analysis, duration_text
from portraits.i18n import Lang, text

CUSTOMER_ID = "customer_id"
ALL = "all"
Order = Literal["sequential", "strict", "any"]


class Exclusion(BaseModel):
    """People who did ``event`` between step ``after`` and step ``before`` are left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(min_length=1)
    after: int = Field(1, ge=1, description="Step number (1 = first step).")
    before: int = Field(2, ge=2, description="A later step number.")


class FunnelSpec(BaseModel):
    """A funnel: steps, window, order, exclusions, breakdown and date range.

    Example:
        >>> FunnelSpec(steps=["Product Viewed", "Product Added", "Order Completed"],
        ...            window=timedelta(days=7)).order
        'sequential'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[str] = Field(min_length=2, max_length=20)
    window: timedelta = Field(timedelta(days=14), description="Conversion window from step 1.")
    order: Order = "sequential"
    exclusions: list[Exclusion] = Field(default_factory=list)
    breakdown: str | None = Field(None, description="An event column of the first step.")
    start: datetime | None = Field(None, description="First steps from this time on.")
    end: datetime | None = Field(None, description="First steps before this time.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        if any(not s.strip() for s in self.steps):
            problems.append("a step has no event name")
        if self.window <= timedelta(0):
            problems.append("the conversion window must be positive")
        if self.order == "any" and len(set(self.steps)) < len(self.steps):
            problems.append("an any-order funnel needs different events in its steps")
        for e in self.exclusions:
            if not e.after < e.before <= len(self.steps):
                problems.append(f"exclusion '{e.event}' must sit between two steps "
                                f"(1 ≤ after < before ≤ {len(self.steps)})")
            if e.event in self.steps:
                problems.append(f"exclusion '{e.event}' is also a step of the funnel")
        if self.start and self.end and self.start >= self.end:
            problems.append("the date range ends before it starts")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def funnel_people(events: ir.Table, spec: FunnelSpec,
                  groups: ir.Table | None = None) -> ir.Table:
    """One row per person who entered: ``customer_id``, ``group``, ``furthest`` (1…N)
    and ``t1``…``tN``, the step times of the counted conversion (null beyond furthest).

    Args:
        events: Events with ``customer_id``, ``event``, ``timestamp`` and ``message_id``.
        spec: The funnel.
        groups: (``customer_id``, ``group``) to break down by person (a profile field, a
            segment); a person may sit in several groups. Overrides ``spec.breakdown``.
    """
    prepared = _prepared(events, spec)
    counted = {"sequential": _sequential, "strict": _strict, "any": _any_order}[spec.order](
        prepared, spec)
    for exclusion in spec.exclusions if spec.order != "any" else ():
        counted = _without_excluded(counted, prepared, exclusion, spec)
    if groups is not None:
        counted = counted.drop("group").join(groups, CUSTOMER_ID)
    n = len(spec.steps)
    return counted.select(CUSTOMER_ID, counted.group.cast("string").name("group"), "furthest",
                          *(f"t{k}" for k in range(1, n + 1)))


def funnel_steps(people: ir.Table, steps: int) -> ir.Table:
    """Per group: people who reached each step and the median seconds from the step
    before (wide: ``reached_k``, ``median_k`` for k = 1…steps)."""
    metrics = {}
    for k in range(1, steps + 1):
        metrics[f"reached_{k}"] = people[CUSTOMER_ID].count(where=people.furthest >= k)
        if k > 1:
            gap = people[f"t{k}"].epoch_seconds() - people[f"t{k - 1}"].epoch_seconds()
            metrics[f"median_{k}"] = gap.cast("float64").median()
    total = people[f"t{steps}"].epoch_seconds() - people.t1.epoch_seconds()
    metrics["median_total"] = total.cast("float64").median()
    return people.group_by("group").aggregate(**metrics)


def _prepared(events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """The events a funnel reads, in its time range, with a tie-breaking sequence."""
    e = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp.notnull())
    if spec.order != "strict":  # strict funnels need every event, to see what came between
        names = [*spec.steps, *(x.event for x in spec.exclusions)]
        e = e.filter(e.event.isin(list(dict.fromkeys(names))))
    if spec.start is not None:
        e = e.filter(e.timestamp >= spec.start)
    if spec.end is not None:
        e = e.filter(e.timestamp < spec.end + spec.window)
    value = (e[spec.breakdown].cast("string") if spec.breakdown
             else ibis.literal(None, type="string"))
    return e.select(CUSTOMER_ID, "event", ts=e.timestamp,
                    seq=event_sequence(e), value=value)


def _starts_in_range(ts: ir.TimestampValue, spec: FunnelSpec) -> ir.BooleanValue:
    ok = ibis.literal(True)
    if spec.start is not None:
        ok &= ts >= spec.start
    if spec.end is not None:
        ok &= ts < spec.end
    return ok


def _window(spec: FunnelSpec) -> ir.IntervalScalar:
    return ibis.interval(seconds=int(spec.window.total_seconds()))


def _after(ts: ir.Value, seq: ir.Value, prev_ts: ir.Value, prev_seq: ir.Value) -> ir.Value:
    """(ts, seq) comes strictly after (prev_ts, prev_seq)."""
    return (ts > prev_ts) | ((ts == prev_ts) & (seq > prev_seq))


def _sequential(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Latest-start dynamic programming over the step events, then the counted attempt."""
    n, window = len(spec.steps), _window(spec)
    rows = ibis.union(*(e.filter(e.event == name).mutate(step=ibis.literal(i, "int16"))
                        for i, name in enumerate(spec.steps, 1)), distinct=False)
    rows = rows.mutate(chain=ibis.ifelse((rows.step == 1) & _starts_in_range(rows.ts, spec),
                                         rows.ts, ibis.null("timestamp")))
    # One event may fill several steps (A → B → A): for the same event the higher step
    # comes first in the order, so an event never sees itself as the step before.
    before = ibis.window(group_by=CUSTOMER_ID, order_by=["ts", "seq", ibis.desc("step")],
                         rows=(None, -1))
    for i in range(2, n + 1):
        latest = ibis.cases((rows.step == i - 1, rows.chain)).max().over(before)
        rows = rows.mutate(chain=ibis.ifelse((rows.step == i) & (rows.ts <= latest + window),
                                             latest, rows.chain))
    reached = rows.filter(rows.chain.notnull())
    first = ibis.window(group_by=CUSTOMER_ID, order_by=[ibis.desc("step"), "ts", "seq"])
    best = reached.mutate(rank=ibis.row_number().over(first)).filter(lambda t: t["rank"] == 0)
    people = best.select(CUSTOMER_ID, furthest=best.step, start=best.chain)
    return _replay(people, rows, spec)


def _replay(people: ir.Table, rows: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Step times of the counted attempt: from its start, the earliest event of each next
    step (the greedy choice reaches as far as any attempt with that start)."""
    window = _window(spec)
    firsts = rows.filter(rows.step == 1)
    opening = people.join(firsts, [CUSTOMER_ID, people.start == firsts.ts])
    pick = ibis.window(group_by=CUSTOMER_ID, order_by=["seq"])
    opening = opening.mutate(rank=ibis.row_number().over(pick)).filter(lambda t: t["rank"] == 0)
    state = opening.select(CUSTOMER_ID, "furthest", "start", group="value", t1="ts", s1="seq")
    for k in range(2, len(spec.steps) + 1):
        nxt = rows.filter(rows.step == k).select(CUSTOMER_ID, ts_k="ts", seq_k="seq")
        cand = state.filter(state.furthest >= k).join(nxt, CUSTOMER_ID)
        cand = cand.filter(_after(cand.ts_k, cand.seq_k, cand[f"t{k - 1}"], cand[f"s{k - 1}"]),
                           cand.ts_k <= cand.start + window)
        order = ibis.window(group_by=CUSTOMER_ID, order_by=["ts_k", "seq_k"])
        cand = cand.mutate(rank=ibis.row_number().over(order)).filter(lambda t: t["rank"] == 0)
        found = cand.select(CUSTOMER_ID, **{f"t{k}": cand.ts_k, f"s{k}": cand.seq_k})
        state = state.left_join(found, CUSTOMER_ID).drop(f"{CUSTOMER_ID}_right")
    return state


def _strict(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Consecutive events: a step-``i`` event whose ``i-1`` predecessors are steps 1…i-1."""
    n, window = len(spec.steps), _window(spec)
    order = ibis.window(group_by=CUSTOMER_ID, order_by=["ts", "seq"])
    lagged = e.mutate(**{f"event_{j}": e.event.lag(j).over(order) for j in range(1, n)},
                      **{f"ts_{j}": e.ts.lag(j).over(order) for j in range(1, n)},
                      **{f"value_{j}": e.value.lag(j).over(order) for j in range(1, n)})
    lagged = lagged.mutate(ts_0=lagged.ts, event_0=lagged.event, value_0=lagged.value)
    reach = ibis.literal(0, "int16")
    for i in range(1, n + 1):  # the highest i whose pattern ends at this event
        pattern = ibis.literal(True)
        for j in range(i):
            pattern &= lagged[f"event_{j}"] == spec.steps[i - 1 - j]
        start = lagged[f"ts_{i - 1}"]
        ok = pattern & _starts_in_range(start, spec) & (lagged.ts <= start + window)
        reach = ibis.ifelse(ok, ibis.literal(i, "int16"), reach)
    lagged = lagged.mutate(reach=reach).filter(lambda t: t.reach > 0)
    first = ibis.window(group_by=CUSTOMER_ID, order_by=[ibis.desc("reach"), "ts", "seq"])
    best = lagged.mutate(rank=ibis.row_number().over(first)).filter(lambda t: t["rank"] == 0)
    times = {}
    for k in range(1, n + 1):  # step k of an attempt reaching r sits r - k events back
        times[f"t{k}"] = ibis.cases(*((best.reach == r, best[f"ts_{r - k}"])
                                      for r in range(k, n + 1)))
    group = ibis.cases(*((best.reach == r, best[f"value_{r - 1}"]) for r in range(1, n + 1)))
    people = best.select(CUSTOMER_ID, furthest=best.reach, group=group, **times)
    return people.mutate(start=people.t1, **{f"s{k}": ibis.literal(None, "string")
                                             for k in range(1, n + 1)})


def _any_order(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    """From each event, the first occurrence of every step within the window after it."""
    n, window = len(spec.steps), _window(spec)
    ahead = ibis.window(group_by=CUSTOMER_ID, order_by=["ts", "seq"], rows=(0, None))
    anchors = e.filter(e.event.isin(spec.steps))
    anchors = anchors.mutate(**{f"next_{j}": ibis.cases((anchors.event == name, anchors.ts))
                                .min().over(ahead) for j, name in enumerate(spec.steps)})
    done = [(anchors[f"next_{j}"] <= anchors.ts + window).fill_null(False).cast("int16")
            for j in range(n)]
    anchors = anchors.mutate(done=sum(done[1:], done[0]))
    anchors = anchors.filter(_starts_in_range(anchors.ts, spec))
    first = ibis.window(group_by=CUSTOMER_ID, order_by=[ibis.desc("done"), "ts", "seq"])
    best = anchors.mutate(rank=ibis.row_number().over(first)).filter(lambda t: t["rank"] == 0)
    best = best.mutate(start=best.ts)
    # The k-th step of the counted attempt is the k-th earliest first occurrence.
    long = ibis.union(*(best.select(CUSTOMER_ID, t=best[f"next_{j}"]).filter(
        lambda t: t.t.notnull()) for j in range(n)), distinct=False)
    long = long.join(best.select(CUSTOMER_ID, "start"), CUSTOMER_ID)
    long = long.filter(long.t <= long.start + window)
    long = long.mutate(k=ibis.row_number().over(ibis.window(group_by=CUSTOMER_ID,
                                                            order_by="t")) + 1)
    wide = long.group_by(CUSTOMER_ID).aggregate(
        **{f"t{k}": long.t.max(where=long.k == k) for k in range(1, n + 1)})
    people = best.select(CUSTOMER_ID, "start", furthest=best.done, group=best.value)
    people = people.join(wide, CUSTOMER_ID)
    return people.mutate(**{f"s{k}": ibis.literal(None, "string") for k in range(1, n + 1)})


def _without_excluded(people: ir.Table, e: ir.Table, exclusion: Exclusion,
                      spec: FunnelSpec) -> ir.Table:
    """Leave out people whose counted attempt holds the exclusion event between its steps."""
    x, y = exclusion.after, exclusion.before
    hits = e.filter(e.event == exclusion.event).select(CUSTOMER_ID, ex_ts="ts", ex_seq="seq")
    joined = people.filter(people.furthest >= x).join(hits, CUSTOMER_ID)
    start_x = joined[f"t{x}"]
    seq_x = joined[f"s{x}"].fill_null("")
    after_x = _after(joined.ex_ts, joined.ex_seq, start_x, seq_x)
    reached_y = joined.furthest >= y
    before_y = ibis.ifelse(reached_y,
                           _after(joined[f"t{y}"], joined[f"s{y}"].fill_null("\uffff"),
                                  joined.ex_ts, joined.ex_seq),
                           joined.ex_ts <= joined.start + _window(spec))
    excluded = joined.filter(after_x & before_y).select(CUSTOMER_ID).distinct()
    return people.anti_join(excluded, CUSTOMER_ID)


@dataclass(frozen=True)
class FunnelResult(Analysis):
    """People per step (per group), conversion, drop-off and median time between steps.

    ``people`` keeps one row per person (``customer_id``, ``group``, ``furthest``,
    ``t1``…``tN``) as an engine table, to list who dropped where (:meth:`dropped_at`).
    """

    spec: FunnelSpec
    steps: pd.DataFrame
    people: ir.Table

    def to_pandas(self) -> pd.DataFrame:
        """One row per group and step: people, conversion (from step 1 and from the
        previous step), dropped, median seconds from the previous step."""
        return self.steps.copy()

    def overall(self) -> pd.DataFrame:
        """The rows of everyone (the ``all`` group)."""
        return self.steps[self.steps["group"] == ALL].reset_index(drop=True)

    def conversion(self, group: str = "all") -> float:
        """Share of the entrants who reached the last step."""
        rows = self.steps[self.steps["group"] == group]
        return float(rows["conversion"].iloc[-1]) if len(rows) else 0.0

    def dropped_at(self, step: int) -> ir.Table:
        """``customer_id`` of people who reached step ``step - 1`` but not ``step``."""
        people = self.people
        return people.filter(people.furthest == step - 1).select(CUSTOMER_ID).distinct()

    def chart(self, lang: Lang = "en") -> Chart:
        """A funnel of everyone; with a breakdown, conversion per step by group."""
        from portraits.model.events import event_label

        names = [event_label(s, lang) for s in self.spec.steps]
        window = duration_text(self.spec.window.total_seconds(), lang)
        title = {"text": text("an.funnel_title", lang, first=names[0], last=names[-1],
                              window=window), "subtext": self.takeaway(lang)}
        groups = [g for g in dict.fromkeys(self.steps["group"]) if g != ALL]
        if not groups:
            data = [{"name": n, "value": int(v)} for n, v in
                    zip(names, self.overall()["people"], strict=True)]
            return Chart({"title": title, "tooltip": {"trigger": "item"},
                          "series": [{"type": "funnel", "sort": "none", "data": data,
                                      "label": {"show": True, "formatter": "{b}: {c}"}}]})
        series = []
        for g in groups[:12]:
            rows = self.steps[self.steps["group"] == g]
            series.append({"type": "bar", "name": g,
                           "data": [round(float(v) * 100, 1) for v in rows["conversion"]]})
        return Chart({"title": title, "tooltip": {"trigger": "axis"}, "legend": {},
                      "xAxis": {"type": "category", "data": names},
                      "yAxis": {"type": "value", "name": text("an.conversion_axis", lang)},
                      "series": series})

    def takeaway(self, lang: Lang = "en") -> str:
        """One sentence computed from the figures."""
        from portraits.model.events import event_label

        names = [event_label(s, lang) for s in self.spec.steps]
        window = duration_text(self.spec.window.total_seconds(), lang)
        rows = self.overall()
        entered = int(rows["people"].iloc[0]) if len(rows) else 0
        groups = self.steps[(self.steps["group"] != ALL)
                            & (self.steps["step"] == len(names))]
        firsts = self.steps[(self.steps["group"] != ALL) & (self.steps["step"] == 1)]
        # Groups too small to compare (under 30 people or 1 % of entrants) are not named.
        large = set(firsts[firsts["people"] >= max(30, entered // 100)]["group"])
        if len(large) > 1:
            groups = groups[groups["group"].isin(large)]
        if len(groups) > 1:
            ranked = groups.sort_values("conversion", ascending=False)
            best, worst = ranked.iloc[0], ranked.iloc[-1]
            return text("an.funnel_takeaway_groups", lang, last=names[-1], best=best["group"],
                        best_rate=float(best["conversion"]), worst=worst["group"],
                        worst_rate=float(worst["conversion"]))
        drops = rows["dropped"].iloc[1:].tolist()
        k = 1 + max(range(len(drops)), key=lambda i: drops[i]) if drops else 1
        previous = int(rows["people"].iloc[k - 1]) if len(rows) else 0
        lost = int(rows["dropped"].iloc[k]) if len(rows) > k else 0
        return text("an.funnel_takeaway", lang, rate=self.conversion(), people=entered,
                    first=names[0], last=names[-1], window=window, a=names[k - 1], b=names[k],
                    lost=lost, drop=lost / previous if previous else 0.0)


def analyze_funnel(events: ir.Table, spec: FunnelSpec,
                   to_arrow: Callable[[ir.Table], pa.Table],
                   materialize: Callable[[ir.Table], ir.Table] | None = None,
                   groups: ir.Table | None = None) -> FunnelResult:
    """Run a funnel: people per step for everyone and per group.

    Args:
        events: Events with ``customer_id``.
        spec: The funnel.
        to_arrow: Executes an expression (the engine's ``to_arrow``).
        materialize: Stores the per-person table once (the engine's ``materialize``), so
            the figures and later drill-downs do not compute it again.
        groups: (``customer_id``, ``group``) to break down by person.
    """
    people = funnel_people(events, spec, groups)
    if materialize is not None:
        people = materialize(people)
    n = len(spec.steps)
    wide = to_arrow(funnel_steps(people, n)).to_pandas()
    if groups is not None or spec.breakdown:
        everyone = people.select(CUSTOMER_ID, "furthest",
                                 *(f"t{k}" for k in range(1, n + 1))).distinct()
        everyone = everyone.mutate(group=ibis.literal(ALL))
        wide = pd.concat([to_arrow(funnel_steps(everyone, n)).to_pandas(), wide])
    else:
        wide["group"] = ALL
    return FunnelResult(spec, _long(wide, spec), people)


def _long(wide: pd.DataFrame, spec: FunnelSpec) -> pd.DataFrame:
    """Wide per-group figures → one row per group and step."""
    rows = []
    for _, w in wide.iterrows():
        entered = int(w["reached_1"])
        for k, name in enumerate(spec.steps, 1):
            reached = int(w[f"reached_{k}"])
            before = int(w[f"reached_{k - 1}"]) if k > 1 else reached
            median = w.get(f"median_{k}") if k > 1 else None
            rows.append({"group": ALL if pd.isna(w["group"]) else str(w["group"]), "step": k,
                         "event": name, "people": reached,
                         "conversion": reached / entered if entered else 0.0,
                         "from_previous": reached / before if before else 0.0,
                         "dropped": before - reached,
                         "median_seconds": None if median is None or pd.isna(median)
                         else float(median)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame([{"group": ALL, "step": k, "event": name, "people": 0,
                               "conversion": 0.0, "from_previous": 0.0, "dropped": 0,
                               "median_seconds": None}
                              for k, name in enumerate(spec.steps, 1)])
    order = {g: i for i, g in enumerate([ALL, *sorted(set(frame["group"]) - {ALL})])}
    return frame.sort_values(["group", "step"], key=lambda c: c.map(order) if c.name ==
                             "group" else c).reset_index(drop=True)

