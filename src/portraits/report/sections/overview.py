"""The report's overview: the month's headline numbers against last month, and six
months of GMV and orders.

Definitions (each "month" is ``[start, end)`` in workspace local time):

* **customers**: profiles whose earliest of ``registered_at``, ``first_seen_at`` and
  ``first_order_at`` is before the month's end (known by then).
* **new customers**: profiles whose earliest of those three falls in the month, so
  ``customers`` grows by ``new_customers`` from one month end to the next.
* **active customers**: people with an event or a counted order in the month.
* **orders**, **GMV**: counted orders placed in the month (cancelled and refunded do not
  count; :func:`portraits.profile.consumption.counted`), with or without a known
  customer, and the sum of their ``total_amount`` (CNY). **AOV** = GMV / orders.
* **repurchase rate**: share of the month's buyers (customers with a counted order in it)
  who had a counted order before the month.
* **retention**: share of last month's active customers who are active again this month.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from portraits.profile.consumption import counted
from portraits.profile.spec import ProfileSpec
from portraits.report.charts import bar_chart, line_chart
from portraits.report.context import MonthContext
from portraits.report.model import Kpi, Section

if TYPE_CHECKING:
    from portraits.workspace.facade import Workspace

CUSTOMER_ID = "customer_id"
TREND_MONTHS = 6
# key: (English, Chinese, unit)
KPIS: dict[str, tuple[str, str, Any]] = {
    "customers": ("Customers", "客户总数", "count"),
    "active_customers": ("Active customers", "活跃客户", "count"),
    "new_customers": ("New customers", "新增客户", "count"),
    "orders": ("Orders", "订单数", "count"),
    "gmv": ("GMV", "成交额", "currency"),
    "average_order_value": ("Average order value", "客单价", "currency"),
    "repurchase_rate": ("Repurchase rate", "复购率", "percent"),
    "retention": ("Retention from last month", "上月客户留存率", "percent"),
}


def month_before(moment: datetime) -> datetime:
    """The first moment of the month before ``moment``'s."""
    if moment.month == 1:
        return datetime(moment.year - 1, 12, 1)
    return datetime(moment.year, moment.month - 1, 1)


def counted_orders(ws: Workspace) -> ir.Table:
    """Orders that count as purchases, with ``customer_id`` and a placing time."""
    orders = ws.analytics.table("orders")
    return orders.filter(counted(orders, ProfileSpec()), orders.ordered_at.notnull())


def activity(ws: Workspace, since: datetime, until: datetime) -> ir.Table:
    """(customer_id, ts, platform) of every event and counted order in ``[since, until)``;
    an order's platform is its channel (app, web, mini_program, store)."""
    events = ws.analytics.table("events")
    orders = counted_orders(ws)
    parts = [
        events.select(CUSTOMER_ID, ts=events.timestamp, platform=events.platform),
        orders.select(CUSTOMER_ID, ts=orders.ordered_at, platform=orders.channel),
    ]
    both = ibis.union(*parts, distinct=False)
    return both.filter(both[CUSTOMER_ID].notnull(), both.ts >= since, both.ts < until)


def active_customers(ws: Workspace, since: datetime, until: datetime) -> ir.Table:
    """``customer_id`` of everyone with an event or a counted order in the range."""
    return activity(ws, since, until).select(CUSTOMER_ID).distinct()


def _within(ts: ir.TimestampValue, since: datetime, until: datetime) -> ir.BooleanValue:
    return (ts >= since) & (ts < until)


