"""The customer spine: one row per customer id, and the parts joined onto it."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from portraits.profile.schema import CUSTOMER_ID


def spine(*parts: ir.Table) -> ir.Table:
    """Every customer id that appears in any of ``parts`` (each one row per customer), once.

    Args:
        parts: Tables with a ``customer_id`` column.

    Returns:
        One column, ``customer_id``.
    """
    ids = [p.select(CUSTOMER_ID) for p in parts]
    return ibis.union(*ids, distinct=True) if len(ids) > 1 else ids[0].distinct()


def attach(base: ir.Table, *parts: ir.Table) -> ir.Table:
    """``base`` with the columns of each part (one row per customer) left-joined on.

    Args:
        base: One row per customer.
        parts: One row per customer each; columns other than ``customer_id`` must not
            clash with ``base``'s.

    Returns:
        ``base``'s rows with every part's columns (null where a part has no row).
    """
    joined = base
    for part in parts:
        joined = joined.left_join(part, CUSTOMER_ID)
        joined = joined.drop(f"{CUSTOMER_ID}_right")
    return joined


def epoch_seconds(moment: datetime) -> int:
    """Seconds since 1970-01-01 of a naive local time, as the engines count a naive
    timestamp (as if it were UTC), so differences with column values are exact."""
    return int((moment.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds())


def days_between(as_of: datetime, moment: ir.TimestampValue) -> ir.IntegerValue:
    """Calendar days from the date of ``moment`` to the date of ``as_of``."""
    today = epoch_seconds(as_of) // 86_400
    return (ibis.literal(today) - moment.epoch_seconds() // 86_400).cast("int64")
