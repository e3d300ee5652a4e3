"""A test-only stand-in for identity resolution: customer ids from the generator's truth.

Every identifier the generator gave a person (member ids, the duplicate CRM record's id,
the store card, phone, devices, cookies, WeChat ids) maps to that person's ``person_id``,
which becomes the ``customer_id``. Shared tablets and store kiosks are left unmapped, as
identity resolution leaves them, so only signed-in events on them reach a person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from portraits.profile import ProfileInputs
from portraits.workspace.facade import Workspace


def truth_people(root: Path) -> pa.Table:
    """The generator's ``truth/people.parquet`` of the workspace at ``root``."""
    return pq.read_table(root / "data" / "truth" / "people.parquet")


def identifier_map(people: pa.Table) -> pa.Table:
    """(id_value, customer_id) for every identifier of every planted person."""
    values: list[str] = []
    owners: list[str] = []
    for row in people.to_pylist():
        ids = [row["member_id"], row["duplicate_member_id"], row["store_member_id"],
               row["phone"], row["wechat_openid"], row["wechat_unionid"],
               f"mp-{row['wechat_openid']}", *row["cookie_ids"]]
        for device in row["device_ids"]:
            ids += [device, f"a-{device}"]
        for value in ids:
            if value:
                values.append(value)
                owners.append(row["person_id"])
    return pa.table({"id_value": values, "customer_id": owners})


def _lookup(table: ir.Table, ids: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """``table`` with ``customer_id``: the owner of the first of ``columns`` that is known."""
    owners = []
    for k, column in enumerate(columns):
        found = ids.rename({f"_id{k}": "id_value", f"_owner{k}": "customer_id"})
        table = table.left_join(found, table[column] == found[f"_id{k}"]).drop(f"_id{k}")
        owners.append(table[f"_owner{k}"])
    return table.mutate(customer_id=ibis.coalesce(*owners)).drop(
        *(f"_owner{k}" for k in range(len(columns))))


def truth_inputs(ws: Workspace) -> ProfileInputs:
    """The workspace's canonical tables with customer ids from the planted truth."""
    mapping = ws.engine.materialize(identifier_map(truth_people(ws.root)))
    return ProfileInputs(
        customers=_lookup(ws.table("customers"), mapping, ("member_id", "store_member_id")),
        events=_lookup(ws.table("events"), mapping, ("user_id", "device_id", "anonymous_id")),
        orders=_lookup(ws.table("orders"), mapping, ("member_id", "phone")),
        order_items=ws.table("order_items"),
        products=ws.table("products"),
        reviews=_lookup(ws.table("reviews"), mapping, ("member_id",)),
    )


def profile_from_truth(ws: Workspace, as_of: datetime,
                       keep: Mapping[str, Sequence[str]] | None = None) -> None:
    """Build ``profiles`` and ``profile_interests`` from :func:`truth_inputs`, then store
    ``orders`` and ``events`` with those customer ids (what tags and segments read).

    Args:
        keep: Columns to keep per stored table (all when omitted): a bench keeps them narrow.
    """
    inputs = truth_inputs(ws)
    ws.profiles.build(inputs=inputs, as_of=as_of)
    for name in ("orders", "events"):
        table = getattr(inputs, name)
        if keep is not None:
            table = table.select(*(c for c in table.columns if c in keep[name]))
        ws.engine.write(name, table)