def _month_kpis(ws: Workspace, ctx: MonthContext) -> dict[str, tuple[float | None, float | None]]:
    """(this month, last month) of every KPI."""
    this, last, before = ctx.start, ctx.previous_start, month_before(ctx.previous_start)
    end, to_arrow = ctx.end, ws.engine.to_arrow
    profiles = ws.profiles.table()
    first = ibis.least(profiles.registered_at, profiles.first_seen_at, profiles.first_order_at)
    people = to_arrow(profiles.aggregate(
        customers=(first < end).cast("int64").sum(),
        customers_previous=(first < this).cast("int64").sum(),
        new=_within(first, this, end).cast("int64").sum(),
        new_previous=_within(first, last, this).cast("int64").sum())).to_pylist()[0]
    act = activity(ws, before, end)
    flags = act.group_by(CUSTOMER_ID).aggregate(
        m0=_within(act.ts, this, end).any(), m1=_within(act.ts, last, this).any(),
        m2=_within(act.ts, before, last).any())
    active = to_arrow(flags.aggregate(
        active=flags.m0.cast("int64").sum(), active_previous=flags.m1.cast("int64").sum(),
        active_before=flags.m2.cast("int64").sum(),
        kept=(flags.m1 & flags.m0).cast("int64").sum(),
        kept_previous=(flags.m2 & flags.m1).cast("int64").sum())).to_pylist()[0]
    orders = counted_orders(ws)
    sales = to_arrow(orders.aggregate(
        orders=_within(orders.ordered_at, this, end).cast("int64").sum(),
        orders_previous=_within(orders.ordered_at, last, this).cast("int64").sum(),
        gmv=orders.total_amount.fill_null(0.0).sum(where=_within(orders.ordered_at, this, end)),
        gmv_previous=orders.total_amount.fill_null(0.0).sum(
            where=_within(orders.ordered_at, last, this)))).to_pylist()[0]
    known = orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at < end)
    buyers = known.group_by(CUSTOMER_ID).aggregate(
        first=known.ordered_at.min(), m0=_within(known.ordered_at, this, end).any(),
        m1=_within(known.ordered_at, last, this).any())
    repeat = to_arrow(buyers.aggregate(
        buyers=buyers.m0.cast("int64").sum(), buyers_previous=buyers.m1.cast("int64").sum(),
        again=(buyers.m0 & (buyers.first < this)).cast("int64").sum(),
        again_previous=(buyers.m1 & (buyers.first < last)).cast("int64").sum())).to_pylist()[0]

    def n(row: dict[str, Any], key: str) -> float:
        return float(row[key] or 0)

    def share(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    found: dict[str, tuple[float | None, float | None]] = {
        "customers": (n(people, "customers"), n(people, "customers_previous")),
        "active_customers": (n(active, "active"), n(active, "active_previous")),
        "new_customers": (n(people, "new"), n(people, "new_previous")),
        "orders": (n(sales, "orders"), n(sales, "orders_previous")),
        "gmv": (n(sales, "gmv"), n(sales, "gmv_previous")),
        "average_order_value": (share(n(sales, "gmv"), n(sales, "orders")),
                                share(n(sales, "gmv_previous"), n(sales, "orders_previous"))),
        "repurchase_rate": (share(n(repeat, "again"), n(repeat, "buyers")),
                            share(n(repeat, "again_previous"), n(repeat, "buyers_previous"))),
        "retention": (share(n(active, "kept"), n(active, "active_previous")),
                      share(n(active, "kept_previous"), n(active, "active_before"))),
    }
    return found


def _trend(ws: Workspace, ctx: MonthContext) -> list[tuple[datetime, int, float]]:
    """(month, orders, GMV) of the last :data:`TREND_MONTHS` months, oldest first."""
    starts = [ctx.start]
    for _ in range(TREND_MONTHS - 1):
        starts.insert(0, month_before(starts[0]))
    orders = counted_orders(ws)
    orders = orders.filter(orders.ordered_at >= starts[0], orders.ordered_at < ctx.end)
    per_month = orders.group_by(year=orders.ordered_at.year(),
                                month=orders.ordered_at.month()).aggregate(
        orders=orders.count(), gmv=orders.total_amount.fill_null(0.0).sum())
    rows = {(r["year"], r["month"]): r for r in ws.engine.to_arrow(per_month).to_pylist()}
    out = []
    for start in starts:
        row = rows.get((start.year, start.month), {})
        out.append((start, int(row.get("orders") or 0), float(row.get("gmv") or 0.0)))
    return out


def month_label(ctx: MonthContext, moment: datetime) -> str:
    """"Oct 2026" or "2026年10月"."""
    return ctx.t("{m:%b %Y}", "{m.year}年{m.month}月", m=moment)


def formatted(ctx: MonthContext, value: float | None, unit: str) -> str:
    """A KPI value as a person reads it."""
    if value is None:
        return "–"
    if unit == "currency":
        return f"¥{value:,.0f}"
    if unit == "percent":
        return f"{value:.1%}"
    return f"{value:,.0f}"


def _change(ctx: MonthContext, k: Kpi) -> str:
    return ctx.t("{label} {change:+.0%} ({before} → {after})",
                 "{label}{change:+.0%}（{before} → {after}）", label=k.label, change=k.change,
                 before=formatted(ctx, k.previous, k.unit), after=formatted(ctx, k.value, k.unit))


def _summary(ctx: MonthContext, kpis: list[Kpi]) -> str:
    """GMV's change and the two biggest other month-over-month changes, in a sentence."""
    last = month_label(ctx, ctx.previous_start)
    gmv = next(k for k in kpis if k.key == "gmv")
    moved = sorted((k for k in kpis if k.change is not None and k.key != "gmv"),
                   key=lambda k: abs(k.change or 0.0), reverse=True)[:2]
    if gmv.change is None or not moved:
        return ctx.t("No month-over-month comparison: {last} has no orders.",
                     "无法环比：{last}没有订单。", last=last)
    return ctx.t("Compared with {last}: {gmv}; the biggest other changes: {parts}.",
                 "与{last}相比：{gmv}；其他变化最大的是：{parts}。", last=last,
                 gmv=_change(ctx, gmv),
                 parts=ctx.t("; ", "；").join(_change(ctx, k) for k in moved))


def build(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The overview section and its figures (``customers``, ``gmv``, ``gmv_previous``…)."""
    ws = ctx.ws
    values = _month_kpis(ws, ctx)
    kpis = [Kpi(key, ctx.t(en, zh), values[key][0], values[key][1], unit)
            for key, (en, zh, unit) in KPIS.items()]
    figures: dict[str, Any] = {}
    for k in kpis:
        whole = k.unit == "count"
        figures[k.key] = int(k.value) if whole and k.value is not None else k.value
        figures[f"{k.key}_previous"] = (int(k.previous) if whole and k.previous is not None
                                        else k.previous)
    trend = _trend(ws, ctx)
    months = [month_label(ctx, m) for m, _, _ in trend]
    gmvs = [round(g, 2) for _, _, g in trend]
    counts = [float(o) for _, o, _ in trend]
    mean = sum(gmvs) / len(gmvs)
    best = max(range(len(gmvs)), key=lambda i: gmvs[i])
    x_name = ctx.t("Month", "月份")
    gmv_chart = bar_chart(
        ctx.t("GMV over the last {n} months", "近 {n} 个月成交额", n=TREND_MONTHS),
        ctx.t("{month}'s GMV of ¥{gmv:,.0f} is {ratio:.0%} of the {n}-month average; the "
              "peak was {best} (¥{peak:,.0f}).",
              "{month}成交额 ¥{gmv:,.0f}，为 {n} 个月均值的 {ratio:.0%}；最高为{best}"
              "（¥{peak:,.0f}）。", month=months[-1], gmv=gmvs[-1],
              ratio=gmvs[-1] / mean if mean else 0.0, n=TREND_MONTHS, best=months[best],
              peak=gmvs[best]),
        months, {ctx.t("GMV", "成交额"): gmvs}, x_name, ctx.t("GMV (CNY)", "成交额（元）"),
        unit="CNY")
    orders_chart = line_chart(
        ctx.t("Orders over the last {n} months", "近 {n} 个月订单数", n=TREND_MONTHS),
        ctx.t("Counted orders went from {first:,.0f} in {m0} to {last:,.0f} in {m1}.",
              "有效订单数从{m0}的 {first:,.0f} 单变为{m1}的 {last:,.0f} 单。",
              first=counts[0], last=counts[-1], m0=months[0], m1=months[-1]),
        months, {ctx.t("Orders", "订单数"): counts}, x_name,
        ctx.t("Orders (count)", "订单数（单）"))
    for m, o, g in trend:
        figures[f"gmv_{m:%Y_%m}"] = g
        figures[f"orders_{m:%Y_%m}"] = o
    section = Section("overview", ctx.t("Overview", "概览"), _summary(ctx, kpis), tuple(kpis),
                      (gmv_chart, orders_chart))
    return section, figures
