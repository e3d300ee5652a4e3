"""Preferences (偏好趋势): which categories and brands sold this month against last month,
and what was bought together in the month's orders.

Sales are the counted order lines (orders not cancelled or refunded, as the profiles
count them), valued at the line amount (quantity × unit price when the amount is empty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import ibis.expr.types as ir

from portraits.analytics.basket import BasketSpec, analyze_basket
from portraits.analytics.chart import Chart
from portraits.profile.consumption import counted
from portraits.profile.spec import ProfileSpec
from portraits.report.charts import bar_chart
from portraits.report.model import Kpi, Section, Table

if TYPE_CHECKING:
    import pandas as pd

    from portraits.report.context import MonthContext, SectionResult

TOP: Final = 10
GROWERS: Final = 5
RULES: Final = 5
# Category pairs bought together: a rule needs 1 % of the month's baskets and 3 of them.
BASKET: Final = BasketSpec(level="category_path", min_support=0.01, min_count=3, max_len=2,
                           min_lift=1.0, top=RULES)


def build(ctx: MonthContext) -> SectionResult:
    """The month's top and fastest-growing categories and brands, and bought-together
    rules of the month's orders."""
    ws = ctx.ws
    title = ctx.t("Preferences", "偏好趋势")
    missing = [n for n in ("orders", "order_items", "products") if not ws.engine.has_table(n)]
    if missing:
        note = ctx.t("No {tables} loaded yet: run 'portraits load'.",
                     "尚未导入 {tables}：请运行 'portraits load'。", tables=", ".join(missing))
        return Section("preferences", title, notes=(note,)), {}
    lines = month_lines(ctx)
    categories = _sales(ws.engine.to_arrow, lines, "category_path")
    brands = _sales(ws.engine.to_arrow, lines, "brand")
    figures: dict[str, Any] = {
        "gmv": float(categories["gmv"].sum()), "previous_gmv": float(categories["previous"].sum()),
        "units": int(categories["units"].sum())}
    charts: list[Chart] = []
    tables: list[Table] = []
    for key, frame, what in (("category", categories, ctx.t("Category", "类目")),
                             ("brand", brands, ctx.t("Brand", "品牌"))):
        figures |= _leaders(key, frame)
        tables.append(_sales_table(ctx, frame, what))
        charts.append(_sales_chart(ctx, frame, what, key))
    rules_table, rules_chart, rule_figures, rule_notes = _basket(ctx)
    figures |= rule_figures
    tables.append(rules_table)
    if rules_chart is not None:
        charts.append(rules_chart)
    kpis = (Kpi("gmv", ctx.t("Sales of counted order lines (before order discounts)",
                            "有效订单行销售额（订单折扣前）"),
                figures["gmv"], figures["previous_gmv"], "currency"),
            Kpi("units", ctx.t("Units sold", "销售件数"), figures["units"],
                int(categories["previous_units"].sum())))
    return Section("preferences", title, _summary(ctx, figures), kpis, tuple(charts),
                   tuple(tables), notes=rule_notes), figures


def month_lines(ctx: MonthContext) -> ir.Table:
    """Counted order lines of this month and last month: ``category_path``, ``brand``,
    ``this_month`` (bool), ``gmv`` and ``units``."""
    ws = ctx.ws
    orders = ws.table("orders")
    paid = orders.filter(counted(orders, ProfileSpec()), orders.ordered_at >= ctx.previous_start,
                         orders.ordered_at < ctx.end)
    paid = paid.select("order_id", this_month=paid.ordered_at >= ctx.start)
    items = ws.table("order_items")
    products = ws.table("products").select("product_id", "category_path", "brand")
    products = products.distinct(on="product_id")
    lines = items.join(paid, "order_id").left_join(products, "product_id")
    quantity = lines.quantity.fill_null(1)
    amount = lines.amount.fill_null(quantity * lines.unit_price).fill_null(0.0)
    return lines.select(category_path=lines.category_path.fill_null("(none)"),
                        brand=lines.brand.fill_null("(none)"), this_month=lines.this_month,
                        gmv=amount.cast("float64"), units=quantity.cast("int64"))


