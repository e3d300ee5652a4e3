"""Paths: where people go from an event, how they reach it, and where they leave.

* Events of a person are cut into **sessions** at 30 minutes without an event (the
  common web-analytics rule; configurable).
* Consecutive repeats of one event in a session (five Product Viewed in a row) collapse
  into one step unless ``collapse_repeats`` is off.
* ``start``: each session that holds the event contributes its path from the event's
  first occurrence, N steps on. ``end``: the N steps that lead to the event's first
  occurrence. Neither: sessions from their first event.
* A session that ends before N steps **leaves** after its last step; these exits are the
  "where users leave" figures, and the Sankey's "(exit)" nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

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
EXIT = "(exit)"
START = "(start)"
OTHER = "(other)"


class PathSpec(BaseModel):
    """Which paths to follow.

    Example:
        >>> PathSpec(start="Product Viewed", steps=4).session_gap
        datetime.timedelta(seconds=1800)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str | None = Field(None, description="Follow paths from this event.")
    end: str | None = Field(None, description="Follow paths that lead to this event.")
    steps: int = Field(5, ge=2, le=20)
    session_gap: timedelta = timedelta(minutes=30)
    collapse_repeats: bool = True
    exclude: list[str] = Field(default_factory=list, description="Events left out.")
    since: datetime | None = None
    until: datetime | None = None
    per_step: int = Field(8, ge=1, le=50, description="Events shown per step; rest: other.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.start and self.end:
            raise ValueError("follow paths from an event (start) or to one (end), not both")
        if self.session_gap <= timedelta(0):
            raise ValueError("the session gap must be positive")
        if {self.start, self.end} & set(self.exclude):
            raise ValueError("the event the paths follow is also excluded")
        return self


def session_steps(events: ir.Table, spec: PathSpec) -> ir.Table:
    """Events as session steps: ``customer_id``, ``session``, ``pos`` (1, 2, …), ``event``
    and ``last`` (the session's last position)."""
    e = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp.notnull())
    if spec.exclude:
        e = e.filter(~e.event.isin(spec.exclude))
    if spec.since is not None:
        e = e.filter(e.timestamp >= spec.since)
    if spec.until is not None:
        e = e.filter(e.timestamp < spec.until)
    e = e.select(CUSTOMER_ID, "event", ts=e.timestamp,
                 seq=event_sequence(e))
    by_person = ibis.window(group_by=CUSTOMER_ID, order_by=["ts", "seq"])
    gap = ibis.interval(seconds=int(spec.session_gap.total_seconds()))
    e = e.mutate(new=(e.ts.lag().over(by_person).isnull()
                      | (e.ts > e.ts.lag().over(by_person) + gap)).cast("int64"))
    e = e.mutate(session=e.new.sum().over(ibis.window(group_by=CUSTOMER_ID,
                                                      order_by=["ts", "seq"],
                                                      rows=(None, 0))))
    by_session = ibis.window(group_by=[CUSTOMER_ID, "session"], order_by=["ts", "seq"])
    if spec.collapse_repeats:  # the lag is a column first: Spark rejects windows in WHERE
        e = e.mutate(before=e.event.lag().over(by_session))
        e = e.filter(e.before.isnull() | (e.event != e.before)).drop("before")
    e = e.mutate(pos=ibis.row_number().over(by_session) + 1)
    return e.mutate(last=e.pos.max().over(ibis.window(group_by=[CUSTOMER_ID, "session"])))


def path_links(events: ir.Table, spec: PathSpec) -> ir.Table:
    """Transitions per step: ``step`` (1…N), ``source``, ``target`` (an event or
    ``(exit)``), ``sessions``."""
    s = session_steps(events, spec)
    anchor = spec.start or spec.end
    if anchor is not None:
        first = s.filter(s.event == anchor).group_by([CUSTOMER_ID, "session"]).aggregate(
            at=lambda t: t.pos.min())
        s = s.join(first, [CUSTOMER_ID, "session"])
        if spec.start:
            s = s.filter(s.pos >= s.at, s.pos < s.at + spec.steps).mutate(
                step=lambda t: t.pos - t.at + 1)
        else:
            s = s.filter(s.pos <= s.at, s.pos > s.at - spec.steps).mutate(
                step=lambda t: t.pos - (t.at - spec.steps))
    else:
        s = s.filter(s.pos <= spec.steps).mutate(step=lambda t: t.pos)
    by_session = ibis.window(group_by=[CUSTOMER_ID, "session"], order_by="pos")
    s = s.mutate(target=s.event.lead().over(by_session),
                 opens=s.pos == s.pos.min().over(ibis.window(group_by=[CUSTOMER_ID,
                                                                       "session"])))
    leaves = s.pos == s.last
    s = s.mutate(target=ibis.ifelse(leaves, ibis.literal(EXIT), s.target))
    # Each path's first step also yields a step-0 row from "(start)": the session count.
    starts = s.filter(s.opens).select(step=ibis.literal(0, "int64"),
                                      source=ibis.literal(START), target=s.event)
    moves = s.filter(s.target.notnull(), s.step < spec.steps).select(
        step=s.step.cast("int64"), source=s.event, target=s.target)
    both = ibis.union(starts, moves, distinct=False)
    return both.group_by(["step", "source", "target"]).aggregate(
        sessions=lambda t: t.count())


