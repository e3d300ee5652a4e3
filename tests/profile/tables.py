"""Small hand-made canonical tables for profile tests, run on in-memory DuckDB."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from portraits.model.canonical import entity

ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
         "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us")}
LINEAGE = (("_source", pa.string()), ("_loaded_at", pa.timestamp("us")))
AS_OF = datetime(2026, 11, 1, 12, 0, 0)


def canonical(name: str, rows: list[dict[str, Any]]) -> ir.Table:
    """Rows of canonical entity ``name`` with lineage and ``customer_id``; unset fields are
    null."""
    ent = entity(name)
    person = name in ("customers", "events", "orders", "reviews")
    schema = pa.schema([pa.field(f.name, ARROW[f.dtype]) for f in ent.fields]
                       + [pa.field(n, t) for n, t in LINEAGE]
                       + ([pa.field("customer_id", pa.string())] if person else []))
    unknown = {k for r in rows for k in r} - set(schema.names)
    assert not unknown, f"not fields of {name}: {unknown}"
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def event(customer: str, at: str, name: str = "Product Viewed", **more: Any) -> dict[str, Any]:
    """One event row; ``at`` is 'YYYY-MM-DD HH:MM[:SS]'."""
    stamp = datetime.fromisoformat(at)
    return {"customer_id": customer, "timestamp": stamp, "event": name,
            "message_id": f"{customer}-{stamp.isoformat()}-{name}-{more.get('device_id')}",
            **more}


def rows(con: BaseBackend, table: ir.Table) -> dict[str, dict[str, Any]]:
    """The table's rows keyed by customer id."""
    return {r["customer_id"]: r for r in con.to_pyarrow(table).to_pylist()}
