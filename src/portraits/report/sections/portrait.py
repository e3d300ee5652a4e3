"""Who the month's active customers are: gender, age band, city tier and main device
(profile fields), and the platforms and channels they used in the month.

The base is everyone active in the month (an event or a counted order in it, as in the
overview). Profile fields give one value per person, so their shares add up to 100 %;
platforms (event platform or order channel) and channels (event ``channel``) are what the
person used *in the month*, so a person may count under several and those shares need not
add up. A missing value is shown as "unknown" (no channel: "no channel recorded").
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from portraits.analytics.chart import Chart
from portraits.report.charts import bar_chart, pie_chart
from portraits.report.context import MonthContext
from portraits.report.model import Section
from portraits.report.sections.overview import CUSTOMER_ID, active_customers, activity

UNKNOWN = "unknown"
# dimension: (English, Chinese, chart kind, several per person)
DIMENSIONS: dict[str, tuple[str, str, str, bool]] = {
    "gender": ("Gender", "性别", "pie", False),
    "age_band": ("Age band", "年龄段", "bar", False),
    "city_tier": ("City tier", "城市等级", "bar", False),
    "device": ("Main device", "主要设备", "pie", False),
    "platform": ("Platform used", "使用平台", "bar", True),
    "channel": ("Channel", "渠道", "bar", True),
}
# Value labels (English, Chinese); the order is the order shown.
VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "gender": {"female": ("Female", "女性"), "male": ("Male", "男性")},
    "age_band": {b: (b, b) for b in ("<18", "18-24", "25-29", "30-34", "35-39", "40-49",
                                     "50-59", "60+")},
    "city_tier": {"1": ("Tier-1", "一线"), "new1": ("New tier-1", "新一线"),
                  "2": ("Tier-2", "二线"), "3": ("Tier-3", "三线"), "4": ("Tier-4", "四线"),
                  "5": ("Tier-5", "五线")},
    "device": {"mobile": ("Mobile", "手机"), "desktop": ("Desktop", "电脑"),
               "tablet": ("Tablet", "平板")},
    "platform": {"app": ("App", "App"), "mini_program": ("Mini program", "小程序"),
                 "web": ("Web", "网页"), "store": ("Store", "门店"),
                 "server": ("Server", "服务端")},
    "channel": {"organic": ("Organic", "自然流量"), "search": ("Search", "搜索"),
                "social": ("Social", "社交媒体"), "wechat": ("WeChat", "微信"),
                "email": ("Email", "邮件"), "sms": ("SMS", "短信"),
                "paid": ("Paid ads", "付费广告"), "referral": ("Referral", "推荐")},
}


def _long(ctx: MonthContext) -> ir.Table:
    """(dimension, value, customer_id): one row per active customer and value."""
    ws = ctx.ws
    active = active_customers(ws, ctx.start, ctx.end)
    profiles = ws.profiles.table()
    people = active.left_join(profiles, CUSTOMER_ID).select(
        active[CUSTOMER_ID], gender=profiles.gender, age_band=profiles.age_band,
        city_tier=profiles.city_tier, device=profiles.main_device_type)
    parts = [people.select(CUSTOMER_ID, dimension=ibis.literal(d),
                           value=people[d].cast("string")) for d in
             ("gender", "age_band", "city_tier", "device")]
    used = activity(ws, ctx.start, ctx.end)
    parts.append(used.select(CUSTOMER_ID, dimension=ibis.literal("platform"),
                             value=used.platform.cast("string")))
    events = ws.analytics.table("events")
    month = events.filter(events[CUSTOMER_ID].notnull(), events.timestamp >= ctx.start,
                          events.timestamp < ctx.end)
    parts.append(month.select(CUSTOMER_ID, dimension=ibis.literal("channel"),
                              value=month.channel.cast("string")))
    both = ibis.union(*parts, distinct=True)
    return both.mutate(value=both.value.fill_null(UNKNOWN))


def value_label(ctx: MonthContext, dimension: str, value: str) -> str:
    """A value as a person reads it, in the report's language."""
    if value == UNKNOWN:
        return (ctx.t("No channel recorded", "未记录渠道") if dimension == "channel"
                else ctx.t("Unknown", "未知"))
    en, zh = VALUES.get(dimension, {}).get(value, (value, value))
    return ctx.t(en, zh)


