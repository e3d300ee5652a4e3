"""Voice of the customer (客户之声): the month's reviews — how many, how they rated,
how many were negative — per top-level category against last month, and the pain points
(the words negative reviews use more than the others, :mod:`portraits.analytics.painpoints`).

Sentiment is read from the stored ``review_sentiment`` scores (``portraits analyze
sentiment`` writes them); the report never scores reviews itself.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import ibis

from portraits.analytics.painpoints import keyword_sets, rank_pain_points
from portraits.report.charts import bar_chart
from portraits.report.context import MonthContext
from portraits.report.model import Kpi, Section, Table

if TYPE_CHECKING:
    import pandas as pd

    from portraits.analytics.chart import Chart
    from portraits.report.context import SectionResult

SENTIMENT: Final = "review_sentiment"
PAIN_POINTS: Final = 3  # keywords per category
PAIN_MIN_COUNT: Final = 2  # a month has few reviews: two negative ones naming a word suffice
# A rise in a category's negative share counts when the month has at least this many
# scored reviews there and the share grew by at least MIN_RISE (a share point more on a
# handful of reviews is noise, not a signal worth an action).
MIN_SCORED: Final = 20
MIN_RISE: Final = 0.05
SCORE_HINT: Final = ("run 'portraits analyze sentiment'", "请运行 'portraits analyze sentiment'")


def build(ctx: MonthContext) -> SectionResult:
    """Review counts, ratings, negative share per category and pain points."""
    ws = ctx.ws
    title = ctx.t("Voice of the customer", "客户之声")
    if not ws.engine.has_table("reviews"):
        return Section("voice", title, notes=(ctx.t(
            "No reviews loaded: add a reviews source and run 'portraits load'.",
            "尚未导入评价：请添加评价数据源并运行 'portraits load'。"),)), {}
    scored = ws.engine.has_table(SENTIMENT)
    frame = month_reviews(ctx, scored)
    now, before = frame[frame["this_month"]], frame[frame["last_month"]]
    figures: dict[str, Any] = {**_totals(now, ""), **_totals(before, "previous_")}
    notes: list[str] = []
    if not scored:
        notes.append(ctx.t("Reviews have no sentiment scores yet: {hint}.",
                           "评价尚未做情感评分：{hint}。", hint=ctx.t(*SCORE_HINT)))
    elif figures["reviews"] > figures["scored"]:
        notes.append(ctx.t("{n:,} of the month's reviews have no sentiment score: {hint}.",
                           "本月有 {n:,} 条评价尚无情感评分：{hint}。",
                           n=figures["reviews"] - figures["scored"], hint=ctx.t(*SCORE_HINT)))
    kpis = (Kpi("reviews", ctx.t("Reviews", "评价数"), figures["reviews"],
                figures["previous_reviews"]),
            Kpi("mean_rating", ctx.t("Mean rating (1–5)", "平均评分（1–5）"),
                figures["mean_rating"], figures["previous_mean_rating"], "ratio"),
            Kpi("negative_share", ctx.t("Negative reviews", "负面评价占比"),
                figures["negative_share"], figures["previous_negative_share"], "percent"))
    if now.empty:
        notes.append(ctx.t("No reviews were written this month.", "本月没有新评价。"))
        return Section("voice", title, _summary(ctx, figures), kpis, notes=tuple(notes)), figures
    per = _per_category(now, before)
    pains = _pain_points(now) if scored else None
    if pains is not None and pains.empty:
        pains = _pain_points(frame)
        notes.append(ctx.t(
            "No word is named by {n} or more of this month's negative reviews; the pain "
            "points are those of the three months from {since:%Y-%m-%d}.",
            "本月负面评价中没有被 {n} 条以上提及的词；痛点取自 {since:%Y-%m-%d} 起的三个月。",
            n=PAIN_MIN_COUNT, since=quarter_start(ctx)))
    figures |= _category_figures(per, pains)
    charts: list[Chart] = []
    tables = [_category_table(ctx, per, pains)]
    if scored and figures["scored"]:
        charts.append(_negative_chart(ctx, per))
    if pains is not None:
        tables.append(_pain_table(ctx, pains))
    return Section("voice", title, _summary(ctx, figures), kpis, tuple(charts), tuple(tables),
                   notes=tuple(notes)), figures


def month_reviews(ctx: MonthContext, scored: bool) -> pd.DataFrame:
    """Reviews written this month and the two before: ``review_id``, ``rating``, ``text``,
    ``category`` (top-level), ``label`` (null when unscored), ``this_month``,
    ``last_month``."""
    ws = ctx.ws
    reviews = ws.table("reviews")
    reviews = reviews.filter(reviews.created_at >= quarter_start(ctx),
                             reviews.created_at < ctx.end)
    products = ws.table("products")
    top = (products.category if "category" in products.columns
           else products.category_path.split("/")[0])
    catalogue = products.select(_pid=products.product_id, category=top).distinct(on="_pid")
    rows = reviews.left_join(catalogue, reviews.product_id == catalogue._pid)
    rows = rows.select("review_id", "rating", "text", "category",
                       this_month=rows.created_at >= ctx.start,
                       last_month=(rows.created_at >= ctx.previous_start)
                       & (rows.created_at < ctx.start))
    if scored:
        scores = ws.table(SENTIMENT).select("review_id", "label").distinct(on="review_id")
        rows = rows.left_join(scores, "review_id").drop("review_id_right")
    else:
        rows = rows.mutate(label=ibis.null("string"))
    frame: pd.DataFrame = ws.engine.to_arrow(rows).to_pandas()
    frame["category"] = frame["category"].fillna("(none)")
    for flag in ("this_month", "last_month"):
        frame[flag] = frame[flag].astype(bool)
    return frame


def quarter_start(ctx: MonthContext) -> datetime:
    """The first moment of the month before last (pain points fall back to these three
    months when the month alone has too few negative reviews)."""
    return MonthContext(ctx.ws, ctx.previous_start.date(), ctx.lang).previous_start


def _totals(frame: pd.DataFrame, prefix: str) -> dict[str, Any]:
    scored = int(frame["label"].notna().sum())
    negative = int((frame["label"] == "negative").sum())
    rating = frame["rating"].mean()
    return {f"{prefix}reviews": len(frame), f"{prefix}scored": scored,
            f"{prefix}negative": negative,
            f"{prefix}mean_rating": None if frame["rating"].isna().all() else float(rating),
            f"{prefix}negative_share": negative / scored if scored else None}


def _per_category(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Per category: reviews, scored, mean_rating, negative_share and last month's."""
    def tally(frame: pd.DataFrame) -> pd.DataFrame:
        marked = frame.assign(negative=frame["label"] == "negative")
        return marked.groupby("category").agg(
            reviews=("review_id", "size"), scored=("label", "count"),
            negatives=("negative", "sum"), mean_rating=("rating", "mean"))

    table = tally(now).join(tally(before), rsuffix="_previous", how="left")
    table["negative_share"] = (table["negatives"] / table["scored"]).where(table["scored"] > 0)
    table["previous_share"] = (table["negatives_previous"] / table["scored_previous"]).where(
        table["scored_previous"] > 0)
    table = table.reset_index()
    return table.sort_values(["reviews", "category"], ascending=[False, True]).reset_index(
        drop=True)


