"""Profile features on small hand-made tables, each equal to a count done by hand."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest
from ibis.backends import BaseBackend

from portraits.errors import PortraitsError
from portraits.profile import ProfileInputs, ProfileSpec, build_profiles, profile_interests
from portraits.profile.behaviour import behaviour
from portraits.profile.consumption import consumption
from portraits.profile.demographics import demographics
from portraits.profile.schema import field_names
from portraits.profile.social import social
from tests.profile.tables import AS_OF, canonical, event, rows

SPEC = ProfileSpec()


def test_a_visit_ends_only_after_more_than_30_idle_minutes(con: BaseBackend) -> None:
    events = canonical("events", [
        event("A", "2026-10-01 10:00:00", anonymous_id="ck1"),
        event("A", "2026-10-01 10:30:00", anonymous_id="ck1"),   # exactly 30 min: same visit
        event("A", "2026-10-01 11:00:01", anonymous_id="ck1"),   # 30 min 1 s: a new visit
        event("A", "2026-10-01 23:50:00", anonymous_id="ck1"),   # a new visit …
        event("A", "2026-10-02 00:10:00", anonymous_id="ck1"),   # … that runs past midnight
    ])
    a = rows(con, behaviour(events, SPEC, AS_OF))["A"]
    assert (a["events"], a["sessions"], a["active_days"]) == (5, 3, 2)
    assert a["first_seen_at"] == datetime(2026, 10, 1, 10, 0)
    assert a["last_seen_at"] == datetime(2026, 10, 2, 0, 10)
    assert a["days_since_last_seen"] == 30


def test_two_devices_used_together_are_one_visit_and_two_devices(con: BaseBackend) -> None:
    events = canonical("events", [
        event("B", "2026-10-01 10:00", device_id="D1", anonymous_id="a-D1", platform="app",
              device_type="mobile"),
        event("B", "2026-10-01 10:05", anonymous_id="cookie-9", platform="web",
              device_type="desktop"),
        event("B", "2026-10-01 10:20", device_id="D1", anonymous_id="a-D1", platform="app",
              device_type="mobile"),
        event("C", "2026-10-01 10:00", device_id="D1", anonymous_id="a-D1"),
    ])
    b = rows(con, behaviour(events, SPEC, AS_OF))["B"]
    assert (b["sessions"], b["devices"], b["platforms"]) == (1, 2, 1)
    assert (b["main_platform"], b["main_device_type"]) == ("app", "mobile")


def test_favourites_count_visits_and_ties_go_to_the_smallest_value(con: BaseBackend) -> None:
    events = canonical("events", [
        event("D", "2026-10-05 21:10", channel="social", utm_source="douyin"),  # Monday
        event("D", "2026-10-05 21:15", channel="social", utm_source="douyin"),  # same visit
        event("D", "2026-10-05 21:20", channel="social", utm_source="douyin"),
        event("D", "2026-10-06 09:00", channel="email", utm_source="edm"),      # Tuesday
        event("D", "2026-10-11 23:30", channel="email", utm_source="edm"),      # Sunday
    ])
    d = rows(con, behaviour(events, SPEC, AS_OF))["D"]
    assert d["sessions"] == 3
    assert (d["favourite_hour"], d["favourite_weekday"]) == (9, 0)   # 9, 21, 23 once each
    assert (d["main_channel"], d["channels"]) == ("email", 2)        # by visits, not events
    assert (d["main_utm_source"], d["utm_sources"]) == ("edm", 2)
    assert d["weekend_share"] == pytest.approx(1 / 3)
    assert d["night_share"] == pytest.approx(1 / 3)


def test_event_counts_funnel_stage_and_search_keywords(con: BaseBackend) -> None:
    events = canonical("events", [
        event("E", "2026-10-01 10:00", "Products Searched", query=" 手机 "),
        event("E", "2026-10-01 10:01", "Products Searched", query="手机"),
        event("E", "2026-10-01 10:02", "Products Searched", query="Phone"),
        event("E", "2026-10-01 10:03", "Products Searched", query="phone"),
        event("E", "2026-10-01 10:04", "Products Searched", query="耳机"),
        event("E", "2026-10-01 10:05", "Products Searched", query="壳"),
        event("E", "2026-10-01 10:06", "Product Viewed"),
        event("E", "2026-10-01 10:07", "Product Added"),
        event("E", "2026-10-01 10:08", "Product Shared"),
        event("F", "2026-10-01 10:00", "Page Viewed"),
        event("F", "2026-11-02 10:00", "Order Completed"),   # after the reference time
    ])
    got = rows(con, behaviour(events, SPEC, AS_OF))
    e, f = got["E"], got["F"]
    assert (e["searches"], e["product_views"], e["product_adds"], e["shares"]) == (6, 1, 1, 1)
    assert e["funnel_stage"] == "add"
    assert e["top_search_keywords"] == "phone,手机,壳"  # 2, 2, then the first of the ones
    assert (f["events"], f["order_events"], f["funnel_stage"]) == (1, 0, "none")
    assert f["top_search_keywords"] is None


def _order(customer: str, order_id: str, at: str, paid: float, discount: float = 0.0,
           status: str | None = "paid", coupon: str | None = None) -> dict[str, object]:
    return {"customer_id": customer, "order_id": order_id,
            "ordered_at": datetime.fromisoformat(at), "total_amount": paid,
            "discount_amount": discount, "status": status, "coupon_code": coupon}


def test_order_facts_by_hand(con: BaseBackend) -> None:
    orders = canonical("orders", [
        _order("G", "o1", "2026-10-12 10:00", 100.0),
        _order("G", "o2", "2026-10-22 10:00", 200.0, 50.0, coupon="C1"),
        _order("G", "o3", "2026-10-25 10:00", 999.0, status="refunded"),
        _order("G", "o4", "2026-11-05 10:00", 500.0),                  # after the reference
        _order("H", "o5", "2024-01-01 10:00", 6000.0, status=None),    # no status: counts
        _order("K", "o6", "2026-05-01 10:00", 6000.0),
        _order("K", "o7", "2026-06-01 10:00", 1000.0, status="cancelled"),
    ])
    got = rows(con, consumption(orders, None, None, SPEC, AS_OF))
    g, h, k = got["G"], got["H"], got["K"]
    assert (g["orders"], g["spend"], g["average_order_value"]) == (2, 300.0, 150.0)
    assert (g["returned_orders"], g["days_since_last_order"]) == (1, 10)
    assert g["mean_days_between_orders"] == pytest.approx(10.0)
    assert g["discount_share"] == pytest.approx(50 / 350)
    assert g["coupon_use_rate"] == pytest.approx(0.5)
    assert g["spending_level"] == "mass"
    assert h["mean_days_between_orders"] is None and h["orders_365d"] == 0
    assert (h["spend_365d"], h["spending_level"]) == (0.0, "mass")
    assert (k["orders"], k["spend_365d"], k["spending_level"]) == (1, 6000.0, "high")


def test_price_index_is_relative_to_the_category_median(con: BaseBackend) -> None:
    products = canonical("products", [
        {"product_id": "p1", "category": "美妆", "category_path": "美妆/护肤", "brand": "X"},
        {"product_id": "p2", "category": "美妆", "category_path": "美妆/护肤", "brand": "Y"},
        {"product_id": "p3", "category": "数码", "category_path": "数码/手机", "brand": "Z"},
    ])
    orders = canonical("orders", [
        _order("L", "o1", "2026-10-01 10:00", 10.0, coupon="C"),
        _order("M", "o2", "2026-10-01 10:00", 30.0),
        _order("N", "o3", "2026-10-01 10:00", 4020.0),
    ])
    items = canonical("order_items", [
        {"order_id": "o1", "line_no": 1, "product_id": "p1", "quantity": 1, "unit_price": 10.0,
         "amount": 10.0},
        {"order_id": "o2", "line_no": 1, "product_id": "p2", "quantity": 1, "unit_price": 30.0,
         "amount": 30.0},
        {"order_id": "o3", "line_no": 1, "product_id": "p1", "quantity": 2, "unit_price": 10.0,
         "amount": 20.0},
        {"order_id": "o3", "line_no": 2, "product_id": "p3", "quantity": 1,
         "unit_price": 4000.0, "amount": 4000.0},
    ])
    got = rows(con, consumption(orders, items, products, SPEC, AS_OF))
    # 美妆/护肤 unit prices 10, 30, 10 → median 10; 数码/手机 4000 → median 4000.
    assert got["L"]["price_index"] == pytest.approx(1.0)
    assert got["M"]["price_index"] == pytest.approx(3.0)
    assert got["N"]["price_index"] == pytest.approx((1.0 * 2 + 1.0) / 3)
    assert (got["L"]["price_sensitivity"], got["M"]["price_sensitivity"]) == ("high", "low")
    assert got["N"]["price_sensitivity"] == "medium"
    assert (got["N"]["favourite_category"], got["N"]["favourite_brand"]) == ("数码", "Z")


def test_merged_records_keep_every_property(con: BaseBackend) -> None:
    early, late = datetime(2026, 1, 1), datetime(2026, 6, 1)
    customers = canonical("customers", [
        {"customer_id": "P", "source_id": "M1", "_source": "crm", "_loaded_at": early,
         "gender": "male", "birthday": date(1990, 11, 1), "city": "北京", "occupation": "教师",
         "marital_status": "married", "email": "p@example.com",
         "registered_at": datetime(2020, 5, 1)},
        {"customer_id": "P", "source_id": "S1", "_source": "store", "_loaded_at": late,
         "gender": "unknown", "city": "上海", "phone": "+8613800138000",
         "registered_at": datetime(2024, 5, 1)},
        {"customer_id": "Q", "source_id": "M2", "_source": "crm", "_loaded_at": early,
         "birthday": date(2010, 11, 2), "marital_status": "single"},
    ])
    got = rows(con, demographics(customers, AS_OF))
    p, q = got["P"], got["Q"]
    assert (p["gender"], p["city"], p["province"], p["city_tier"]) == ("male", "上海", "上海", "1")
    assert (p["occupation"], p["customer_records"]) == ("教师", 2)
    assert (p["age"], p["age_band"], p["life_stage"]) == (36, "35-39", "young_family")
    assert p["has_phone"] and p["has_email"] and not p["has_wechat"]
    assert p["registered_at"] == datetime(2020, 5, 1)
    assert (q["age"], q["age_band"], q["life_stage"], q["gender"]) == (15, "<18", "young_single",
                                                                       "unknown")


def test_interest_affinities_decay_and_sum_to_one(con: BaseBackend) -> None:
    products = canonical("products", [{"product_id": "p9", "category": "母婴"}])
    events = canonical("events", [
        event("R", "2026-11-01 12:00", "Product Viewed", category="数码"),
        event("R", "2026-08-03 12:00", "Product Viewed", product_id="p9"),  # 90 days old
        event("R", "2026-11-01 11:00", "Page Viewed", category="食品"),     # not a signal
    ])
    inputs = ProfileInputs(events=events, products=products)
    interests = profile_interests(inputs, AS_OF)
    assert interests is not None
    got = {(r["category"], r["rank"]): r["affinity"]
           for r in con.to_pyarrow(interests).to_pylist()}
    assert got == {("数码", 1): pytest.approx(2 / 3), ("母婴", 2): pytest.approx(1 / 3)}
    r = rows(con, build_profiles(inputs, AS_OF))["R"]
    assert (r["top_interest"], r["interests"]) == ("数码", "数码,母婴")
    assert r["top_interest_affinity"] == pytest.approx(2 / 3)


def test_referrals_and_reviews(con: BaseBackend) -> None:
    customers = canonical("customers", [{"customer_id": "I", "source_id": "1",
                                         "member_id": "M1"}])
    events = canonical("events", [
        event("J", "2026-10-01 10:00", "Signed Up", properties='{"referrer": "M1"}'),
        event("J", "2026-10-02 10:00", "Page Viewed", properties='{"referrer":"M1"}'),
        event("K", "2026-10-01 10:00", "Signed Up", properties='{"referrer": "U7"}'),
        event("I", "2026-09-01 10:00", "Signed In", user_id="U7"),
    ])
    reviews = canonical("reviews", [
        {"customer_id": "J", "review_id": "r1", "rating": 5,
         "created_at": datetime(2026, 10, 3)},
        {"customer_id": "J", "review_id": "r2", "rating": 2,
         "created_at": datetime(2026, 10, 4)},
    ])
    extra = social(events, reviews, customers, AS_OF)
    assert extra is not None
    got = rows(con, extra)
    assert (got["I"]["referrals"], got["I"]["referred"]) == (2, None)
    assert (got["J"]["referred"], got["J"]["reviews_written"], got["J"]["mean_rating"]) == (
        True, 2, 3.5)


def test_the_wide_profile_has_the_documented_columns_and_one_row_per_person(
        con: BaseBackend) -> None:
    customers = canonical("customers", [
        {"customer_id": "S", "source_id": "1", "gender": "female", "birthday": date(1995, 1, 1),
         "city": "成都", "occupation": "医生", "income_band": "10000-20000",
         "marital_status": "single", "education": "master", "member_level": "金卡会员",
         "phone": "+8613900000000"},
    ])
    orders = canonical("orders", [_order("T", "o1", "2026-10-01 10:00", 10.0)])
    events = canonical("events", [event("S", "2026-10-01 10:00", "Page Viewed")])
    profiles = build_profiles(ProfileInputs(customers=customers, events=events,
                                            orders=orders), AS_OF)
    assert profiles.columns == field_names()
    got = rows(con, profiles)
    assert set(got) == {"S", "T"}
    s, t = got["S"], got["T"]
    # S: 10 basic facts + seen + no device type, no orders, no interests → 11 of 15.
    assert s["completeness"] == pytest.approx(100 * 11 / 15)
    assert (s["orders"], s["spend"], s["referred"], s["customer_records"]) == (0, 0.0, False, 1)
    assert (t["events"], t["sessions"], t["customer_records"]) == (0, 0, 0)
    assert t["completeness"] == pytest.approx(100 * 1 / 15)
    assert s["as_of"] == AS_OF and not math.isnan(s["completeness"])


def test_person_tables_without_customer_ids_are_refused() -> None:
    events = canonical("events", [event("A", "2026-10-01 10:00")]).drop("customer_id")
    with pytest.raises(PortraitsError, match="events must carry a 'customer_id'"):
        build_profiles(ProfileInputs(events=events), AS_OF)
    with pytest.raises(PortraitsError, match="need customers, events, orders or reviews"):
        build_profiles(ProfileInputs(products=canonical("products", [])), AS_OF)