def _ordered(dimension: str, counts: dict[str, int]) -> list[tuple[str, int]]:
    """Bands and tiers in their natural order, other dimensions largest first; unknown
    last."""
    known = [(v, n) for v, n in counts.items() if v != UNKNOWN]
    if dimension in ("age_band", "city_tier"):
        order = list(VALUES[dimension])
        known.sort(key=lambda p: (order.index(p[0]) if p[0] in order else len(order), p[0]))
    else:
        known.sort(key=lambda p: (-p[1], p[0]))
    return known + ([(UNKNOWN, counts[UNKNOWN])] if UNKNOWN in counts else [])


def _chart(ctx: MonthContext, dimension: str, shares: list[tuple[str, float]],
           active: int) -> Chart:
    en, zh, kind, several = DIMENSIONS[dimension]
    name = ctx.t(en, zh)
    labelled = [(value_label(ctx, dimension, v), s) for v, s in shares]
    known = [(label, s) for (v, s), (label, _) in zip(shares, labelled, strict=True)
             if v != UNKNOWN] or labelled
    top, top_share = max(known, key=lambda p: p[1]) if known else ("–", 0.0)
    takeaway = ctx.t("{top} holds {share:.0%} of the {n:,} active customers",
                     "{top}占 {n:,} 名活跃客户的 {share:.0%}", top=top, share=top_share,
                     n=active)
    if dimension == "city_tier" and "1" in dict(shares) and top != labelled[0][0]:
        takeaway += ctx.t("; Tier-1 cities hold {s:.0%}", "；一线城市占 {s:.0%}",
                          s=dict(shares)["1"])
    takeaway += (ctx.t(" (a customer may use several, so shares can add up to more than "
                       "100%).", "（一名客户可能使用多个，占比之和可超过 100%）。")
                 if several else ctx.t(".", "。"))
    title = ctx.t("Active customers by {dim}", "活跃客户{dim}分布", dim=name.lower()
                  if not ctx.zh else name)
    if kind == "pie":
        return pie_chart(title, takeaway, [(label, round(s * 100, 1)) for label, s in labelled],
                         name=name)
    return bar_chart(title, takeaway, [label for label, _ in labelled],
                     {ctx.t("Share", "占比"): [round(s * 100, 1) for _, s in labelled]},
                     name, ctx.t("Share of active customers (%)", "占活跃客户比例（%）"),
                     unit="%")


def build(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The portrait section and its figures (``active_customers``, ``<dimension>.<value>``
    shares 0..1, e.g. ``city_tier.1``, ``gender.female``, ``channel.organic``)."""
    ws = ctx.ws
    active = int(ws.engine.to_arrow(active_customers(ws, ctx.start, ctx.end).count()
                                    .name("n").as_table()).column("n")[0].as_py())
    long = _long(ctx)
    rows = ws.engine.to_arrow(long.group_by(["dimension", "value"]).aggregate(
        customers=long[CUSTOMER_ID].nunique())).to_pylist()
    counts: dict[str, dict[str, int]] = {d: {} for d in DIMENSIONS}
    for r in rows:
        counts[str(r["dimension"])][str(r["value"])] = int(r["customers"])
    figures: dict[str, Any] = {"active_customers": active}
    charts = []
    tops: dict[str, tuple[str, float]] = {}
    for dimension in DIMENSIONS:
        ordered = _ordered(dimension, counts[dimension])
        shares = [(v, n / active if active else 0.0) for v, n in ordered]
        figures.update({f"{dimension}.{v}": s for v, s in shares})
        known = [p for p in shares if p[0] != UNKNOWN]
        if known:
            tops[dimension] = max(known, key=lambda p: p[1])
        charts.append(_chart(ctx, dimension, shares, active))
    if active and {"gender", "age_band", "city_tier"} <= set(tops):
        summary = ctx.t(
            "Of the {n:,} customers active this month, {gs:.0%} are {g}, the commonest age "
            "band is {a} ({as_:.0%}) and {cs:.0%} live in {c} cities.",
            "本月 {n:,} 名活跃客户中，{g}占 {gs:.0%}，最多的年龄段是 {a} 岁（{as_:.0%}），"
            "{cs:.0%} 来自{c}城市。", n=active,
            g=value_label(ctx, "gender", tops["gender"][0]).lower(), gs=tops["gender"][1],
            a=tops["age_band"][0], as_=tops["age_band"][1],
            c=value_label(ctx, "city_tier", tops["city_tier"][0]), cs=tops["city_tier"][1])
    else:
        summary = ctx.t("No customer was active this month.", "本月没有活跃客户。")
    section = Section("portrait", ctx.t("Portrait overview", "用户画像概览"), summary,
                      charts=tuple(charts))
    return section, figures
