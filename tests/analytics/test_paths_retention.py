"""Paths and retention on tiny hand-made logs: every number equals a hand count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from ibis.backends import BaseBackend

from portraits.analytics.paths import EXIT, PathSpec, analyze_paths, session_steps
from portraits.analytics.retention import RetentionSpec, analyze_retention
from tests.analytics.events import at, events

V, A, ORDER, S = "Product Viewed", "Product Added", "Order Completed", "Products Searched"
# Sessions (30 minutes idle splits): a1 = V V A O, a2 = V S, b1 = S V, b2 = A, c1 = V A V.
LOG = [("a", V, at(0, 0)), ("a", V, at(0, 1)), ("a", A, at(0, 2)), ("a", ORDER, at(0, 3)),
       ("a", V, at(0, 60)), ("a", S, at(0, 61)),
       ("b", S, at(0, 0)), ("b", V, at(0, 5)), ("b", A, at(0, 40)),
       ("c", V, at(0, 0)), ("c", A, at(0, 29)), ("c", V, at(0, 30))]


def links(con: BaseBackend, **spec: object) -> dict[tuple[int, str, str], int]:
    result = analyze_paths(events(LOG), PathSpec(**spec), con.to_pyarrow)  # type: ignore[arg-type]
    frame = result.to_pandas()
    return {(int(r.step), r.source, r.target): int(r.sessions) for r in frame.itertuples()}


def test_sessions_split_at_thirty_idle_minutes_and_repeats_collapse(con: BaseBackend) -> None:
    steps = con.to_pyarrow(session_steps(events(LOG), PathSpec())).to_pandas()
    sessions = steps.groupby(["customer_id", "session"])["event"].apply(list).to_dict()
    assert sessions == {("a", 1): [V, A, ORDER], ("a", 2): [V, S], ("b", 1): [S, V],
                        ("b", 2): [A], ("c", 1): [V, A, V]}
    kept = con.to_pyarrow(session_steps(events(LOG), PathSpec(collapse_repeats=False)))
    assert kept.num_rows == len(LOG)


def test_paths_from_an_event(con: BaseBackend) -> None:
    assert links(con, start=V, steps=3) == {
        (1, V, A): 2, (1, V, S): 1, (1, V, EXIT): 1, (2, A, ORDER): 1, (2, A, V): 1,
        (2, S, EXIT): 1}


def test_paths_to_an_event(con: BaseBackend) -> None:
    result = analyze_paths(events(LOG), PathSpec(end=A, steps=3), con.to_pyarrow)
    assert result.sessions == 3  # a1, b2 (A alone) and c1 reach A
    assert {(r.step, r.source, r.target): r.sessions for r in result.to_pandas().itertuples()
            } == {(2, V, A): 2}


def test_session_paths_and_exits(con: BaseBackend) -> None:
    result = analyze_paths(events(LOG), PathSpec(steps=3), con.to_pyarrow)
    assert result.sessions == 5
    exits = result.exits()
    assert set(zip(exits["step"], exits["event"], exits["sessions"], strict=True)) == {
        (1, A, 1), (2, S, 1), (2, V, 1)}
    assert "5 sessions" in result.takeaway()


def test_sankey_folds_rare_events_into_other(con: BaseBackend, tmp_path: Path) -> None:
    result = analyze_paths(events(LOG), PathSpec(start=V, steps=3, per_step=1),
                           con.to_pyarrow)
    chart = result.chart("zh-CN")
    names = {n["name"] for n in chart.option["series"][0]["data"]}
    assert "1 · 浏览商品" in names and "2 · （其他）" in names
    assert result.save_chart(tmp_path / "paths.svg").stat().st_size > 1_000


def test_paths_spec_problems() -> None:
    with pytest.raises(ValueError, match="not both"):
        PathSpec(start=V, end=A)
    with pytest.raises(ValueError, match="excluded"):
        PathSpec(start=V, exclude=[V])


# Retention: weeks start on Monday (T0 is Monday 2026-03-02).
RLOG = [("a", "S", at(0)), ("a", "B", at(7)), ("a", "B", at(21)),
        ("b", "S", at(1)), ("b", "B", at(3)), ("b", "B", at(7, minutes=14 * 60 + 59)),
        ("c", "S", at(7)), ("c", "B", at(14)), ("c", "S", at(14)),
        ("d", "B", at(0))]


def retained(con: BaseBackend, **spec: object) -> dict[str, list[float | None]]:
    result = analyze_retention(events(RLOG), RetentionSpec(
        start_event="S", return_event="B", period="week", periods=3, **spec),  # type: ignore[arg-type]
        con.to_pyarrow, at(22))
    frame = result.to_pandas()
    return {str(r["cohort"]): [None if pd.isna(v) else round(v, 3) for v in
                               (r["0"], r["1"], r["2"], r["3"])]
            for r in frame.to_dict("records")}


def test_first_time_weekly_retention_on_period(con: BaseBackend) -> None:
    # Week of 03-02: a and b (b's return in week 0 does not count); a back in weeks 1, 3;
    # b in week 1. Week of 03-09: c, back in week 1. As of 03-24 weeks ending by then show.
    assert retained(con) == {"2026-03-02": [1.0, 1.0, 0.0, None],
                             "2026-03-09": [1.0, 1.0, None, None]}


def test_on_or_after_never_rises(con: BaseBackend) -> None:
    assert retained(con, mode="on_or_after") == {"2026-03-02": [1.0, 1.0, 0.5, None],
                                                 "2026-03-09": [1.0, 1.0, None, None]}


def test_recurring_cohorts_count_every_start(con: BaseBackend) -> None:
    assert retained(con, cohort="recurring") == {"2026-03-02": [1.0, 1.0, 0.0, None],
                                                 "2026-03-09": [1.0, 1.0, None, None],
                                                 "2026-03-16": [1.0, None, None, None]}


def test_cohort_sizes_average_and_chart(con: BaseBackend, tmp_path: Path) -> None:
    result = analyze_retention(events(RLOG), RetentionSpec(
        start_event="S", return_event="B", period="day", periods=7), con.to_pyarrow, at(30))
    frame = result.to_pandas()
    assert frame["size"].tolist() == [1, 1, 1]          # a (03-02), b (03-03), c (03-09)
    assert result.people().set_index("cohort").loc[at(1).date(), "2"] == 1  # b on day 2
    mean = result.average()
    assert mean.loc[0] == 1.0
    assert mean.loc[2] == pytest.approx(1 / 3)
    chart = result.chart("zh-CN")
    assert chart.kind == "heatmap" and "按天留存" in chart.title
    assert result.save_chart(tmp_path / "retention.png").stat().st_size > 5_000


def test_repurchase_spec_is_first_time_on_or_after() -> None:
    spec = RetentionSpec.repurchase(period="month", periods=3)
    assert (spec.cohort, spec.mode, spec.start_event, spec.return_event) == (
        "first_time", "on_or_after", "Order Completed", "Order Completed")


def test_monthly_periods_follow_the_calendar(con: BaseBackend) -> None:
    log = [("a", "S", at(0)), ("a", "B", at(29)),     # 03-02 → 03-31: same month
           ("b", "S", at(29)), ("b", "B", at(30))]    # 03-31 → 04-01: next month
    result = analyze_retention(events(log), RetentionSpec(
        start_event="S", return_event="B", period="month", periods=1), con.to_pyarrow,
        at(70))
    assert result.to_pandas()["1"].tolist() == [0.5]
