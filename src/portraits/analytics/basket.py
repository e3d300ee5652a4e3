"""Basket rules: which items are bought together (association rules on paid orders).

The textbook definitions (Agrawal, Imieliński & Swami 1993), as in mlxtend, R's arules and
Spark MLlib: a **basket** is a paid order's distinct items; N is the number of baskets;
**support**(X) = count(X) / N, X frequent when count ≥ ⌈min_support × N⌉ (exactly);
for a rule A → C, **confidence** = count(A ∪ C) / count(A), **lift** = confidence /
support(C), **leverage** = support(A ∪ C) − support(A) · support(C), **conviction** =
(1 − support(C)) / (1 − confidence). docs/analytics/basket.md has every detail (statuses,
levels, thresholds).

Two miners find the same itemsets with the same counts (``BasketSpec.method``):

- ``matrix`` (the default on one machine): one query fetches the paid order lines as
  (basket number, item); they become a sparse basket × item matrix that is counted level
  by level in NumPy (:mod:`portraits.analytics.itemsets`), and the rules are computed from
  the itemsets' counts in NumPy;
- ``relational`` (the default on Spark, where the lines should stay distributed): mining is
  level-wise (Apriori) in Ibis expressions. Items are counted by a group-by; the frequent
  ones get small integer codes; pairs come from a self-join of each basket's frequent items
  (a < b), triples from joining the occurrences of frequent pairs that share their first
  item, and so on up to ``max_len``; the rules are a query on the itemsets.

Substitutes (viewed together, rarely bought together) are in
:mod:`portraits.analytics.substitutes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations
from numbers import Real
from typing import TYPE_CHECKING, Final, Literal, get_args

import ibis
import ibis.expr.types as ir

from portraits.analytics.result import Analysis
from portraits.errors import PortraitsError, Problem, SpecError, did_you_mean
from portraits.i18n import Lang

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from portraits.analytics.chart import Chart
    from portraits.analytics.itemsets import Mined

Level = Literal["product", "category", "category_path"]
Within = Literal["category", "category_path", "any"]
Method = Literal["auto", "matrix", "relational"]
LEVELS: Final = get_args(Level)
WITHIN: Final = get_args(Within)
METHODS: Final = get_args(Method)
EXCLUDED_STATUSES: Final = ("cancelled", "canceled", "refunded", "returned")
LONGEST: Final = 5  # rules per itemset grow as 2^k; longer itemsets are rarely read
MAX_DIGITS: Final = 9  # min_support × N stays exact in 64-bit integers up to 10^9 baskets

LABELS: Final[dict[str, tuple[str, str]]] = {
    "title": ("Bought together: top {top} rules by lift", "关联购买：提升度最高的 {top} 条规则"),
    "lift_axis": ("Lift (×)", "提升度（倍）"),
    "rule_axis": ("Rule (bought → also bought)", "规则（购买 → 同时购买）"),
    "lift": ("Lift", "提升度"),
    "rule": ("{a} → {c} ({confidence:.0%})", "{a} → {c}（{confidence:.0%}）"),
    "takeaway": ("Customers who buy {a} also buy {c} in {confidence:.0%} of those baskets "
                 "(lift {lift:.1f}, {count:,} of {baskets:,} baskets).",
                 "购买{a}的订单中有 {confidence:.0%} 同时购买了{c}"
                 "（提升度 {lift:.1f}，{baskets:,} 单中的 {count:,} 单）。"),
    "none": ("No rule reaches the thresholds in {baskets:,} baskets (support ≥ {support:g}, "
             "confidence ≥ {confidence:.0%}, lift ≥ {lift:g}).",
             "{baskets:,} 单中没有达到阈值的规则（支持度 ≥ {support:g}，"
             "置信度 ≥ {confidence:.0%}，提升度 ≥ {lift:g}）。"),
    "and": (" + ", " + "),
}


def label(key: str, lang: Lang = "en", **values: object) -> str:
    """A chart text of :data:`LABELS` in English or zh-CN."""
    words = LABELS[key][1 if lang == "zh-CN" else 0]
    return words.format(**values) if values else words


@dataclass(frozen=True)
class BasketSpec:
    """What counts as a basket and which itemsets and rules are kept.

    Attributes:
        level: ``product``, ``category`` or ``category_path``.
        min_support: An itemset is frequent from this share of baskets on (0 < s ≤ 1,
            at most nine decimal places).
        min_count: And from this many baskets on (optional).
        min_confidence: Rules from this confidence on (0–1).
        min_lift: Rules from this lift on (0 keeps every rule).
        max_len: Largest itemset (1–5); rules need at least 2.
        top: Rules in the chart (the first rows of ``to_pandas()``).
        excluded_statuses: Order statuses that are not sales (lower case).
        min_co_views: Substitutes: sessions that viewed both products, at least.
        substitutes_within: Substitutes: both products in the same ``category``, the same
            ``category_path``, or ``any``.
        method: How itemsets are mined: ``matrix`` (the lines fetched once, counted in
            memory), ``relational`` (on the engine), or ``auto`` (``relational`` on Spark,
            ``matrix`` elsewhere). Both give the same result.

    Example:
        >>> BasketSpec(min_support=0.01, max_len=2).level
        'product'
    """

    level: Level = "product"
    min_support: float = 0.001
    min_count: int | None = None
    min_confidence: float = 0.0
    min_lift: float = 0.0
    max_len: int = 3
    top: int = 10
    excluded_statuses: tuple[str, ...] = EXCLUDED_STATUSES
    min_co_views: int = 3
    substitutes_within: Within = "category"
    method: Method = "auto"

    def __post_init__(self) -> None:
        problems = [*_choice("level", self.level, LEVELS),
                    *_choice("substitutes_within", self.substitutes_within, WITHIN),
                    *_choice("method", self.method, METHODS)]
        checks = (
            ("min_support", self.min_support, 0.0, 1.0, False, "a share of baskets above 0 "
             "and at most 1 (0.001 is one basket in a thousand)"),
            ("min_confidence", self.min_confidence, 0.0, 1.0, True, "a share from 0 to 1"),
            ("min_lift", self.min_lift, 0.0, None, True, "a number from 0 up"),
            ("min_count", self.min_count, 1, None, True, "a whole number of baskets from 1"),
            ("max_len", self.max_len, 1, LONGEST, True, f"a whole number from 1 to {LONGEST}"),
            ("top", self.top, 1, None, True, "a whole number of rules from 1"),
            ("min_co_views", self.min_co_views, 1, None, True, "a whole number from 1"))
        for name, value, low, high, closed, expected in checks:
            if value is None and name == "min_count":
                continue
            whole = isinstance(low, int) and not isinstance(low, float)
            ok = (isinstance(value, int if whole else Real) and not isinstance(value, bool)
                  and math.isfinite(value) and (value >= low if closed else value > low)
                  and (high is None or value <= high))
            if not ok:
                problems.append(Problem(f"must be {expected}, not {value!r}", field=name))
            elif name == "min_support" and -int(Decimal(str(value)).as_tuple().exponent
                                                 ) > MAX_DIGITS:
                problems.append(Problem(f"has more than {MAX_DIGITS} decimal places: "
                                        f"{value!r}", field=name))
        if not isinstance(self.excluded_statuses, tuple | list) or not all(
                isinstance(s, str) for s in self.excluded_statuses):
            problems.append(Problem("must be a list of order statuses",
                                    field="excluded_statuses"))
        if problems:
            raise SpecError(problems)
        object.__setattr__(self, "excluded_statuses",
                           tuple(s.strip().lower() for s in self.excluded_statuses))


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> list[Problem]:
    if value in allowed:
        return []
    hint = did_you_mean(str(value), allowed) or f"use one of {', '.join(allowed)}"
    return [Problem(f"unknown value {value!r}", field=name, hint=hint)]


def paid_orders(orders: ir.Table, spec: BasketSpec) -> ir.Table:
    """``order_id`` of the orders that are sales (status not excluded, or unknown)."""
    if "status" not in orders.columns:
        return orders.select("order_id")
    status = orders.status.strip().lower()
    return orders.filter(status.isnull() | ~status.isin(spec.excluded_statuses)).select(
        "order_id")


def basket_lines(order_items: ir.Table, products: ir.Table, spec: BasketSpec) -> ir.Table:
    """``order_id``, ``item``: the order lines with an item at ``spec.level`` (lines with a
    zero or negative quantity left out), of every order."""
    lines = order_items.filter(order_items.product_id.notnull())
    if "quantity" in order_items.columns:
        lines = lines.filter(lines.quantity.isnull() | (lines.quantity > 0))
    if spec.level == "product":
        return lines.select("order_id", item=lines.product_id)
    require_columns(products, (spec.level,), "products")
    catalogue = products.select("product_id", item=products[spec.level])
    return lines.join(catalogue.filter(catalogue.item.notnull()), "product_id").select(
        "order_id", "item")


def baskets(order_items: ir.Table, orders: ir.Table, products: ir.Table,
            spec: BasketSpec) -> ir.Table:
    """One row per paid order with an item: ``order_id`` and ``items``, its distinct
    items at ``spec.level`` (lines with a zero or negative quantity left out)."""
    lines = basket_lines(order_items, products, spec)
    # Grouping the lines by order first is far cheaper than a distinct over the
    # (order, item) pairs, and leaves fewer rows to match against the paid orders.
    grouped = lines.group_by("order_id").aggregate(items=lines.item.collect(distinct=True))
    return grouped.semi_join(paid_orders(orders, spec), "order_id")


def basket_items(order_items: ir.Table, orders: ir.Table, products: ir.Table,
                 spec: BasketSpec) -> ir.Table:
    """One row per line of a paid order with an item (an item on two lines of an order
    gives two rows): ``basket``, a number per paid order (int32, from 0), and ``item``.

    The orders are numbered on the engine, so that the miner receives integers rather than
    order ids to group (the numbering needs no order: any one will do)."""
    paid = paid_orders(orders, spec).distinct()
    paid = paid.mutate(basket=ibis.row_number().cast("int32"))
    lines = basket_lines(order_items, products, spec)
    return lines.join(paid, "order_id").select("basket", "item")


def item_names(products: ir.Table, level: Level) -> ir.Table:
    """``item``, ``name``: a product's name (the smallest if ids repeat); a category names
    itself."""
    if level == "product":
        named = products.filter(products.product_id.notnull())
        if "name" not in named.columns:
            named = named.mutate(name=ibis.null("string"))
        return named.group_by(item=named.product_id).aggregate(name=named.name.min())
    return products.select(item=products[level]).distinct().mutate(name=ibis._.item)


def frequent_itemsets(baskets: ir.Table, spec: BasketSpec,
                      names: ir.Table | None = None) -> ir.Table:
    """Frequent itemsets of 1 to ``spec.max_len`` items.

    Args:
        baskets: ``order_id``, ``items`` (distinct), one row per basket (:func:`baskets`).
        spec: Thresholds and the longest itemset.
        names: ``item``, ``name`` (:func:`item_names`); names are the items when omitted.

    Returns:
        ``size``, ``item_1`` … ``item_k`` (ascending, null past ``size``), ``name_1`` …
        ``name_k``, ``count``, ``baskets`` (N) and ``support``.
    """
    total = baskets.aggregate(baskets=ibis._.count())
    listed = baskets.view()  # so that the baskets are computed once, for N and the items
    held = listed.select("order_id", item=listed["items"].unnest())
    counts = held.group_by("item").aggregate(count=ibis._.count()).cross_join(total)
    singles = counts.filter(_frequent(counts, spec))
    codes = singles.mutate(code=ibis.row_number().over(order_by=singles.item))
    held_view, coded = held.view(), codes.view()
    occurrences = held_view.join(coded, held_view.item == coded.item).select(
        "order_id", i1=coded.code)
    levels = [codes.select(i1="code", count="count")]
    # N again, from the small table of frequent items: one more pass over the baskets
    # per level otherwise (no item frequent, no itemset and no N needed).
    total = codes.aggregate(baskets=codes.baskets.max())
    for k in range(2, spec.max_len + 1):
        found = _extend(occurrences, k)
        # A filter Ibis cannot fold into the join: the candidates become one common table
        # expression, counted and then filtered, instead of being joined twice.
        found = found.filter(found.order_id.notnull())
        items = [f"i{j}" for j in range(1, k + 1)]
        tally = found.group_by(items).aggregate(count=ibis._.count()).cross_join(total)
        levels.append(tally.filter(_frequent(tally, spec)).select(*items, "count"))
        if k < spec.max_len:
            occurrences = found.semi_join(levels[-1], items)
    width = spec.max_len
    coded = ibis.union(*(level.select(
        size=ibis.literal(k, "int64"),
        **{f"i{j}": level[f"i{j}"] if j <= k else ibis.null("int64") for j in range(1, width + 1)},
        count=level["count"].cast("int64")) for k, level in enumerate(levels, 1)),
        distinct=False)
    lookup = codes.select("code", "item")
    lookup = (lookup.left_join(names, "item").select("code", "item", "name")
              if names is not None else lookup.mutate(name=lookup.item))
    out, decoded = coded, dict[str, ir.Value]()
    for j in range(1, width + 1):  # codes back to items, with their names
        code = lookup.view()
        out = out.left_join(code, out[f"i{j}"] == code.code)
        decoded |= {f"item_{j}": code.item, f"name_{j}": code.name}
    out = out.select("size", **{c: decoded[c] for c in sorted(decoded, key=_position)},
                     count=coded["count"]).cross_join(total)
    return out.mutate(support=out["count"].cast("float64") / out.baskets)


def _position(column: str) -> tuple[str, int]:
    """item_1, item_2, …, then name_1, name_2, …"""
    kind, j = column.rsplit("_", 1)
    return kind, int(j)


def _frequent(counts: ir.Table, spec: BasketSpec) -> ir.BooleanValue:
    """count ≥ min_support × N, exactly: count × d ≥ N × m for min_support = m / d."""
    m, d = Decimal(str(spec.min_support)).as_integer_ratio()
    count = counts["count"]
    kept = count * d >= counts.baskets * m
    return kept & (count >= spec.min_count) if spec.min_count else kept


def min_basket_count(baskets: int, spec: BasketSpec) -> int:
    """The smallest frequent count: ⌈min_support × N⌉, exactly (as :func:`_frequent`), and
    at least ``min_count`` and 1."""
    m, d = Decimal(str(spec.min_support)).as_integer_ratio()
    return max(-(-baskets * m // d), spec.min_count or 1, 1)


def _extend(occurrences: ir.Table, k: int) -> ir.Table:
    """Occurrences of k-item candidates: two (k-1)-itemsets in one basket that share
    their first k-2 items (every frequent k-itemset is found this way)."""
    left, right = occurrences.view(), occurrences.view()
    last = f"i{k - 1}"
    same = [left.order_id == right.order_id,
            *(left[f"i{j}"] == right[f"i{j}"] for j in range(1, k - 1)),
            left[last] < right[last]]
    return left.join(right, same).select(
        left.order_id, *(left[f"i{j}"] for j in range(1, k)), **{f"i{k}": right[last]})


def association_rules(itemsets: ir.Table, spec: BasketSpec) -> ir.Table:
    """Rules A → C from every split of each frequent itemset of two or more items.

    Args:
        itemsets: Frequent itemsets as from :func:`frequent_itemsets` (all sizes, so the
            counts of A and of C are there: subsets of a frequent itemset are frequent).
        spec: ``min_confidence``, ``min_lift`` and ``max_len``.

    Returns:
        ``antecedent_1`` … and ``consequent_1`` … (items, null past the side's size),
        ``antecedent_size``, ``consequent_size``, ``count``,
        ``antecedent_count``, ``consequent_count``, ``baskets``, ``support``,
        ``confidence``, ``lift``, ``leverage`` and ``conviction`` (null when infinite).
    """
    if spec.max_len < 2:
        raise PortraitsError("association rules need max_len of 2 or more")
    width = spec.max_len - 1
    splits = ibis.union(*(_split(itemsets, k, antecedent, width)
                          for k in range(2, spec.max_len + 1) for r in range(1, k)
                          for antecedent in combinations(range(1, k + 1), r)), distinct=False)
    # The counts of A and of C, looked up among the itemsets (null past a side's size).
    sides = itemsets.filter(itemsets["size"] <= width)
    a, c = sides.view(), sides.view()
    rules = splits.join(a, [splits.antecedent_size == a["size"], *(
        splits[f"antecedent_{j}"].identical_to(a[f"item_{j}"]) for j in range(1, width + 1))]
    ).join(c, [splits.consequent_size == c["size"], *(
        splits[f"consequent_{j}"].identical_to(c[f"item_{j}"]) for j in range(1, width + 1))]
    ).select(*splits.columns, antecedent_count=a["count"], consequent_count=c["count"])
    n = rules.baskets.cast("float64")
    together, a_n, c_n = (rules[col].cast("float64") for col in
                          ("count", "antecedent_count", "consequent_count"))
    rules = rules.mutate(
        support=together / n, confidence=together / a_n, lift=together * n / (a_n * c_n),
        leverage=(together * n - a_n * c_n) / (n * n),
        conviction=ibis.ifelse(a_n == together, ibis.null("float64"),
                               (n - c_n) * a_n / (n * (a_n - together))))
    return rules.filter((rules.confidence >= spec.min_confidence)
                        & (rules.lift >= spec.min_lift))


def _split(itemsets: ir.Table, size: int, antecedent: tuple[int, ...], width: int) -> ir.Table:
    """The rules of one itemset size and one choice of antecedent positions."""
    consequent = tuple(p for p in range(1, size + 1) if p not in antecedent)
    whole = itemsets.filter(itemsets["size"] == size)
    kind = whole["item_1"].type()  # items need not be strings
    columns: dict[str, ir.Value] = {}
    for side, positions in (("antecedent", antecedent), ("consequent", consequent)):
        for j in range(1, width + 1):
            columns[f"{side}_{j}"] = (whole[f"item_{positions[j - 1]}"]
                                      if j <= len(positions) else ibis.null(kind))
    return whole.select(**columns, antecedent_size=ibis.literal(len(antecedent), "int64"),
                        consequent_size=ibis.literal(len(consequent), "int64"),
                        count=whole["count"], baskets=whole.baskets)


@dataclass(frozen=True, eq=False)
class BasketRules(Analysis):
    """Frequent itemsets, association rules and (with events) substitutes.

    ``rules`` is sorted by lift, then confidence, then count; the chart shows its first
    ``spec.top`` rows.
    """

    spec: BasketSpec
    baskets: int
    rules: pd.DataFrame
    frequent: pd.DataFrame
    substitute_pairs: pd.DataFrame | None = None

    def to_pandas(self) -> pd.DataFrame:
        """One row per rule: ``antecedent``, ``consequent`` (tuples of item ids), their
        ``*_names``, ``support``, ``confidence``, ``lift``, ``leverage``, ``conviction``,
        ``count``, ``antecedent_count``, ``consequent_count`` and ``baskets``."""
        return self.rules.copy()

    def itemsets(self) -> pd.DataFrame:
        """One row per frequent itemset: ``itemset``, ``names``, ``size``, ``count``,
        ``support``."""
        return self.frequent.copy()

    def substitutes(self) -> pd.DataFrame:
        """Product pairs viewed together but rarely bought together, best first (see
        :mod:`portraits.analytics.substitutes`)."""
        if self.substitute_pairs is None:
            raise PortraitsError("substitutes need the event log: pass events to "
                                 "analyze_basket")
        return self.substitute_pairs.copy()

    def chart(self, lang: Lang = "en") -> Chart:
        """A horizontal bar per rule: lift, with the confidence in the rule's label."""
        from portraits.analytics.chart import Chart

        top = self.rules.head(self.spec.top)
        names = [label("rule", lang, a=a, c=c, confidence=float(p)) for a, c, p in zip(
            top["antecedent_names"], top["consequent_names"], top["confidence"], strict=True)]
        repeated = {n for n in names if names.count(n) > 1}
        names = [f"{n} [{' + '.join(a)} → {' + '.join(c)}]" if n in repeated else n
                 for n, a, c in zip(names, top["antecedent"], top["consequent"], strict=True)]
        data = [{"value": round(float(lift), 4), "confidence": round(float(p), 4),
                 "support": round(float(s), 6), "count": int(n)} for lift, p, s, n in zip(
            top["lift"], top["confidence"], top["support"], top["count"], strict=True)]
        return Chart({
            "title": {"text": label("title", lang, top=len(top)),
                      "subtext": self.takeaway(lang)},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"containLabel": True},
            "xAxis": {"type": "value", "name": label("lift_axis", lang)},
            "yAxis": {"type": "category", "data": names, "inverse": True,
                      "name": label("rule_axis", lang)},
            "series": [{"type": "bar", "name": label("lift", lang), "data": data,
                        "label": {"show": True, "position": "right"}}]})

    def takeaway(self, lang: Lang = "en") -> str:
        """The rule with the highest lift, in one sentence."""
        if self.rules.empty:
            return label("none", lang, baskets=self.baskets, support=self.spec.min_support,
                         confidence=self.spec.min_confidence, lift=self.spec.min_lift)
        best = self.rules.iloc[0]
        return label("takeaway", lang, a=best.antecedent_names, c=best.consequent_names,
                     confidence=float(best.confidence), lift=float(best.lift),
                     count=int(best["count"]), baskets=self.baskets)


