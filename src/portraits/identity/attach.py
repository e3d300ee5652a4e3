"""Attach ``customer_id`` to the records of any canonical table.

A record belongs to the customer of its highest-priority identifier that resolved to
one: an order with a member id and a phone takes the member id's customer. Identifiers
that are junk, shared or blocked have no customer, so they never decide.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from portraits.identity.graph import normalized
from portraits.identity.rules import IdentityRules
from portraits.model.canonical import Entity


def attach_customer_id(table: ir.Table, ent: Entity, customer_ids: ir.Table,
                       rules: IdentityRules) -> ir.Table:
    """``table`` with a ``customer_id`` column (NULL where no identifier resolved).

    Args:
        table: A canonical table (customers, events, orders, reviews, consents).
        ent: Its entity.
        customer_ids: The ``customer_ids`` table (``id_type, id_value, customer_id``).
        rules: The workspace's identity rules (types, priorities, normalisation).

    Returns:
        Every row and column of ``table``, plus ``customer_id``.

    Example:
        >>> orders = attach_customer_id(ws.table("orders"), entity("orders"),
        ...                             ws.table("customer_ids"), rules)  # doctest: +SKIP
    """
    fields = [(name, rule) for name, rule in rules.identifier_fields(ent)
              if name in table.columns]
    if not fields:
        return table.mutate(customer_id=ibis.null("string"))
    joined = table
    for i, (name, rule) in enumerate(fields):
        ids = customer_ids.filter(customer_ids.id_type == rule.name)
        ids = ids.select(**{f"_id{i}": ids.id_value, f"_customer{i}": ids.customer_id})
        joined = joined.mutate(**{f"_key{i}": normalized(joined[name], rule)})
        joined = joined.left_join(ids, joined[f"_key{i}"] == ids[f"_id{i}"])
    found = [joined[f"_customer{i}"] for i in range(len(fields))]
    customer = ibis.coalesce(*found) if len(found) > 1 else found[0]
    return joined.select(*table.columns, customer_id=customer)