@dataclass(frozen=True)
class PathResult(Analysis):
    """Transitions between steps of sessions, with exits."""

    spec: PathSpec
    links: pd.DataFrame  # step, source, target, sessions
    sessions: int

    def to_pandas(self) -> pd.DataFrame:
        """One row per transition: step, source, target (event or ``(exit)``), sessions,
        and the share of the source's sessions at that step."""
        frame = self.links.copy()
        total = frame.groupby(["step", "source"])["sessions"].transform("sum")
        frame["share"] = frame["sessions"] / total
        return frame.sort_values(["step", "sessions"], ascending=[True, False]).reset_index(
            drop=True)

    def exits(self) -> pd.DataFrame:
        """Where sessions end: step, event, sessions that left after it, share of those
        that reached it."""
        frame = self.to_pandas()
        out = frame[frame["target"] == EXIT][["step", "source", "sessions", "share"]]
        return out.rename(columns={"source": "event"}).sort_values(
            "sessions", ascending=False).reset_index(drop=True)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` most common transitions (exits included)."""
        return self.to_pandas().sort_values("sessions", ascending=False).head(n)

    def chart(self, lang: Lang = "en") -> Chart:
        """A Sankey of the steps (the ``per_step`` commonest events per step, the rest as
        other), each node named "step · event"."""
        from portraits.model.events import event_label

        links = _limited(self.links, self.spec.per_step)

        def node(step: int, name: str) -> str:
            shown = {EXIT: text("an.exit", lang), OTHER: text("an.other", lang)}.get(
                name, event_label(name, lang))
            return f"{step} · {shown}"

        data = [(node(int(step), str(source)), node(int(step) + 1, str(target)), int(n))
                for step, source, target, n in zip(links["step"], links["source"],
                                                   links["target"], links["sessions"],
                                                   strict=True)]
        names = list(dict.fromkeys(n for s, t, _ in data for n in (s, t)))
        anchor = self.spec.start or self.spec.end
        title = text("an.paths_from" if self.spec.start else "an.paths_to" if self.spec.end
                     else "an.paths_title", lang, event=event_label(anchor or "", lang),
                     steps=self.spec.steps,
                     gap=duration_text(self.spec.session_gap.total_seconds(), lang))
        return Chart({"title": {"text": title, "subtext": self.takeaway(lang)},
                      "tooltip": {"trigger": "item"},
                      "series": [{"type": "sankey", "emphasis": {"focus": "adjacency"},
                                  "data": [{"name": n} for n in names],
                                  "links": [{"source": s, "target": t, "value": v}
                                            for s, t, v in data]}]})

    def takeaway(self, lang: Lang = "en") -> str:
        """The commonest next step and the biggest exit, in one sentence."""
        from portraits.model.events import event_label

        frame = self.to_pandas()
        moves = frame[frame["target"] != EXIT]
        exits = self.exits()
        if frame.empty:
            return text("an.paths_none", lang)
        move = moves.iloc[0] if len(moves) else None
        leave = exits.iloc[0] if len(exits) else None
        if leave is None:
            return text("an.paths_takeaway_stay", lang, sessions=self.sessions,
                        source=event_label(str(move["source"]), lang) if move is not None
                        else "-", target=event_label(str(move["target"]), lang)
                        if move is not None else "-",
                        share=float(move["share"]) if move is not None else 0.0)
        return text("an.paths_takeaway", lang, sessions=self.sessions,
                    source=event_label(str(move["source"]), lang) if move is not None else "-",
                    target=event_label(str(move["target"]), lang) if move is not None else "-",
                    share=float(move["share"]) if move is not None else 0.0,
                    exit_event=event_label(str(leave["event"]), lang),
                    exit_share=float(leave["share"]), exit_step=int(leave["step"]))


def _limited(links: pd.DataFrame, per_step: int) -> pd.DataFrame:
    """Keep the ``per_step`` commonest events at each step; fold the rest into other."""
    frame = links.copy()
    sizes = frame.groupby(["step", "source"])["sessions"].sum().reset_index()
    sizes["rank"] = sizes.groupby("step")["sessions"].rank(method="first", ascending=False)
    kept = {(int(step), str(source)) for step, source, rank in
            zip(sizes["step"], sizes["source"], sizes["rank"], strict=True) if rank <= per_step}

    def fold(step: int, name: str) -> str:
        return name if name == EXIT or (step, name) in kept else OTHER

    frame["source"] = [fold(int(s), str(n)) for s, n in zip(frame["step"], frame["source"],
                                                              strict=True)]
    frame["target"] = [fold(int(s) + 1, str(n)) for s, n in zip(frame["step"],
                                                                  frame["target"],
                                                                  strict=True)]
    summed: pd.DataFrame = frame.groupby(["step", "source", "target"], as_index=False).agg(
        sessions=("sessions", "sum"))
    return summed


def analyze_paths(events: ir.Table, spec: PathSpec,
                  to_arrow: Callable[[ir.Table], pa.Table]) -> PathResult:
    """Run a path analysis (see the module docstring for the definitions)."""
    links = to_arrow(path_links(events, spec)).to_pandas()
    opening = links["step"] == 0
    sessions = int(links[opening]["sessions"].sum())
    return PathResult(spec, links[~opening].reset_index(drop=True), sessions)

