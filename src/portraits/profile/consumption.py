"""Consumption habits (R3.4): frequency, value, discounts, favourite categories and brands,
price level and sensitivity, spending level.

Work per input table: one grouped aggregation over ``orders``; order lines (items joined
to counted orders and products) feed one aggregation for the price index, one per-
category median and one ranking each for favourite category and brand.

Orders count as purchases unless their status is one of ``excluded_order_statuses``
(cancelled, refunded); those are counted in ``returned_orders``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from portraits.profile.favourites import favourites
from portraits.profile.schema import CUSTOMER_ID
from portraits.profile.spec import ProfileSpec
from portraits.profile.spine import attach, days_between


def counted(orders: ir.Table, spec: ProfileSpec) -> ir.BooleanValue:
    """Whether an order counts as a purchase (no status, or a status not excluded)."""
    return orders.status.isnull() | ~orders.status.isin(spec.excluded_order_statuses)


def person_orders(orders: ir.Table, as_of: datetime) -> ir.Table:
    """Orders that belong to a customer and were placed up to ``as_of``."""
    return orders.filter(orders[CUSTOMER_ID].notnull(), orders.ordered_at.notnull(),
                         orders.ordered_at <= ibis.literal(as_of))


def _spending_level(spend_365d: ir.FloatingValue, spec: ProfileSpec) -> ir.StringValue:
    return ibis.cases((spend_365d >= spec.spending.high, "high"),
                      (spend_365d >= spec.spending.mid, "mid"), else_="mass")


def order_facts(orders: ir.Table, spec: ProfileSpec, as_of: datetime) -> ir.Table:
    """Order-level consumption facts per customer: one grouped aggregation.

    Args:
        orders: Canonical orders with ``customer_id``.
        spec: Excluded statuses and spending thresholds.
        as_of: Reference time: later orders are ignored; the last 365 days end here.

    Returns:
        One row per customer with orders: orders, spend, average_order_value, first and
        last order, days_since_last_order, mean_days_between_orders, orders_365d,
        spend_365d, returned_orders, discount_share, coupon_use_rate, spending_level.
    """
    mine = person_orders(orders, as_of)
    ok = counted(mine, spec)
    recent = ok & (mine.ordered_at > ibis.literal(as_of - timedelta(days=365)))
    paid = mine.total_amount.fill_null(0.0)
    discount = mine.discount_amount.fill_null(0.0)
    coupon = mine.coupon_code.notnull() if "coupon_code" in mine.columns else ibis.literal(False)
    facts = mine.group_by(CUSTOMER_ID).aggregate(
        orders=ok.sum(),
        spend=paid.sum(where=ok),
        first_order_at=mine.ordered_at.min(where=ok),
        last_order_at=mine.ordered_at.max(where=ok),
        orders_365d=recent.sum(),
        spend_365d=paid.sum(where=recent),
        returned_orders=(~ok).sum(),
        _discount=discount.sum(where=ok),
        _coupon_orders=(ok & coupon).sum(),
    )
    bought = facts.orders > 0
    orders_f = facts.orders.cast("float64")
    span_days = (facts.last_order_at.epoch_seconds()
                 - facts.first_order_at.epoch_seconds()).cast("float64") / 86_400
    list_value = facts.spend + facts["_discount"]
    spend_365d = facts.spend_365d.fill_null(0.0)
    return facts.mutate(
        spend=facts.spend.fill_null(0.0),
        spend_365d=spend_365d,
        average_order_value=ibis.ifelse(bought, facts.spend / orders_f, ibis.null(float)),
        days_since_last_order=days_between(as_of, facts.last_order_at),
        mean_days_between_orders=ibis.ifelse(facts.orders > 1, span_days / (orders_f - 1),
                                             ibis.null(float)),
        discount_share=ibis.ifelse(list_value > 0, facts["_discount"] / list_value,
                                   ibis.null(float)),
        coupon_use_rate=ibis.ifelse(bought, facts["_coupon_orders"] / orders_f,
                                    ibis.null(float)),
        spending_level=ibis.ifelse(bought, _spending_level(spend_365d, spec),
                                   ibis.null(str)),
    ).drop("_discount", "_coupon_orders")


def order_lines(orders: ir.Table, items: ir.Table, products: ir.Table | None,
                spec: ProfileSpec, as_of: datetime) -> ir.Table:
    """Lines of counted orders with the buyer, the time and the product's category and brand.

    Args:
        orders: Canonical orders with ``customer_id``.
        items: Canonical order items.
        products: Canonical products, or None (no category, brand or list price then).
        spec: Excluded statuses.
        as_of: Reference time.

    Returns:
        Columns ``customer_id``, ``ordered_at``, ``product_id``, ``quantity``,
        ``unit_price``, ``amount``, ``category``, ``price_group`` (the category path, or the
        category) and ``brand``.
    """
    mine = person_orders(orders, as_of)
    buyers = mine.filter(counted(mine, spec)).select("order_id", CUSTOMER_ID, "ordered_at")
    lines = items.select("order_id", "product_id", "quantity", "unit_price", "amount")
    lines = lines.join(buyers, "order_id")
    if products is not None:
        catalogue = products.select(
            "product_id", category=products.category,
            price_group=ibis.coalesce(products.category_path, products.category),
            brand=products.brand, list_price=products.price)
        lines = lines.left_join(catalogue, "product_id").drop("product_id_right")
    else:
        lines = lines.mutate(category=ibis.null(str), price_group=ibis.null(str),
                             brand=ibis.null(str), list_price=ibis.null(float))
    quantity = ibis.ifelse(lines.quantity > 0, lines.quantity, 1)
    unit_price = ibis.coalesce(lines.unit_price, lines.amount / quantity, lines.list_price)
    return lines.select(
        CUSTOMER_ID, "ordered_at", "product_id", "category", "price_group", "brand",
        quantity=quantity.cast("int64"), unit_price=unit_price,
        amount=ibis.coalesce(lines.amount, unit_price * quantity),
    )


def price_level(lines: ir.Table, spec: ProfileSpec) -> ir.Table:
    """Price index and price sensitivity per customer.

    The price index is the quantity-weighted mean, over the lines a person bought, of the
    unit price divided by the median unit price of that product's category (its category
    path) over all lines: 1 means they pay the going price of what they buy.
    """
    medians = lines.group_by("price_group").aggregate(_median=lines.unit_price.median())
    priced = lines.join(medians, "price_group")
    ratio = ibis.ifelse(priced["_median"] > 0, priced.unit_price / priced["_median"],
                        ibis.null(float))
    weight = priced.quantity.cast("float64")
    index = priced.group_by(CUSTOMER_ID).aggregate(
        _weighted=(ratio * weight).sum(), _weight=weight.sum(where=ratio.notnull()))
    return index.select(CUSTOMER_ID, price_index=index["_weighted"] / index["_weight"])


def _price_sensitivity(joined: ir.Table, spec: ProfileSpec) -> ir.StringValue:
    rules = spec.price_sensitivity
    index = joined.price_index
    coupons = joined.coupon_use_rate.fill_null(0.0)
    return ibis.cases(
        (index.isnull() & joined.coupon_use_rate.isnull(), ibis.null(str)),
        ((index < rules.cheap) | (coupons >= rules.coupon_high), "high"),
        ((index > rules.dear) & (coupons < rules.coupon_low), "low"),
        else_="medium",
    )


def consumption(orders: ir.Table, items: ir.Table | None, products: ir.Table | None,
                spec: ProfileSpec, as_of: datetime) -> ir.Table:
    """The consumption dimension: one row per customer with orders up to ``as_of``.

    Args:
        orders: Canonical orders with ``customer_id``.
        items: Canonical order items, or None (no category, brand or price level then).
        products: Canonical products, or None.
        spec: Statuses, thresholds.
        as_of: Reference time.

    Returns:
        The consumption columns of ``docs/profiles.md``.

    Example:
        >>> consumption(orders, items, products, ProfileSpec(), as_of)  # doctest: +SKIP
    """
    facts = order_facts(orders, spec, as_of)
    if items is None:
        joined = facts.mutate(favourite_category=ibis.null(str), favourite_brand=ibis.null(str),
                              brands=ibis.null("int64"),
                              favourite_brand_share=ibis.null(float),
                              price_index=ibis.null(float))
    else:
        lines = order_lines(orders, items, products, spec, as_of)
        cents = lines.mutate(_cents=(lines.amount * 100).round().cast("int64"))
        picked = favourites(cents, {"favourite_category": "category",
                                    "favourite_brand": "brand"}, weight="_cents",
                            distinct={"favourite_brand": "brands"},
                            shares={"favourite_brand": "favourite_brand_share"})
        joined = attach(facts, picked, price_level(lines, spec))
    return joined.mutate(price_sensitivity=_price_sensitivity(joined, spec))
