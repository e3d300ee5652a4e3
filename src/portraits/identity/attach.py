"""Attach ``customer_id`` to the records of any canonical table.

A record belongs to the customer of its highest-priority identifier that resolved to
one: an order with a member id and a phone takes the member id's customer. Identifiers
that are junk, shared or blocked have no customer, so they never decide.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from portraits.identity.graph import normalized
from portraits.identity.rules import IdentityRules
from portraits.model.canonical import Entity


def attach_customer_id(table: ir.Table, ent: Entity, customer_ids: ir.Table,
                       rules: IdentityRules, columns: Sequence[str] | None = None) -> ir.Table:
    """``table`` with a ``customer_id`` column (NULL where no identifier resolved).

    Args:
        table: A canonical table (customers, events, orders, reviews, consents).
        ent: Its entity.
        customer_ids: The ``customer_ids`` table (``id_type, id_value, customer_id``).
        rules: The workspace's identity rules (types, priorities, normalisation).
        columns: The columns of ``table`` to keep; all when omitted. Name them when a
            query reads the result several times: it shares this table, and DuckDB holds
            a shared table whole.

    Returns:
        Every row of ``table`` with its (or those) columns, plus ``customer_id``.

    Example:
        >>> orders = attach_customer_id(ws.table("orders"), entity("orders"),
        ...                             ws.table("customer_ids"), rules)  # doctest: +SKIP
    """
    kept = list(table.columns if columns is None else columns)
    fields = [(name, rule) for name, rule in rules.identifier_fields(ent)
              if name in table.columns]
    if not fields:
        return table.select(*kept, customer_id=ibis.null("string"))
    table = table.select(*dict.fromkeys([*kept, *(name for name, _ in fields)]))
    joined = table
    for i, (name, rule) in enumerate(fields):
        ids = customer_ids.filter(customer_ids.id_type == rule.name)
        ids = ids.select(**{f"_id{i}": ids.id_value, f"_customer{i}": ids.customer_id})
        joined = joined.mutate(**{f"_key{i}": normalized(joined[name], rule)})
        joined = joined.left_join(ids, joined[f"_key{i}"] == ids[f"_id{i}"])
    found = [joined[f"_customer{i}"] for i in range(len(fields))]
    customer = ibis.coalesce(*found) if len(found) > 1 else found[0]
    return joined.select(*kept, customer_id=customer)


def record_customers(table: ir.Table, ent: Entity, customer_ids: ir.Table,
                     rules: IdentityRules, stamp: str) -> ir.Table:
    """The key of every record that resolved to a customer, with that ``customer_id``
    and ``_stamp`` (what the map was made from; see :func:`attach_by_record`).

    Args:
        table: A canonical table; its merge key (``ent.merge_key``) is unique.
        ent: Its entity.
        customer_ids: The ``customer_ids`` table.
        rules: The identity rules.
        stamp: Written on every row.
    """
    keys = list(ent.merge_key)
    attached = attach_customer_id(table, ent, customer_ids, rules, keys)
    return attached.filter(attached.customer_id.notnull()).mutate(_stamp=ibis.literal(stamp))


def attach_by_record(table: ir.Table, ent: Entity, records: ir.Table,
                     columns: Sequence[str] | None = None) -> ir.Table:
    """``table`` with a ``customer_id`` column read from a map of its records'
    customers (:func:`record_customers`): one join on the key instead of one per kind of
    identifier, with the same result as :func:`attach_customer_id` while the map is
    current."""
    kept = list(table.columns if columns is None else columns)
    keys = list(ent.merge_key)
    narrow = table.select(*dict.fromkeys([*kept, *keys]))
    found = records.select(**{f"_key{i}": records[k] for i, k in enumerate(keys)},
                           _customer=records.customer_id)
    joined = narrow.left_join(found, [narrow[k] == found[f"_key{i}"]
                                      for i, k in enumerate(keys)])
    return joined.select(*kept, customer_id=joined._customer)
