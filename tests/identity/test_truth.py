"""Identity resolution recovers the people the generator planted, and only them.

600 generated people (blocks of 250) are loaded and resolved once per module. Hard
identifiers (member id, phone, e-mail, store card) of one planted person must end up in
exactly one customer, and no customer may hold two planted people. CRM duplicates whose
phone was mistyped share no hard identifier with their original: probabilistic matching
(not this module) joins them, so they are left out of recall.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW

HARD = ("member_id", "phone", "email", "store_member_id")


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("retail")
    create_workspace(root)
    generate(root / "data", customers=600, seed=7, end=date(2026, 11, 1), block=250)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        ws.identity.resolve()
    return root


def truth(root: Path) -> dict[str, Any]:
    return json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))


def customer_of(root: Path) -> dict[tuple[str, str], str]:
    with Workspace(root, settings=Settings(now=NOW)) as ws:
        rows = ws.identity.customer_ids().to_pyarrow().to_pylist()
    return {(r["id_type"], r["id_value"]): r["customer_id"] for r in rows}


def test_hard_identifiers_of_each_person_make_exactly_one_customer(retail: Path) -> None:
    ids = customer_of(retail)
    people = pq.read_table(retail / "data" / "truth" / "people.parquet").to_pylist()
    person_of: dict[tuple[str, str], str] = {}
    found: dict[str, set[str]] = {}
    for p in people:
        mine = {(t, p[t]) for t in HARD if p[t] is not None and (t, p[t]) in ids}
        person_of.update(dict.fromkeys(mine, p["person_id"]))
        found[p["person_id"]] = {ids[key] for key in mine}
    members: dict[str, set[str]] = defaultdict(set)
    for key, customer in ids.items():
        if key in person_of:
            members[customer].add(person_of[key])
    precision = sum(len(v) == 1 for v in members.values()) / len(members)
    recall = sum(len(v) == 1 for v in found.values()) / len(found)
    assert precision == 1.0
    assert recall == 1.0
    assert all(("member_id", p["member_id"]) in ids for p in people)


def test_crm_duplicates_with_the_same_phone_are_merged(retail: Path) -> None:
    ids = customer_of(retail)
    same_phone = [d for d in truth(retail)["crm_duplicates"] if "phone" not in d["typo"]
                  and ("member_id", d["duplicate_member_id"]) in ids]
    assert same_phone
    for d in same_phone:
        assert ids["member_id", d["member_id"]] == ids["member_id", d["duplicate_member_id"]]


def test_the_two_people_sharing_a_device_are_not_merged(retail: Path) -> None:
    ids = customer_of(retail)
    for device in truth(retail)["shared_devices"]:
        first, second = device["member_ids"]
        assert ids["member_id", first] != ids["member_id", second]
        # A tablet only one of the two signed in on is theirs; otherwise it joins nobody.
        tablet = ids.get(("device_id", device["device_id"]))
        assert tablet in (None, ids["member_id", first], ids["member_id", second])
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        identities = ws.table("identities")
        shared = identities.filter(identities.id_value.startswith("TAB-")
                                   & (identities.status == "shared")).to_pyarrow()
    assert shared.num_rows >= 1


def test_store_tablets_are_shared_and_join_nobody(retail: Path) -> None:
    ids = customer_of(retail)
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        identities = ws.table("identities")
        kiosk = identities.filter(identities.id_value.startswith("KIOSK-")).to_pyarrow()
        events = ws.table("events")
        users = events.filter(events.device_id.startswith("KIOSK-")).select(
            "user_id").distinct().to_pyarrow().column("user_id").to_pylist()
    assert set(kiosk.column("status").to_pylist()) == {"shared"}
    assert len(users) > 5
    assert len({ids["member_id", u] for u in users}) == len(users)


def test_junk_identifiers_are_ignored(retail: Path) -> None:
    ids = customer_of(retail)
    planted = truth(retail)
    junk = planted["junk_values"]
    assert ("phone", junk["phone"]) not in ids and ("email", junk["email"]) not in ids
    members = planted["junk_identifiers"]
    assert len(members) >= 2
    assert len({ids["member_id", m] for m in members}) == len(members)
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        explained = ws.identity.explain(f"phone:{junk['phone']}")
    assert (explained.status, explained.customer_id) == ("junk", None)


def test_every_record_finds_its_customer(retail: Path) -> None:
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        orders = ws.identity.attach("orders").to_pyarrow().to_pylist()
        ids = customer_of(retail)
    assert orders and all(o["customer_id"] for o in orders)
    for o in orders:
        if o["member_id"] is not None:
            assert o["customer_id"] == ids["member_id", o["member_id"]]


def test_attach_keeps_only_the_columns_asked_for(retail: Path) -> None:
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        whole = ws.identity.attach("events").to_pandas()
        narrow = ws.identity.attach("events", ["message_id", "event"]).to_pandas()
    assert list(narrow.columns) == ["message_id", "event", "customer_id"]
    # The identifiers still find the customer, though they are not returned.
    expected = whole[["message_id", "event", "customer_id"]].sort_values("message_id")
    pd.testing.assert_frame_equal(narrow.sort_values("message_id").reset_index(drop=True),
                                  expected.reset_index(drop=True))
    assert narrow.customer_id.notnull().sum() > len(narrow) / 2


@pytest.mark.parametrize("name", ["customers", "events", "orders", "reviews", "consents"])
def test_the_kept_map_of_customers_attaches_as_the_identifiers_do(retail: Path,
                                                                    name: str) -> None:
    """``ws.identity.attach`` reads each record's customer from a hidden map made once per
    identity run; it gives what the joins on every identifier give."""
    from portraits.identity.attach import attach_customer_id
    from portraits.model.canonical import entity

    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        mapped = ws.identity.attach(name).to_pandas()
        assert ws.engine.has_table(f"_customers_of_{name}")
        assert not any(t.startswith("_") for t in ws.tables())  # hidden
        joined = attach_customer_id(ws.table(name), entity(name), ws.identity.customer_ids(),
                                    ws.identity.rules).to_pandas()
    keys = list(entity(name).merge_key)
    assert list(mapped.columns) == list(joined.columns)
    pd.testing.assert_frame_equal(mapped.sort_values(keys).reset_index(drop=True),
                                  joined.sort_values(keys).reset_index(drop=True))
    assert mapped.customer_id.notnull().any()


def test_a_table_without_identifiers_gets_no_kept_map(retail: Path) -> None:
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        items = ws.identity.attach("order_items").to_pandas()
        assert not ws.engine.has_table("_customers_of_order_items")
    assert items.customer_id.isna().all() and len(items) > 0


def test_the_kept_map_is_made_again_when_what_it_depends_on_changes(
        retail: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(retail, root)
    with Workspace(root, settings=Settings(now=NOW)) as ws:
        ws.identity.attach("orders")
        stamp = ws.identity._stamp("orders")
        kept = ws.table("_customers_of_orders").to_pandas()
        assert set(kept["_stamp"]) == {stamp}
        assert ws.identity._stamp("orders") == stamp  # the same inputs, the same stamp
        # A row appended outside a load changes the stamp, and the map is made again.
        orders = ws.table("orders")
        first = str(kept["order_id"].iloc[0])  # an order with a customer
        extra = orders.filter(orders.order_id == first).mutate(
            order_id=orders.order_id + "-copy")
        ws.engine.write("orders", extra, mode="append")
        assert ws.identity._stamp("orders") != stamp
        attached = ws.identity.attach("orders").to_pandas()
        copy = attached[attached.order_id.str.endswith("-copy")]
        assert len(copy) == 1 and copy.customer_id.notnull().all()
        assert ws.table("_customers_of_orders").count().to_pyarrow().as_py() == len(kept) + 1


def test_resolving_again_adds_nothing(retail: Path) -> None:
    before = customer_of(retail)
    with Workspace(retail, settings=Settings(now=NOW)) as ws:
        report = ws.identity.resolve()
    assert report.status == "unchanged"
    assert customer_of(retail) == before
