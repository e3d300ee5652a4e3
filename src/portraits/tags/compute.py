"""Tag values per customer: the inputs conditions read, then one column per tag.

The inputs are the profiles with RFM, the windowed aggregates the tag set reads (one
grouped pass over events and one over orders, each window a filtered aggregate) and the
affinities it reads, left-joined on ``customer_id``. Tags are computed level by level in
dependency order, so a tag that reads another tag reads its column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import ibis
import ibis.expr.types as ir

from portraits.predict.store import PREDICTION_FIELDS
from portraits.profile.consumption import counted, person_orders
from portraits.profile.rfm import RFM_FIELDS, RfmSpec, rfm_scores
from portraits.profile.schema import CUSTOMER_ID, FIELD_VALUES, PROFILE_FIELDS
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import attach
from portraits.tags import expr
from portraits.tags.catalog import Tag, TagSet
from portraits.tags.spec import BucketTag, RuleTag, ScoreTag, TopTag

ALL_EVENTS: Final = "*"
_KINDS: Final[dict[str, expr.Kind]] = {"string": "string", "int64": "number",
                                       "float64": "number", "boolean": "boolean",
                                       "timestamp": "timestamp"}


def tag_fields() -> dict[str, expr.Kind]:
    """Every field a tag condition may read besides tags: profile fields, RFM and
    predictions (null until ``portraits predict score`` ran)."""
    fields = {f.name: _KINDS[f.dtype] for f in PROFILE_FIELDS}
    fields.update({name: kind for name, (kind, _, _) in RFM_FIELDS.items()})  # type: ignore[misc]
    fields.update({f.name: f.kind for f in PREDICTION_FIELDS})
    return fields


def field_values() -> dict[str, tuple[str, ...]]:
    """Values of the enumerated profile fields (see :data:`FIELD_VALUES`)."""
    return dict(FIELD_VALUES)


def window_aggregates(events: ir.Table | None, orders: ir.Table | None,
                      windows: set[expr.Window], as_of: datetime,
                      profile: ProfileSpec | None = None) -> list[ir.Table]:
    """One table per input with a column per windowed aggregate (see :func:`expr.window_column`).

    Args:
        events: Canonical events with ``customer_id`` (None when there are none).
        orders: Canonical orders with ``customer_id``.
        windows: The aggregates to compute.
        as_of: The windows end here: ``events('X', 7)`` counts (as_of − 7 days, as_of].
        profile: Order statuses that do not count.
    """
    parts = []
    of_events = sorted((w for w in windows if w[0] in ("events", "active_days")), key=str)
    of_orders = sorted((w for w in windows if w[0] in ("orders", "spend")), key=str)
    end = ibis.literal(as_of)
    if of_events:
        longest = max(days for _, _, days in of_events)
        mine = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp <= end,
                             events.timestamp > ibis.literal(as_of - timedelta(days=longest))
                             ) if events is not None else None
        if mine is not None:
            parts.append(mine.group_by(CUSTOMER_ID).aggregate(
                **{expr.window_column(w): _event_window(mine, w, as_of) for w in of_events}))
    if of_orders and orders is not None:
        mine = person_orders(orders, as_of)
        mine = mine.filter(counted(mine, profile or ProfileSpec()))
        parts.append(mine.group_by(CUSTOMER_ID).aggregate(
            **{expr.window_column(w): _order_window(mine, w, as_of) for w in of_orders}))
    return parts


def _event_window(events: ir.Table, window: expr.Window, as_of: datetime) -> ir.Value:
    name, event, days = window
    inside = events.timestamp > ibis.literal(as_of - timedelta(days=days))
    if name == "active_days":
        return events.timestamp.date().nunique(where=inside).cast("int64")
    if event is not None and event != ALL_EVENTS:
        inside = inside & (events.event == event)
    return events.count(where=inside)


def _order_window(orders: ir.Table, window: expr.Window, as_of: datetime) -> ir.Value:
    name, _, days = window
    inside = orders.ordered_at > ibis.literal(as_of - timedelta(days=days))
    if name == "orders":
        return orders.count(where=inside)
    return orders.total_amount.fill_null(0.0).sum(where=inside).fill_null(0.0).cast("float64")


def affinity_table(interests: ir.Table, categories: set[str]) -> ir.Table:
    """One row per customer with interests: a column per category's affinity."""
    return interests.group_by(CUSTOMER_ID).aggregate(**{
        expr.affinity_column(c): interests.affinity.max(where=interests.category == c)
        for c in sorted(categories)})


