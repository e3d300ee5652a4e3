"""Basket rules and substitutes: hand counts, mlxtend's fpgrowth on random baskets, the
planted bought-together pairs of the synthetic shop, and Spark parity; each for both
miners (matrix and relational), which must agree to the last bit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from portraits.analytics import itemsets
from portraits.analytics.basket import (
    BasketRules,
    BasketSpec,
    analyze_basket,
    baskets,
    mining_method,
)
from portraits.errors import PortraitsError, SpecError
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.analytics.conftest import Shop
from tests.conftest import NOW

# Paid baskets: O1 {A,B,C}, O2 {A,B}, O3 {A,C} (status ' PAID '), O4 {B} (C with
# quantity 0), O5 {A,B} (A on two lines), O8 {C} (no status). Left out: O6 cancelled,
# O7 refunded, O9 not in orders. N = 6; A 4, B 4, C 3, AB 3, AC 2, BC 1, ABC 1.
LINES = [("O1", "A"), ("O1", "B"), ("O1", "C"), ("O2", "A"), ("O2", "B"), ("O3", "A"),
         ("O3", "C"), ("O4", "B"), ("O4", "C", 0), ("O5", "A"), ("O5", "A"), ("O5", "B"),
         ("O6", "A"), ("O6", "B"), ("O6", "C"), ("O7", "B"), ("O7", "C"), ("O8", "C"),
         ("O9", "A"), ("O9", "B")]
STATUS = {"O1": "paid", "O2": "paid", "O3": " PAID ", "O4": "paid", "O5": "paid",
          "O6": "cancelled", "O7": "Refunded", "O8": None}
NAMES = {"A": "手机", "B": "手机壳", "C": "耳机"}
CATEGORY = {"A": "数码", "B": "配件", "C": "配件"}


def _tables(lines: list[tuple[Any, ...]], status: dict[str, str | None]) -> dict[str, Any]:
    items = pd.DataFrame({"order_id": [r[0] for r in lines],
                          "line_no": list(range(1, len(lines) + 1)),
                          "product_id": [r[1] for r in lines],
                          "quantity": [r[2] if len(r) > 2 else 1 for r in lines]})
    orders = pd.DataFrame({"order_id": list(status), "status": list(status.values())})
    products = pd.DataFrame({"product_id": list(NAMES), "name": list(NAMES.values()),
                             "category": [CATEGORY[p] for p in NAMES]})
    return {"order_items": ibis.memtable(items), "orders": ibis.memtable(orders),
            "products": ibis.memtable(products)}


METHODS = ("matrix", "relational")


@pytest.fixture(params=METHODS)
def method(request: pytest.FixtureRequest) -> str:
    """Each miner in turn."""
    return str(request.param)


def _run(con: BaseBackend, spec: BasketSpec, method: str = "auto", **tables: Any
         ) -> BasketRules:
    given = _tables(LINES, STATUS) | tables
    return analyze_basket(given["order_items"], given["orders"], given["products"],
                          replace(spec, method=method), con.to_pyarrow,
                          events=given.get("events"))


def _same_results(left: BasketRules, right: BasketRules) -> None:
    """The two results are identical: N, every itemset and rule, every float bit."""
    assert left.baskets == right.baskets
    for part in ("itemsets", "to_pandas"):
        pd.testing.assert_frame_equal(getattr(left, part)(), getattr(right, part)(),
                                      check_exact=True, obj=part)


def _rule(result: BasketRules, antecedent: tuple[str, ...],
          consequent: tuple[str, ...]) -> pd.Series:
    rules = result.to_pandas()
    found = rules[(rules.antecedent == antecedent) & (rules.consequent == consequent)]
    assert len(found) == 1, (antecedent, consequent)
    return found.iloc[0]


def test_support_confidence_lift_equal_hand_counts(con: BaseBackend, method: str) -> None:
    result = _run(con, BasketSpec(min_support=0.3), method)
    assert result.baskets == 6
    itemsets = {s: (int(c), float(v)) for s, c, v in result.itemsets()[
        ["itemset", "count", "support"]].itertuples(index=False)}
    # count ≥ ⌈0.3 × 6⌉ = 2: BC (1) and ABC (1) are not frequent.
    assert itemsets == {("A",): (4, 4 / 6), ("B",): (4, 4 / 6), ("C",): (3, 3 / 6),
                        ("A", "B"): (3, 3 / 6), ("A", "C"): (2, 2 / 6)}
    rules = result.to_pandas()
    assert len(rules) == 4
    a_b = _rule(result, ("A",), ("B",))
    assert a_b.support == 3 / 6
    assert a_b.confidence == 3 / 4
    assert a_b.lift == 3 * 6 / (4 * 4)  # confidence / support(B) = 0.75 / (4/6) = 1.125
    assert a_b.leverage == pytest.approx(3 / 6 - (4 / 6) * (4 / 6), rel=1e-15)
    assert a_b.conviction == pytest.approx((1 - 4 / 6) / (1 - 3 / 4), rel=1e-15)
    assert (a_b["count"], a_b.antecedent_count, a_b.consequent_count) == (3, 4, 4)
    assert (a_b.antecedent_names, a_b.consequent_names) == ("手机", "手机壳")
    c_a = _rule(result, ("C",), ("A",))
    assert (c_a.confidence, c_a.lift) == (2 / 3, 2 * 6 / (3 * 4))
    assert list(rules.lift) == sorted(rules.lift, reverse=True)


def test_thresholds_are_kept_exactly(con: BaseBackend, method: str) -> None:
    at_half = _run(con, BasketSpec(min_support=0.5), method)  # count ≥ 3: C (3/6) is in, AC is not
    assert set(at_half.itemsets().itemset) == {("A",), ("B",), ("C",), ("A", "B")}
    confident = _run(con, BasketSpec(min_support=0.3, min_confidence=0.7), method).to_pandas()
    assert {(r.antecedent, r.consequent) for r in confident.itertuples()} == {
        (("A",), ("B",)), (("B",), ("A",))}
    lifted = _run(con, BasketSpec(min_support=0.3, min_lift=1.1), method).to_pandas()
    assert len(lifted) == 2
    assert (lifted.lift >= 1.1).all()
    counted = _run(con, BasketSpec(min_support=0.1, min_count=4), method)
    assert set(counted.itemsets().itemset) == {("A",), ("B",)}
    assert counted.to_pandas().empty
    triples = _run(con, BasketSpec(min_support=0.1), method)  # count ≥ 1: ABC and its 6 rules
    assert ("A", "B", "C") in set(triples.itemsets().itemset)
    a_bc = _rule(triples, ("A",), ("B", "C"))
    assert (a_bc["count"], a_bc.confidence, a_bc.consequent_names) == (1, 1 / 4, "手机壳 + 耳机")
    assert _rule(triples, ("B", "C"), ("A",)).confidence == 1.0
    assert _rule(triples, ("B", "C"), ("A",)).conviction == float("inf")
    pairs_only = _run(con, BasketSpec(min_support=0.1, max_len=2), method)
    assert pairs_only.itemsets()["size"].max() == 2


def test_category_level_counts_a_category_once_per_basket(con: BaseBackend, method: str) -> None:
    result = _run(con, BasketSpec(level="category", min_support=0.1), method)
    # 配件 (B or C) is in O1, O2, O3, O4, O5, O8; 数码 (A) in O1, O2, O3, O5.
    assert {s: int(c) for s, c in result.itemsets()[["itemset", "count"]].itertuples(
        index=False)} == {("数码",): 4, ("配件",): 6, ("数码", "配件"): 4}
    assert _rule(result, ("数码",), ("配件",)).confidence == 1.0


def test_orders_without_a_status_all_count(con: BaseBackend, method: str) -> None:
    bare = ibis.memtable(pd.DataFrame({"order_id": list(STATUS)}))
    result = _run(con, BasketSpec(min_support=0.5), method, orders=bare)
    assert result.baskets == 8  # O1–O8; O9 has no order


def test_baskets_hold_each_item_once(con: BaseBackend) -> None:
    tables = _tables(LINES, STATUS)
    held = con.to_pyarrow(baskets(tables["order_items"], tables["orders"],
                                  tables["products"], BasketSpec())).to_pandas()
    assert {o: sorted(i) for o, i in zip(held.order_id, held["items"], strict=True)} == {
        "O1": ["A", "B", "C"], "O2": ["A", "B"], "O3": ["A", "C"], "O4": ["B"],
        "O5": ["A", "B"], "O8": ["C"]}


def test_nothing_frequent_still_counts_baskets(con: BaseBackend, method: str) -> None:
    result = _run(con, BasketSpec(min_support=0.9), method)
    assert result.baskets == 6
    assert result.itemsets().empty
    assert result.to_pandas().empty
    assert result.chart().option["title"]["subtext"].startswith("No rule reaches")


@pytest.mark.parametrize(("field", "value", "says"), [
    ("min_support", 0, "above 0"), ("min_support", 1.5, "at most 1"),
    ("min_support", 0.1234567891, "decimal places"), ("min_support", True, "above 0"),
    ("min_confidence", 2, "0 to 1"), ("min_lift", float("nan"), "from 0"),
    ("min_lift", -1, "from 0"), ("max_len", 6, "1 to 5"), ("max_len", 2.5, "whole"),
    ("top", 0, "from 1"), ("min_count", 0, "from 1"), ("min_co_views", True, "whole"),
    ("level", "produkt", "did you mean 'product'"),
    ("substitutes_within", "brand", "use one of category"),
    ("method", "matrx", "did you mean 'matrix'"), ("method", "fpgrowth", "use one of auto"),
])
def test_bad_specs_are_refused_with_the_field(field: str, value: Any, says: str) -> None:
    with pytest.raises(SpecError, match=says) as caught:
        BasketSpec(**{field: value})
    assert caught.value.problems[0].field == field


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as caught:
        BasketSpec(min_support=0, level="sku", max_len=0)  # type: ignore[arg-type]
    assert {p.field for p in caught.value.problems} == {"min_support", "level", "max_len"}
    assert isinstance(caught.value, PortraitsError)


def test_auto_mines_on_the_engine_only_on_spark() -> None:
    assert mining_method(BasketSpec(), "spark") == "relational"
    assert mining_method(BasketSpec(), "duckdb") == "matrix"
    assert mining_method(BasketSpec(), None) == "matrix"
    assert mining_method(BasketSpec(method="matrix"), "spark") == "matrix"
    assert mining_method(BasketSpec(method="relational"), "duckdb") == "relational"


@pytest.mark.parametrize("spec", [
    BasketSpec(min_support=0.1), BasketSpec(min_support=0.3), BasketSpec(min_support=0.5),
    BasketSpec(min_support=0.1, max_len=1), BasketSpec(min_support=0.1, max_len=5),
    BasketSpec(min_support=0.1, min_count=4), BasketSpec(min_support=0.1, min_count=5),
    BasketSpec(min_support=0.1, min_confidence=0.5, min_lift=1.0),
    BasketSpec(level="category", min_support=0.1), BasketSpec(min_support=0.9),
], ids=repr)
def test_the_two_miners_agree_on_hand_counts(con: BaseBackend, spec: BasketSpec) -> None:
    # min_count=5: A is on 5 paid lines (twice in O5) but in 4 baskets, so not frequent.
    _same_results(_run(con, spec, "matrix"), _run(con, spec, "relational"))


def test_an_order_listed_twice_is_one_basket(con: BaseBackend, method: str) -> None:
    twice = pd.DataFrame({"order_id": [*STATUS, "O1", "O2"],
                          "status": [*STATUS.values(), "paid", "cancelled"]})
    result = _run(con, BasketSpec(min_support=0.3), method, orders=ibis.memtable(twice))
    assert result.baskets == 6
    assert result.itemsets()["count"].iloc[0] == 4


def test_no_paid_order_gives_no_basket(con: BaseBackend, method: str) -> None:
    cancelled = ibis.memtable(pd.DataFrame({"order_id": list(STATUS), "status": "cancelled"}))
    result = _run(con, BasketSpec(), method, orders=cancelled)
    assert result.baskets == 0
    assert result.itemsets().empty
    assert result.to_pandas().empty


def test_missing_columns_are_named(con: BaseBackend) -> None:
    no_category = ibis.memtable(pd.DataFrame({"product_id": ["A"]}))
    with pytest.raises(PortraitsError, match="products has no column 'category'"):
        _run(con, BasketSpec(level="category"), products=no_category)
    with pytest.raises(PortraitsError, match="substitutes need"):
        _run(con, BasketSpec(), events=ibis.memtable(pd.DataFrame({"event": ["x"]})))
    with pytest.raises(PortraitsError, match="pass events"):
        _run(con, BasketSpec()).substitutes()


def _random_baskets(count: int, items: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = 1 + rng.poisson(2.5, count)
    order = np.repeat(np.arange(count), size)
    weight = 1 / np.arange(1, items + 1) ** 0.8
    product = rng.choice(items, size=len(order), p=weight / weight.sum())
    partner = (product < 5) & (rng.random(len(order)) < 0.5)  # planted: 0→10, 1→11, …
    order = np.concatenate([order, order[partner]])
    product = np.concatenate([product, product[partner] + 10])
    return pd.DataFrame({"order_id": [f"O{o:05d}" for o in order],
                         "product_id": [f"P{p:03d}" for p in product], "quantity": 1})


def test_the_same_itemsets_and_rules_as_mlxtend(con: BaseBackend, method: str) -> None:
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    lines = _random_baskets(4000, 80, seed=5)
    orders = pd.DataFrame({"order_id": lines.order_id.unique(), "status": "paid"})
    products = pd.DataFrame({"product_id": lines.product_id.unique()})
    result = analyze_basket(ibis.memtable(lines), ibis.memtable(orders),
                            ibis.memtable(products),
                            BasketSpec(min_support=0.004, method=method),  # type: ignore[arg-type]
                            con.to_pyarrow)
    onehot = pd.crosstab(lines.order_id, lines.product_id).astype(bool)
    theirs = fpgrowth(onehot, min_support=0.004, use_colnames=True, max_len=3)
    assert result.baskets == len(onehot) == 4000
    ours = dict(zip(map(frozenset, result.itemsets().itemset), result.itemsets().support,
                    strict=True))
    assert len(ours) > 300
    assert ours == dict(zip(theirs.itemsets, theirs.support, strict=True))
    their_rules = association_rules(theirs, num_itemsets=len(onehot), metric="confidence",
                                    min_threshold=0.0)
    expected = {(a, c): (s, f, lift) for a, c, s, f, lift in their_rules[
        ["antecedents", "consequents", "support", "confidence", "lift"]].itertuples(
        index=False)}
    rules = result.to_pandas()
    got = {(frozenset(a), frozenset(c)): (s, f, lift) for a, c, s, f, lift in rules[
        ["antecedent", "consequent", "support", "confidence", "lift"]].itertuples(
        index=False)}
    assert got.keys() == expected.keys()
    for key, values in got.items():
        assert values == pytest.approx(expected[key], rel=1e-12), key
    pairs = rules[rules.consequent.map(len) == 1]
    assert pairs[pairs.antecedent == ("P000",)].iloc[0].consequent == ("P010",)  # planted


def _random_parity(con: BaseBackend, lines: pd.DataFrame, spec: BasketSpec) -> int:
    """Both miners on these lines; returns the number of itemsets (identical results)."""
    orders = pd.DataFrame({"order_id": lines.order_id.unique(), "status": "paid"})
    products = pd.DataFrame({"product_id": lines.product_id.unique()})
    products["name"] = products.product_id.astype(str) + " 号"
    products["category"] = products.product_id.astype(str).str[-1]
    tables = [ibis.memtable(t) for t in (lines, orders, products)]
    found = [analyze_basket(*tables, replace(spec, method=m), con.to_pyarrow)  # type: ignore[arg-type]
             for m in METHODS]
    _same_results(*found)
    return len(found[0].itemsets())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_two_miners_agree_on_random_baskets(con: BaseBackend, seed: int) -> None:
    lines = _random_baskets(3000, 60, seed=seed)  # an item often twice in one basket
    assert _random_parity(con, lines, BasketSpec(min_support=0.003, max_len=4)) > 300
    assert _random_parity(con, lines, BasketSpec(min_support=0.02, max_len=5)) > 30
    assert _random_parity(con, lines, BasketSpec(level="category", min_support=0.05,
                                                 min_confidence=0.3, max_len=4)) > 20
    numbered = lines.assign(product_id=lines.product_id.str[1:].astype("int64"))
    assert _random_parity(con, numbered, BasketSpec(min_support=0.01, min_lift=1.5)) > 50


def test_an_item_on_more_lines_than_baskets(con: BaseBackend) -> None:
    # The matrix miner sets aside items on too few lines before it counts baskets; an
    # item on enough lines but in too few baskets must still be left out, exactly.
    lines = _random_baskets(2000, 60, seed=6)
    per_item = lines.groupby("product_id").order_id.agg(["size", "nunique"])
    doubled = per_item[per_item["size"] > per_item["nunique"]].nlargest(15, "nunique")
    item, (_, held) = doubled.index[-1], doubled.iloc[-1]
    spec = BasketSpec(min_support=0.000001, min_count=int(held) + 1)
    assert _random_parity(con, lines, spec) > 10
    found = analyze_basket(*(ibis.memtable(t) for t in (lines, lines[["order_id"]],
                                                        lines[["product_id"]])),
                           replace(spec, method="matrix"), con.to_pyarrow).itemsets()
    assert (item,) not in set(found.itemset)
    assert (found["count"] > held).all()


def test_the_sparse_tally_counts_the_same(con: BaseBackend,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _random_baskets(2000, 60, seed=4)
    dense = _random_parity(con, lines, BasketSpec(min_support=0.003, max_len=4))
    monkeypatch.setattr(itemsets, "_dense", lambda space, keys: False)
    assert _random_parity(con, lines, BasketSpec(min_support=0.003, max_len=4)) == dense


def _shop_rules(ws: Workspace, spec: BasketSpec, events: bool = False,
                method: str = "auto") -> BasketRules:
    return analyze_basket(ws.table("order_items"), ws.table("orders"), ws.table("products"),
                          replace(spec, method=method), ws.engine.to_arrow,
                          events=ws.table("events") if events else None,
                          engine_kind=ws.engine.name)


def test_the_planted_pairs_are_the_top_rules(shop: Shop, method: str) -> None:
    planted = shop.truth["bought_together"]
    with shop.open() as ws:
        products = _shop_rules(ws, BasketSpec(min_support=0.005), True, method)
        leaves = _shop_rules(ws, BasketSpec(level="category_path", min_support=0.005),
                             method=method)
        tops = _shop_rules(ws, BasketSpec(level="category", min_support=0.005, max_len=2),
                           method=method)
    rules = products.to_pandas()
    pairs = {(p["anchor"], p["partner"]) for p in planted}
    top = {(r.antecedent[0], r.consequent[0]) for r in rules.head(2 * len(pairs)).itertuples()}
    assert top == pairs | {(b, a) for a, b in pairs}
    for anchor, partner in pairs:
        rule = _rule(products, (anchor,), (partner,))
        assert rule.lift > 10
        assert 0.55 < rule.confidence < 0.85  # planted with probability 0.7
    by_leaf = leaves.to_pandas().head(2 * len(planted))
    leaf_pairs = {(p["anchor_category"], p["partner_category"]) for p in planted}
    assert leaf_pairs <= {(r.antecedent[0], r.consequent[0]) for r in by_leaf.itertuples()}
    assert (by_leaf.lift > 2).all()
    # Only one planted pair crosses top-level categories: 家居/厨具 → 食品/生鲜.
    top_rule = tops.to_pandas().iloc[0]
    assert {top_rule.antecedent, top_rule.consequent} == {("家居",), ("食品",)}
    assert top_rule.lift > 1.2
    substitutes = products.substitutes()
    assert len(substitutes) > 0
    assert (substitutes.category_a == substitutes.category_b).all()
    assert (substitutes.co_views >= 3).all()


def test_the_two_miners_agree_on_the_shop(shop: Shop) -> None:
    with shop.open() as ws:
        for spec in (BasketSpec(min_support=0.002), BasketSpec(min_support=0.001, max_len=4),
                     BasketSpec(level="category_path", min_support=0.001)):
            _same_results(*(_shop_rules(ws, spec, method=m) for m in METHODS))


def test_the_chart_in_both_languages(shop: Shop, tmp_path: Path) -> None:
    with shop.open() as ws:
        result = _shop_rules(ws, BasketSpec(min_support=0.005, top=6))
    english, chinese = result.chart("en").option, result.chart("zh-CN").option
    assert english["title"]["text"] == "Bought together: top 6 rules by lift"
    assert chinese["title"]["text"] == "关联购买：提升度最高的 6 条规则"
    assert english["xAxis"]["name"] == "Lift (×)"
    assert chinese["xAxis"]["name"] == "提升度（倍）"
    assert len(english["yAxis"]["data"]) == 6
    best = result.to_pandas().iloc[0]
    assert english["series"][0]["data"][0]["value"] == round(best.lift, 4)
    assert english["title"]["subtext"] == (
        f"Customers who buy {best.antecedent_names} also buy {best.consequent_names} in "
        f"{best.confidence:.0%} of those baskets (lift {best.lift:.1f}, {best['count']} of "
        f"{result.baskets:,} baskets).")
    assert chinese["title"]["subtext"].startswith(f"购买{best.antecedent_names}的订单中有")
    for lang in ("en", "zh-CN"):
        path = result.save_chart(tmp_path / f"basket-{lang}.png", lang)  # type: ignore[arg-type]
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000


def _sessions() -> dict[str, Any]:
    """Views per person and day; c2 bought P1 and P2 on day 1 (paid) and P1 and P3 on
    day 3 (cancelled)."""
    day = {1: datetime(2026, 5, 1, 10), 2: datetime(2026, 5, 2, 10),
           3: datetime(2026, 5, 3, 10)}
    views = [("c1", 1, "P1"), ("c1", 1, "P2"), ("c1", 1, "P3"), ("c2", 1, "P1"),
             ("c2", 1, "P2"), ("c3", 2, "P1"), ("c3", 2, "P1"), ("c3", 2, "P2"),
             ("c3", 3, "P2"), ("c3", 3, "P3"), ("c4", 2, "P4"), ("c5", 2, "P1"),
             ("c5", 2, "P4"), ("c2", 3, "P1"), ("c2", 3, "P3"), (None, 1, "P1"),
             (None, 1, "P2")]
    events = pd.DataFrame({"customer_id": [v[0] for v in views],
                           "event": "Product Viewed",
                           "timestamp": [day[v[1]] for v in views],
                           "product_id": [v[2] for v in views]})
    events.loc[len(events)] = ["c1", "Product Added", day[1], "P4"]
    orders = pd.DataFrame({"order_id": ["O1", "O2", "O3"], "customer_id": ["c1", "c2", "c2"],
                           "ordered_at": [day[1], day[1], day[3]],
                           "status": ["paid", "paid", "cancelled"]})
    items = pd.DataFrame({"order_id": ["O1", "O2", "O2", "O3", "O3"],
                          "product_id": ["P1", "P1", "P2", "P1", "P3"], "quantity": 1})
    products = pd.DataFrame({"product_id": ["P1", "P2", "P3", "P4"],
                             "name": ["华为 Mate", "小米 14", "vivo X", "口红"],
                             "category": ["数码", "数码", "数码", "美妆"]})
    return {"events": ibis.memtable(events), "orders": ibis.memtable(orders),
            "order_items": ibis.memtable(items), "products": ibis.memtable(products)}


def test_substitutes_equal_hand_counts(con: BaseBackend) -> None:
    # Sessions: c1/1, c2/1, c3/2, c3/3, c4/2, c5/2, c2/3 → S = 7. Views: P1 5, P2 4,
    # P3 3, P4 2. Co-views: P1+P2 3 (one bought together: c2/1), P1+P3 2, P2+P3 2, P1+P4 1.
    result = _run(con, BasketSpec(min_co_views=2), **_sessions())
    pairs = result.substitutes()
    assert list(zip(pairs.product_a, pairs.product_b, strict=True)) == [
        ("P2", "P3"), ("P1", "P3"), ("P1", "P2")]
    first = pairs.iloc[0]
    assert (first.views_a, first.views_b, first.co_views, first.sessions,
            first.co_purchases) == (4, 3, 2, 7, 0)
    assert first.co_view_lift == 2 * 7 / (4 * 3)
    assert first.substitute_score == 2 * 7 / (4 * 3)
    bought = pairs.iloc[2]
    assert (bought.co_views, bought.co_purchases) == (3, 1)
    assert bought.bought_together_share == 1 / 3
    assert bought.substitute_score == pytest.approx(3 * 7 / (5 * 4) * (2 / 3), rel=1e-15)
    assert (bought.name_a, bought.name_b, bought.category_a) == ("华为 Mate", "小米 14", "数码")
    cancelled = pairs.iloc[1]  # c2 bought P1 and P3 on day 3, but the order was cancelled
    assert cancelled.co_purchases == 0
    anywhere = _run(con, BasketSpec(min_co_views=1, substitutes_within="any"),
                    **_sessions()).substitutes()
    assert ("P1", "P4") in set(zip(anywhere.product_a, anywhere.product_b, strict=True))


def _on(engine: str, shop: Shop, method: str = "auto") -> BasketRules:
    with Workspace(shop.root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
        assert ws.engine.name == engine
        return _shop_rules(ws, BasketSpec(min_support=0.002), True, method)


@pytest.mark.spark
@pytest.mark.slow
def test_the_same_rules_on_spark(shop: Shop) -> None:
    # auto: the matrix miner on DuckDB, the relational one on Spark.
    duck, spark = _on("duckdb", shop), _on("spark", shop)
    _same_results(_on("duckdb", shop, "relational"), duck)
    _same_results(_on("spark", shop, "matrix"), duck)  # the lines collected from Spark
    assert spark.baskets == duck.baskets
    for part in ("itemsets", "to_pandas", "substitutes"):
        left: Callable[[], pd.DataFrame] = getattr(duck, part)
        right: Callable[[], pd.DataFrame] = getattr(spark, part)
        assert len(left()) > 0, part
        pd.testing.assert_frame_equal(left(), right(), check_dtype=False, obj=part)


def test_arrow_results_are_accepted(con: BaseBackend, method: str) -> None:
    seen: list[pa.Table] = []

    def to_arrow(expr: ibis.Table) -> pa.Table:
        seen.append(con.to_pyarrow(expr))
        return seen[-1]

    tables = _tables(LINES, STATUS)
    analyze_basket(tables["order_items"], tables["orders"], tables["products"],
                   BasketSpec(min_support=0.3, method=method), to_arrow)  # type: ignore[arg-type]
    # relational: the itemsets, then the rules; matrix: the names, then the lines
    assert len(seen) == 2