def _sales(to_arrow: Any, lines: ir.Table, by: str) -> pd.DataFrame:
    """Per ``by``: ``gmv``, ``previous``, ``units``, ``previous_units``, ``growth``; by GMV."""
    now, before = lines.this_month, ~lines.this_month
    grouped = lines.group_by(by).aggregate(
        gmv=lines.gmv.sum(where=now), previous=lines.gmv.sum(where=before),
        units=lines.units.sum(where=now), previous_units=lines.units.sum(where=before))
    frame: pd.DataFrame = to_arrow(grouped).to_pandas().fillna(
        {"gmv": 0.0, "previous": 0.0, "units": 0, "previous_units": 0})
    frame["growth"] = frame["gmv"] - frame["previous"]
    return frame.sort_values(["gmv", by], ascending=[False, True]).reset_index(drop=True)


def _leaders(key: str, frame: pd.DataFrame) -> dict[str, Any]:
    """The top seller and the top grower (largest GMV gain) of a frame of sales."""
    name = frame.columns[0]
    if frame.empty:
        return {f"top_{key}": None, f"top_{key}_gmv": None, f"top_grower_{key}": None,
                f"top_grower_{key}_growth": None}
    top = frame.iloc[0]
    grower = frame.sort_values(["growth", name], ascending=[False, True]).iloc[0]
    return {f"top_{key}": str(top[name]), f"top_{key}_gmv": float(top["gmv"]),
            f"top_{key}_previous_gmv": float(top["previous"]),
            f"top_grower_{key}": str(grower[name]) if grower["growth"] > 0 else None,
            f"top_grower_{key}_growth": float(grower["growth"]) if grower["growth"] > 0
            else None}


def _change(now: float, before: float) -> float | None:
    return (now - before) / before if before else None


def _sales_table(ctx: MonthContext, frame: pd.DataFrame, what: str) -> Table:
    name = frame.columns[0]
    rows = tuple((str(r[name]), round(float(r["gmv"]), 2), round(float(r["previous"]), 2),
                  _change(float(r["gmv"]), float(r["previous"])), int(r["units"]))
                 for _, r in frame.head(TOP).iterrows())
    return Table(ctx.t("Top {n} by sales: {what}", "销售额前 {n} 的{what}", n=TOP, what=what),
                 (what, ctx.t("Sales this month (CNY)", "本月销售额（元）"),
                  ctx.t("Sales last month (CNY)", "上月销售额（元）"),
                  ctx.t("Change", "环比"), ctx.t("Units this month", "本月件数")),
                 rows, percent=(3,))


def _sales_chart(ctx: MonthContext, frame: pd.DataFrame, what: str, key: str) -> Chart:
    """This month's and last month's sales of the top sellers and the top growers."""
    name = frame.columns[0]
    growers = frame[frame["growth"] > 0].sort_values(["growth", name], ascending=[False, True])
    shown = list(dict.fromkeys([*frame[name].head(GROWERS), *growers[name].head(GROWERS)]))
    part = frame.set_index(name).loc[shown] if shown else frame.set_index(name)
    if growers.empty:
        takeaway = ctx.t("No {what} sold more than last month.", "没有{what}的销售额高于上月。",
                         what=what)
    else:
        best = growers.iloc[0]
        takeaway = ctx.t(
            "{name} grew most: ¥{now:,.0f} this month vs ¥{before:,.0f} last month.",
            "{name} 增长最多：本月 ¥{now:,.0f}，上月 ¥{before:,.0f}。",
            name=best[name], now=float(best["gmv"]), before=float(best["previous"]))
    return bar_chart(
        ctx.t("Top sellers and growers: {what}", "畅销与增长最快的{what}", what=what), takeaway,
        [str(n) for n in part.index],
        {ctx.t("This month", "本月"): [round(float(v), 2) for v in part["gmv"]],
         ctx.t("Last month", "上月"): [round(float(v), 2) for v in part["previous"]]},
        what, ctx.t("Sales (CNY)", "销售额（元）"), unit="CNY")