def analyze_basket(order_items: ir.Table, orders: ir.Table, products: ir.Table,
                   spec: BasketSpec, to_arrow: Callable[[ir.Table], pa.Table],
                   events: ir.Table | None = None, *,
                   engine_kind: str | None = None) -> BasketRules:
    """Mine bought-together rules from paid orders (and substitutes from views).

    Args:
        order_items: Order lines (``order_id``, ``product_id``, ``quantity``).
        orders: Orders (``order_id``, ``status``; ``customer_id`` and ``ordered_at`` for
            substitutes).
        products: The catalogue (``product_id``, ``name``, ``category``,
            ``category_path``).
        spec: Level and thresholds.
        to_arrow: Executes an expression (the engine's ``to_arrow``).
        events: Events with ``customer_id`` (``Product Viewed``) for substitutes.
        engine_kind: The engine's name (``duckdb``, ``spark``): with ``method="auto"``,
            Spark mines on the engine, anything else (or ``None``) in memory.

    Returns:
        The frequent itemsets and rules (and substitutes when events are given).
    """
    require_columns(order_items, ("order_id", "product_id"), "order_items")
    require_columns(orders, ("order_id",), "orders")
    require_columns(products, ("product_id",), "products")
    mined, n, found = mine_itemsets(order_items, orders, products, spec, to_arrow,
                                    mining_method(spec, engine_kind))
    rules = None
    if spec.max_len >= 2 and mined.num_rows:
        if found is not None:
            from portraits.analytics.itemsets import rules_of

            rules = rules_of(found, spec)
        else:
            rules = to_arrow(association_rules(ibis.memtable(mined), spec))
    pairs = None
    if events is not None:
        from portraits.analytics.substitutes import substitute_pairs

        pairs = to_arrow(substitute_pairs(events, order_items, orders, products, spec)
                         ).to_pandas()
    itemsets = _itemsets_frame(mined, spec.max_len)
    return BasketRules(spec, n, _rules_frame(rules, itemsets, spec.max_len), itemsets, pairs)


