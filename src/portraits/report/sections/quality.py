"""Data quality (数据质量): what the month's loads read, accepted and rejected per source,
against the targets of R2.3 (pass rate ≥ 98 %, integration rate ≥ 80 %), why rows were
rejected, and the least complete fields.

The loads are those started in the month; when none was, the latest load of each source,
and the section says so.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import ibis

from portraits.report.charts import bar_chart
from portraits.report.model import Kpi, Section, Table

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from portraits.analytics.chart import Chart
    from portraits.report.context import MonthContext, SectionResult

PASS_TARGET: Final = 0.98
INTEGRATION_TARGET: Final = 0.80
REASONS: Final = 8
FIELDS: Final = 10


def build(ctx: MonthContext) -> SectionResult:
    """Per-source load figures, rejection reasons and field completeness."""
    ws = ctx.ws
    title = ctx.t("Data quality", "数据质量")
    if not ws.engine.has_table("loads"):
        return Section("quality", title, notes=(ctx.t(
            "Nothing loaded yet: run 'portraits load'.", "尚未导入数据：请运行 'portraits load'。"),
        )), {}
    loads, in_month = chosen_loads(ctx)
    frame = ws.engine.to_arrow(loads).to_pandas()
    notes = [] if in_month else [ctx.t(
        "No load started this month; these are the latest loads of each source "
        "(from {at:%Y-%m-%d %H:%M}).",
        "本月没有导入；以下为各数据源最近一次导入（{at:%Y-%m-%d %H:%M}）。",
        at=frame["started_at"].max())]
    per = _per_source(frame)
    figures: dict[str, Any] = {
        "in_month": in_month, "loads": len(frame),
        "latest_load_at": f"{frame['started_at'].max():%Y-%m-%d %H:%M}",
        **{k: int(per[k].sum()) for k in ("rows_read", "accepted", "rejected", "duplicates")},
        "pass_rate": _weighted(frame, "pass_rate", "rows_read"),
        "integration_rate": _weighted(frame, "integration_rate", "accepted")}
    ids = ibis.memtable({"load_id": list(frame["load_id"])})
    reasons = _reasons(ctx, ids, frame)
    fields = _fields(ctx, ids, frame)
    if not reasons.empty:
        figures |= {"top_rejection_rule": str(reasons.iloc[0]["rule"]),
                    "top_rejection_rows": int(reasons.iloc[0]["rows"])}
    if not fields.empty:
        figures["least_complete_field"] = f"{fields.iloc[0]['source']}.{fields.iloc[0]['field']}"
        figures["least_completeness"] = float(fields.iloc[0]["completeness"])
    kpis = (Kpi("rows_read", ctx.t("Rows read", "读取行数"), figures["rows_read"]),
            Kpi("rejected", ctx.t("Rows rejected", "拒绝行数"), figures["rejected"]),
            Kpi("pass_rate", ctx.t("Quality pass rate (target ≥ 98 %)", "质量通过率（目标 ≥ 98%）"),
                figures["pass_rate"], unit="percent"),
            Kpi("integration_rate", ctx.t("Integration rate (target ≥ 80 %)",
                                          "整合率（目标 ≥ 80%）"),
                figures["integration_rate"], unit="percent"))
    tables = [_source_table(ctx, per), _reasons_table(ctx, reasons), _fields_table(ctx, fields)]
    return Section("quality", title, _summary(ctx, per, figures), kpis,
                   (_pass_chart(ctx, per),), tuple(tables), notes=tuple(notes)), figures


def chosen_loads(ctx: MonthContext) -> tuple[ir.Table, bool]:
    """The loads started in the month, else the latest load of each source; and whether
    they are the month's. Loads skipped because their files were loaded before read
    nothing and are left out (after a nightly run with no new files, the latest loads
    are the ones that read the files)."""
    loads = ctx.ws.table("loads")
    loads = loads.filter(loads.status != "skipped")
    month = loads.filter(loads.started_at >= ctx.start, loads.started_at < ctx.end)
    if ctx.ws.engine.count(month):
        return month, True
    latest = ibis.row_number().over(group_by="source", order_by=[loads.started_at.desc(),
                                                                 loads.load_id.desc()])
    ranked = loads.mutate(_latest=latest)
    return ranked.filter(ranked._latest == 0).drop("_latest"), False


def _weighted(frame: pd.DataFrame, rate: str, weight: str) -> float | None:
    known = frame[frame[rate].notna() & (frame[weight] > 0)]
    total = float(known[weight].sum())
    return float((known[rate] * known[weight]).sum()) / total if total else None


def _per_source(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for source, part in frame.groupby("source", sort=True):
        rows.append({"source": source, "entity": part["entity"].iloc[0], "loads": len(part),
                     **{k: int(part[k].fillna(0).sum()) for k in
                        ("rows_read", "accepted", "rejected", "duplicates")},
                     "pass_rate": _weighted(part, "pass_rate", "rows_read"),
                     "integration_rate": _weighted(part, "integration_rate", "accepted")})
    import pandas as pd

    return pd.DataFrame(rows, columns=["source", "entity", "loads", "rows_read", "accepted",
                                       "rejected", "duplicates", "pass_rate",
                                       "integration_rate"])


def _reasons(ctx: MonthContext, ids: ir.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows per rule and field over the chosen loads, most first."""
    ws = ctx.ws
    if not ws.engine.has_table("quality_rules"):
        import pandas as pd

        return pd.DataFrame(columns=["source", "rule", "field", "rows"])
    rules = ws.table("quality_rules")
    sources = ibis.memtable({"load_id": list(frame["load_id"]), "source": list(frame["source"])})
    hits = rules.filter(rules.action == "rejected").semi_join(ids, "load_id").join(
        sources, "load_id")
    per = hits.group_by(["source", "rule", "field"]).aggregate(rows=hits.rows.sum())
    found: pd.DataFrame = ws.engine.to_arrow(per).to_pandas()
    return found.sort_values(["rows", "source", "rule"], ascending=[False, True, True]
                             ).head(REASONS).reset_index(drop=True)


