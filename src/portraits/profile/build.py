"""``build_profiles``: the four dimensions plus social in one wide table, one row per customer.

Inputs are the canonical tables *after* identity resolution has given every person-level
row a ``customer_id`` (null where no person is known). Each dimension is one table of one
row per customer; they are joined onto the spine of every customer id found in any of
them, then typed and ordered as :data:`portraits.profile.schema.PROFILE_FIELDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final

import ibis
import ibis.expr.types as ir

from portraits.errors import PortraitsError
from portraits.profile.behaviour import behaviour
from portraits.profile.completeness import completeness
from portraits.profile.consumption import consumption, order_lines
from portraits.profile.demographics import demographics
from portraits.profile.interests import interest_affinities, top_interests
from portraits.profile.schema import CUSTOMER_ID, INTEREST_FIELDS, PROFILE_FIELDS
from portraits.profile.social import social
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import attach, spine

# Tables whose rows belong to a person and so need a customer_id.
PERSON_TABLES: Final = ("customers", "events", "orders", "reviews")
# Counts that are zero, not unknown, for a person without rows in their source.
ZERO_WHEN_ABSENT: Final[dict[str, tuple[str, ...]]] = {
    "customers": ("customer_records",),
    "events": ("events", "sessions", "active_days", "product_views", "searches",
               "product_adds", "cart_views", "checkouts", "order_events", "coupons_applied",
               "wishlist_adds", "shares", "devices", "platforms", "channels", "utm_sources",
               "referrals"),
    "orders": ("orders", "spend", "orders_365d", "spend_365d", "returned_orders"),
    "reviews": ("reviews_written",),
    "review_sentiment": ("negative_reviews",),
}
SENTIMENT_COLUMNS: Final = ("review_id", "sentiment", "label")
# Events per bucket of the behaviour dimension on an engine whose windows do not spill
# (``Engine.windows_spill``): its visit window sorts every event of a bucket at once;
# 6.4M events per bucket peak at 2.3 GB on DuckDB.
EVENTS_PER_BUCKET: Final = 8_000_000
# The columns of events that any profile field reads (behaviour, interests, referrals).
EVENT_COLUMNS: Final = (CUSTOMER_ID, "timestamp", "event", "device_id", "anonymous_id",
                        "user_id", "platform", "device_type", "channel", "utm_source",
                        "query", "product_id", "category", "properties")


@dataclass(frozen=True)
class ProfileInputs:
    """The canonical tables a profile is built from; any may be missing.

    ``customers``, ``events``, ``orders`` and ``reviews`` must carry ``customer_id``.
    ``review_sentiment`` holds the scores of :func:`portraits.analytics.sentiment.
    score_reviews` (``review_id``, ``sentiment``, ``label``); without it, or without
    ``reviews``, ``review_sentiment`` and ``negative_reviews`` are empty.
    """

    customers: ir.Table | None = None
    events: ir.Table | None = None
    orders: ir.Table | None = None
    order_items: ir.Table | None = None
    products: ir.Table | None = None
    reviews: ir.Table | None = None
    review_sentiment: ir.Table | None = None

    def check(self) -> None:
        """Raise if a person table lacks ``customer_id``, no person table is given or
        ``review_sentiment`` lacks a score column."""
        present = [f.name for f in fields(self) if getattr(self, f.name) is not None]
        missing = [name for name in PERSON_TABLES if name in present
                   and CUSTOMER_ID not in getattr(self, name).columns]
        if missing:
            raise PortraitsError(
                f"{', '.join(missing)} must carry a '{CUSTOMER_ID}' column; run identity "
                "resolution first")
        if not any(name in present for name in PERSON_TABLES):
            raise PortraitsError("profiles need customers, events, orders or reviews")
        if self.review_sentiment is not None:
            lacking = [c for c in SENTIMENT_COLUMNS if c not in self.review_sentiment.columns]
            if lacking:
                raise PortraitsError(f"review_sentiment lacks {', '.join(lacking)}: it needs "
                                     f"{', '.join(SENTIMENT_COLUMNS)} (score_reviews)")


def profile_events(events: ir.Table) -> ir.Table:
    """``events`` with only the columns profiles read (:data:`EVENT_COLUMNS`).

    Stage it once (``Engine.stage``) when several dimensions read the events: each would
    otherwise join them to their customer ids again, and a shared wide input is what
    DuckDB holds in memory.
    """
    return events.select(*(c for c in EVENT_COLUMNS if c in events.columns))


def behaviour_buckets(events: int) -> int:
    """How many customer buckets the behaviour dimension of ``events`` rows is built in
    (:data:`EVENTS_PER_BUCKET` events each)."""
    return max(1, -(-events // EVENTS_PER_BUCKET))


def customer_bucket(table: ir.Table, buckets: int, bucket: int) -> ir.Table:
    """The rows of ``table`` whose customer falls in ``bucket`` (0 … ``buckets`` - 1).

    Every row of one customer lands in the same bucket (a hash of ``customer_id``; rows
    without one in none), so a per-customer dimension built bucket by bucket and unioned
    equals the one built at once, while each pass holds a bucket's events only.
    """
    code = table[CUSTOMER_ID].hash()  # DuckDB hashes NULL too: those rows are left out
    return table.filter(table[CUSTOMER_ID].notnull(),
                        (code % buckets + buckets) % buckets == bucket)


def order_lines_of(inputs: ProfileInputs, spec: ProfileSpec, as_of: datetime) -> ir.Table | None:
    """Counted order lines of the inputs, or None without orders and items."""
    if inputs.orders is None or inputs.order_items is None:
        return None
    return order_lines(inputs.orders, inputs.order_items, inputs.products, spec, as_of)


def profile_interests(inputs: ProfileInputs, as_of: datetime,
                      spec: ProfileSpec | None = None) -> ir.Table | None:
    """The long ``profile_interests`` table (customer, category, affinity, rank), or None
    when there are neither events nor order lines.

    Example:
        >>> profile_interests(inputs, datetime(2026, 11, 1))  # doctest: +SKIP
    """
    spec = spec or ProfileSpec()
    inputs.check()
    lines = order_lines_of(inputs, spec, as_of)
    if inputs.events is None and lines is None:
        return None
    table = interest_affinities(inputs.events, lines, inputs.products, spec, as_of)
    return table.select(*(table[f.name].cast(f.dtype) if f.name != CUSTOMER_ID
                          else table[f.name] for f in INTEREST_FIELDS))


def _dimensions(inputs: ProfileInputs, spec: ProfileSpec, as_of: datetime,
                interests: ir.Table | None, behaviour_part: ir.Table | None) -> list[ir.Table]:
    parts = []
    if inputs.customers is not None:
        parts.append(demographics(inputs.customers, as_of))
    if behaviour_part is not None:
        parts.append(behaviour_part)
    elif inputs.events is not None:
        parts.append(behaviour(inputs.events, spec, as_of))
    if inputs.orders is not None:
        parts.append(consumption(inputs.orders, inputs.order_items, inputs.products, spec,
                                 as_of))
    if interests is None:
        interests = profile_interests(inputs, as_of, spec)
    if interests is not None:
        parts.append(top_interests(interests, spec))
    extra = social(inputs.events, inputs.reviews, inputs.customers, as_of,
                   inputs.review_sentiment)
    if extra is not None:
        parts.append(extra)
    return parts


def _typed(joined: ir.Table, inputs: ProfileInputs, as_of: datetime) -> ir.Table:
    zero = {name for table, names in ZERO_WHEN_ABSENT.items()
            if getattr(inputs, table) is not None for name in names}
    columns: dict[str, ir.Value] = {}
    for f in PROFILE_FIELDS:
        if f.name == CUSTOMER_ID:
            columns[f.name] = joined[f.name]
        elif f.name in joined.columns:
            value = joined[f.name].cast(f.dtype)
            columns[f.name] = value.fill_null(0) if f.name in zero else value
        else:
            columns[f.name] = ibis.null(f.dtype)
    if inputs.events is not None and "referred" in joined.columns:
        columns["referred"] = joined.referred.fill_null(False)
    columns["as_of"] = ibis.literal(as_of, "timestamp")
    return joined.select(**columns)


def build_profiles(inputs: ProfileInputs, as_of: datetime, spec: ProfileSpec | None = None,
                   interests: ir.Table | None = None,
                   behaviour_part: ir.Table | None = None) -> ir.Table:
    """One row per customer with every field of ``docs/profiles.md``.

    Args:
        inputs: Canonical tables; person tables carry ``customer_id``.
        as_of: Reference time: ages, recencies and decays are measured at it and later
            rows are ignored.
        spec: Thresholds and windows; the defaults when omitted.
        interests: A stored ``profile_interests`` table, so it is not computed twice;
            computed from the inputs when omitted.
        behaviour_part: The behaviour dimension computed beforehand (in customer buckets,
            see :func:`customer_bucket`); computed from ``inputs.events`` when omitted.

    Returns:
        The ``profiles`` table expression (nothing is executed).

    Example:
        >>> inputs = ProfileInputs(customers=c, events=e, orders=o)  # doctest: +SKIP
        >>> build_profiles(inputs, datetime(2026, 11, 1)).to_pandas()  # doctest: +SKIP
    """
    spec = spec or ProfileSpec()
    inputs.check()
    parts = _dimensions(inputs, spec, as_of, interests, behaviour_part)
    typed = _typed(attach(spine(*parts), *parts), inputs, as_of)
    return typed.mutate(completeness=completeness(typed))
