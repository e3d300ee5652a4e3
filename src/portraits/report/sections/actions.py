"""Suggested actions (建议行动): explicit rules over the month's figures and the current
profiles, each giving an audience that is a segment one can count and export.

Every rule whose trigger holds becomes a segment of ``segments/suggested_actions.yaml``
(rewritten on each run, ids ``suggested_<rule>``); the segments are loaded back and
counted, and a rule is suggested only when its segment has members. The suggested
channel is the contact route that reaches most of the audience (WeChat, SMS, e-mail).
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from portraits.errors import PortraitsError
from portraits.predict.store import PREDICTIONS
from portraits.profile.schema import CUSTOMER_ID
from portraits.report.model import Action, Section

if TYPE_CHECKING:
    from collections.abc import Callable

    from portraits.report.context import Figures, MonthContext, SectionResult

SEGMENT_FILE: Final = Path("segments") / "suggested_actions.yaml"
PREFIX: Final = "suggested_"
HIGH_RISK: Final = 0.6
LIKELY: Final = 0.5  # purchase propensity of a "likely buyer"
CART_DAYS: Final = 7
RECENT_DAYS: Final = 90
IDLE_DAYS: Final = 30
# (profile flag, English, Chinese): contact routes in order of preference on a tie.
CHANNELS: Final = (("has_wechat", "WeChat", "微信"), ("has_phone", "SMS", "短信"),
                   ("has_email", "e-mail", "邮件"))

Words = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    """A triggered rule: its segment and the words of its action (formatted with
    ``values`` and the audience ``n``)."""

    key: str
    name: Words
    where: str
    title: Words
    reasoning: Words
    values: dict[str, Any]
    figures: tuple[tuple[Words, str], ...] = ()


def build(ctx: MonthContext, figures: Figures) -> SectionResult:
    """Write, count and describe the suggested actions."""
    title = ctx.t("Suggested actions", "建议行动")
    known = dict(figures)
    for section in ("preferences", "risk", "voice"):
        known |= _section_figures(ctx, figures, section)
    rules = [rule for make in RULES if (rule := make(ctx, known)) is not None]
    try:
        reach = _reach(ctx, rules)
        sizes = {key: int(counts["members"]) for key, counts in reach.items()}
        kept = [r for r in rules if sizes[r.key] > 0]
        _write(ctx, kept)
        ctx.ws.segments.catalog()  # the file as left loads
        actions = tuple(_action(ctx, rule, reach[rule.key]) for rule in kept)
    except PortraitsError as error:
        note = ctx.t("The suggested segments could not be counted: {e}",
                     "建议人群无法计数：{e}", e=error)
        return Section("actions", title, notes=(note,)), {}
    found: dict[str, Any] = {rule.key: sizes[rule.key] for rule in kept}
    found["segment_file"] = SEGMENT_FILE.as_posix()
    summary = (ctx.t("{n} suggestions, each with an exportable segment in {file}.",
                     "{n} 条建议，人群均已保存在 {file}，可导出。", n=len(actions),
                     file=found["segment_file"]) if actions else
               ctx.t("No rule's trigger holds with members this month.",
                     "本月没有触发且有成员的建议规则。"))
    notes = () if rules else (ctx.t(
        "No suggestion: run 'portraits predict score' and 'portraits analyze sentiment' "
        "for the rules that read predictions and reviews.",
        "暂无建议：请运行 'portraits predict score' 和 'portraits analyze sentiment'，"
        "以启用基于预测和评价的规则。"),)
    return Section("actions", title, summary, actions=actions, notes=notes), found


def _section_figures(ctx: MonthContext, figures: Figures, section: str) -> dict[str, Any]:
    """The figures of an earlier section, computed here when not given (the section
    built on its own)."""
    if any(key.startswith(f"{section}.") for key in figures):
        return {}
    module = importlib.import_module(f"portraits.report.sections.{section}")
    _, found = module.build(ctx)
    return {f"{section}.{key}": value for key, value in found.items()}


def _quoted(text: str) -> str:
    """A string literal of the condition language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _winback(ctx: MonthContext, figures: Figures) -> Rule | None:
    """High predicted CLV and churn risk: a come-back offer is worth its cost."""
    threshold = figures.get("risk.clv_top20_threshold")
    if threshold is None or not figures.get("risk.high_value_at_risk"):
        return None
    return Rule(
        "winback_high_clv", ("High-value customers at churn risk", "高价值流失风险客户"),
        f"churn_risk >= {HIGH_RISK} and clv >= {threshold}",
        ("Send a come-back coupon to {n:,} high-value customers at churn risk via {channel}",
         "通过{channel}向 {n:,} 名高价值流失风险客户发放回归优惠券"),
        ("They are in the top 20 % by predicted lifetime value (CLV ≥ ¥{t:,.0f}) with a "
         "churn risk of 60 % or more, holding ¥{clv:,.0f} of predicted value.",
         "他们的预测终身价值位于前 20%（≥ ¥{t:,.0f}），流失风险不低于 60%，"
         "合计预测价值 ¥{clv:,.0f}。"),
        {"t": threshold, "clv": figures.get("risk.high_value_at_risk_clv") or 0.0},
        ((("CLV threshold (top 20 %)", "终身价值门槛（前 20%）"), f"¥{threshold:,.2f}"),
         (("Their predicted CLV", "预测终身价值合计"),
          f"¥{figures.get('risk.high_value_at_risk_clv') or 0.0:,.0f}")))


