"""Substitutes: products people look at together but rarely buy together.

A **session** is one person's calendar day (``customer_id`` and the date of the event's
timestamp as stored); events without a ``customer_id`` are left out.

* **views(a)** — sessions with a ``Product Viewed`` event of product a; **S** — sessions
  with any product view.
* **co_views(a, b)** — sessions that viewed both a and b.
* **co_purchases(a, b)** — of those sessions, the ones in which the same person also
  bought both a and b that day (lines of paid orders, as for basket rules, placed on the
  date of ``orders.ordered_at``).
* **co_view_lift** = co_views × S / (views(a) × views(b)): how much more often the two
  are viewed together than if views were independent.
* **bought_together_share** = co_purchases / co_views.
* **substitute_score** = co_view_lift × (1 − bought_together_share): high when the pair
  is compared often and the comparison ends with one of them (or neither), not both.

Pairs need ``min_co_views`` co-views and, by default, the same ``category`` (or the same
``category_path``; ``any`` drops the condition).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from portraits.analytics.basket import BasketSpec, paid_orders, require_columns
from portraits.errors import PortraitsError

VIEWED = "Product Viewed"


def substitute_pairs(events: ir.Table, order_items: ir.Table, orders: ir.Table,
                     products: ir.Table, spec: BasketSpec) -> ir.Table:
    """Product pairs (a < b) viewed in the same sessions, with the substitute score.

    Args:
        events: ``customer_id``, ``event``, ``timestamp``, ``product_id``.
        order_items: Order lines (``order_id``, ``product_id``, ``quantity``).
        orders: ``order_id``, ``customer_id``, ``ordered_at`` and ``status``.
        products: ``product_id``, ``name`` and the category column of
            ``spec.substitutes_within``.
        spec: ``min_co_views``, ``substitutes_within`` and the excluded order statuses.

    Returns:
        ``product_a``, ``product_b``, ``name_a``, ``name_b``, ``category_a``,
        ``category_b``, ``views_a``, ``views_b``, ``co_views``, ``sessions``,
        ``co_view_lift``, ``co_purchases``, ``bought_together_share`` and
        ``substitute_score``, best first.
    """
    need = "substitutes need"
    require_columns(events, ("customer_id", "event", "timestamp", "product_id"), "events",
                    need)
    require_columns(orders, ("order_id", "customer_id", "ordered_at"), "orders", need)
    views = events.filter((events.event == VIEWED) & events.customer_id.notnull()
                          & events.product_id.notnull() & events.timestamp.notnull())
    views = views.select("customer_id", day=views.timestamp.date(),
                         product=views.product_id).distinct()
    sessions = views.select("customer_id", "day").distinct().aggregate(
        sessions=ibis._.count())
    viewed = views.group_by("product").aggregate(views=ibis._.count())
    seen = _pairs(views).group_by("a", "b").aggregate(co_views=ibis._.count())
    seen = seen.filter(seen.co_views >= spec.min_co_views)
    both = _pairs(_bought(order_items, orders, spec)).semi_join(
        seen, ["a", "b"]).semi_join(_pairs(views), ["customer_id", "day", "a", "b"])
    bought = both.group_by("a", "b").aggregate(co_purchases=ibis._.count())
    catalogue = _catalogue(products, spec)
    pairs = (seen.cross_join(sessions)
             .join(viewed.select(a="product", views_a="views"), "a")
             .join(viewed.select(b="product", views_b="views"), "b")
             .left_join(bought, ["a", "b"])
             .left_join(catalogue.select(a="product", name_a="name", category_a="category"),
                        "a")
             .left_join(catalogue.select(b="product", name_b="name", category_b="category"),
                        "b"))
    pairs = pairs.select(
        product_a=pairs.a, product_b=pairs.b, name_a=pairs.name_a, name_b=pairs.name_b,
        category_a=pairs.category_a, category_b=pairs.category_b, views_a=pairs.views_a,
        views_b=pairs.views_b, co_views=pairs.co_views, sessions=pairs.sessions,
        co_purchases=pairs.co_purchases.fill_null(0))
    if spec.substitutes_within != "any":
        pairs = pairs.filter(pairs.category_a == pairs.category_b)
    s, together = pairs.sessions.cast("float64"), pairs.co_views.cast("float64")
    pairs = pairs.mutate(
        co_view_lift=together * s / (pairs.views_a.cast("float64") * pairs.views_b),
        bought_together_share=pairs.co_purchases.cast("float64") / together)
    pairs = pairs.mutate(
        substitute_score=pairs.co_view_lift * (1 - pairs.bought_together_share))
    return pairs.order_by([ibis.desc("substitute_score"), ibis.desc("co_views"),
                           "product_a", "product_b"])


def _pairs(held: ir.Table) -> ir.Table:
    """``customer_id``, ``day``, ``a`` < ``b``: two products of one session."""
    left, right = held.view(), held.view()
    return left.join(right, [left.customer_id == right.customer_id, left.day == right.day,
                             left["product"] < right["product"]]).select(
        left.customer_id, left.day, a=left["product"], b=right["product"])


def _bought(order_items: ir.Table, orders: ir.Table, spec: BasketSpec) -> ir.Table:
    """``customer_id``, ``day``, ``product``: what each person bought on each day."""
    paid = orders.filter(orders.customer_id.notnull() & orders.ordered_at.notnull())
    paid = paid.semi_join(paid_orders(orders, spec), "order_id")
    lines = order_items.filter(order_items.product_id.notnull())
    if "quantity" in order_items.columns:
        lines = lines.filter(lines.quantity.isnull() | (lines.quantity > 0))
    held = lines.join(paid, "order_id")
    return held.select("customer_id", day=held.ordered_at.date(),
                       product=held.product_id).distinct()


def _catalogue(products: ir.Table, spec: BasketSpec) -> ir.Table:
    """``product``, ``name``, ``category`` (the column pairs must share)."""
    column = spec.substitutes_within if spec.substitutes_within != "any" else "category"
    if spec.substitutes_within != "any" and column not in products.columns:
        raise PortraitsError(f"products has no column '{column}': substitutes within the "
                             f"same {column} need it")
    named = products.filter(products.product_id.notnull())
    named = named.select(
        product=named.product_id,
        name=named.name if "name" in named.columns else ibis.null("string"),
        category=named[column] if column in named.columns else ibis.null("string"))
    return named.group_by("product").aggregate(name=named.name.min(),
                                               category=named.category.min())