def tag_inputs(profiles: ir.Table, rfm: ir.Table | None, parts: Sequence[ir.Table],
               windows: set[expr.Window], affinities: set[str]) -> ir.Table:
    """Profiles with RFM (or the stored tags), windowed aggregates and affinities; absent
    aggregates are 0."""
    joined = attach(profiles, *([rfm] if rfm is not None else []), *parts)
    if rfm is None:
        joined = joined.mutate(**{name: ibis.null(_IBIS[kind])
                                  for name, (kind, _, _) in RFM_FIELDS.items()})
    fills = {}
    for window in windows:
        column = expr.window_column(window)
        zero = 0.0 if window[0] == "spend" else 0
        fills[column] = (joined[column].fill_null(zero) if column in joined.columns
                         else ibis.literal(zero))
    for category in affinities:
        column = expr.affinity_column(category)
        fills[column] = (joined[column].fill_null(0.0) if column in joined.columns
                         else ibis.literal(0.0))
    return joined.mutate(**fills) if fills else joined


_IBIS: Final = {"number": "float64", "string": "string"}


def tag_columns(inputs: ir.Table, tagset: TagSet, as_of: datetime,
                interests: ir.Table | None = None) -> ir.Table:
    """``inputs`` with one column per tag, computed in dependency order.

    Args:
        inputs: From :func:`tag_inputs`.
        tagset: The checked tags.
        as_of: Reference time of ``days_since``.
        interests: ``profile_interests`` (customer, category, affinity, rank), for top tags.
    """
    table = inputs
    tops = [t for t in tagset if isinstance(t.spec, TopTag)]
    if tops and interests is None:
        table = table.mutate(**{t.id: ibis.null("string") for t in tops})
    elif tops:
        assert interests is not None
        table = attach(table, _top_columns(interests, tops))
    done = {t.id for t in tops}
    for level in _levels(tagset, done):
        table = table.mutate(**{t.id: tag_value(t, table, as_of) for t in level})
        done |= {t.id for t in level}
    return table


def _levels(tagset: TagSet, done: set[str]) -> list[list[Tag]]:
    """Tags grouped so that each group reads only tags of earlier groups."""
    levels: list[list[Tag]] = []
    ready = set(done)
    waiting = [t for t in tagset if t.id not in done]
    while waiting:
        level = [t for t in waiting if not (t.reads() & {w.id for w in waiting}) - ready]
        levels.append(level)
        ready |= {t.id for t in level}
        waiting = [t for t in waiting if t.id not in ready]
    return levels


def tag_value(tag: Tag, table: ir.Table, as_of: datetime) -> ir.Value:
    """The value of a rule, bucket or score tag over ``table``."""
    spec = tag.spec

    def compiled(where: tuple[str | int, ...]) -> ir.Value:
        return expr.compile_to_ibis(tag.conditions[where], table, as_of)

    if isinstance(spec, RuleTag):
        return compiled(("when",)).fill_null(False)  # type: ignore[attr-defined]
    if isinstance(spec, ScoreTag):
        score = score_value(tag, table, as_of)
        return ibis.cases(*((score >= level.min, level.label) for level in spec.levels),
                          else_=ibis.literal(spec.default, "string"))
    assert isinstance(spec, BucketTag)
    default = ibis.literal(spec.default, "string")
    if spec.cases is not None:
        return ibis.cases(*((compiled(("cases", i, "when")).fill_null(False),  # type: ignore[attr-defined]
                             case.label) for i, case in enumerate(spec.cases)), else_=default)
    value = compiled(("of",))
    if spec.values is not None:
        return ibis.cases(*((value.isin(list(v)), label)  # type: ignore[attr-defined]
                            for label, v in spec.values.items()), else_=default)
    assert spec.ranges is not None
    cases = []
    for r in spec.ranges:
        cond = value.notnull()
        if r.min is not None:
            cond = cond & (value >= r.min)  # type: ignore[operator]
        if r.max is not None:
            cond = cond & (value < r.max)  # type: ignore[operator]
        cases.append((cond, r.label))
    return ibis.cases(*cases, else_=default)


