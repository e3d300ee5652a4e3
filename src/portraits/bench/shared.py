"""The shared profile + RFM query of ``portraits bench``, three ways: from Portraits' own
modules (any engine), as hand-written DuckDB SQL (the floor, :mod:`.shared_sql`) and in
plain pandas, with a comparison of their results.

The query: one row per customer found in events or orders, customer ids attached through
``customer_ids`` (a record takes the customer of its highest-priority identifier, values
trimmed). From events up to the reference time: events, active_days, first_seen_at,
last_seen_at. From orders up to it (cancelled and refunded orders do not count): orders,
spend, average_order_value, first_order_at, last_order_at, days_since_last_order,
discount_share. Counts and spend are 0 for a customer without rows in the table, as in
``profiles``. Then RFM as ``rfm_scores`` gives it with the default :class:`RfmSpec`, for
customers with a counted order (null for the others): recency in calendar days since the
last counted order; frequency and monetary over the orders after as_of − 365 days;
R and M by quintiles of the percent rank, F by the thresholds 2, 3, 4, 6.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portraits.bench.shared_sql import (
    BLANKS,
    EVENT_IDS,
    EXCLUDED,
    FREQUENCY_CUTS,
    ORDER_IDS,
    WINDOW_DAYS,
    floor_query,
    floor_sql,
)
from portraits.errors import PortraitsError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from portraits.workspace.facade import Workspace

__all__ = ["FIELDS", "check_rules", "differences", "floor_query", "floor_sql",
           "pandas_query", "portraits_query"]

PROFILE_FIELDS: Final = ("customer_id", "events", "active_days", "first_seen_at",
                         "last_seen_at", "orders", "spend", "average_order_value",
                         "first_order_at", "last_order_at", "days_since_last_order",
                         "discount_share")
RFM_FIELDS: Final = ("rfm_recency_days", "rfm_frequency", "rfm_monetary", "rfm_r", "rfm_f",
                     "rfm_m", "rfm_fm", "rfm_score")
FIELDS: Final[tuple[str, ...]] = PROFILE_FIELDS + RFM_FIELDS
ORDER_FIELDS: Final = PROFILE_FIELDS[5:]
ZERO_WHEN_ABSENT: Final = ("events", "active_days", "orders", "spend")
FLOATS: Final = frozenset({"spend", "average_order_value", "discount_share", "rfm_monetary"})
STRINGS: Final = frozenset({"customer_id", "rfm_score"})
REFERENCE: Final = "portraits"


def check_rules(ws: Workspace) -> None:
    """Refuse a workspace whose rules are not what the hand-written versions spell.

    The SQL and pandas versions spell out the identity rules (identifier fields by
    priority, trimmed), the excluded order statuses and the default RFM scoring.

    Raises:
        PortraitsError: naming what changed.
    """
    from portraits.model.canonical import entity
    from portraits.profile import ProfileSpec
    from portraits.profile.rfm import RfmSpec

    for name, fields in (("events", EVENT_IDS), ("orders", ORDER_IDS)):
        rules = [(f, rule.name, rule.normalize)
                 for f, rule in ws.identity.rules.identifier_fields(entity(name))]
        if rules != [(f, id_type, ("trim",)) for f, id_type in fields]:
            raise PortraitsError(f"the identity rules of {name} are not those the benchmark's "
                                 f"hand-written queries spell: {rules}")
    if ProfileSpec().excluded_order_statuses != EXCLUDED:
        raise PortraitsError("the excluded order statuses changed: "
                             f"{ProfileSpec().excluded_order_statuses}")
    rfm = RfmSpec()
    spelled = (WINDOW_DAYS, "quintiles", FREQUENCY_CUTS, "quintiles")
    if (rfm.window_days, rfm.recency, rfm.frequency, rfm.monetary) != spelled:
        raise PortraitsError(f"the default RFM scoring changed: {rfm}")


def portraits_query(ws: Workspace, as_of: datetime) -> ir.Table:
    """The shared query from Portraits' identity and profile modules (any engine).

    Args:
        ws: An open workspace with ``customer_ids``, ``events`` and ``orders``.
        as_of: Reference time: later events and orders are ignored.

    Returns:
        One row per customer with the columns :data:`FIELDS`.

    Example:
        >>> ws.engine.write("bench_shared", portraits_query(ws, now))  # doctest: +SKIP
    """
    from portraits.profile import ProfileSpec
    from portraits.profile.behaviour import person_events
    from portraits.profile.consumption import order_facts
    from portraits.profile.rfm import RfmSpec, rfm_scores
    from portraits.profile.spine import attach, spine

    events = person_events(ws.identity.attach("events"), as_of)
    activity = events.group_by("customer_id").aggregate(
        events=events.count(), active_days=events.timestamp.date().nunique(),
        first_seen_at=events.timestamp.min(), last_seen_at=events.timestamp.max())
    orders = ws.identity.attach("orders")
    facts = order_facts(orders, ProfileSpec(), as_of).select("customer_id", *ORDER_FIELDS)
    rfm = rfm_scores(orders, RfmSpec(), as_of, ProfileSpec())
    joined = attach(spine(activity, facts), activity, facts, rfm)
    return joined.select(*(joined[name].fill_null(0).name(name) if name in ZERO_WHEN_ABSENT
                           else joined[name] for name in FIELDS))


def _with_customer(table: pd.DataFrame, fields: tuple[tuple[str, str], ...],
                   ids: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``customer_id``: the customer of its first identifier found."""
    customer = None
    for field, id_type in fields:
        known = ids.loc[ids.id_type == id_type, ["id_value", "customer_id"]]
        key = table[field].str.strip(BLANKS)
        keyed = table[[field]].assign(id_value=key.mask(key == ""))
        found = keyed.merge(known, on="id_value", how="left")["customer_id"]
        customer = found if customer is None else customer.fillna(found)
    return table.assign(customer_id=customer.to_numpy() if customer is not None else None)


