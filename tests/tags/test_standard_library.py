"""Every standard tag on tiny hand-made data: people for whom it holds (or gives a label)
and people for whom it does not, all computed in one ``build_tags`` run on DuckDB.

Each person is a profile with a few hand-set fields (every other field empty) and, where
the tag reads them, a few orders, events and interest affinities. RFM is scored by
thresholds, so every person's R, F and M follow from their own orders. Then the RFM
segments on all 125 score combinations, and ``rfm_scores`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from portraits.profile.rfm import RfmSpec, rfm_scores
from portraits.profile.schema import INTEREST_FIELDS, PROFILE_FIELDS
from portraits.tags.catalog import TagSet, load_tags
from portraits.tags.compute import build_tags, tag_columns, tag_fields
from portraits.tags.spec import BucketTag, RuleTag
from tests.profile.tables import ARROW, AS_OF, canonical, event, rows

RFM = RfmSpec(recency=(30, 60, 90, 180), frequency=(2, 3, 4, 6), monetary=(100, 200, 300, 400))
STANDARD: Final = load_tags(tag_fields())


def ago(days: float) -> datetime:
    """The reference time minus ``days`` days."""
    return AS_OF - timedelta(days=days)


def paid(days: float, amount: float = 100.0, status: str | None = "paid") -> dict[str, Any]:
    """An order ``days`` days before the reference time."""
    return {"ordered_at": ago(days), "total_amount": amount, "status": status}


@dataclass(frozen=True)
class Person:
    """What one customer has, and the value the tag must give them."""

    expect: Any
    profile: Mapping[str, Any] = field(default_factory=dict)
    orders: tuple[dict[str, Any], ...] = ()
    events: tuple[tuple[str, float], ...] = ()   # (event name, days before the reference)
    interests: Mapping[str, float] = field(default_factory=dict)   # category → affinity


def yes(**profile: Any) -> Person:
    return Person(True, profile)


def no(**profile: Any) -> Person:
    return Person(False, profile)


def label(expect: str | None, **profile: Any) -> Person:
    return Person(expect, profile)


# RFM by the thresholds of RFM: R5 F4 M5 (FM 5), R2 F4 M5 (FM 5) and R1 F1 M1 (FM 1).
CHAMPION: Final = tuple(paid(d) for d in (1, 2, 3, 4))
AT_RISK: Final = tuple(paid(d) for d in (100, 101, 102, 103))
LOST: Final = (paid(400, 50.0),)


def visits(days: range | tuple[int, ...], name: str = "Product Viewed") -> tuple[
        tuple[str, float], ...]:
    """One event a day, an hour before the reference time of each day."""
    return tuple((name, d + 1 / 24) for d in days)


def fan(category: str) -> tuple[Person, ...]:
    return (Person(True, interests={category: 0.3}), Person(False, interests={category: 0.29}),
            Person(False, interests={"其他": 0.9}), Person(False))


CASES: Final[dict[str, tuple[Person, ...]]] = {
    # basic
    "age_group": (label("under_25", age=24), label("25_34", age=25), label("35_44", age=44),
                  label("45_59", age=45), label("60_plus", age=60), label(None)),
    "gender_group": (label("male", gender="male"), label("female", gender="female"),
                     label("unknown", gender="unknown"), label("unknown")),
    "city_tier_group": (label("tier1", city_tier="1"), label("new_tier1", city_tier="new1"),
                        label("tier2", city_tier="2"), label("lower_tier", city_tier="4"),
                        label(None)),
    "life_stage_inferred": (Person("parent_young_child", interests={"母婴": 0.5}),
                            label("parent_young_child", favourite_category="母婴", age=40),
                            label("retiree", age=65),
                            label("student", age=20),
                            label("other", age=40)),
    "high_income": (yes(income_band=">50000"), yes(income_band="20000-50000"),
                    no(income_band="10000-20000"), no()),
    "senior_member": (yes(member_level="钻石会员"), yes(member_level="金卡会员"),
                      no(member_level="普通会员")),
    "reachable": (yes(has_phone=False, has_wechat=True), yes(has_email=True),
                  no(has_phone=False, has_email=False, has_wechat=False), no()),
    "wechat_connected": (yes(has_wechat=True), no(has_wechat=False), no()),
    # behaviour
    "night_owl": (yes(sessions=3, night_share=0.4), no(sessions=2, night_share=0.9),
                  no(sessions=10, night_share=0.39)),
    "weekend_shopper": (yes(sessions=4, weekend_share=0.5), no(sessions=4, weekend_share=0.25),
                        no(sessions=2, weekend_share=1.0)),
    "mobile_first": (yes(main_device_type="mobile"), no(main_device_type="desktop"), no()),
    "mini_program_user": (yes(main_platform="mini_program"), no(main_platform="app")),
    "app_user": (yes(main_platform="app"), no(main_platform="web")),
    "omnichannel": (yes(platforms=2), no(platforms=1), no()),
    "multi_device": (yes(devices=3), no(devices=1)),
    "frequent_visitor": (Person(True, events=visits(range(8))),
                         # the 8th day is 30 days back: outside the window
                         Person(False, events=visits((*range(7), 30))),
                         Person(False, profile={"active_days": 20})),
    "recently_active": (yes(days_since_last_seen=7), no(days_since_last_seen=8), no()),
    "heavy_searcher": (yes(searches=5), no(searches=4)),
    "cart_abandoner": (Person(True, events=(("Product Added", 2),)),
                       Person(False, events=(("Product Added", 2),), orders=(paid(1),)),
                       Person(False, events=(("Product Added", 8),)),
                       Person(False, events=(("Product Viewed", 1),))),
    "checkout_abandoner": (Person(True, events=(("Checkout Started", 3),)),
                           Person(False, events=(("Checkout Started", 3),
                                                 ("Order Completed", 2))),
                           Person(False, events=(("Checkout Started", 7.5),))),
    "window_shopper": (yes(product_views=12, orders=0), no(product_views=12, orders=1),
                       no(product_views=9, orders=0)),
    "wishlister": (yes(wishlist_adds=3), no(wishlist_adds=2)),
    "engagement": (Person("high", events=visits(range(10))),     # 10 active days: 0.5
                   label("medium", shares=5, reviews_written=0),  # 0.2
                   Person("medium", orders=tuple(paid(d) for d in range(1, 6))),  # 0.3
                   label("low", shares=4, reviews_written=0),     # 0.16
                   label("low")),
    # consumption
    "high_spender": (yes(spending_level="high"), no(spending_level="mid")),
    "spending_tier": (label("high_end", spending_level="high"),
                      label("mid_range", spending_level="mid"),
                      label("mass_market", spending_level="mass"), label(None)),
    "price_sensitive": (yes(price_sensitivity="high"), no(price_sensitivity="medium")),
    "premium_buyer": (yes(price_index=1.2), no(price_index=1.19), no()),
    "coupon_lover": (yes(orders=2, coupon_use_rate=0.5), no(orders=1, coupon_use_rate=1.0),
                     no(orders=4, coupon_use_rate=0.25)),
    "discount_driven": (yes(discount_share=0.3), no(discount_share=0.29)),
    "brand_loyal": (yes(orders=3, favourite_brand_share=0.6),
                    no(orders=3, favourite_brand_share=0.5),
                    no(orders=2, favourite_brand_share=1.0)),
    "repeat_buyer": (yes(orders=2), no(orders=1), no(orders=0)),
    "one_time_buyer": (yes(orders=1), no(orders=2), no(orders=0)),
    "frequent_buyer": (Person(True, orders=(paid(10), paid(20), paid(89))),
                       # a cancelled order does not count; 90 days back is outside the window
                       Person(False, orders=(paid(10), paid(20), paid(30, status="cancelled"),
                                             paid(90))),
                       Person(False, profile={"orders": 50})),
    "big_basket": (yes(average_order_value=500.0), no(average_order_value=499.99), no()),
    "serial_returner": (yes(returned_orders=2), no(returned_orders=1)),
    "prospect": (yes(), yes(orders=0), no(orders=1)),
    # interests
    "top_categories": (Person("数码,美妆,食品", interests={"数码": 0.5, "美妆": 0.3, "食品": 0.15,
                                                        "家居": 0.05}),
                       Person("服饰", interests={"服饰": 0.95, "运动": 0.05}),
                       Person(None, interests={"运动": 0.05}),
                       Person(None)),
    "beauty_fan": fan("美妆"),
    "tech_fan": fan("数码"),
    "mother_baby_fan": fan("母婴"),
    "foodie": fan("食品"),
    "home_lover": fan("家居"),
    "fashion_fan": fan("服饰"),
    "sports_fan": fan("运动"),
    # social
    "reviewer": (yes(reviews_written=2), no(reviews_written=1)),
    "critic": (yes(reviews_written=2, mean_rating=2.5), no(reviews_written=2, mean_rating=3.0),
               no(reviews_written=1, mean_rating=1.0)),
    "sharer": (yes(shares=3), no(shares=2)),
    "koc": (yes(referrals=2), yes(shares=10, reviews_written=1),
            no(shares=10, reviews_written=0), no(referrals=1, shares=9, reviews_written=5)),
    "referred_customer": (yes(referred=True), no(referred=False)),
    # value and lifecycle
    "rfm_segment": (Person("champions", orders=CHAMPION), Person("at_risk", orders=AT_RISK),
                    Person("lost", orders=LOST), Person(None)),
    "value_layer": (Person("high_value", orders=CHAMPION),
                    Person("churn_warning", orders=AT_RISK),
                    Person("lost", orders=LOST), Person(None)),
    "vip": (Person(True, orders=CHAMPION),
            yes(member_level="钻石会员", days_since_last_order=180),
            no(member_level="钻石会员", days_since_last_order=181),
            no(member_level="钻石会员"),
            Person(False, orders=AT_RISK)),
    "lifecycle_stage": (label("new", registered_at=ago(10)),
                        label("new", first_seen_at=ago(30), registered_at=ago(400)),
                        Person("high_value", {"first_order_at": ago(400)}, orders=CHAMPION),
                        label("active", first_order_at=ago(400), days_since_last_order=90),
                        label("active", days_since_last_seen=30),
                        label("churn_warning", registered_at=ago(400),
                              days_since_last_order=150),
                        label("churn_warning", days_since_last_seen=90),
                        label("dormant", first_order_at=ago(400), days_since_last_order=181,
                              days_since_last_seen=91),
                        label("dormant")),
    "new_customer": (yes(first_order_at=ago(30)), no(first_order_at=ago(31)),
                     no(registered_at=ago(1))),
    "churn_warning": (yes(days_since_last_order=150), Person(True, orders=AT_RISK),
                      no(days_since_last_seen=5), no(registered_at=ago(1))),
    "dormant": (yes(), no(days_since_last_order=10), Person(False, orders=CHAMPION)),
    "win_back_target": (Person(True, {"has_phone": True}, orders=AT_RISK),
                        Person(True, {"has_wechat": True},
                               orders=tuple(paid(d, 100) for d in range(200, 206))),  # R1 FM5
                        Person(False, {"has_phone": False, "has_email": False},
                               orders=AT_RISK),
                        Person(False, {"has_phone": True}, orders=CHAMPION)),
}
EMPTY: Final = "nobody"   # a customer with no data at all


def customer(tag_id: str, i: int) -> str:
    return f"{tag_id}/{i}"


def people() -> dict[str, Person]:
    found = {customer(t, i): p for t, persons in CASES.items() for i, p in enumerate(persons)}
    return {**found, EMPTY: Person(None)}


def profiles_table(everyone: Mapping[str, Person]) -> ir.Table:
    schema = pa.schema([pa.field(f.name, ARROW[f.dtype]) for f in PROFILE_FIELDS])
    known = set(schema.names)
    records = []
    for cid, person in everyone.items():
        assert not set(person.profile) - known, f"not profile fields: {set(person.profile)}"
        records.append({**dict.fromkeys(known), **person.profile, "customer_id": cid,
                        "as_of": AS_OF})
    return ibis.memtable(pa.Table.from_pylist(records, schema=schema))


def orders_table(everyone: Mapping[str, Person]) -> ir.Table:
    return canonical("orders", [{**o, "customer_id": cid, "order_id": f"{cid}#{i}"}
                                for cid, p in everyone.items() for i, o in enumerate(p.orders)])


def events_table(everyone: Mapping[str, Person]) -> ir.Table:
    return canonical("events", [event(cid, "2000-01-01", name, timestamp=ago(days),
                                      message_id=f"{cid}#{i}")
                                for cid, p in everyone.items()
                                for i, (name, days) in enumerate(p.events)])


def interests_table(everyone: Mapping[str, Person]) -> ir.Table:
    schema = pa.schema([pa.field(f.name, ARROW[f.dtype]) for f in INTEREST_FIELDS])
    records = []
    for cid, person in everyone.items():
        ranked = sorted(person.interests.items(), key=lambda kv: (-kv[1], kv[0]))
        records += [{"customer_id": cid, "category": c, "affinity": a, "rank": r}
                    for r, (c, a) in enumerate(ranked, start=1)]
    return ibis.memtable(pa.Table.from_pylist(records, schema=schema))


@pytest.fixture(scope="module")
def tagged(con: BaseBackend) -> dict[str, dict[str, Any]]:
    """Every person's tags: one build over everyone's tables."""
    everyone = people()
    table = build_tags(profiles_table(everyone), orders_table(everyone),
                       events_table(everyone), interests_table(everyone), STANDARD, RFM,
                       AS_OF)
    return rows(con, table)


def test_every_standard_tag_has_a_case() -> None:
    assert set(CASES) == {t.id for t in STANDARD}
    assert len(CASES) == 57


@pytest.mark.parametrize("tag_id", sorted(CASES))
def test_standard_tag(tag_id: str, tagged: dict[str, dict[str, Any]]) -> None:
    persons = CASES[tag_id]
    expected = [p.expect for p in persons]
    if isinstance(STANDARD.get(tag_id).spec, RuleTag):
        assert set(expected) == {True, False}, "a rule needs a person it holds for and one not"
    else:
        assert len(set(expected)) >= 2, "a labelling tag needs two people with different labels"
    got = [tagged[customer(tag_id, i)][tag_id] for i in range(len(persons))]
    assert got == expected


def test_a_customer_without_data_holds_no_rule_and_gets_the_defaults(
        tagged: dict[str, dict[str, Any]]) -> None:
    nobody = tagged[EMPTY]
    rules = {t.id for t in STANDARD if isinstance(t.spec, RuleTag)}
    assert {i: nobody[i] for i in rules} == dict.fromkeys(rules, False) | {"prospect": True,
                                                                          "dormant": True}
    others = {t.id: nobody[t.id] for t in STANDARD if t.id not in rules}
    assert others == {
        "age_group": None, "gender_group": "unknown", "city_tier_group": None,
        "life_stage_inferred": "other", "engagement": "low", "spending_tier": None,
        "top_categories": None, "rfm_segment": None, "value_layer": None,
        "lifecycle_stage": "dormant"}
    assert nobody["rfm_r"] is None


def test_rfm_fields_of_the_people_follow_the_thresholds(
        tagged: dict[str, dict[str, Any]]) -> None:
    scored = {s: tagged[customer("rfm_segment", i)] for i, s in enumerate(
        ("champions", "at_risk", "lost"))}
    assert {s: (r["rfm_recency_days"], r["rfm_frequency"], r["rfm_monetary"], r["rfm_score"],
                r["rfm_fm"]) for s, r in scored.items()} == {
        "champions": (1, 4, 400.0, "545", 5), "at_risk": (100, 4, 400.0, "245", 5),
        "lost": (400, 0, 0.0, "111", 1)}


# ---------------------------------------------------------------------------- RFM segments

SEGMENTS: Final = {   # R → the segment of FM = 1, 2, 3, 4, 5
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "at_risk"),
    1: ("lost", "lost", "at_risk", "cant_lose_them", "cant_lose_them"),
}
LAYERS: Final = {
    "champions": "high_value", "loyal": "high_value", "potential_loyalist": "potential",
    "new": "potential", "promising": "potential", "need_attention": "potential",
    "about_to_sleep": "churn_warning", "at_risk": "churn_warning",
    "cant_lose_them": "churn_warning", "hibernating": "lost", "lost": "lost"}


def test_every_rfm_score_lands_in_exactly_one_of_the_eleven_segments(con: BaseBackend) -> None:
    combos = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    scores = ibis.memtable(pa.Table.from_pylist(
        [{"customer_id": f"{r}{f}{m}", "rfm_r": r, "rfm_f": f, "rfm_m": m,
          "rfm_fm": (f + m + 1) // 2} for r, f, m in combos],
        schema=pa.schema([("customer_id", pa.string())] + [
            (n, pa.int64()) for n in ("rfm_r", "rfm_f", "rfm_m", "rfm_fm")])))
    tagset = TagSet(tuple(t for t in STANDARD if t.id in ("rfm_segment", "value_layer")))
    got = rows(con, tag_columns(scores, tagset, AS_OF))
    assert len(got) == 125
    for r, f, m in combos:
        row = got[f"{r}{f}{m}"]
        fm = (f + m + 1) // 2
        assert row["rfm_segment"] == SEGMENTS[r][fm - 1], (r, f, m)
        assert row["value_layer"] == LAYERS[row["rfm_segment"]], (r, f, m)
    assert {row["rfm_segment"] for row in got.values()} == set(LAYERS)
    assert len(LAYERS) == 11
    assert {row["value_layer"] for row in got.values()} == {"high_value", "potential",
                                                             "churn_warning", "lost"}


def test_the_segment_labels_are_the_library_labels() -> None:
    segment, layer = STANDARD.get("rfm_segment").spec, STANDARD.get("value_layer").spec
    assert isinstance(segment, BucketTag) and isinstance(layer, BucketTag)
    assert sorted(segment.labels()) == sorted(LAYERS)
    assert {s: name for name, ss in (layer.values or {}).items() for s in ss} == LAYERS


# ---------------------------------------------------------------------------- rfm_scores


def scores_of(con: BaseBackend, orders: list[dict[str, Any]], spec: RfmSpec) -> dict[
        str, tuple[Any, ...]]:
    table = rfm_scores(canonical("orders", [{**o, "order_id": f"o{i}"}
                                            for i, o in enumerate(orders)]), spec, AS_OF)
    return {c: (r["rfm_recency_days"], r["rfm_frequency"], r["rfm_monetary"], r["rfm_r"],
                r["rfm_f"], r["rfm_m"], r["rfm_fm"], r["rfm_score"])
            for c, r in rows(con, table).items()}


def orders_of(cid: str, days: tuple[float, ...], amount: float = 100.0,
              status: str | None = "paid") -> list[dict[str, Any]]:
    return [{**paid(d, amount, status), "customer_id": cid} for d in days]


def test_rfm_quintiles_give_ties_equal_scores(con: BaseBackend) -> None:
    orders = [*orders_of("A", (1,)), *orders_of("B", (10, 11)), *orders_of("C", (10, 12)),
              *orders_of("D", (50, 51, 52)), *orders_of("E", (100, 101, 102, 103)),
              *orders_of("F", (200, 201, 202, 203, 204)),
              # none of these count
              *orders_of("A", (2,), 1000.0, "cancelled"), *orders_of("A", (-1,), 1000.0),
              *orders_of("G", (5,), 100.0, "refunded"),
              {**paid(3), "customer_id": None}]
    quintiles = RfmSpec(recency="quintiles", frequency="quintiles", monetary="quintiles")
    # percent ranks 0, .2, .2, .6, .8, 1 → 1 + ⌊5 × rank⌋ capped at 5: 1, 2, 2, 4, 5, 5
    assert scores_of(con, orders, quintiles) == {
        "A": (1, 1, 100.0, 5, 1, 1, 1, "511"),
        "B": (10, 2, 200.0, 4, 2, 2, 2, "422"),
        "C": (10, 2, 200.0, 4, 2, 2, 2, "422"),
        "D": (50, 3, 300.0, 2, 4, 4, 4, "244"),
        "E": (100, 4, 400.0, 1, 5, 5, 5, "155"),
        "F": (200, 5, 500.0, 1, 5, 5, 5, "155"),
    }


def test_rfm_thresholds_include_their_cut_points(con: BaseBackend) -> None:
    orders = [*orders_of("T1", (30,), 100.0), *orders_of("T2", (31,), 99.99),
              *orders_of("T3", (181, 182, 183, 184, 185), 50.0), *orders_of("T3", (186,), 150.0),
              *orders_of("T4", (180,), 300.0), *orders_of("T4", (365, 400), 1000.0),
              *orders_of("T5", (60, 61, 62))]
    assert scores_of(con, orders, RFM) == {
        "T1": (30, 1, 100.0, 5, 1, 2, 2, "512"),     # FM 1.5 rounds up to 2
        "T2": (31, 1, 99.99, 4, 1, 1, 1, "411"),
        "T3": (181, 6, 400.0, 1, 5, 5, 5, "155"),
        "T4": (180, 1, 300.0, 2, 1, 4, 3, "214"),    # orders 365+ days back: recency only
        "T5": (60, 3, 300.0, 4, 3, 4, 4, "434"),
    }


def test_rfm_scores_are_empty_without_counted_orders(con: BaseBackend) -> None:
    assert scores_of(con, orders_of("X", (1,), status="cancelled"), RFM) == {}