def mine_itemsets(order_items: ir.Table, orders: ir.Table, products: ir.Table,
                  spec: BasketSpec, to_arrow: Callable[[ir.Table], pa.Table],
                  method: Literal["matrix", "relational"] = "matrix", named: bool = True
                  ) -> tuple[pa.Table, int, Mined | None]:
    """The frequent itemsets (as from :func:`frequent_itemsets`) and N, by either miner;
    the matrix miner's result also gives the rules
    (:func:`portraits.analytics.itemsets.rules_of`).

    With ``named``, the product level reads the products' names (the matrix miner in a
    query of its own); otherwise every item names itself. Apart from that, each miner runs
    one query: the matrix miner's fetches the paid lines as basket numbers and items, the
    relational miner's mines on the engine (and a second one counts N when no item is
    frequent).
    """
    names = item_names(products, spec.level) if named and spec.level == "product" else None
    if method == "matrix":
        from portraits.analytics.itemsets import mine

        lines = to_arrow(basket_items(order_items, orders, products, spec))
        found = mine(lines, to_arrow(names) if names is not None else None, spec)
        return found.table, found.baskets, found
    kept = baskets(order_items, orders, products, spec)
    mined = to_arrow(frequent_itemsets(kept, spec, names))
    if mined.num_rows:
        return mined, int(mined.column("baskets")[0].as_py()), None
    return mined, int(to_arrow(kept.aggregate(baskets=kept.count())).column(0)[0].as_py()), None


