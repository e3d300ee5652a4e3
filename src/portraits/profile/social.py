"""Social (R3.5): referrals and word of mouth (reviews and their sentiment). Shares are
counted with the other event types in :mod:`portraits.profile.behaviour`, in the same pass
over the events. Review sentiment is scored in Python (:mod:`portraits.analytics.sentiment`)
and read here from the stored ``review_sentiment`` table.

A referral is read from event ``properties``: an event of the referred person carries
``"referrer": "<member or user id of the person who referred them>"``. The referrer's id
is looked up among the customers' member ids and the events' user ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import ibis
import ibis.expr.types as ir

from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spine import attach, spine

REFERRER_PATTERN: Final = r'"referrer"\s*:\s*"([^"]+)"'
REFERRER_KEY: Final = '"referrer"'


def _referred(events: ir.Table, as_of: datetime) -> ir.Table:
    """Distinct (referred customer, referrer id) pairs."""
    tagged = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp <= as_of,
                           events.properties.contains(REFERRER_KEY))
    referrer = tagged.properties.re_extract(REFERRER_PATTERN, 1).nullif("")
    pairs = tagged.select(CUSTOMER_ID, referrer=referrer)
    return pairs.filter(pairs.referrer.notnull()).distinct()


def _referrer_ids(events: ir.Table, customers: ir.Table | None,
                  wanted: ir.Table) -> ir.Table:
    """(id value, customer) for the member and user ids that appear as referrers."""
    known = []
    if customers is not None and "member_id" in customers.columns:
        known.append(customers.select(id_value=customers.member_id, owner=customers[CUSTOMER_ID]))
    known.append(events.select(id_value=events.user_id, owner=events[CUSTOMER_ID]))
    ids = ibis.union(*known) if len(known) > 1 else known[0]
    ids = ids.filter(ids.id_value.notnull(), ids.owner.notnull(),
                     ids.id_value.isin(wanted.referrer))
    return ids.distinct()


def referrals(events: ir.Table, customers: ir.Table | None, as_of: datetime) -> ir.Table:
    """Per customer: how many other people they referred, and whether they were referred.

    Args:
        events: Canonical events with ``customer_id``.
        customers: Canonical customers with ``customer_id`` (to resolve member ids), or None.
        as_of: Reference time.

    Returns:
        One row per customer who referred or was referred: ``referrals``, ``referred``.
    """
    pairs = _referred(events, as_of)
    owners = _referrer_ids(events, customers, pairs)
    linked = pairs.join(owners, pairs.referrer == owners.id_value)
    linked = linked.filter(linked.owner != linked[CUSTOMER_ID])
    made = linked.group_by(customer_id=linked.owner).aggregate(
        referrals=linked[CUSTOMER_ID].nunique())
    was = pairs.select(CUSTOMER_ID).distinct().mutate(referred=ibis.literal(True))
    return attach(spine(made, was), made, was)


def reviews_written(reviews: ir.Table, as_of: datetime) -> ir.Table:
    """Per customer: reviews written up to ``as_of`` and their mean rating."""
    mine = reviews.filter(reviews[CUSTOMER_ID].notnull())
    if "created_at" in mine.columns:
        mine = mine.filter(mine.created_at.isnull() | (mine.created_at <= as_of))
    return mine.group_by(CUSTOMER_ID).aggregate(
        reviews_written=mine.count(), mean_rating=mine.rating.mean())


def review_sentiment(reviews: ir.Table, scores: ir.Table, as_of: datetime) -> ir.Table:
    """Per customer: mean sentiment and negative count of their scored reviews up to ``as_of``.

    Args:
        reviews: Canonical reviews with ``customer_id``.
        scores: The ``review_sentiment`` table of
            :func:`portraits.analytics.sentiment.score_reviews` (``review_id``,
            ``sentiment``, ``label``).
        as_of: Reference time.
    """
    mine = reviews.filter(reviews[CUSTOMER_ID].notnull())
    if "created_at" in mine.columns:
        mine = mine.filter(mine.created_at.isnull() | (mine.created_at <= as_of))
    rated = scores.filter(scores.label.notnull()).select(
        _review=scores.review_id, _sentiment=scores.sentiment.cast("float64"),
        _negative=(scores.label == "negative").cast("int64"))
    written = mine.select(CUSTOMER_ID, "review_id")
    joined = written.join(rated, written.review_id == rated._review)
    return joined.group_by(CUSTOMER_ID).aggregate(
        review_sentiment=joined._sentiment.mean(), negative_reviews=joined._negative.sum())


def social(events: ir.Table | None, reviews: ir.Table | None, customers: ir.Table | None,
           as_of: datetime, scores: ir.Table | None = None) -> ir.Table | None:
    """The social dimension besides shares: referrals, reviews and their sentiment (when
    ``scores`` are given); None without inputs.

    Example:
        >>> social(events, reviews, customers, as_of)  # doctest: +SKIP
    """
    parts = []
    if events is not None and "properties" in events.columns:
        parts.append(referrals(events, customers, as_of))
    if reviews is not None:
        parts.append(reviews_written(reviews, as_of))
        if scores is not None:
            parts.append(review_sentiment(reviews, scores, as_of))
    if not parts:
        return None
    return attach(spine(*parts), *parts)