def score_value(tag: Tag, table: ir.Table, as_of: datetime) -> ir.FloatingValue:
    """The weighted sum of a score tag's terms (an empty term counts 0)."""
    assert isinstance(tag.spec, ScoreTag)
    total: ir.FloatingValue = ibis.literal(0.0)
    for i, term in enumerate(tag.spec.terms):
        value = expr.compile_to_ibis(tag.conditions[("terms", i, "of")], table, as_of)
        total = total + value.cast("float64").fill_null(0.0) * term.weight  # type: ignore[attr-defined]
    return total


def _top_columns(interests: ir.Table, tops: list[Tag]) -> ir.Table:
    """One column per top tag: the top-k categories, highest affinity first, comma separated."""
    deepest = max(t.spec.k for t in tops if isinstance(t.spec, TopTag))
    ranked = interests.filter(interests["rank"] <= deepest)
    picks = {}
    for tag in tops:
        spec = tag.spec
        assert isinstance(spec, TopTag)
        for k in range(1, spec.k + 1):
            picks[f"_{tag.id}_{k}"] = ranked.category.max(
                where=(ranked["rank"] == k) & (ranked.affinity >= spec.min_affinity))
    wide = ranked.group_by(CUSTOMER_ID).aggregate(**picks)
    out = {}
    for tag in tops:
        assert isinstance(tag.spec, TopTag)
        listed: ir.StringValue = wide[f"_{tag.id}_1"]
        for k in range(2, tag.spec.k + 1):
            listed = listed + (ibis.literal(",") + wide[f"_{tag.id}_{k}"]).fill_null("")
        out[tag.id] = listed
    return wide.select(CUSTOMER_ID, **out)


def build_tags(profiles: ir.Table, orders: ir.Table | None, events: ir.Table | None,
               interests: ir.Table | None, tagset: TagSet, rfm: RfmSpec, as_of: datetime,
               profile: ProfileSpec | None = None, keep_inputs: bool = False) -> ir.Table:
    """The ``tags`` table: per profile, the RFM fields and one column per tag.

    Args:
        profiles: The built ``profiles``.
        orders: Canonical orders with ``customer_id`` (None: no RFM, order windows 0).
        events: Canonical events with ``customer_id`` (None: event windows 0).
        interests: ``profile_interests``, for affinities and top tags.
        tagset: The checked tags.
        rfm: RFM window and scoring.
        as_of: Reference time.
        profile: Order statuses that do not count.
        keep_inputs: Keep every column tags read (profile fields, aggregates), to explain.
    """
    scores = rfm_scores(orders, rfm, rfm.as_of(as_of), profile) if orders is not None else None
    parts = window_aggregates(events, orders, tagset.windows(), as_of, profile)
    categories = tagset.affinities()
    if categories and interests is not None:
        parts.append(affinity_table(interests, categories))
    inputs = tag_inputs(profiles, scores, parts, tagset.windows(), categories)
    tagged = tag_columns(inputs, tagset, as_of, interests)
    if keep_inputs:
        return tagged
    return tagged.select(CUSTOMER_ID, *RFM_FIELDS, *(t.id for t in tagset))


def tag_history_rows(tags: ir.Table, tagset: TagSet, run_at: datetime) -> ir.Table:
    """Assignments of one run, long: ``run_at, customer_id, tag, value`` — a row per
    customer and tag that holds (rule tags: ``true``; other tags: their label)."""
    ids = [t.id for t in tagset]
    texts = tags.select(CUSTOMER_ID, **{i: tags[i].cast("string") for i in ids})
    long = texts.pivot_longer(ids, names_to="tag", values_to="value")
    kept = long.filter(long.value.notnull(), long.value != "false")
    return kept.select(run_at=ibis.literal(run_at, "timestamp"), customer_id=kept[CUSTOMER_ID],
                       tag=kept.tag, value=kept.value)
