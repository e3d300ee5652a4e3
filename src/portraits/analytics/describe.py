"""Describe a segment: how its profile fields and tags differ from the whole base.

For every field the segment is compared with the base (everyone, the segment included):

* **Categories** (text fields, label tags, true/false fields and tags): the share of each
  value among the people whose value is known, in the segment and in the base, and the
  **index** = segment share / base share ("Tier-1 city ×1.8"). True/false fields report
  the share of true only.
* **Lists** (``interests``, ``top_search_keywords``, ``top_categories``: comma separated):
  the share of people whose list holds each item.
* **Numbers**: count of known values, mean, median (SQL ``QUANTILE_CONT(x, 0.5)``: the mean
  of the two middle values for an even count) and, for the base, the sample standard
  deviation (``STDDEV_SAMP``); the index is the ratio of the means.
* **Missing values** are left out of shares and means; each field with missing values gets
  a row ``(missing)``: the share of people whose value is missing, over everyone.

Features are ranked by an **effect size**, so different kinds compare: Cohen's *h* =
2·asin(√p_segment) − 2·asin(√p_base) for shares and Cohen's *d* = (mean_segment −
mean_base) / sd_base for numbers; both read 0.2 small, 0.5 medium, 0.8 large. Text fields
with more than 50 distinct values (ids, cities, brands) and timestamps are skipped.

The queries are pure Ibis (four aggregates, whatever the number of fields); the caller's
``to_arrow`` executes them, so the same code runs on DuckDB and Spark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from portraits.analytics.chart import Chart
from portraits.analytics.result import Analysis
from portraits.errors import PortraitsError, did_you_mean
from portraits.i18n import Lang
from portraits.profile.schema import CUSTOMER_ID, PROFILE_FIELDS

FieldKind = Literal["number", "category", "list"]
GROUP: Final = "_group"
MISSING: Final = "(missing)"
MAX_VALUES: Final = 50
LIST_FIELDS: Final = frozenset({"interests", "top_search_keywords", "top_categories"})
NOT_DESCRIBED: Final = frozenset({CUSTOMER_ID, "as_of"})
MIN_KNOWN: Final = 0.1
COLUMNS: Final = ("field", "value", "measure", "segment", "base", "index", "effect",
                  "direction", "segment_count", "segment_known", "base_count", "base_known",
                  "segment_median", "base_median")
# Short English names where the schema's name is a description.
_EN: Final = {"age": "Age", "customer_records": "Customer records merged",
              "has_phone": "Has a phone", "has_email": "Has an e-mail", "has_wechat": "Has WeChat",
              "active_days": "Active days", "night_share": "Night visit share",
              "weekend_share": "Weekend visit share", "top_interest": "Top interest",
              "top_interest_affinity": "Top interest affinity", "interests": "Interests",
              "favourite_category": "Favourite category", "favourite_brand": "Favourite brand",
              "discount_share": "Discount share", "coupon_use_rate": "Coupon use rate",
              "referred": "Came through a referral", "price_index": "Price index"}
# Values that read better as words than as stored codes.
_VALUES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "city_tier": {"1": ("Tier-1 city", "一线城市"), "new1": ("New tier-1 city", "新一线城市"),
                  "2": ("Tier-2 city", "二线城市"), "3": ("Tier-3 city", "三线城市"),
                  "4": ("Tier-4 city", "四线城市"), "5": ("Tier-5 city", "五线城市")},
    "gender": {"female": ("Women", "女性"), "male": ("Men", "男性"),
               "unknown": ("Gender unknown", "性别未知")},
    "marital_status": {"single": ("Single", "未婚"), "married": ("Married", "已婚"),
                       "divorced": ("Divorced", "离异"), "widowed": ("Widowed", "丧偶")},
}
_WORDS: Final = {
    "vs": ("vs", "对"), "mean": ("mean", "均值"), "missing": ("missing", "缺失"),
    "title": ("What sets {name} apart", "{name} 的人群特征"),
    "axis": ("Effect size (Cohen's h or d; 0.2 small, 0.8 large)",
             "差异程度（效应量 Cohen's h 或 d；0.2 小，0.8 大）"),
    "takeaway": ("{size:,} customers ({share:.1%} of {base:,}); most distinctive: {top}.",
                 "{size:,} 人（占全体 {base:,} 人的 {share:.1%}）；最突出：{top}。"),
    "empty": ("The segment has no customers in the base.", "该人群在全体客户中没有成员。"),
    "flat": ("{size:,} customers ({share:.1%} of {base:,}); no field sets them apart.",
             "{size:,} 人（占全体 {base:,} 人的 {share:.1%}）；没有明显区别于全体的特征。"),
}


def word(key: str, lang: Lang) -> str:
    """A word or sentence of this module in ``lang``."""
    en, zh = _WORDS[key]
    return zh if lang == "zh-CN" else en


@cache
def standard_names() -> dict[str, tuple[str, str]]:
    """(English, Chinese) names of profile fields, RFM fields and the standard tags."""
    from portraits.profile.rfm import RFM_FIELDS
    from portraits.tags.catalog import load_tags
    from portraits.tags.compute import field_values, tag_fields

    names = {f.name: (_EN.get(f.name) or re.split(r"[:(]| - |, ", f.en)[0].strip(), f.zh)
             for f in PROFILE_FIELDS}
    names.update({k: (en.split(" (")[0], zh) for k, (_, en, zh) in RFM_FIELDS.items()})
    for tag in load_tags(tag_fields(), values=field_values()):
        names[tag.id] = (tag.spec.name.en, tag.spec.name.zh)
    return names


def description_fields(schema: ibis.Schema) -> dict[str, FieldKind]:
    """Fields described by default: numbers, text, true/false; not ids or timestamps."""
    kinds: dict[str, FieldKind] = {}
    for name, dtype in schema.items():
        if name in NOT_DESCRIBED or name.startswith("_"):
            continue
        if dtype.is_numeric() and not dtype.is_boolean():
            kinds[name] = "number"
        elif dtype.is_string():
            kinds[name] = "list" if name in LIST_FIELDS else "category"
        elif dtype.is_boolean():
            kinds[name] = "category"
    return kinds


@dataclass(frozen=True)
class DescriptionQueries:
    """The aggregates of a description; a null ``_group`` is the base.

    ``totals``: rows and known values per group (a column per category and list field);
    ``values``: people per group, field and value; ``skipped``: fields with more than
    ``max_values`` values; ``numbers``: known, mean, median, std per group and number;
    ``booleans``: true/false fields (they report the share of true only).
    """

    fields: Mapping[str, FieldKind]
    totals: ir.Table
    values: ir.Table | None
    skipped: ir.Table | None
    numbers: ir.Table | None
    booleans: frozenset[str] = frozenset()


def describe_segment(members: ir.Table, base: ir.Table,
                     fields: Mapping[str, str] | None = None,
                     max_values: int = MAX_VALUES) -> DescriptionQueries:
    """The queries comparing ``members`` (a table of ``customer_id``) with ``base``."""
    groups = members.select(CUSTOMER_ID).mutate(**{GROUP: ibis.literal("segment")})
    return describe_groups(groups, base, fields, max_values)


def describe_groups(groups: ir.Table, base: ir.Table,
                    fields: Mapping[str, str] | None = None,
                    max_values: int = MAX_VALUES) -> DescriptionQueries:
    """The queries comparing each group of ``groups`` (``customer_id``, ``_group``: text)
    with ``base`` (one row per customer: profiles joined with tags)."""
    kinds = _checked(fields, base)
    inside = base.join(groups.select(CUSTOMER_ID, GROUP).distinct(), CUSTOMER_ID)
    everyone = base.mutate(**{GROUP: ibis.null("string")})
    known = [f for f, k in kinds.items() if k != "number"]

    def totals(t: ir.Table) -> ir.Table:  # an empty list is no list
        return t.group_by(GROUP).aggregate(_rows=t.count(), **{
            f: (t[f].nullif("") if kinds[f] == "list" else t[f]).count() for f in known})

    numbers = [f for f, k in kinds.items() if k == "number"]
    values = skipped = summary = None
    if known:
        long_in, long_all = _long_values(inside, kinds), _long_values(everyone, kinds)
        levels = long_all.group_by("field").aggregate(levels=long_all.value.nunique())
        skipped = levels.filter(levels.levels > max_values)
        counted = ibis.union(*(t.group_by(GROUP, "field", "value").aggregate(people=t.count())
                               for t in (long_in, long_all)))
        values = counted.anti_join(skipped, "field")
    if numbers:
        summary = ibis.union(_number_stats(inside, numbers), _number_stats(everyone, numbers))
    flags = frozenset(n for n, t in base.schema().items() if t.is_boolean())
    return DescriptionQueries(kinds, ibis.union(totals(inside), totals(everyone)), values,
                              skipped, summary, flags)


def _checked(fields: Mapping[str, str] | None, base: ir.Table) -> dict[str, FieldKind]:
    found = description_fields(base.schema())
    if fields is None:
        return found
    kinds: dict[str, FieldKind] = {}
    for name, kind in fields.items():
        if name not in base.columns:
            raise PortraitsError(f"cannot describe '{name}': not a column of the base "
                                 f"({did_you_mean(name, base.columns) or 'no close name'})")
        if kind not in ("number", "category", "list"):
            raise PortraitsError(f"'{name}': describe a field as number, category or list, "
                                 f"not '{kind}'")
        kinds[name] = kind  # type: ignore[assignment]
    return kinds


def _long_values(t: ir.Table, kinds: Mapping[str, FieldKind]) -> ir.Table:
    """(customer_id, _group, field, value) for each known category value and list item."""
    parts = []
    categories = [f for f, k in kinds.items() if k == "category"]
    if categories:
        texts = t.select(CUSTOMER_ID, GROUP, **{f: t[f].cast("string") for f in categories})
        parts.append(texts.pivot_longer(categories, names_to="field", values_to="value"))
    for name in (f for f, k in kinds.items() if k == "list"):
        items = t.select(CUSTOMER_ID, GROUP, field=ibis.literal(name),
                         value=t[name].split(",").unnest())  # Spark: unnest on its own
        items = items.mutate(value=items.value.strip())
        parts.append(items.distinct())  # an item twice in one list counts the person once
    long = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return long.filter(long.value.notnull(), long.value != "")


def _number_stats(t: ir.Table, numbers: list[str]) -> ir.Table:
    floats = t.select(GROUP, **{f: t[f].cast("float64") for f in numbers})
    long = floats.pivot_longer(numbers, names_to="field", values_to="value")
    v = long.value
    return long.group_by(GROUP, "field").aggregate(known=v.count(), mean=v.mean(),
                                                   median=v.median(), std=v.std())


def feature_rows(queries: DescriptionQueries, to_arrow: Callable[[ir.Table], pa.Table]
                 ) -> tuple[dict[str | None, int], dict[str, pd.DataFrame], list[str]]:
    """Run the queries: (rows per group, ranked features per group, skipped fields);
    the base is the group ``None``."""
    def rows(query: ir.Table | None) -> list[dict[str, Any]]:
        return to_arrow(query).to_pylist() if query is not None else []

    totals = {r[GROUP]: r for r in rows(queries.totals)}
    counts = {(r[GROUP], r["field"], r["value"]): int(r["people"])
              for r in rows(queries.values)}
    stats = {(r[GROUP], r["field"]): r for r in rows(queries.numbers)}
    skipped = sorted(r["field"] for r in rows(queries.skipped))
    base = totals.get(None, {"_rows": 0})
    ranked = {str(g): ranked_features(_group_rows(queries.fields, str(g), t, base, counts,
                                                  stats, queries.booleans, skipped))
              for g, t in totals.items() if g is not None}
    return {g: int(t["_rows"]) for g, t in totals.items()}, ranked, skipped


def _group_rows(kinds: Mapping[str, FieldKind], group: str, seg: Mapping[str, Any],
                base: Mapping[str, Any], counts: Mapping[tuple[Any, ...], int],
                stats: Mapping[tuple[Any, ...], Mapping[str, Any]], booleans: frozenset[str],
                skipped: list[str]) -> list[dict[str, Any]]:
    """One group's shares, means and missing shares against the base."""
    out = [_share_row(name, value, "share", counts.get((group, name, value), 0), seg[name],
                      people, base[name])
           for (g, name, value), people in counts.items()
           if g is None and (name not in booleans or value == "true")]
    nothing = {"known": 0, "mean": None, "median": None}
    for name, kind in kinds.items():
        if name in skipped or (kind == "number" and (None, name) not in stats):
            continue
        if kind == "number":
            s, b = stats.get((group, name), nothing), stats[(None, name)]
            out.append(_mean_row(name, s, b))
            known = (int(s["known"]), int(b["known"]))
        else:
            known = (int(seg[name]), int(base[name]))
        if base["_rows"] > known[1]:
            out.append(_share_row(name, MISSING, "missing", seg["_rows"] - known[0],
                                  seg["_rows"], base["_rows"] - known[1], base["_rows"]))
    return out