def _basket(ctx: MonthContext) -> tuple[Table, Chart | None, dict[str, Any], tuple[str, ...]]:
    """The top rules (by lift) of category pairs bought together in the month's orders."""
    ws = ctx.ws
    orders = ws.table("orders")
    month = orders.filter(orders.ordered_at >= ctx.start, orders.ordered_at < ctx.end)
    found = analyze_basket(ws.table("order_items"), month, ws.table("products"), BASKET,
                           ws.engine.to_arrow, engine_kind=ws.engine.name)
    top = found.rules.head(RULES)
    rows = tuple((f"{a} → {c}", round(float(s), 4), round(float(p), 4), round(float(lift), 2),
                  int(n)) for a, c, s, p, lift, n in zip(
        top["antecedent_names"], top["consequent_names"], top["support"], top["confidence"],
        top["lift"], top["count"], strict=True))
    table = Table(ctx.t("Bought together in this month's {n:,} orders (category pairs)",
                        "本月 {n:,} 笔订单中的关联购买（类目对）", n=found.baskets),
                  (ctx.t("Rule (bought → also bought)", "规则（购买 → 同时购买）"),
                   ctx.t("Support", "支持度"), ctx.t("Confidence", "置信度"),
                   ctx.t("Lift (×)", "提升度（倍）"), ctx.t("Orders", "订单数")),
                  rows, percent=(1, 2))
    figures: dict[str, Any] = {"baskets": found.baskets, "rules": len(found.rules)}
    if top.empty:
        note = ctx.t("No category pair was bought together in at least 3 of the month's "
                     "{n:,} orders (1 % support).",
                     "本月 {n:,} 笔订单中没有类目对同时出现在至少 3 笔订单中（支持度 1%）。",
                     n=found.baskets)
        return table, None, figures, (note,)
    best = top.iloc[0]
    figures |= {"top_rule": f"{best.antecedent_names} → {best.consequent_names}",
                "top_rule_lift": float(best.lift), "top_rule_confidence": float(best.confidence),
                "top_rule_support": float(best.support)}
    takeaway = ctx.t(
        "{a} buyers also bought {c} in {p:.0%} of their orders ({lift:.1f}× the usual rate).",
        "购买{a}的订单中有 {p:.0%} 同时购买了{c}（为平均水平的 {lift:.1f} 倍）。",
        a=best.antecedent_names, c=best.consequent_names, p=float(best.confidence),
        lift=float(best.lift))
    chart = bar_chart(ctx.t("Bought together: top {n} rules by lift",
                            "关联购买：提升度最高的 {n} 条规则", n=len(top)), takeaway,
                      [r[0] for r in rows], {ctx.t("Lift", "提升度"): [r[3] for r in rows]},
                      ctx.t("Lift (×)", "提升度（倍）"),
                      ctx.t("Rule (bought → also bought)", "规则（购买 → 同时购买）"),
                      horizontal=True)
    return table, chart, figures, ()


def _summary(ctx: MonthContext, figures: dict[str, Any]) -> str:
    if figures.get("top_category") is None:
        return ctx.t("No counted order lines this month or last month.",
                     "本月和上月均无有效订单行。")
    text = ctx.t("{top} sold most (¥{gmv:,.0f}).", "{top} 销售额最高（¥{gmv:,.0f}）。",
                 top=figures["top_category"], gmv=figures["top_category_gmv"])
    if figures.get("top_grower_category"):
        text += ctx.t(" {grower} grew most (+¥{growth:,.0f} on last month).",
                      "{grower} 增长最多（较上月 +¥{growth:,.0f}）。",
                      grower=figures["top_grower_category"],
                      growth=figures["top_grower_category_growth"])
    return text