def _pain_points(now: pd.DataFrame) -> pd.DataFrame:
    from pandas import Series

    reviews = now.assign(keywords=Series(keyword_sets(now["text"]), index=now.index,
                                         dtype=object))
    return rank_pain_points(reviews, ["category"], PAIN_POINTS, PAIN_MIN_COUNT)


def _category_figures(per: pd.DataFrame, pains: pd.DataFrame | None) -> dict[str, Any]:
    found: dict[str, Any] = {"worst_category": None, "worst_category_negative_share": None,
                             "top_pain_point": None, "negative_rise_category": None}
    rated = per[per["negative_share"].notna()].sort_values(
        ["negative_share", "scored", "category"], ascending=[False, False, True])
    if not rated.empty and rated.iloc[0]["negative_share"] > 0:
        found |= {"worst_category": str(rated.iloc[0]["category"]),
                  "worst_category_negative_share": float(rated.iloc[0]["negative_share"])}
    if pains is not None and not pains.empty:
        best = pains.sort_values(["z", "negative_reviews"], ascending=False).iloc[0]
        found["top_pain_point"] = f"{best['category']}: {best['keyword']}"
    rising = per[(per["scored"] >= MIN_SCORED) & (per["negatives"] > 0)
                 & per["previous_share"].notna()]
    rising = rising.assign(rise=rising["negative_share"] - rising["previous_share"])
    rising = rising[rising["rise"] >= MIN_RISE].sort_values(["rise", "category"],
                                                            ascending=[False, True])
    if not rising.empty:
        top = rising.iloc[0]
        found |= {"negative_rise_category": str(top["category"]),
                  "negative_rise_share": float(top["negative_share"]),
                  "negative_rise_previous_share": float(top["previous_share"]),
                  "negative_rise_reviews": int(top["scored"])}
    return found