def mining_method(spec: BasketSpec, engine_kind: str | None) -> Literal["matrix",
                                                                         "relational"]:
    """The miner to use: the spec's, or for ``auto`` the relational one on Spark (the lines
    stay distributed) and the matrix one elsewhere (faster on one machine)."""
    if spec.method != "auto":
        return spec.method
    return "relational" if engine_kind == "spark" else "matrix"


def require_columns(table: ir.Table, columns: tuple[str, ...], name: str,
                    purpose: str = "basket analysis needs") -> None:
    """Refuse a table without the columns an analysis reads, naming them."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PortraitsError(f"{name} has no column {', '.join(map(repr, missing))}: "
                             f"{purpose} {', '.join(columns)}")


def _itemsets_frame(mined: pa.Table, longest: int) -> pd.DataFrame:
    import pandas as pd

    frame = mined.to_pandas(integer_object_nulls=True)  # integer items stay whole
    items = frame[[f"item_{j}" for j in range(1, longest + 1)]].to_numpy(dtype=object)
    names = frame[[f"name_{j}" for j in range(1, longest + 1)]].to_numpy(dtype=object)
    sets = [tuple(i for i in row if i is not None) for row in items]
    out = pd.DataFrame({
        "itemset": pd.Series(sets, dtype=object),
        "names": [label("and").join(str(n if n is not None else i) for i, n in zip(
            row, named, strict=True) if i is not None) for row, named in zip(
            items, names, strict=True)],
        "size": frame["size"].astype("int64"), "count": frame["count"].astype("int64"),
        "support": frame["support"].astype("float64")})
    out = out.sort_values(["size", "count", "itemset"], ascending=[True, False, True])
    return out.reset_index(drop=True)


RULE_COLUMNS: Final = ("antecedent", "consequent", "antecedent_names", "consequent_names",
                       "support", "confidence", "lift", "leverage", "conviction", "count",
                       "antecedent_count", "consequent_count", "baskets")


def _rules_frame(rules: pa.Table | None, itemsets: pd.DataFrame,
                 longest: int) -> pd.DataFrame:
    """The rules with tuples of items and their names (from the single-item itemsets)."""
    import numpy as np
    import pandas as pd

    if rules is None or not rules.num_rows:
        return pd.DataFrame({c: pd.Series(dtype=object if i < 4 else "float64")
                             for i, c in enumerate(RULE_COLUMNS)})
    frame = rules.to_pandas(integer_object_nulls=True)
    singles = itemsets[itemsets["size"] == 1]
    name = dict(zip((s[0] for s in singles["itemset"]), singles["names"], strict=True))
    out = pd.DataFrame(index=frame.index)
    for side in ("antecedent", "consequent"):
        items = frame[[f"{side}_{j}" for j in range(1, longest)]].to_numpy(dtype=object)
        sets = [tuple(i for i in row if i is not None) for row in items]
        out[side] = pd.Series(sets, dtype=object, index=frame.index)
        out[f"{side}_names"] = [label("and").join(name[i] for i in s) for s in sets]
    out = out[list(RULE_COLUMNS[:4])]
    for column in RULE_COLUMNS[4:]:
        out[column] = frame[column]
    out["conviction"] = out["conviction"].astype("float64").fillna(np.inf)
    out = out.sort_values(["lift", "confidence", "count", "antecedent", "consequent"],
                          ascending=[False, False, False, True, True], kind="stable")
    return out.reset_index(drop=True)
