"""The month's purchase funnel and the paths sessions take.

* **Funnel**: Product Viewed → Product Added → Checkout Started → Order Completed,
  sequential, with the default 14-day window, for people whose first step falls in the
  month (``ws.analytics.funnel(..., since=start, until=end)``; a conversion may finish
  early in the next month, within the window).
* **Biggest drop-off**: the step that lost the most people from the step before it.
* **Paths**: sessions (split after 30 minutes idle, repeats collapsed) with events in
  the month, from each session's first event, five steps; the top five transitions
  (exits included) with their share of the sessions at their source.
"""

from __future__ import annotations

from typing import Any

from portraits.analytics.paths import EXIT, OTHER
from portraits.errors import PortraitsError
from portraits.i18n import text
from portraits.model.events import event_label
from portraits.report.context import MonthContext
from portraits.report.model import Section, Table

FUNNEL = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")
TOP_PATHS = 5
PATH_STEPS = 5


def slug(event: str) -> str:
    """``Product Viewed`` → ``product_viewed`` (figure keys)."""
    return event.lower().replace(" ", "_")


def _event(ctx: MonthContext, name: str) -> str:
    if name in (EXIT, OTHER):
        return text("an.exit" if name == EXIT else "an.other", ctx.lang)
    return event_label(name, ctx.lang)


def _funnel(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The funnel's chart, table, figures and sentence (as a partial section)."""
    result = ctx.ws.analytics.funnel(list(FUNNEL), since=ctx.start, until=ctx.end)
    rows: list[dict[Any, Any]] = result.overall().to_dict("records")
    figures: dict[str, Any] = {}
    table_rows = []
    for r in rows:
        figures[f"funnel.{slug(str(r['event']))}"] = int(r["people"])
        table_rows.append((int(r["step"]), event_label(str(r["event"]), ctx.lang),
                           int(r["people"]), float(r["conversion"]),
                           float(r["from_previous"]), int(r["dropped"])))
    entered = int(rows[0]["people"]) if rows else 0
    figures["funnel.entered"] = entered
    figures["funnel.conversion"] = result.conversion()
    table = Table(ctx.t("Purchase funnel, people per step", "购买漏斗各步人数"),
                  (ctx.t("Step", "步骤"), ctx.t("Event", "事件"), ctx.t("People", "人数"),
                   ctx.t("Conversion from step 1", "从第 1 步的转化率"),
                   ctx.t("From the previous step", "上一步转化率"), ctx.t("Dropped", "流失人数")),
                  tuple(table_rows), percent=(3, 4))
    if entered == 0:
        sentence = ctx.t("Nobody started the purchase funnel ({first}) this month.",
                         "本月没有人进入购买漏斗（{first}）。",
                         first=event_label(FUNNEL[0], ctx.lang))
        return Section("behaviour", "", sentence, charts=(result.chart(ctx.lang),),
                       tables=(table,)), figures
    worst = max(rows[1:], key=lambda r: int(r["dropped"]))
    k = int(worst["step"])
    before = int(rows[k - 2]["people"])
    lost = int(worst["dropped"])
    figures.update({"drop.step": k, "drop.lost": lost,
                    "drop.rate": lost / before if before else 0.0})
    sentence = ctx.t(
        "{rate:.1%} of the {n:,} people who viewed a product this month completed an order; "
        "the biggest drop-off is from {a} to {b}: {lost:,} of {before:,} ({drop:.0%}) went no "
        "further.",
        "本月浏览商品的 {n:,} 人中 {rate:.1%} 完成了订单；流失最多的一步是从{a}到{b}："
        "{before:,} 人中有 {lost:,} 人（{drop:.0%}）未继续。",
        rate=result.conversion(), n=entered, a=event_label(FUNNEL[k - 2], ctx.lang),
        b=event_label(FUNNEL[k - 1], ctx.lang), lost=lost, before=before,
        drop=lost / before if before else 0.0)
    return Section("behaviour", "", sentence, charts=(result.chart(ctx.lang),),
                   tables=(table,)), figures


def _paths(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The top transitions of the month's sessions (as a partial section)."""
    result = ctx.ws.analytics.paths(steps=PATH_STEPS, since=ctx.start, until=ctx.end)
    top = result.top(TOP_PATHS)
    figures: dict[str, Any] = {"paths.sessions": result.sessions}
    rows = []
    for i, r in enumerate(top.to_dict("records"), 1):
        figures[f"paths.top{i}.sessions"] = int(r["sessions"])
        figures[f"paths.top{i}.share"] = float(r["share"])
        rows.append((int(r["step"]), _event(ctx, str(r["source"])),
                     _event(ctx, str(r["target"])), int(r["sessions"]), float(r["share"])))
    table = Table(ctx.t("Top {n} session transitions", "会话中最常见的 {n} 个跳转", n=TOP_PATHS),
                  (ctx.t("Step", "步骤"), ctx.t("From", "从"), ctx.t("To", "到"),
                   ctx.t("Sessions", "会话数"), ctx.t("Share of the step's sessions at the source",
                                                     "占该步来源会话比例")),
                  tuple(rows), percent=(4,))
    charts = (result.chart(ctx.lang),) if result.sessions else ()
    return Section("behaviour", "", result.takeaway(ctx.lang), charts=charts,
                   tables=(table,)), figures


def build(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The behaviour section and its figures: ``funnel.<event>`` people per step,
    ``funnel.entered``, ``funnel.conversion``, ``drop.step`` (2…4), ``drop.lost``,
    ``drop.rate``, ``paths.sessions``, ``paths.top<i>.sessions`` and ``.share``."""
    title = ctx.t("Funnel and paths", "转化漏斗与路径")
    parts: list[Section] = []
    figures: dict[str, Any] = {}
    notes: list[str] = []
    for part, name in ((_funnel, ctx.t("funnel", "漏斗")), (_paths, ctx.t("paths", "路径"))):
        try:
            section, found = part(ctx)
        except PortraitsError as error:  # e.g. a shop without cart events
            notes.append(ctx.t("No {name}: {error}", "无{name}：{error}", name=name,
                               error=error))
            continue
        parts.append(section)
        figures.update(found)
    summary = ctx.t(" ", "").join(p.summary for p in parts)
    return Section("behaviour", title, summary,
                   charts=tuple(c for p in parts for c in p.charts),
                   tables=tuple(t for p in parts for t in p.tables),
                   notes=tuple(notes)), figures