def _number(value: Any, digits: int | None = None) -> float | None:
    """A float for a table cell; None for a missing value (null or NaN)."""
    if value is None or math.isnan(value):
        return None
    return float(value) if digits is None else round(float(value), digits)


def _category_table(ctx: MonthContext, per: pd.DataFrame, pains: pd.DataFrame | None) -> Table:
    worst = {} if pains is None or pains.empty else dict(
        zip(pains[pains["rank"] == 1]["category"], pains[pains["rank"] == 1]["keyword"],
            strict=True))
    rows = tuple((str(r["category"]), int(r["reviews"]), int(r["scored"]),
                  _number(r["mean_rating"], 2), _number(r["negative_share"]),
                  _number(r["previous_share"]), worst.get(r["category"]))
                 for r in per.to_dict("records"))
    return Table(ctx.t("Reviews by category this month", "本月各类目评价"),
                 (ctx.t("Category", "类目"), ctx.t("Reviews", "评价数"),
                  ctx.t("Scored", "已评分"), ctx.t("Mean rating", "平均评分"),
                  ctx.t("Negative share", "负面占比"),
                  ctx.t("Negative share last month", "上月负面占比"),
                  ctx.t("Top complaint", "主要问题")), rows, percent=(4, 5))


def _negative_chart(ctx: MonthContext, per: pd.DataFrame) -> Chart:
    shown = per[per["scored"] > 0].sort_values(["negative_share", "category"],
                                               ascending=[False, True])
    top = shown.iloc[0]
    takeaway = (ctx.t("{c} has the largest share of negative reviews: {s:.0%} of {n:,} scored.",
                      "{c} 负面评价占比最高：{n:,} 条已评分评价中占 {s:.0%}。",
                      c=top["category"], s=float(top["negative_share"]), n=int(top["scored"]))
                if top["negative_share"] > 0 else
                ctx.t("No review this month was negative.", "本月没有负面评价。"))

    def percent(values: Any) -> list[float | None]:
        return [None if (n := _number(v)) is None else round(n * 100, 1) for v in values]

    return bar_chart(ctx.t("Negative reviews by category", "各类目负面评价占比"), takeaway,
                     [str(c) for c in shown["category"]],
                     {ctx.t("This month", "本月"): percent(shown["negative_share"]),
                      ctx.t("Last month", "上月"): percent(shown["previous_share"])},
                     ctx.t("Category", "类目"),
                     ctx.t("Negative share of scored reviews (%)", "负面评价占已评分评价（%）"),
                     unit="%")


def _pain_table(ctx: MonthContext, pains: pd.DataFrame) -> Table:
    rows = tuple((str(r["category"]), int(r["rank"]), str(r["keyword"]),
                  int(r["negative_reviews"]), float(r["negative_share"]))
                 for r in pains.to_dict("records"))
    return Table(ctx.t("Pain points: words of negative reviews (named by at least {n})",
                       "痛点：负面评价中的高频词（至少 {n} 条提及）", n=PAIN_MIN_COUNT),
                 (ctx.t("Category", "类目"), ctx.t("Rank", "排名"), ctx.t("Keyword", "关键词"),
                  ctx.t("Negative reviews naming it", "提及的负面评价数"),
                  ctx.t("Negative share of its mentions", "提及中负面占比")), rows,
                 percent=(4,))


def _summary(ctx: MonthContext, figures: dict[str, Any]) -> str:
    if not figures["reviews"]:
        return ctx.t("No reviews this month.", "本月没有评价。")
    text = ctx.t("{n:,} reviews this month, rated {r:.2f} on average.",
                 "本月共 {n:,} 条评价，平均评分 {r:.2f}。", n=figures["reviews"],
                 r=figures["mean_rating"] or 0.0)
    if figures["negative_share"] is not None:
        text += ctx.t(" {s:.0%} of the scored ones were negative.", "已评分评价中负面占 {s:.0%}。",
                      s=figures["negative_share"])
    if figures.get("top_pain_point"):
        text += ctx.t(" Top pain point: {p}.", "主要痛点：{p}。", p=figures["top_pain_point"])
    return text