def _activity(lake: Path, ids: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Events per customer up to ``as_of``: counts, active days, first and last seen."""
    import pandas as pd

    events = pd.read_parquet(lake / "events", columns=[f for f, _ in EVENT_IDS] + ["timestamp"])
    events = _with_customer(events, EVENT_IDS, ids)
    events = events[events.customer_id.notna() & (events.timestamp <= as_of)]
    return events.assign(day=events.timestamp.dt.normalize()).groupby("customer_id").agg(
        events=("timestamp", "size"), active_days=("day", "nunique"),
        first_seen_at=("timestamp", "min"), last_seen_at=("timestamp", "max"))


def _order_facts(lake: Path, ids: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Counted orders per customer up to ``as_of``, with the RFM window's orders and pay."""
    import pandas as pd

    orders = pd.read_parquet(lake / "orders", columns=[
        *(f for f, _ in ORDER_IDS), "ordered_at", "status", "total_amount", "discount_amount"])
    orders = _with_customer(orders, ORDER_IDS, ids)
    orders = orders[orders.customer_id.notna() & (orders.ordered_at <= as_of)]
    ok = orders.status.isna() | ~orders.status.isin(EXCLUDED)
    recent = ok & (orders.ordered_at > as_of - timedelta(days=WINDOW_DAYS))
    paid = orders.total_amount.fillna(0.0)
    orders = orders.assign(ok=ok, paid=paid.where(ok), recent=recent,
                           recent_paid=paid.where(recent),
                           discount=orders.discount_amount.fillna(0.0).where(ok),
                           counted_at=orders.ordered_at.where(ok))
    facts = orders.groupby("customer_id").agg(
        orders=("ok", "sum"), spend=("paid", "sum"), discount=("discount", "sum"),
        first_order_at=("counted_at", "min"), last_order_at=("counted_at", "max"),
        rfm_frequency=("recent", "sum"), rfm_monetary=("recent_paid", "sum"))
    facts["average_order_value"] = (facts.spend / facts.orders).where(facts.orders > 0)
    facts["days_since_last_order"] = (
        pd.Timestamp(as_of).normalize() - facts.last_order_at.dt.normalize()).dt.days
    list_value = facts.spend + facts.discount
    facts["discount_share"] = (facts.discount / list_value).where(list_value > 0)
    return facts


def _quintile(values: pd.Series) -> pd.Series:
    """0..4: ⌊5 × percent rank⌋, the percent rank being (rank − 1) / (n − 1), ties lowest."""
    rank = values.rank(method="min")
    percent = (rank - 1) / (len(values) - 1) if len(values) > 1 else rank * 0.0
    return (percent * 5 // 1).clip(upper=4).astype("int64")


def _rfm(facts: pd.DataFrame) -> pd.DataFrame:
    """RFM of the customers with a counted order (``facts`` from :func:`_order_facts`)."""
    import pandas as pd

    buyers = facts[facts.orders > 0]
    cuts = [float("-inf"), *FREQUENCY_CUTS, float("inf")]
    r = 5 - _quintile(buyers.days_since_last_order)
    f = pd.cut(buyers.rfm_frequency, cuts, right=False, labels=range(1, 6)).astype("int64")
    m = 1 + _quintile(buyers.rfm_monetary)
    return pd.DataFrame({
        "rfm_recency_days": buyers.days_since_last_order, "rfm_frequency": buyers.rfm_frequency,
        "rfm_monetary": buyers.rfm_monetary, "rfm_r": r, "rfm_f": f, "rfm_m": m,
        "rfm_fm": (f + m + 1) // 2,
        "rfm_score": r.astype(str) + f.astype(str) + m.astype(str)})


def pandas_query(lake: Path, as_of: datetime) -> pd.DataFrame:
    """The shared query in pandas, as an analyst would write it.

    Args:
        lake: A workspace's ``.portraits/lake`` folder.
        as_of: Reference time.

    Returns:
        One row per customer with the columns :data:`FIELDS`.
    """
    import pandas as pd

    ids = pd.read_parquet(lake / "customer_ids", columns=["id_type", "id_value", "customer_id"])
    facts = _order_facts(lake, ids, as_of)
    rfm = _rfm(facts)
    facts = facts.drop(columns=["rfm_frequency", "rfm_monetary"])
    profile = _activity(lake, ids, as_of).join(facts, how="outer").join(rfm, how="left")
    for name in ZERO_WHEN_ABSENT:
        profile[name] = profile[name].fillna(0)
    for name in ("events", "active_days", "orders"):
        profile[name] = profile[name].astype("int64")
    for name in ("days_since_last_order", *RFM_FIELDS):
        if name not in FLOATS | STRINGS:
            profile[name] = profile[name].astype("Int64")
    return profile.rename_axis("customer_id").reset_index()[list(FIELDS)]


def _comparable(field: str, column: pd.Series) -> pd.Series:
    """The column in a dtype where equal values compare equal and nulls are NA."""
    if field in STRINGS:
        return column.astype("string")
    if field.endswith("_at"):
        return column.astype("datetime64[us]")
    return column.astype("Int64")


def _unequal(field: str, mine: pd.Series, theirs: pd.Series) -> list[int]:
    """Positions where two aligned columns differ (floats to a relative 1e-9)."""
    import numpy as np

    if field in FLOATS:
        left, right = mine.to_numpy(float), theirs.to_numpy(float)
        same = np.isclose(left, right, rtol=1e-9, atol=1e-9, equal_nan=True)
    else:
        try:
            left_s, right_s = _comparable(field, mine), _comparable(field, theirs)
        except (TypeError, ValueError):  # e.g. a fraction where a count belongs
            return list(range(len(mine)))
        both_null = (left_s.isna() & right_s.isna()).to_numpy(bool)
        same = (left_s == right_s).fillna(False).to_numpy(bool) | both_null
    return [int(i) for i in np.flatnonzero(~same)]


def differences(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Where the results of the shared query differ from ``results["portraits"]``.

    Customers must be the same; counts, integers, strings and times equal exactly,
    floats to a relative 1e-9; nulls only where the reference has them.

    Args:
        results: Result frames by name (row order does not matter), ``portraits`` among
            them.

    Returns:
        One line per result and field that differs, with an example; empty when all agree.
    """
    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("customer_id", ignore_index=True)

    base = ordered(results[REFERENCE])
    found = []
    for name, frame in results.items():
        if name == REFERENCE:
            continue
        missing = [f for f in FIELDS if f not in frame.columns]
        if missing:
            found.append(f"{name}: no {', '.join(missing)}")
            continue
        other = ordered(frame)
        if len(other) != len(base) or not (
                other.customer_id.astype(str) == base.customer_id.astype(str)).all():
            found.append(f"{name}: other customers ({len(other):,} rows, "
                         f"{REFERENCE} {len(base):,})")
            continue
        for field in FIELDS[1:]:
            rows = _unequal(field, base[field], other[field])
            if rows:
                at = rows[0]
                found.append(f"{name}: {field} differs in {len(rows):,} rows (e.g. customer "
                             f"{base.customer_id[at]}: {other[field][at]!r}, {REFERENCE} "
                             f"{base[field][at]!r})")
    return found
