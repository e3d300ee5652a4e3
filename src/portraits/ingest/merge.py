"""Merge accepted rows into a canonical table, idempotently.

Events are immutable: a message id already stored is skipped. Other entities are upserts
by key: new keys are added, changed rows replace the stored ones, identical rows change
nothing — so loading the same file twice leaves the table exactly as it was.
"""

from __future__ import annotations

from functools import reduce

import ibis
import ibis.expr.types as ir

from portraits.model.canonical import Entity

LINEAGE = ("_source", "_load_id", "_file", "_row", "_loaded_at")


def canonical_rows(accepted: ir.Table, ent: Entity, lineage: dict[str, ir.Value]) -> ir.Table:
    """All fields of the entity in canonical order and type (unmapped ones NULL), plus lineage."""
    columns: dict[str, ir.Value] = {}
    for f in ent.fields:
        columns[f.name] = (accepted[f.name].cast(f.dtype) if f.name in accepted.columns
                           else ibis.null(f.dtype))
    return accepted.select(**columns, **lineage)


def new_or_changed(incoming: ir.Table, existing: ir.Table | None, ent: Entity) -> ir.Table:
    """Rows of ``incoming`` that the stored table does not already hold exactly."""
    if existing is None:
        return incoming
    keys = list(ent.merge_key)
    if ent.mode == "append":
        return incoming.anti_join(existing, keys)
    names = list(dict.fromkeys([*ent.field_names, *keys]))
    stored = existing.select(*names).rename({f"__old_{n}": n for n in names})
    joined = incoming.left_join(stored, [incoming[k] == stored[f"__old_{k}"] for k in keys])
    same = reduce(lambda a, b: a & b, [
        joined[n].identical_to(joined[f"__old_{n}"]) for n in ent.field_names
    ])
    return joined.filter(~same).select(*incoming.columns)


def upserted(existing: ir.Table, changed: ir.Table, ent: Entity) -> ir.Table:
    """The stored table with ``changed`` rows replacing those with the same key."""
    return existing.anti_join(changed, list(ent.merge_key)).union(changed)


def count_new(changed: ir.Table, existing: ir.Table | None, ent: Entity) -> ir.IntegerScalar:
    """How many of the new-or-changed rows have a key not stored before."""
    if existing is None:
        return changed.count()
    return changed.anti_join(existing, list(ent.merge_key)).count()
