"""Point-in-time customer features and purchase labels for churn risk and purchase
propensity (R5.7).

Everything here reads only what was known at a *cutoff*: orders placed (``ordered_at``) and
events that happened (``timestamp``) at or before it. A customer is in the feature table
when they have at least one order (of any status) or event up to the cutoff, so people who
registered later are not there. Orders that were cancelled or refunded are not purchases
(:func:`portraits.profile.consumption.counted`); they are left out of every order feature.

Definitions (``horizon`` defaults to 30 days):

- **purchased** (purchase propensity): the customer has at least one counted order in
  ``(cutoff, cutoff + horizon]``. Defined for everyone in the feature table.
- **churned** (churn risk): defined only for *buyers*, customers with at least one counted
  order up to the cutoff; churned means no counted order in ``(cutoff, cutoff + horizon]``,
  that is ``not purchased``.

Ages are in days (fractional) from the event to the cutoff; windows such as "30 days" are
``(cutoff - 30 days, cutoff]``. Amounts are summed in whole cents so every engine gives the
same figures to the last bit. All features are float64; a feature is null where it is not
defined (no order yet, one order only, no events).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import ibis
import ibis.expr.types as ir

from portraits.predict.inputs import PredictInputs
from portraits.profile.behaviour import VISIT_START, visits
from portraits.profile.consumption import counted
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import attach, epoch_seconds, spine

ORDER_WINDOWS: Final = (30, 90, 180, 365)
EVENT_WINDOWS: Final = (7, 30, 90)
ACTIVE_WINDOWS: Final = (30, 90)
# Key event types: the feature's stem and the event names it counts.
KEY_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    "views": ("Product Viewed",),
    "adds": ("Product Added",),
    "checkouts": ("Checkout Started",),
    "searches": ("Products Searched",),
    "reviews": ("Product Reviewed",),
    "shares": ("Product Shared", "Cart Shared"),
}
_EVENT_NAMES: Final = {
    "views": ("product views", "商品浏览次数"), "adds": ("add-to-carts", "加购次数"),
    "checkouts": ("checkouts started", "发起结算次数"), "searches": ("searches", "搜索次数"),
    "reviews": ("reviews written", "评价次数"), "shares": ("shares", "分享次数"),
}


def _windowed_names() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for days in ORDER_WINDOWS:
        names[f"orders_{days}d"] = (f"orders in the last {days} days", f"近{days}天订单数")
    names["orders"] = ("orders, all time", "累计订单数")
    for days in ORDER_WINDOWS:
        names[f"spend_{days}d"] = (f"spend in the last {days} days", f"近{days}天消费金额")
    names["spend"] = ("spend, all time", "累计消费金额")
    for stem, (en, zh) in _EVENT_NAMES.items():
        for days in EVENT_WINDOWS:
            names[f"{stem}_{days}d"] = (f"{en} in the last {days} days", f"近{days}天{zh}")
    return names


FEATURES: Final[dict[str, tuple[str, str]]] = {
    "days_since_last_order": ("days since the last order", "距上次下单天数"),
    "days_since_last_event": ("days since the last event", "距上次行为天数"),
    "days_since_last_seen": ("days since last seen (order or event)", "距上次活跃天数"),
    "tenure_days": ("days since first seen", "首次出现至今天数"),
    **_windowed_names(),
    "average_order_value": ("average order value", "客单价"),
    "mean_days_between_orders": ("mean days between orders", "平均下单间隔天数"),
    "last_days_between_orders": ("days between the last two orders", "最近两单间隔天数"),
    "overdue_ratio": ("days since the last order ÷ mean gap", "距上次下单天数÷平均间隔"),
    "discount_share": ("share of list value given as discount", "折扣占比"),
    "coupon_use_rate": ("share of orders with a coupon", "用券订单占比"),
    "events_30d": ("events in the last 30 days", "近30天行为次数"),
    "events_trend": ("event trend, last 30 days vs the 30 before", "行为趋势（近30天对比前30天）"),
    "active_days_30d": ("active days in the last 30 days", "近30天活跃天数"),
    "active_days_90d": ("active days in the last 90 days", "近90天活跃天数"),
    "sessions_30d": ("visits in the last 30 days", "近30天访问次数"),
    "sessions_90d": ("visits in the last 90 days", "近90天访问次数"),
    "categories_bought": ("distinct categories bought", "购买过的品类数"),
}

# Features that stay null when undefined (no order, one order, no events); the others are
# counts and amounts, zero when nothing was seen.
NULL_WHEN_UNDEFINED: Final = frozenset({
    "days_since_last_order", "days_since_last_event", "days_since_last_seen", "tenure_days",
    "average_order_value", "mean_days_between_orders", "last_days_between_orders",
    "overdue_ratio", "discount_share", "coupon_use_rate", "events_trend"})


def _seconds(moment: ir.TimestampValue) -> ir.IntegerValue:
    """Whole epoch seconds, the same on every engine (Spark truncates, DuckDB would not)."""
    return moment.truncate("s").epoch_seconds().cast("int64")


def _age_days(cutoff: datetime, moment: ir.TimestampValue) -> ir.FloatingValue:
    """Days (fractional) from ``moment`` to ``cutoff``."""
    return (ibis.literal(epoch_seconds(cutoff)) - _seconds(moment)).cast("float64") / 86_400


def _since(cutoff: datetime, days: int) -> ir.Scalar:
    return ibis.literal(cutoff - timedelta(days=days))


def _cents(value: ir.NumericValue) -> ir.IntegerValue:
    return (value.fill_null(0.0) * 100).round().cast("int64")


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """``numerator / denominator``, null where the denominator is null or not positive."""
    return ibis.ifelse(denominator > 0, numerator.cast("float64") / denominator,
                       ibis.null("float64"))


def _orders_up_to(orders: ir.Table, cutoff: datetime) -> ir.Table:
    return orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at.notnull(),
                         orders.ordered_at <= ibis.literal(cutoff))


def order_features(orders: ir.Table, cutoff: datetime, spec: ProfileSpec) -> ir.Table:
    """Order features per customer with any order up to ``cutoff`` (see :data:`FEATURES`)."""
    mine = _orders_up_to(orders, cutoff)
    ok = counted(mine, spec)
    discount = mine.discount_amount if "discount_amount" in mine.columns else ibis.literal(0.0)
    coupon = mine.coupon_code.notnull() if "coupon_code" in mine.columns else ibis.literal(False)
    mine = mine.mutate(_ok=ok, _cents=_cents(mine.total_amount), _off=_cents(discount),
                       _coupon=ok & coupon, _seconds=_seconds(mine.ordered_at))
    bought = mine.filter(mine["_ok"])
    # The previous counted order's time; its maximum per customer is the second-last order.
    window = ibis.window(group_by=bought[CUSTOMER_ID], order_by=bought.ordered_at)
    bought = bought.mutate(_previous=bought["_seconds"].lag().over(window))
    metrics: dict[str, ir.Value] = {
        "_orders": bought.count(), "_cents_all": bought["_cents"].sum(),
        "_off_all": bought["_off"].sum(), "_coupons": bought["_coupon"].sum(),
        "_first": bought["_seconds"].min(), "_last": bought["_seconds"].max(),
        "_previous": bought["_previous"].max(),
    }
    for days in ORDER_WINDOWS:
        recent = bought.ordered_at > _since(cutoff, days)
        metrics[f"_orders_{days}"] = recent.sum()
        metrics[f"_cents_{days}"] = bought["_cents"].sum(where=recent)
    # Every order, counted or not, shows the customer was there (first and last seen).
    seen = mine.group_by(CUSTOMER_ID).aggregate(_first_seen=mine["_seconds"].min(),
                                                _last_seen=mine["_seconds"].max())
    facts = attach(seen, bought.group_by(CUSTOMER_ID).aggregate(**metrics))
    orders_n = facts["_orders"].fill_null(0).cast("float64")
    now = ibis.literal(epoch_seconds(cutoff))
    last_age = (now - facts["_last"]).cast("float64") / 86_400
    mean_gap = _ratio((facts["_last"] - facts["_first"]).cast("float64") / 86_400, orders_n - 1)
    values: dict[str, ir.Value] = {
        "days_since_last_order": last_age,
        **{f"orders_{d}d": facts[f"_orders_{d}"].fill_null(0).cast("float64")
           for d in ORDER_WINDOWS},
        "orders": orders_n,
        **{f"spend_{d}d": facts[f"_cents_{d}"].fill_null(0).cast("float64") / 100
           for d in ORDER_WINDOWS},
        "spend": facts["_cents_all"].fill_null(0).cast("float64") / 100,
        "average_order_value": _ratio(facts["_cents_all"].cast("float64") / 100, orders_n),
        "mean_days_between_orders": mean_gap,
        "last_days_between_orders": (facts["_last"] - facts["_previous"]).cast("float64")
        / 86_400,
        "overdue_ratio": _ratio(last_age, mean_gap),
        "discount_share": _ratio(facts["_off_all"],
                                 facts["_cents_all"] + facts["_off_all"]),
        "coupon_use_rate": _ratio(facts["_coupons"], orders_n),
        "_first_order": facts["_first_seen"], "_last_order": facts["_last_seen"],
    }
    return facts.select(CUSTOMER_ID, **values)


def _events_up_to(events: ir.Table, cutoff: datetime) -> ir.Table:
    mine = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp.notnull(),
                         events.timestamp <= ibis.literal(cutoff))
    return mine.select(CUSTOMER_ID, "timestamp", "event")


def event_features(events: ir.Table, cutoff: datetime, spec: ProfileSpec) -> ir.Table:
    """Event features per customer with any event up to ``cutoff`` (see :data:`FEATURES`)."""
    mine = _events_up_to(events, cutoff)
    metrics: dict[str, ir.Value] = {"_first": _seconds(mine.timestamp).min(),
                                    "_last": _seconds(mine.timestamp).max()}
    for stem, names in KEY_EVENTS.items():
        kind = mine.event.isin(names)
        for days in EVENT_WINDOWS:
            metrics[f"{stem}_{days}d"] = (kind & (mine.timestamp > _since(cutoff, days))).sum()
    last_30 = mine.timestamp > _since(cutoff, 30)
    metrics["events_30d"] = last_30.sum()
    metrics["_events_prev_30d"] = (~last_30 & (mine.timestamp > _since(cutoff, 60))).sum()
    for days in ACTIVE_WINDOWS:
        metrics[f"active_days_{days}d"] = mine.timestamp.date().nunique(
            where=mine.timestamp > _since(cutoff, days))
    counts = mine.group_by(CUSTOMER_ID).aggregate(**metrics)
    now = ibis.literal(epoch_seconds(cutoff))
    change = counts.events_30d - counts["_events_prev_30d"]
    values: dict[str, ir.Value] = {
        "days_since_last_event": (now - counts["_last"]).cast("float64") / 86_400,
        **{name: counts[name].cast("float64") for name in metrics if not name.startswith("_")},
        "events_trend": _ratio(change, counts.events_30d + counts["_events_prev_30d"]),
        "_first_event": counts["_first"], "_last_event": counts["_last"],
    }
    return counts.select(CUSTOMER_ID, **values)


def session_features(events: ir.Table, cutoff: datetime, spec: ProfileSpec) -> ir.Table:
    """Visits in the last 30 and 90 days (cut as the profile cuts them; a visit running
    across the 90-day boundary counts from its first event inside it)."""
    recent = _events_up_to(events, cutoff)
    recent = visits(recent.filter(recent.timestamp > _since(cutoff, 90)), spec)
    start = recent[VISIT_START]
    return recent.group_by(CUSTOMER_ID).aggregate(
        sessions_30d=(start & (recent.timestamp > _since(cutoff, 30))).sum().cast("float64"),
        sessions_90d=start.sum().cast("float64"),
    )


def category_features(inputs: PredictInputs, cutoff: datetime, spec: ProfileSpec) -> ir.Table:
    """Distinct categories a customer bought in counted orders up to ``cutoff``."""
    mine = _orders_up_to(inputs.orders, cutoff)
    bought = mine.filter(counted(mine, spec)).select("order_id", CUSTOMER_ID)
    lines = inputs.order_items.select("order_id", "product_id").join(bought, "order_id")
    catalogue = inputs.products.select("product_id", "category")
    lines = lines.join(catalogue, "product_id")
    return lines.group_by(CUSTOMER_ID).aggregate(
        categories_bought=lines.category.nunique().cast("float64"))


def customer_features(inputs: PredictInputs, cutoff: datetime,
                      spec: ProfileSpec | None = None) -> ir.Table:
    """One row per customer seen up to ``cutoff``, with every feature of :data:`FEATURES`.

    Args:
        inputs: Canonical orders, order items, products and (optionally) events.
        cutoff: The point in time: nothing later is read.
        spec: Excluded order statuses and the visit gap (the profile's defaults if None).

    Returns:
        ``customer_id`` and the float64 features, in the order of :data:`FEATURES`.

    Example:
        >>> customer_features(inputs, datetime(2026, 10, 1)).to_pyarrow()  # doctest: +SKIP
    """
    spec = spec or ProfileSpec()
    orders = order_features(inputs.orders, cutoff, spec)
    parts = [orders, category_features(inputs, cutoff, spec)]
    if inputs.events is not None:
        events = event_features(inputs.events, cutoff, spec)
        sessions = session_features(inputs.events, cutoff, spec)
        joined = attach(spine(orders, events), orders, events, sessions, parts[1])
    else:
        joined = attach(orders, parts[1]).mutate(_first_event=ibis.null("int64"),
                                                 _last_event=ibis.null("int64"))
    now = ibis.literal(epoch_seconds(cutoff))
    order_at, event_at = joined["_first_order"], joined["_first_event"]
    first = ibis.least(order_at.coalesce(event_at), event_at.coalesce(order_at))
    order_at, event_at = joined["_last_order"], joined["_last_event"]
    last = ibis.greatest(order_at.coalesce(event_at), event_at.coalesce(order_at))
    derived: dict[str, ir.Value] = {
        "days_since_last_seen": (now - last).cast("float64") / 86_400,
        "tenure_days": (now - first).cast("float64") / 86_400,
    }
    columns: dict[str, ir.Value] = {}
    for name in FEATURES:
        if name in derived:
            columns[name] = derived[name]
        elif name in NULL_WHEN_UNDEFINED:
            columns[name] = (joined[name] if name in joined.columns
                             else ibis.null("float64")).cast("float64")
        else:  # a count or an amount: nothing seen is zero
            columns[name] = (joined[name] if name in joined.columns
                             else ibis.literal(0.0)).cast("float64").fill_null(0.0)
    return joined.select(CUSTOMER_ID, **columns)


def purchase_labels(orders: ir.Table, cutoff: datetime, horizon_days: int = 30,
                    spec: ProfileSpec | None = None) -> ir.Table:
    """Who bought in the window after ``cutoff``.

    Args:
        orders: Canonical orders with ``customer_id``.
        cutoff: The window starts just after this time.
        horizon_days: The window's length: ``(cutoff, cutoff + horizon_days]``.
        spec: Excluded order statuses (the profile's defaults if None).

    Returns:
        ``customer_id`` and ``purchased`` (boolean) for every customer with an order of any
        status up to the window's end; true when a counted order falls in the window.
    """
    spec = spec or ProfileSpec()
    end = cutoff + timedelta(days=horizon_days)
    mine = _orders_up_to(orders, end)
    inside = counted(mine, spec) & (mine.ordered_at > ibis.literal(cutoff))
    return mine.group_by(CUSTOMER_ID).aggregate(purchased=inside.any())
