"""Interest affinities per category (R3.3), from what a person views, adds and buys.

Each signal has a weight (view 1, add to cart 3, bought order line 5 by default) that
halves every ``half_life_days`` of age at the reference time:

    weight × 0.5 ^ (age in days / half_life_days)

A person's affinity for a category is their decayed weight in it divided by their
decayed weight over all categories, so a person's affinities sum to 1 and can be compared
between people who browse a lot and people who browse a little. Categories are top-level
(``数码``, ``母婴`` …): from the event's ``category``, else from the product's.
"""

from __future__ import annotations

import math
from datetime import datetime

import ibis
import ibis.expr.types as ir

from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import epoch_seconds

VIEWED = "Product Viewed"
ADDED = "Product Added"


def _decayed(weight: ir.FloatingValue, moment: ir.TimestampValue, as_of: datetime,
             spec: ProfileSpec) -> ir.FloatingValue:
    age_days = (ibis.literal(epoch_seconds(as_of)) - moment.epoch_seconds()) / 86_400
    rate = math.log(2) / spec.interests.half_life_days
    return weight * (age_days.cast("float64") * -rate).exp()


def _browsing(events: ir.Table, products: ir.Table | None, spec: ProfileSpec,
              as_of: datetime) -> ir.Table:
    shown = events.filter(events[CUSTOMER_ID].notnull(), events.event.isin((VIEWED, ADDED)),
                          events.timestamp <= ibis.literal(as_of))
    shown = shown.select(CUSTOMER_ID, "timestamp", "event", "product_id", "category")
    if products is not None:
        catalogue = products.select("product_id", _product_category=products.category)
        shown = shown.left_join(catalogue, "product_id").drop("product_id_right")
        category = ibis.coalesce(shown.category, shown["_product_category"])
    else:
        category = shown.category
    weight = ibis.ifelse(shown.event == VIEWED, spec.interests.view_weight,
                         spec.interests.add_weight)
    return shown.select(CUSTOMER_ID, category=category,
                        weight=_decayed(weight, shown.timestamp, as_of, spec))


def _buying(lines: ir.Table, spec: ProfileSpec, as_of: datetime) -> ir.Table:
    weight = ibis.literal(spec.interests.order_weight)
    return lines.select(CUSTOMER_ID, "category",
                        weight=_decayed(weight, lines.ordered_at, as_of, spec))


def interest_affinities(events: ir.Table | None, lines: ir.Table | None,
                        products: ir.Table | None, spec: ProfileSpec,
                        as_of: datetime) -> ir.Table:
    """Affinity of each customer for each category they showed interest in.

    Args:
        events: Canonical events with ``customer_id``, or None.
        lines: Order lines from :func:`portraits.profile.consumption.order_lines`, or None.
        products: Canonical products (categories of events that lack one), or None.
        spec: Weights and half-life.
        as_of: Reference time; later signals are ignored.

    Returns:
        ``customer_id``, ``category``, ``affinity`` (0-1, summing to 1 per customer) and
        ``rank`` (1 = strongest; ties go to the first category name). Empty if neither
        events nor lines are given.

    Example:
        >>> interest_affinities(events, lines, products, ProfileSpec(), as_of)  # doctest: +SKIP
    """
    signals = []
    if events is not None:
        signals.append(_browsing(events, products, spec, as_of))
    if lines is not None:
        signals.append(_buying(lines, spec, as_of))
    if not signals:
        raise ValueError("interest affinities need events or order lines")
    union = ibis.union(*signals) if len(signals) > 1 else signals[0]
    union = union.filter(union.category.notnull())
    totals = union.group_by([CUSTOMER_ID, "category"]).aggregate(_weight=union.weight.sum())
    person = ibis.window(group_by=totals[CUSTOMER_ID])
    ranking = ibis.window(group_by=totals[CUSTOMER_ID],
                          order_by=[totals["_weight"].desc(), totals.category.asc()])
    return totals.select(
        CUSTOMER_ID, "category",
        affinity=totals["_weight"] / totals["_weight"].sum().over(person),
        rank=(ibis.row_number().over(ranking) + 1).cast("int64"),
    )


def top_interests(affinities: ir.Table, spec: ProfileSpec) -> ir.Table:
    """The wide-profile summary: top category, its affinity and the top few, comma separated."""
    top = affinities.filter(affinities["rank"] <= spec.interests.top)
    picks = {f"_top{k}": top.category.max(where=top["rank"] == k)
             for k in range(1, spec.interests.top + 1)}
    wide = top.group_by(CUSTOMER_ID).aggregate(
        top_interest_affinity=top.affinity.max(where=top["rank"] == 1), **picks)
    listed: ir.StringValue = wide["_top1"]
    for k in range(2, spec.interests.top + 1):
        listed = listed + (ibis.literal(",") + wide[f"_top{k}"]).fill_null("")
    return wide.select(CUSTOMER_ID, top_interest=wide["_top1"],
                       top_interest_affinity=wide.top_interest_affinity, interests=listed)
