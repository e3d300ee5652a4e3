"""Profile completeness (R3.6): how much of a portrait is known, per profile and overall.

A profile's completeness is the percentage of the *completeness fields*
(:data:`COMPLETENESS_RULES`, also in ``docs/profiles.md``) that are known. They are the
facts a marketer needs from each dimension to reach and address a person; counts that
are zero by definition (a person with no events has 0 visits) are not among them, since
a zero is known but says nothing.

Overall completeness is the mean over profiles; the summary also gives each field's
share of profiles where it is known, and the share of profiles at or above 85 %, for
customers (profiles with a customer record), visitors (events only) and all profiles.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.types as ir

# Field → when it counts as known (English, Chinese).
COMPLETENESS_RULES: Final[dict[str, tuple[str, str]]] = {
    "gender": ("male or female", "性别为男或女"),
    "age": ("a birthday is known", "出生日期已知"),
    "city": ("known", "已知"),
    "city_tier": ("known", "已知"),
    "occupation": ("known", "已知"),
    "income_band": ("known", "已知"),
    "marital_status": ("known", "已知"),
    "education": ("known", "已知"),
    "member_level": ("known", "已知"),
    "contactable": ("a phone, e-mail or WeChat id is known (has_phone, has_email, has_wechat)",
                    "手机号、邮箱或微信任一已知"),
    "last_seen_at": ("the person has events", "有行为数据"),
    "main_device_type": ("their visits have a device type", "访问的设备类型已知"),
    "last_order_at": ("the person has bought", "有消费数据"),
    "favourite_category": ("their order lines have a category", "购买商品的类目已知"),
    "top_interest": ("they viewed, added or bought a product with a category",
                     "浏览、加购或购买过有类目的商品"),
}
COMPLETENESS_FIELDS: Final[tuple[str, ...]] = tuple(COMPLETENESS_RULES)
TARGET: Final = 85.0


def field_known(profiles: ir.Table, name: str) -> ir.BooleanValue:
    """Whether completeness field ``name`` is known in each profile."""
    if name == "gender":
        return profiles.gender.isin(("male", "female")).fill_null(False)
    if name == "contactable":
        return (profiles.has_phone.fill_null(False) | profiles.has_email.fill_null(False)
                | profiles.has_wechat.fill_null(False))
    return profiles[name].notnull()


def completeness(profiles: ir.Table) -> ir.FloatingValue:
    """Percentage (0-100) of the completeness fields known in each profile."""
    known = [field_known(profiles, name).cast("int64") for name in COMPLETENESS_FIELDS]
    total = known[0]
    for more in known[1:]:
        total = total + more
    return total.cast("float64") * 100.0 / len(COMPLETENESS_FIELDS)


POPULATIONS: Final = ("customers", "visitors", "all")


def completeness_summary(profiles: ir.Table) -> ir.Table:
    """Completeness overall and per field, for customers, visitors and all profiles.

    *Customers* are profiles with at least one customer record (CRM, store membership):
    people who registered. *Visitors* are profiles assembled from events alone — devices
    and cookies that never logged in; little can be known about them, so R3.6's target is
    read on customers, and visitors are shown beside them rather than mixed in.

    Args:
        profiles: The ``profiles`` table.

    Returns:
        Columns ``population`` (``customers``, ``visitors`` or ``all``), ``profiles`` (how
        many), ``position`` (for ordering), ``item`` (a field name, ``overall`` or
        ``profiles_at_target``), ``kind`` (``field`` or ``overall``) and ``percent``: for a
        field the share of profiles where it is known; ``overall`` the mean completeness;
        ``profiles_at_target`` the share of profiles with completeness ≥ 85 %. A
        population with no profiles has no rows.

    Example:
        >>> completeness_summary(ws.table("profiles")).to_pandas()  # doctest: +SKIP
    """
    registered = profiles.customer_records.fill_null(0) > 0
    groups = {"customers": profiles.filter(registered), "visitors": profiles.filter(~registered),
              "all": profiles}
    return ibis.union(*(_summary(table, name) for name, table in groups.items()))


def _summary(profiles: ir.Table, population: str) -> ir.Table:
    shares: dict[str, ir.Value] = {
        name: field_known(profiles, name).cast("float64").mean() * 100.0
        for name in COMPLETENESS_FIELDS}
    shares["overall"] = profiles.completeness.mean()
    shares["profiles_at_target"] = (profiles.completeness >= TARGET).cast("float64").mean() * 100
    wide = profiles.aggregate(__profiles=profiles.count(), **shares)
    wide = wide.filter(wide.__profiles > 0)
    rows = [wide.select(population=ibis.literal(population), profiles=wide.__profiles,
                        position=ibis.literal(position, "int64"), item=ibis.literal(name),
                        kind=ibis.literal("field" if name in COMPLETENESS_FIELDS else "overall"),
                        percent=wide[name].cast("float64"))
            for position, name in enumerate(shares)]
    return ibis.union(*rows)
