"""Demographic / basic attributes (R3.1): one row per customer from their CRM records.

A person often has several customer records (CRM, store membership, a second CRM row
typed again). Each attribute is taken *field by field* from the most recent record that
knows it, so a merged profile keeps every property any of its records had: the store
card's city does not wipe out the CRM's occupation. "Most recent" means the latest
``_loaded_at`` (when the values arrived), then the latest ``registered_at``, then the
source and record key, so the choice is deterministic on every engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import ibis
import ibis.expr.types as ir

from portraits.model.geography import CITIES
from portraits.profile.schema import CUSTOMER_ID

# Attributes taken from the most recent record that knows them.
LATEST_FIELDS: Final = ("gender", "birthday", "province", "city", "city_tier", "occupation",
                        "income_band", "marital_status", "education", "member_level")
PROVINCE_OF_CITY: Final[dict[str, str]] = {c.name: c.province for c in CITIES}
TIER_OF_CITY: Final[dict[str, str]] = {c.name: c.tier for c in CITIES}
AGE_BANDS: Final = ((18, "<18"), (25, "18-24"), (30, "25-29"), (35, "30-34"), (40, "35-39"),
                    (50, "40-49"), (60, "50-59"))
KNOWN_GENDERS: Final = ("male", "female")
_RECENCY = "_recency"


def _recency_order(customers: ir.Table) -> list[ir.Value]:
    """Newest first: loaded, registered; then source and key as a stable tie-break."""
    order: list[ir.Value] = []
    for name, newest_first in (("_loaded_at", True), ("registered_at", True),
                               ("_source", False), ("source_id", False)):
        if name in customers.columns:
            column = customers[name]
            order.append(column.desc(nulls_first=False) if newest_first else column.asc())
    return order


def _latest(customers: ir.Table) -> ir.Table:
    """One row per customer: each attribute from its most recent record that has it."""
    present = [f for f in LATEST_FIELDS if f in customers.columns]
    rows = customers.filter(customers[CUSTOMER_ID].notnull())
    if "gender" in present:  # 'unknown' is a fill, not a value: a known one wins
        rows = rows.mutate(gender=ibis.ifelse(rows.gender.isin(KNOWN_GENDERS), rows.gender,
                                              ibis.null(str)))
    window = ibis.window(group_by=rows[CUSTOMER_ID], order_by=_recency_order(rows))
    rows = rows.mutate(**{_RECENCY: ibis.row_number().over(window)})
    metrics: dict[str, ir.Value] = {
        f: rows[f].argmin(rows[_RECENCY], where=rows[f].notnull()) for f in present}
    metrics["customer_records"] = rows.count()
    if "registered_at" in rows.columns:
        metrics["registered_at"] = rows.registered_at.min()
    for flag, columns in (("has_phone", ("phone",)), ("has_email", ("email",)),
                          ("has_wechat", ("wechat_openid", "wechat_unionid"))):
        known = [rows[c].notnull() for c in columns if c in rows.columns]
        if known:
            any_known = known[0]
            for more in known[1:]:
                any_known = any_known | more
            metrics[flag] = any_known.any()
    return rows.group_by(CUSTOMER_ID).aggregate(**metrics)


def age_on(birthday: ir.DateValue, as_of: datetime) -> ir.IntegerValue:
    """Whole years from ``birthday`` to the date of ``as_of`` (a birthday today counts)."""
    today = as_of.year * 10_000 + as_of.month * 100 + as_of.day
    born = birthday.year() * 10_000 + birthday.month() * 100 + birthday.day()
    return ((ibis.literal(today) - born) // 10_000).cast("int64")


def age_band(age: ir.IntegerValue) -> ir.StringValue:
    """The band an age falls in (``<18`` … ``60+``)."""
    branches = [(age < upper, ibis.literal(label)) for upper, label in AGE_BANDS]
    return ibis.cases(*branches, else_=ibis.literal("60+"))


def life_stage(age: ir.IntegerValue, marital: ir.StringValue) -> ir.StringValue:
    """A coarse life stage from age and marital status (rules in ``docs/profiles.md``)."""
    single = marital.isin(("single", "divorced", "widowed"))
    return ibis.cases(
        (age.isnull(), ibis.null(str)),
        (age >= 60, "senior"),
        ((marital == "married") & (age < 40), "young_family"),
        (marital == "married", "mature_family"),
        (single & (age < 35), "young_single"),
        (single, "single_adult"),
        (age < 35, "young_adult"),
        else_="adult",
    )


def demographics(customers: ir.Table, as_of: datetime) -> ir.Table:
    """Basic attributes per customer from canonical ``customers`` rows with ``customer_id``.

    Args:
        customers: Canonical customers with a ``customer_id`` column; lineage columns
            (``_loaded_at``, ``_source``) are used for recency when present.
        as_of: Reference time for ages.

    Returns:
        One row per customer: gender, age, age_band, life_stage, province, city, city_tier,
        occupation, income_band, marital_status, education, member_level, registered_at,
        customer_records, has_phone, has_email, has_wechat (those the input allows).

    Example:
        >>> demographics(ws.table("customers"), datetime(2026, 11, 1))  # doctest: +SKIP
    """
    latest = _latest(customers)
    columns: dict[str, ir.Value] = {}
    if "gender" in latest.columns:
        columns["gender"] = latest.gender.fill_null("unknown")
    if "birthday" in latest.columns:
        age = age_on(latest.birthday, as_of)
        columns["age"] = age
        columns["age_band"] = ibis.ifelse(age.isnull(), ibis.null(str), age_band(age))
        marital = (latest.marital_status if "marital_status" in latest.columns
                   else ibis.null(str))
        columns["life_stage"] = life_stage(age, marital)
    if "city" in latest.columns:
        city_province = latest.city.substitute(PROVINCE_OF_CITY, else_=ibis.null(str))
        given = latest.province if "province" in latest.columns else ibis.null(str)
        columns["province"] = ibis.coalesce(city_province, given)
        tier_of_city = latest.city.substitute(TIER_OF_CITY, else_=ibis.null(str))
        given_tier = latest.city_tier if "city_tier" in latest.columns else ibis.null(str)
        columns["city_tier"] = ibis.coalesce(given_tier, tier_of_city)
    return latest.mutate(**columns).drop(*(c for c in ("birthday",) if c in latest.columns))
