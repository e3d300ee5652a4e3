"""Fields derived while loading when the source does not give them."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from portraits.model.canonical import Entity


def enrich(accepted: ir.Table, ent: Entity) -> ir.Table:
    """Fill derivable fields: a product's top category from its category path."""
    if ent.name == "products" and "category_path" in accepted.columns:
        top = accepted.category_path.split("/")[0].strip()
        given = accepted.category if "category" in accepted.columns else ibis.null("string")
        accepted = accepted.mutate(category=given.fill_null(ibis.ifelse(top == "", None, top)))
    return accepted
