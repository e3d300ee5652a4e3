"""Risk and value (风险与价值): the scored buyers by churn risk, predicted lifetime value
by decile, and the high-value customers at risk of churning.

It reads the stored predictions (``ws.predict.columns()``), as last scored: they describe
the customers now, not at the end of the month reported, and the section says when and
with which model versions they were scored.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import ibis

from portraits.predict.store import PREDICTIONS
from portraits.profile.schema import CUSTOMER_ID
from portraits.report.charts import bar_chart
from portraits.report.model import Kpi, Section, Table

if TYPE_CHECKING:
    import pandas as pd

    from portraits.analytics.chart import Chart
    from portraits.report.context import MonthContext, SectionResult

# Churn-risk bands (lower bound inclusive): low < 0.3 ≤ medium < 0.6 ≤ high.
MEDIUM_RISK: Final = 0.3
HIGH_RISK: Final = 0.6
DECILES: Final = 10
TOP_SHARE: Final = 0.2  # "high value": the top 20 % by predicted CLV


def build(ctx: MonthContext) -> SectionResult:
    """Churn-risk bands, CLV deciles and high-value customers at risk."""
    ws = ctx.ws
    title = ctx.t("Risk and value", "风险与价值")
    if not ws.engine.has_table(PREDICTIONS):
        note = ctx.t("No predictions scored yet: run 'portraits predict train' and "
                     "'portraits predict score'.",
                     "尚无预测结果：请运行 'portraits predict train' 和 "
                     "'portraits predict score'。")
        return Section("risk", title, notes=(note,)), {}
    scored = ws.predict.table()
    runs = ws.engine.to_arrow(scored.group_by("model").aggregate(
        version=scored.version.max(), scored_at=scored.scored_at.max())).to_pandas()
    figures: dict[str, Any] = {
        "scored_at": f"{runs['scored_at'].max():%Y-%m-%d %H:%M}" if len(runs) else None,
        "versions": ", ".join(f"{m} {v}" for m, v in sorted(zip(
            runs["model"], runs["version"], strict=True)))}
    wide = ws.predict.columns()
    bands = _bands(ctx, wide)
    deciles = _deciles(ctx, wide)
    figures |= {"scored_buyers": int(bands["customers"].sum()),
                **{f"churn_{b}": int(n) for b, n in zip(bands["band"], bands["customers"],
                                                        strict=True)}}
    notes: list[str] = []
    charts: list[Chart] = []
    tables: list[Table] = []
    if figures["scored_buyers"]:
        charts.append(_bands_chart(ctx, bands, figures["scored_buyers"]))
    else:
        notes.append(ctx.t("No churn risk scored: run 'portraits predict train churn' and "
                           "'portraits predict score'.",
                           "尚无流失风险评分：请运行 'portraits predict train churn' 和 "
                           "'portraits predict score'。"))
    if deciles.empty:
        notes.append(ctx.t("No lifetime value scored: run 'portraits predict train clv' and "
                           "'portraits predict score'.",
                           "尚无客户终身价值评分：请运行 'portraits predict train clv' 和 "
                           "'portraits predict score'。"))
    else:
        figures |= _at_risk(ws.engine.to_arrow, wide, deciles)
        charts.append(_deciles_chart(ctx, deciles))
        tables.append(_deciles_table(ctx, deciles))
    kpis = (Kpi("scored_buyers", ctx.t("Buyers scored for churn", "已评分的购买客户"),
                figures["scored_buyers"]),
            Kpi("churn_high", ctx.t("Churn risk ≥ 60 %", "流失风险 ≥ 60%"),
                figures.get("churn_high")),
            Kpi("high_value_at_risk", ctx.t("High-value customers at risk", "高价值流失风险客户"),
                figures.get("high_value_at_risk")),
            Kpi("high_value_at_risk_clv", ctx.t("Their predicted CLV", "其预测终身价值"),
                figures.get("high_value_at_risk_clv"), unit="currency"))
    return Section("risk", title, _summary(ctx, figures), kpis, tuple(charts), tuple(tables),
                   notes=tuple(notes)), figures


def _bands(ctx: MonthContext, wide: Any) -> pd.DataFrame:
    """Buyers per churn-risk band (``band``: low, medium, high; ``customers``)."""
    risk = wide.churn_risk
    counts = ctx.ws.engine.to_arrow(wide.aggregate(
        low=(risk < MEDIUM_RISK).sum(), medium=((risk >= MEDIUM_RISK) & (risk < HIGH_RISK)).sum(),
        high=(risk >= HIGH_RISK).sum())).to_pylist()[0]
    import pandas as pd

    return pd.DataFrame({"band": ["low", "medium", "high"],
                         "customers": [int(counts[b] or 0) for b in ("low", "medium", "high")]})


def _deciles(ctx: MonthContext, wide: Any) -> pd.DataFrame:
    """Customers with a CLV by decile (1 = the highest): ``customers``, ``low``, ``high``,
    ``total``. Ties are broken by customer id, so every decile has n/10 customers."""
    valued = wide.filter(wide.clv.notnull())
    rank = ibis.row_number().over(order_by=[valued.clv.desc(), valued[CUSTOMER_ID]])
    size = valued.clv.count().over()
    ranked = valued.mutate(decile=(rank * DECILES // size + 1).cast("int64"))
    per = ranked.group_by("decile").aggregate(customers=ranked.count(), low=ranked.clv.min(),
                                              high=ranked.clv.max(), total=ranked.clv.sum())
    frame: pd.DataFrame = ctx.ws.engine.to_arrow(per.order_by("decile")).to_pandas()
    return frame


def high_value_threshold(deciles: pd.DataFrame) -> float:
    """The least CLV of the top 20 %, rounded down to the cent (so that a segment's
    ``clv >= threshold`` keeps everyone in them)."""
    top = deciles[deciles["decile"] <= round(TOP_SHARE * DECILES)]
    return math.floor(float(top["low"].min()) * 100) / 100


def _at_risk(to_arrow: Any, wide: Any, deciles: pd.DataFrame) -> dict[str, Any]:
    threshold = high_value_threshold(deciles)
    chosen = wide.filter(wide.clv >= threshold, wide.churn_risk >= HIGH_RISK)
    found = to_arrow(chosen.aggregate(customers=chosen.count(), clv=chosen.clv.sum())
                     ).to_pylist()[0]
    return {"clv_customers": int(deciles["customers"].sum()),
            "clv_total": float(deciles["total"].sum()), "clv_top20_threshold": threshold,
            "high_value": int(to_arrow(wide.filter(wide.clv >= threshold).aggregate(
                n=ibis._.count())).to_pylist()[0]["n"]),
            "high_value_at_risk": int(found["customers"]),
            "high_value_at_risk_clv": float(found["clv"] or 0.0)}


def _band_names(ctx: MonthContext) -> list[str]:
    return [ctx.t("Low (< 30 %)", "低（< 30%）"), ctx.t("Medium (30–60 %)", "中（30–60%）"),
            ctx.t("High (≥ 60 %)", "高（≥ 60%）")]


def _bands_chart(ctx: MonthContext, bands: pd.DataFrame, total: int) -> Chart:
    high = int(bands["customers"].iloc[2])
    return bar_chart(
        ctx.t("Buyers by churn risk", "购买客户流失风险分布"),
        ctx.t("{n:,} of {total:,} scored buyers ({share:.0%}) have a churn risk of 60 % or "
              "more.", "{total:,} 名已评分购买客户中有 {n:,} 名（{share:.0%}）流失风险不低于 60%。",
              n=high, total=total, share=high / total),
        _band_names(ctx), {ctx.t("Buyers", "客户数"): [int(v) for v in bands["customers"]]},
        ctx.t("Churn risk band", "流失风险区间"), ctx.t("Buyers (people)", "客户数（人）"))


def _deciles_chart(ctx: MonthContext, deciles: pd.DataFrame) -> Chart:
    total = float(deciles["total"].sum())
    top = float(deciles[deciles["decile"] <= round(TOP_SHARE * DECILES)]["total"].sum())
    return bar_chart(
        ctx.t("Predicted lifetime value by decile", "预测客户终身价值十分位分布"),
        ctx.t("The top 20 % of customers hold {share:.0%} of the predicted CLV "
              "(¥{top:,.0f} of ¥{total:,.0f}).",
              "前 20% 的客户贡献了 {share:.0%} 的预测终身价值（¥{top:,.0f} / ¥{total:,.0f}）。",
              share=top / total if total else 0.0, top=top, total=total),
        [ctx.t("D{d}", "第{d}组", d=int(d)) for d in deciles["decile"]],
        {ctx.t("Total CLV", "终身价值合计"): [round(float(v), 2) for v in deciles["total"]]},
        ctx.t("Decile (1 = highest CLV)", "十分位（1 = 最高）"),
        ctx.t("Predicted CLV (CNY)", "预测终身价值（元）"), unit="CNY")


def _deciles_table(ctx: MonthContext, deciles: pd.DataFrame) -> Table:
    total = float(deciles["total"].sum())
    rows = tuple((int(r["decile"]), int(r["customers"]), round(float(r["low"]), 2),
                  round(float(r["high"]), 2), round(float(r["total"]), 2),
                  float(r["total"]) / total if total else None)
                 for r in deciles.to_dict("records"))
    return Table(ctx.t("Predicted lifetime value by decile", "预测客户终身价值十分位"),
                 (ctx.t("Decile", "十分位"), ctx.t("Customers", "客户数"),
                  ctx.t("Lowest CLV (CNY)", "最低（元）"), ctx.t("Highest CLV (CNY)", "最高（元）"),
                  ctx.t("Total CLV (CNY)", "合计（元）"), ctx.t("Share of CLV", "占比")),
                 rows, percent=(5,))


def _summary(ctx: MonthContext, figures: dict[str, Any]) -> str:
    text = ctx.t("Predictions scored at {at} ({versions}).", "预测评分时间 {at}（{versions}）。",
                 at=figures["scored_at"], versions=figures["versions"])
    if figures.get("high_value_at_risk") is not None:
        text += ctx.t(
            " {n:,} high-value customers (CLV ≥ ¥{t:,.0f}, the top 20 %) have a churn risk of "
            "60 % or more, with ¥{clv:,.0f} of predicted lifetime value.",
            "其中 {n:,} 名高价值客户（终身价值 ≥ ¥{t:,.0f}，前 20%）流失风险不低于 60%，"
            "合计预测终身价值 ¥{clv:,.0f}。",
            n=figures["high_value_at_risk"], t=figures["clv_top20_threshold"],
            clv=figures["high_value_at_risk_clv"])
    return text