def _cart(ctx: MonthContext, figures: Figures) -> Rule | None:
    """Recent cart abandoners: a reminder while the intent is fresh."""
    now = ctx.ws.settings.current_time()
    return Rule(
        "cart_reminder", ("Cart abandoners of the last 7 days", "近 7 天加购未下单"),
        f"events('Product Added', {CART_DAYS}) > 0 and orders({CART_DAYS}) == 0",
        ("Remind {n:,} recent cart abandoners of their cart via {channel}",
         "通过{channel}提醒 {n:,} 名近期加购未下单的客户"),
        ("{n:,} customers added products to the cart in the 7 days to {now:%Y-%m-%d} "
         "and placed no order.", "{n:,} 名客户在截至 {now:%Y-%m-%d} 的 7 天内加购但未下单。"),
        {"now": now})


def _category_push(ctx: MonthContext, figures: Figures) -> Rule | None:
    """Many likely buyers whose predicted next category is the same: push it."""
    ws = ctx.ws
    if not ws.engine.has_table(PREDICTIONS):
        return None
    wide = ws.predict.columns()
    likely = wide.filter(wide.purchase_propensity >= LIKELY, wide.next_category.notnull())
    top = ws.engine.to_arrow(likely.group_by("next_category").aggregate(n=likely.count())
                             .order_by([likely.count().desc(), "next_category"]).limit(1))
    if not top.num_rows:
        return None
    category = str(top.column("next_category")[0].as_py())
    growing = category == figures.get("preferences.top_grower_category")
    return Rule(
        "category_push", ("Likely buyers of the top predicted category", "下一品类推荐人群"),
        f"next_category == {_quoted(category)} and purchase_propensity >= {LIKELY}",
        ("Push {category} to {n:,} likely buyers who are predicted to buy it next",
         "向 {n:,} 名预测下一步购买{category}的高意向客户推送该品类"),
        ("{n:,} customers have a purchase propensity of 50 % or more and {category} as their "
         "most likely next category{growing}.",
         "{n:,} 名客户购买概率不低于 50%，且最可能购买的下一品类为{category}{growing}。"),
        {"category": category, "growing": ctx.t(" — the month's fastest-growing category",
                                                "（本月增长最快的类目）") if growing else ""},
        ((("Predicted next category", "预测下一品类"), category),))


def _quality_followup(ctx: MonthContext, figures: Figures) -> Rule | None:
    """A category whose share of negative reviews rose: ask its recent buyers."""
    category = figures.get("voice.negative_rise_category")
    if category is None:
        return None
    share, before = figures["voice.negative_rise_share"], figures[
        "voice.negative_rise_previous_share"]
    return Rule(
        "quality_followup", ("Recent buyers of a category with more complaints",
                             "差评上升类目的近期买家"),
        f"favourite_category == {_quoted(category)} and orders({RECENT_DAYS}) > 0",
        ("Follow up on quality with {n:,} recent buyers of {category}",
         "就商品质量回访 {n:,} 名{category}的近期买家"),
        ("Negative reviews of {category} rose to {share:.0%} of {reviews:,} scored reviews "
         "this month from {before:.0%} last month; the audience favours {category} and "
         "ordered in the last 90 days.",
         "{category}的负面评价占比从上月的 {before:.0%} 升至本月的 {share:.0%}"
         "（{reviews:,} 条已评分）；人群为偏好{category}且近 90 天下过单的客户。"),
        {"category": category, "share": share, "before": before,
         "reviews": figures["voice.negative_rise_reviews"]},
        ((("Negative share this month", "本月负面占比"), f"{share:.0%}"),
         (("Negative share last month", "上月负面占比"), f"{before:.0%}")))