def _h(p: float, q: float) -> float:
    """Cohen's h between two proportions."""
    return 2 * math.asin(math.sqrt(p)) - 2 * math.asin(math.sqrt(q))


def _share_row(name: str, value: str, measure: str, seg_n: int, seg_of: int, base_n: int,
               base_of: int) -> dict[str, Any]:
    p = seg_n / seg_of if seg_of else None
    q = base_n / base_of if base_of else 0.0
    return {"field": name, "value": value, "measure": measure, "segment": p, "base": q,
            "index": p / q if p is not None and q else None,
            "effect": _h(p, q) if p is not None else 0.0, "segment_count": seg_n,
            "segment_known": seg_of, "base_count": base_n, "base_known": base_of,
            "segment_median": None, "base_median": None}


def _mean_row(name: str, s: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    mean, base, sd = s["mean"], b["mean"], b["std"]
    known = mean is not None and base is not None
    return {"field": name, "value": None, "measure": "mean", "segment": mean, "base": base,
            "index": mean / base if known and base else None,
            "effect": (mean - base) / sd if known and sd else 0.0,
            "segment_count": s["known"], "segment_known": s["known"],
            "base_count": b["known"], "base_known": b["known"],
            "segment_median": s["median"], "base_median": b["median"]}


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def ranked_features(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Feature rows as a table, the largest effect first (no rows: an empty table)."""
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "direction"])
    frame = frame.astype(dict.fromkeys(("segment", "base", "index", "effect",
                                        "segment_median", "base_median"), "float64"))
    frame = frame.astype({c: "int64" for c in COLUMNS if c.endswith(("_count", "_known"))})
    frame["direction"] = ["over" if e > 0 else "under" if e < 0 else "same"
                          for e in frame["effect"]]
    frame["_size"] = frame["effect"].abs().round(9)  # equal effects tie, whatever the rounding
    frame = frame.sort_values(["_size", "field", "value"], ascending=[False, True, True],
                              na_position="first", kind="stable")
    return frame.drop(columns="_size").reset_index(drop=True)[list(COLUMNS)]


@dataclass(frozen=True)
class SegmentDescription(Analysis):
    """A segment against the whole base: one row per field value or number, ranked by
    effect size (see the module's docstring for every definition)."""

    name: str
    size: int
    base_size: int
    features: pd.DataFrame
    top: int = 20
    skipped: tuple[str, ...] = ()
    names: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)
    name_zh: str = ""

    def to_pandas(self) -> pd.DataFrame:
        """Every feature, most distinguishing first: field, value (empty for a number;
        ``(missing)``), measure (share, mean, missing), segment and base share or mean,
        index, effect (Cohen's h or d), direction, counts and medians."""
        return self.features.copy()

    def top_features(self, n: int | None = None, over_only: bool = False,
                     fields: Collection[str] | None = None,
                     min_effect: float = 0.0) -> pd.DataFrame:
        """The ``n`` (default ``top``) most distinguishing shares and means, without the
        missing-value rows and fields known for under 10% of the segment (too few people
        to say); ``over_only`` keeps over-indexed values and every number; ``fields``
        keeps only these fields; ``min_effect`` drops smaller effects (0.2 is small)."""
        f = self.features
        rows = f[(f["measure"] != "missing") & (f["effect"] != 0)
                 & (f["effect"].abs() >= min_effect)
                 & (f["segment_known"] >= MIN_KNOWN * self.size)]
        if over_only:
            rows = rows[(rows["measure"] == "mean") | (rows["effect"] > 0)]
        if fields is not None:
            rows = rows[rows["field"].isin(list(fields))]
        return rows.head(self.top if n is None else n).reset_index(drop=True)

    def label(self, name: str, value: str | None, lang: Lang = "en") -> str:
        """What a person reads for a field (and value): 'Tier-1 city', '订单数'."""
        en, zh = self.names.get(name) or standard_names().get(name) or (name, name)
        title = zh if lang == "zh-CN" else en
        if value is None or value == "true":
            return title
        if value == MISSING:
            return f"{title}{'：' if lang == 'zh-CN' else ': '}{word('missing', lang)}"
        words = _VALUES.get(name, {}).get(value)
        if words:
            return words[1] if lang == "zh-CN" else words[0]
        return f"{title}{'：' if lang == 'zh-CN' else ': '}{value}"

    def phrase(self, row: Mapping[Any, Any], lang: Lang = "en", detail: bool = True) -> str:
        """One feature (a row of :meth:`to_pandas`) in plain words: 'Tier-1 city ×1.8 (42%
        vs 23%)'; without ``detail``: 'Tier-1 city ×1.8'."""
        label = self.label(str(row["field"]), _text(row["value"]), lang)
        index = _float(row["index"])
        head = label if index is None else f"{label} ×{_times(index)}"
        seg, base = _float(row["segment"]), _float(row["base"])
        if row["measure"] == "mean":
            shown = f"{word('mean', lang)} {_number(seg)} {word('vs', lang)} {_number(base)}"
        else:
            shown = f"{_percent(seg)} {word('vs', lang)} {_percent(base)}"
        if index is None:
            return f"{head} {shown} ({float(row['effect']):+.1f} SD)"
        if not detail:
            return head
        return f"{head}（{shown}）" if lang == "zh-CN" else f"{head} ({shown})"

    def sentences(self, lang: Lang = "en", n: int | None = None) -> list[str]:
        """The most distinguishing features, one phrase each."""
        return [self.phrase(r, lang) for r in self.top_features(n).to_dict("records")]

    def takeaway(self, lang: Lang = "en") -> str:
        """One sentence computed from the figures."""
        if not self.size:
            return word("empty", lang)
        share = self.size / self.base_size if self.base_size else 0.0
        first = self.top_features(1)
        if first.empty:
            return word("flat", lang).format(size=self.size, share=share, base=self.base_size)
        return word("takeaway", lang).format(size=self.size, share=share, base=self.base_size,
                                             top=self.phrase(first.iloc[0].to_dict(), lang))

    def chart(self, lang: Lang = "en") -> Chart:
        """Diverging bars of the effect size of the top features (at most 15), each
        labelled with its index: over-indexed to the right, under-indexed to the left."""
        rows = self.top_features(min(self.top, 15)).to_dict("records")
        labels = [self.phrase(r, lang, detail=False) for r in rows]
        data = [{"value": round(float(r["effect"]), 3), "itemStyle": {
            "color": "#5470c6" if r["effect"] > 0 else "#ee6666"}} for r in rows]
        return Chart({
            "title": {"text": word("title", lang).format(
                name=self.name_zh or self.name if lang == "zh-CN" else self.name),
                      "subtext": self.takeaway(lang)},
            "tooltip": {"trigger": "axis"}, "grid": {"containLabel": True},
            "xAxis": {"type": "value", "name": word("axis", lang)},
            "yAxis": {"type": "category", "data": labels, "inverse": True},
            "series": [{"type": "bar", "data": data}]})


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(
        value) >= 10 else f"{value:.2f}"


def _times(index: float) -> str:
    return "0" if index == 0 else f"{index:.1f}" if index >= 0.1 else f"{index:.2f}"


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def analyze_description(members: ir.Table, base: ir.Table,
                        to_arrow: Callable[[ir.Table], pa.Table], name: str = "segment",
                        top: int = 20, fields: Mapping[str, str] | None = None,
                        names: Mapping[str, tuple[str, str]] | None = None
                        ) -> SegmentDescription:
    """Describe a segment against the base.

    Args:
        members: The segment: a table of ``customer_id`` (people not in the base are
            ignored).
        base: One row per customer: profiles joined with tags.
        to_arrow: Executes an expression (the engine's ``to_arrow``).
        name: The segment's name, for the chart's title.
        top: Features in :meth:`SegmentDescription.sentences` and the chart.
        fields: Field → ``number``, ``category`` or ``list``; every describable field of
            the base when omitted.
        names: (English, Chinese) names of fields beyond the profile, RFM and standard tag
            fields (the workspace's own tags).

    Example:
        >>> result = analyze_description(ws.segments.members("vip"), base,
        ...                              ws.engine.to_arrow)                # doctest: +SKIP
        >>> result.sentences("zh-CN")[:1]                                   # doctest: +SKIP
        ['一线城市 ×1.8（42% 对 23%）']
    """
    sizes, ranked, skipped = feature_rows(describe_segment(members, base, fields), to_arrow)
    return SegmentDescription(name, sizes.get("segment", 0), sizes.get(None, 0),
                              ranked.get("segment", ranked_features([])), top,
                              tuple(skipped), dict(names or {}))
