"""Value layers and how customers moved between them over the month.

The RFM segment and value layer of every customer are computed as of the end of last
month (this month's start) and as of this month's end, with the workspace's own tag
rules (``ws.tags.compute`` limited to ``value_layer`` and the tags it reads, so the
other tags are not computed). Customers without a counted order by a date have no layer
then. The Sankey shows customers with a layer at both dates (last month → this month);
customers who got their first layer this month are counted as ``entered``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import ibis.expr.types as ir

from portraits.analytics.chart import Chart
from portraits.i18n import text
from portraits.report.charts import bar_chart, sankey_chart
from portraits.report.context import MonthContext
from portraits.report.model import Section, Table
from portraits.report.sections.overview import CUSTOMER_ID, month_label
from portraits.tags.catalog import TagSet

LAYERS = ("high_value", "potential", "churn_warning", "lost")
SEGMENTS = ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
            "about_to_sleep", "at_risk", "cant_lose_them", "hibernating", "lost")


def layer_tags(ctx: MonthContext) -> TagSet:
    """The workspace's ``value_layer`` and ``rfm_segment`` tags with every tag they read."""
    catalog = ctx.ws.tags.catalog()
    known = {t.id for t in catalog}
    wanted = {"value_layer", "rfm_segment"}
    while True:
        more = set().union(*(t.reads() & known for t in catalog if t.id in wanted)) - wanted
        if not more:
            return TagSet(tuple(t for t in catalog if t.id in wanted))
        wanted |= more


def states(ctx: MonthContext, as_of: datetime, tagset: TagSet | None = None) -> ir.Table:
    """(customer_id, segment, layer) of every profile as of ``as_of``."""
    tags = ctx.ws.tags.compute(as_of, tagset or layer_tags(ctx))
    return tags.select(CUSTOMER_ID, segment=tags.rfm_segment.cast("string"),
                       layer=tags.value_layer.cast("string"))


def _moves(ctx: MonthContext) -> list[dict[str, Any]]:
    """Customers per (segment, layer) last month and this month (None: no layer)."""
    tagset = layer_tags(ctx)
    before = states(ctx, ctx.start, tagset)
    after = states(ctx, ctx.end, tagset)
    both = before.join(after, CUSTOMER_ID).select(
        segment_before=before.segment, layer_before=before.layer,
        segment_after=after.segment, layer_after=after.layer)
    grouped = both.group_by(["segment_before", "layer_before", "segment_after",
                             "layer_after"]).aggregate(customers=both.count())
    return list(ctx.ws.engine.to_arrow(grouped).to_pylist())


def _layer_name(ctx: MonthContext, layer: str) -> str:
    name = text(f"layer.{layer}", ctx.lang)
    return name[:1].upper() + name[1:]


def _size_table(ctx: MonthContext, title: str, header: str, names: list[tuple[str, str]],
                before: Counter[str], after: Counter[str], last: str, this: str) -> Table:
    rows = tuple((label, before[key], after[key], after[key] - before[key])
                 for key, label in names if before[key] or after[key])
    return Table(title, (header, ctx.t("End of {m}", "{m}末", m=last),
                         ctx.t("End of {m}", "{m}末", m=this), ctx.t("Change", "变化")), rows)


Tally = tuple[Counter[str], Counter[str], Counter[str], Counter[str],
              Counter[tuple[str, str]], int]


def _tally(rows: list[dict[str, Any]]) -> Tally:
    """Layer and segment sizes last month and this month, layer flows, and how many got
    their first layer."""
    layers_before: Counter[str] = Counter()
    layers_after: Counter[str] = Counter()
    segments_before: Counter[str] = Counter()
    segments_after: Counter[str] = Counter()
    flows: Counter[tuple[str, str]] = Counter()
    entered = 0
    for r in rows:
        n = int(r["customers"])
        if r["layer_before"]:
            layers_before[r["layer_before"]] += n
            segments_before[r["segment_before"]] += n
        if r["layer_after"]:
            layers_after[r["layer_after"]] += n
            segments_after[r["segment_after"]] += n
        if r["layer_before"] and r["layer_after"]:
            flows[(r["layer_before"], r["layer_after"])] += n
        elif r["layer_after"]:
            entered += n
    return layers_before, layers_after, segments_before, segments_after, flows, entered


def _flow_takeaway(ctx: MonthContext, flows: Counter[tuple[str, str]],
                   names: dict[str, str]) -> str:
    """The share who kept their layer and the biggest move, in a sentence."""
    stayed = sum(n for (a, b), n in flows.items() if a == b)
    changes = sorted(((a, b, n) for (a, b), n in flows.items() if a != b),
                     key=lambda f: (-f[2], f[0], f[1]))
    both = sum(flows.values())
    if changes:
        a, b, n = changes[0]
        return ctx.t(
            "{stay:.0%} of the {both:,} customers kept their layer; the biggest move was "
            "{n:,} from {a} to {b}.",
            "{both:,} 名客户中 {stay:.0%} 保持原分层；最大的流动是 {n:,} 人从{a}转为{b}。",
            stay=stayed / both, both=both, n=n, a=names[a].lower(), b=names[b].lower())
    if both:
        return ctx.t("All {both:,} customers kept their value layer.",
                     "{both:,} 名客户全部保持原价值分层。", both=both)
    return ctx.t("No customer had a value layer at both month ends.",
                 "没有客户在两个月末都有价值分层。")