def _second_purchase(ctx: MonthContext, figures: Figures) -> Rule | None:
    """Customers whose first and only order was in the month: a second-purchase offer."""
    today = ctx.ws.settings.current_time().date()
    newest = max((today - ctx.end.date()).days + 1, 0)
    oldest = (today - ctx.start.date()).days
    if oldest < 0:
        return None
    return Rule(
        "second_purchase", ("One-time buyers of the month", "本月首单且仅一单的客户"),
        f"orders == 1 and days_since(first_order_at) >= {newest} "
        f"and days_since(first_order_at) <= {oldest}",
        ("Offer {n:,} first-time buyers of {month} an incentive for a second purchase via "
         "{channel}", "通过{channel}向 {n:,} 名{month}首次下单的客户发放复购激励"),
        ("{n:,} customers placed their first order in {month} and have not ordered again.",
         "{n:,} 名客户在{month}首次下单，之后尚未复购。"),
        {"month": ctx.t("{m:%B %Y}", "{m:%Y年%m月}", m=ctx.month)})


def _idle_likely(ctx: MonthContext, figures: Figures) -> Rule | None:
    """Likely buyers who have not ordered lately: personalised recommendations."""
    if not ctx.ws.engine.has_table(PREDICTIONS):
        return None
    return Rule(
        "likely_buyers_idle", ("Likely buyers without a recent order", "高意向但近期未下单"),
        f"purchase_propensity >= {LIKELY} and orders({IDLE_DAYS}) == 0",
        ("Send personalised recommendations to {n:,} likely buyers who have not ordered in "
         "30 days via {channel}",
         "通过{channel}向 {n:,} 名近 30 天未下单的高意向客户推送个性化推荐"),
        ("{n:,} customers have a predicted purchase propensity of 50 % or more but no order "
         "in the last 30 days.", "{n:,} 名客户预测购买概率不低于 50%，但近 30 天没有下单。"),
        {})


RULES: Final[tuple[Callable[[MonthContext, Figures], Rule | None], ...]] = (
    _winback, _cart, _category_push, _quality_followup, _second_purchase, _idle_likely)


def _write(ctx: MonthContext, rules: list[Rule]) -> Path:
    """``segments/suggested_actions.yaml`` with a segment per rule (replaced)."""
    from ruamel.yaml import YAML

    items = [{"id": PREFIX + r.key, "name": {"en": r.name[0], "zh-CN": r.name[1]},
              "description": f"Suggested by the monthly report of {ctx.month:%Y-%m}.",
              "where": r.where} for r in rules]
    out = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    out.write("# Written by the monthly insight report (suggested actions); replaced on "
              "each run.\n")
    yaml.dump({"segments": items}, out)
    path = ctx.ws.root / SEGMENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _reach(ctx: MonthContext, rules: list[Rule]) -> dict[str, dict[str, int]]:
    """Each rule's members now and how many of them each contact route reaches (its
    segment written and loaded first; one query a segment)."""
    _write(ctx, rules)
    ws = ctx.ws
    catalog = ws.segments.catalog()
    profiles = ws.profiles.table()
    found = {}
    for rule in rules:
        members = ws.segments.members(catalog[PREFIX + rule.key])
        joined = members.left_join(profiles, CUSTOMER_ID)
        counts = ws.engine.to_arrow(joined.aggregate(
            members=joined.count(),
            **{flag: joined[flag].fill_null(False).cast("int64").sum()
               for flag, _, _ in CHANNELS})).to_pylist()[0]
        found[rule.key] = {key: int(value or 0) for key, value in counts.items()}
    return found


def _channel(ctx: MonthContext, counts: dict[str, int]) -> tuple[str, int, int] | None:
    """The contact route reaching most members: (name, members reached, members)."""
    best = max(CHANNELS, key=lambda c: counts[c[0]])
    reached = counts[best[0]]
    if not reached:
        return None
    return ctx.t(best[1], best[2]), reached, counts["members"]


def _action(ctx: MonthContext, rule: Rule, counts: dict[str, int]) -> Action:
    segment_id = PREFIX + rule.key
    audience = counts["members"]
    found = _channel(ctx, counts)
    channel = found[0] if found else ctx.t("the usual channels", "常规渠道")
    values = {**rule.values, "n": audience, "channel": channel}
    figures = [(ctx.t("Audience", "人群规模"), f"{audience:,}"),
               *((ctx.t(*label), value) for label, value in rule.figures)]
    if found:
        figures.append((ctx.t("Reachable via {c}", "可通过{c}触达", c=found[0]),
                        f"{found[1]:,} / {found[2]:,}"))
    return Action(rule.key, ctx.t(*rule.title, **values), audience,
                  ctx.t(*rule.reasoning, **values), tuple(figures), segment_id,
                  found[0] if found else None)

