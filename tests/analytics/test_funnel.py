"""Funnels on tiny hand-made logs: every number equals a hand count, edge cases included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from ibis.backends import BaseBackend

from portraits.analytics.funnel import Exclusion, FunnelSpec, analyze_funnel, funnel_people
from tests.analytics.events import at, events

V, A, C, ORDER = "Product Viewed", "Product Added", "Checkout Started", "Order Completed"


def furthest(con: BaseBackend, log: list, **spec: object) -> dict[str, int]:
    """Person → furthest step."""
    people = funnel_people(events(log), FunnelSpec(**spec))  # type: ignore[arg-type]
    frame = con.to_pyarrow(people).to_pandas()
    return dict(zip(frame["customer_id"], frame["furthest"], strict=True))


def test_in_order_out_of_order_and_people_who_never_start(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(1)), ("a", ORDER, at(2)),
           ("b", V, at(0)), ("b", ORDER, at(1)), ("b", A, at(2)),   # order before cart
           ("c", A, at(0)), ("c", V, at(1)),                    # cart before view
           ("d", A, at(0)), ("d", ORDER, at(1))]                    # never viewed
    assert furthest(con, log, steps=[V, A, ORDER]) == {"a": 3, "b": 2, "c": 1}


def test_window_boundary_is_inclusive(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(14)),                   # exactly 14 days: in
           ("b", V, at(0)), ("b", A, at(14, minutes=1))]        # one minute later: out
    assert furthest(con, log, steps=[V, A]) == {"a": 2, "b": 1}
    assert furthest(con, log, steps=[V, A], window=timedelta(days=15)) == {"a": 2, "b": 2}


def test_window_runs_from_the_first_step_not_the_previous_one(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(10)), ("a", ORDER, at(15))]
    assert furthest(con, log, steps=[V, A, ORDER]) == {"a": 2}


def test_entering_twice_counts_once_at_the_furthest_attempt(con: BaseBackend) -> None:
    # The first attempt stalls; the second (a later view) completes within its window.
    log = [("a", V, at(0)), ("a", V, at(20)), ("a", A, at(21)), ("a", ORDER, at(33)),
           ("b", V, at(0)), ("b", A, at(1)), ("b", V, at(2)), ("b", A, at(3))]
    people = con.to_pyarrow(funnel_people(events(log), FunnelSpec(steps=[V, A, ORDER]))
                            ).to_pandas().set_index("customer_id")
    assert people.loc["a", "furthest"] == 3
    assert people.loc["a", "t1"] == at(20)  # the attempt that got furthest
    assert people.loc["b", "furthest"] == 2
    assert people.loc["b", "t1"] == at(0)   # the earliest attempt that got that far
    result = analyze_funnel(events(log), FunnelSpec(steps=[V, A, ORDER]), con.to_pyarrow)
    assert result.overall()["people"].tolist() == [2, 2, 1]


def test_repeated_steps_need_separate_events(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", V, at(1)),
           ("b", V, at(0)),
           ("c", V, at(0)), ("c", A, at(1)), ("c", V, at(2))]
    assert furthest(con, log, steps=[V, V]) == {"a": 2, "b": 1, "c": 2}
    assert furthest(con, log, steps=[V, A, V]) == {"a": 1, "b": 1, "c": 3}


def test_events_at_the_same_time_follow_their_message_order(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(0)),   # view recorded first: converts
           ("b", A, at(0)), ("b", V, at(0))]   # cart recorded first: does not
    assert furthest(con, log, steps=[V, A]) == {"a": 2, "b": 1}


def test_strict_order_allows_nothing_between_steps(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(1)), ("a", ORDER, at(2)),
           ("b", V, at(0)), ("b", "Cart Viewed", at(1)), ("b", A, at(2)),
           ("c", V, at(0)), ("c", V, at(1)), ("c", A, at(2)), ("c", "Cart Viewed", at(3)),
           ("c", ORDER, at(4))]
    assert furthest(con, log, steps=[V, A, ORDER], order="strict") == {"a": 3, "b": 1, "c": 2}
    assert furthest(con, log, steps=[V, A, ORDER]) == {"a": 3, "b": 2, "c": 3}


def test_any_order_counts_steps_done_within_the_window(con: BaseBackend) -> None:
    log = [("a", ORDER, at(0)), ("a", A, at(1)), ("a", V, at(2)),
           ("b", A, at(0)), ("b", V, at(20)),
           ("c", V, at(0))]
    assert furthest(con, log, steps=[V, A, ORDER], order="any") == {"a": 3, "b": 1, "c": 1}


def test_exclusion_between_steps_removes_the_person(con: BaseBackend) -> None:
    cancel = "Order Cancelled"
    log = [("a", V, at(0)), ("a", cancel, at(0.5)), ("a", A, at(1)),
           ("b", V, at(0)), ("b", A, at(1)), ("b", cancel, at(2)),   # after step 2: kept
           ("c", V, at(0)), ("c", cancel, at(3)),                    # never reached step 2
           ("d", V, at(0)), ("d", A, at(1))]
    spec = {"steps": [V, A], "exclusions": [Exclusion(event=cancel, after=1, before=2)]}
    assert furthest(con, log, **spec) == {"b": 2, "d": 2}


def test_date_range_limits_first_steps_only(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(9)),
           ("b", V, at(-1)), ("b", A, at(1))]
    spec = {"steps": [V, A], "start": at(0), "end": at(5)}
    assert furthest(con, log, **spec) == {"a": 2}


def test_figures_per_step(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(0, minutes=10)), ("a", ORDER, at(0, minutes=70)),
           ("b", V, at(0)), ("b", A, at(0, minutes=30)),
           ("c", V, at(0)), ("c", A, at(0, minutes=20)), ("c", ORDER, at(0, minutes=50)),
           ("d", V, at(0))]
    result = analyze_funnel(events(log), FunnelSpec(steps=[V, A, ORDER]), con.to_pyarrow)
    frame = result.overall()
    assert frame["people"].tolist() == [4, 3, 2]
    assert frame["conversion"].tolist() == pytest.approx([1.0, 0.75, 0.5])
    assert frame["from_previous"].tolist() == pytest.approx([1.0, 0.75, 2 / 3])
    assert frame["dropped"].tolist() == [0, 1, 1]
    # Minutes from cart to order: a 60, c 30 → median 45; view to cart: 10, 30, 20 → 20.
    assert frame["median_seconds"].tolist()[1:] == pytest.approx([20 * 60, 45 * 60])
    assert result.conversion() == pytest.approx(0.5)
    dropped = con.to_pyarrow(result.dropped_at(3)).to_pandas()["customer_id"].tolist()
    assert dropped == ["b"]
    assert "50.0% of 4 people" in result.takeaway()
    assert "largest drop" in result.takeaway()


def test_breakdown_by_the_first_steps_platform(con: BaseBackend) -> None:
    log = [("a", V, at(0), "app"), ("a", A, at(1), "web"),
           ("b", V, at(0), "web"),
           ("c", V, at(0), "web"), ("c", A, at(1), "web")]
    result = analyze_funnel(events(log), FunnelSpec(steps=[V, A], breakdown="platform"),
                            con.to_pyarrow)
    frame = result.to_pandas()
    last = frame[frame["step"] == 2].set_index("group")
    assert last.loc["all", "people"] == 2
    assert last.loc["app", "people"] == 1
    assert last.loc["web", "people"] == 1
    assert frame[frame["step"] == 1].set_index("group")["people"].to_dict() == {
        "all": 3, "app": 1, "web": 2}


def test_breakdown_by_person_groups_may_overlap(con: BaseBackend) -> None:
    log = [("a", V, at(0)), ("a", A, at(1)), ("b", V, at(0))]
    groups = pd.DataFrame({"customer_id": ["a", "a", "b"], "group": ["vip", "new", "new"]})
    import ibis

    result = analyze_funnel(events(log), FunnelSpec(steps=[V, A]), con.to_pyarrow,
                            groups=ibis.memtable(groups))
    first = result.to_pandas().query("step == 1").set_index("group")["people"].to_dict()
    assert first == {"all": 2, "new": 2, "vip": 1}


@pytest.mark.parametrize("bad", [
    {"steps": [V]},
    {"steps": [V, A], "window": timedelta(0)},
    {"steps": [V, V], "order": "any"},
    {"steps": [V, A], "exclusions": [Exclusion(event="X", after=2, before=3)]},
    {"steps": [V, A], "exclusions": [Exclusion(event=V, after=1, before=2)]},
])
def test_bad_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError is one
        FunnelSpec(**bad)  # type: ignore[arg-type]


def test_chart_in_both_languages_and_as_an_image(con: BaseBackend, tmp_path: Path) -> None:
    log = [("a", V, at(0)), ("a", A, at(1)), ("b", V, at(0))]
    result = analyze_funnel(events(log), FunnelSpec(steps=[V, A]), con.to_pyarrow)
    zh = result.chart("zh-CN")
    assert zh.kind == "funnel"
    assert "浏览商品" in zh.title and "加入购物车" in zh.title
    assert zh.option["series"][0]["data"] == [{"name": "浏览商品", "value": 2},
                                              {"name": "加入购物车", "value": 1}]
    assert "Product Viewed" in result.chart("en").title
    image = result.save_chart(tmp_path / "funnel.png", "zh-CN")
    assert image.stat().st_size > 5_000