def _charts(ctx: MonthContext, tally: Tally, layers: list[str],
            segment_names: list[tuple[str, str]]) -> tuple[Chart, Chart]:
    """The Sankey of layer flows and the bars of segment sizes at both month ends."""
    _, _, segments_before, segments_after, flows, _ = tally
    last, this = month_label(ctx, ctx.previous_start), month_label(ctx, ctx.start)
    short_last = ctx.t("{m:%b}", "{m.month}月", m=ctx.previous_start)
    short_this = ctx.t("{m:%b}", "{m.month}月", m=ctx.start)
    names = {k: _layer_name(ctx, k) for k in layers}
    pattern = ctx.t("{name} ({month})", "{name}（{month}）")
    sankey = sankey_chart(
        ctx.t("Value layer flow: end of {last} → end of {this}",
              "价值分层流转：{last}末 → {this}末", last=last, this=this),
        _flow_takeaway(ctx, flows, names),
        [(pattern.format(name=names[a], month=short_last),
          pattern.format(name=names[b], month=short_this), n)
         for (a, b), n in sorted(flows.items(), key=lambda f: (layers.index(f[0][0]),
                                                                layers.index(f[0][1])))])
    shown = [(k, label) for k, label in segment_names if segments_before[k] or segments_after[k]]
    grown = max(shown, key=lambda p: segments_after[p[0]] - segments_before[p[0]],
                default=None)
    bars = bar_chart(
        ctx.t("RFM segments: end of {last} vs end of {this}", "RFM 分群：{last}末与{this}末",
              last=last, this=this),
        ctx.t("{seg} grew the most: {before:,} → {after:,} customers.",
              "增长最多的是{seg}：{before:,} → {after:,} 人。", seg=grown[1],
              before=segments_before[grown[0]], after=segments_after[grown[0]])
        if grown and segments_after[grown[0]] > segments_before[grown[0]]
        else ctx.t("No RFM segment grew this month.", "本月没有 RFM 分群增长。"),
        [label for _, label in shown],
        {ctx.t("End of {m}", "{m}末", m=last): [segments_before[k] for k, _ in shown],
         ctx.t("End of {m}", "{m}末", m=this): [segments_after[k] for k, _ in shown]},
        ctx.t("RFM segment", "RFM 分群"), ctx.t("Customers (count)", "客户数（人）"))
    return sankey, bars


def build(ctx: MonthContext) -> tuple[Section, dict[str, Any]]:
    """The value section and its figures: ``layer.<layer>`` and ``segment.<segment>``
    (this month's end) with ``_previous`` (last month's end), ``flow.<from>→<to>``
    (customers with a layer at both dates), ``stayed``, ``moved``, ``entered``."""
    tally = _tally(_moves(ctx))
    layers_before, layers_after, segments_before, segments_after, flows, entered = tally
    layers = [*LAYERS, *sorted((set(layers_before) | set(layers_after)) - set(LAYERS))]
    segments = [*SEGMENTS,
                *sorted((set(segments_before) | set(segments_after)) - set(SEGMENTS))]
    figures: dict[str, Any] = {}
    for key in layers:
        figures[f"layer.{key}"] = layers_after[key]
        figures[f"layer.{key}_previous"] = layers_before[key]
    for key in segments:
        figures[f"segment.{key}"] = segments_after[key]
        figures[f"segment.{key}_previous"] = segments_before[key]
    figures.update({f"flow.{a}→{b}": n for (a, b), n in sorted(flows.items())})
    stayed = sum(n for (a, b), n in flows.items() if a == b)
    moved = sum(flows.values()) - stayed
    figures.update(stayed=stayed, moved=moved, entered=entered)
    last, this = month_label(ctx, ctx.previous_start), month_label(ctx, ctx.start)
    layer_names = [(k, _layer_name(ctx, k)) for k in layers]
    segment_names = [(k, text(f"rfm.{k}", ctx.lang)) for k in segments]
    tables = (
        _size_table(ctx, ctx.t("Value layers", "价值分层"), ctx.t("Value layer", "价值分层"),
                    layer_names, layers_before, layers_after, last, this),
        _size_table(ctx, ctx.t("RFM segments", "RFM 客户分群"), ctx.t("RFM segment", "RFM 分群"),
                    segment_names, segments_before, segments_after, last, this))
    high = "high_value"
    summary = ctx.t(
        "High-value customers went from {before:,} to {after:,}; {moved:,} customers changed "
        "value layer and {entered:,} got their first layer (first counted order).",
        "高价值客户从 {before:,} 人变为 {after:,} 人；{moved:,} 名客户的价值分层发生变化，"
        "{entered:,} 名客户首次进入分层（首笔有效订单）。",
        before=layers_before[high], after=layers_after[high], moved=moved, entered=entered)
    notes: tuple[str, ...] = ()
    if ctx.ws.spec.rfm.reference_date is not None:
        notes = (ctx.t("portraits.yaml fixes the RFM reference date, so both month ends "
                       "are scored as of that date.",
                       "portraits.yaml 固定了 RFM 参考日期，两个月末均按该日期评分。"),)
    section = Section("value", ctx.t("Value layers and movement", "价值分层与流转"), summary,
                      charts=_charts(ctx, tally, layers, segment_names), tables=tables,
                      notes=notes)
    return section, figures