def _fields(ctx: MonthContext, ids: ir.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The least complete key fields of the chosen loads (per source, the latest value)."""
    ws = ctx.ws
    if not ws.engine.has_table("quality_fields"):
        import pandas as pd

        return pd.DataFrame(columns=["source", "field", "completeness"])
    fields = ws.table("quality_fields").semi_join(ids, "load_id")
    found: pd.DataFrame = ws.engine.to_arrow(fields).to_pandas().merge(
        frame[["load_id", "source", "started_at"]], on="load_id")
    found = found.merge(frame[["load_id", "entity"]], on="load_id")
    found = found.loc[[field in key_fields(entity) for entity, field in zip(
        found["entity"], found["field"], strict=True)]]
    found = found.sort_values("started_at").drop_duplicates(["source", "field"], keep="last")
    return found.sort_values(["completeness", "source", "field"]).head(FIELDS).reset_index(
        drop=True)


def key_fields(entity: str) -> set[str]:
    """An entity's required fields and the identifiers of people it carries (what records
    are merged on): the fields whose gaps matter most."""
    from portraits.model.canonical import ENTITIES

    known = ENTITIES.get(entity)
    if known is None:
        return set()
    return {f.name for f in known.fields if f.required or f.identifier is not None}


def _source_table(ctx: MonthContext, per: pd.DataFrame) -> Table:
    rows = tuple((r["source"], r["entity"], int(r["loads"]), int(r["rows_read"]),
                  int(r["accepted"]), int(r["rejected"]), int(r["duplicates"]),
                  _rate(r["pass_rate"]), _rate(r["integration_rate"]))
                 for r in per.to_dict("records"))
    return Table(ctx.t("Loads by source", "各数据源导入情况"),
                 (ctx.t("Source", "数据源"), ctx.t("Entity", "实体"), ctx.t("Loads", "导入次数"),
                  ctx.t("Rows read", "读取行数"), ctx.t("Accepted", "接受行数"),
                  ctx.t("Rejected", "拒绝行数"), ctx.t("Duplicates", "重复行数"),
                  ctx.t("Pass rate", "通过率"), ctx.t("Integration rate", "整合率")),
                 rows, percent=(7, 8))


def _rate(value: Any) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _reasons_table(ctx: MonthContext, reasons: pd.DataFrame) -> Table:
    rows = tuple((r["source"], r["rule"], r["field"], int(r["rows"]))
                 for r in reasons.to_dict("records"))
    return Table(ctx.t("Main rejection reasons", "主要拒绝原因"),
                 (ctx.t("Source", "数据源"), ctx.t("Rule", "规则"), ctx.t("Field", "字段"),
                  ctx.t("Rows rejected", "拒绝行数")), rows)


def _fields_table(ctx: MonthContext, fields: pd.DataFrame) -> Table:
    rows = tuple((r["source"], r["field"], float(r["completeness"]))
                 for r in fields.to_dict("records"))
    return Table(ctx.t("Least complete key fields (identifiers and required fields)",
                       "完整度最低的关键字段（标识符与必填字段）"),
                 (ctx.t("Source", "数据源"), ctx.t("Field", "字段"),
                  ctx.t("Completeness", "完整度")), rows, percent=(2,))


def _pass_chart(ctx: MonthContext, per: pd.DataFrame) -> Chart:
    rated = per[per["pass_rate"].notna()].sort_values(["pass_rate", "source"])
    below = rated[rated["pass_rate"] < PASS_TARGET]
    if rated.empty:
        takeaway = ctx.t("No rows were read.", "没有读取任何行。")
    elif below.empty:
        takeaway = ctx.t("Every source meets the 98 % target; the lowest is {s} at {r:.1%}.",
                         "所有数据源均达到 98% 的目标；最低为 {s}（{r:.1%}）。",
                         s=rated.iloc[0]["source"], r=float(rated.iloc[0]["pass_rate"]))
    else:
        takeaway = ctx.t("{n} source(s) fall below the 98 % target, lowest {s} at {r:.1%}.",
                         "{n} 个数据源低于 98% 的目标，最低为 {s}（{r:.1%}）。", n=len(below),
                         s=below.iloc[0]["source"], r=float(below.iloc[0]["pass_rate"]))
    return bar_chart(ctx.t("Quality pass rate by source", "各数据源质量通过率"), takeaway,
                     list(rated["source"]),
                     {ctx.t("Pass rate", "通过率"): [round(float(v) * 100, 2)
                                                    for v in rated["pass_rate"]]},
                     ctx.t("Source", "数据源"), ctx.t("Pass rate (%)", "通过率（%）"), unit="%")


def _summary(ctx: MonthContext, per: pd.DataFrame, figures: dict[str, Any]) -> str:
    text = ctx.t("{loads} loads read {read:,} rows: {accepted:,} accepted, {rejected:,} "
                 "rejected (kept with their reason).",
                 "{loads} 次导入共读取 {read:,} 行：接受 {accepted:,} 行，拒绝 {rejected:,} 行"
                 "（已保留拒绝原因）。", loads=figures["loads"], read=figures["rows_read"],
                 accepted=figures["accepted"], rejected=figures["rejected"])
    if figures["pass_rate"] is not None:
        text += ctx.t(" Pass rate {p:.1%} (target ≥ 98 %).", "质量通过率 {p:.1%}（目标 ≥ 98%）。",
                      p=figures["pass_rate"])
    if figures["integration_rate"] is not None:
        text += ctx.t(" Integration rate {r:.1%} (target ≥ 80 %).",
                      "整合率 {r:.1%}（目标 ≥ 80%）。", r=figures["integration_rate"])
    return text
