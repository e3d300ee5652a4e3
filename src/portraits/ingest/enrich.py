"""Fields derived while loading when the source does not give them."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from portraits.model.canonical import Entity
from portraits.model.geography import CITY_TIERS


def enrich(accepted: ir.Table, ent: Entity) -> ir.Table:
    """Fill derivable fields: a product's top category, a customer's city tier."""
    if ent.name == "products" and "category_path" in accepted.columns:
        top = accepted.category_path.split("/")[0].strip()
        given = accepted.category if "category" in accepted.columns else ibis.null("string")
        accepted = accepted.mutate(category=given.fill_null(ibis.ifelse(top == "", None, top)))
    if ent.name == "customers" and "city" in accepted.columns:
        given = accepted.city_tier if "city_tier" in accepted.columns else ibis.null("string")
        accepted = accepted.mutate(city_tier=given.fill_null(city_tier(accepted.city)))
    return accepted


def city_tier(city: ir.StringValue) -> ir.StringValue:
    """The tier of a city named with or without its 市 suffix; NULL for unknown cities."""
    name = city.strip().re_replace("市$", "")
    return name.substitute(CITY_TIERS, else_=ibis.null("string"))  # type: ignore[no-any-return]
