"""Identity resolution on a hand-made workspace: exact ids, merges, splits, explain.

Four CRM members (two with the placeholder phone 13800000000), events with a cookie, a
device, a family tablet that two members sign in on and an anonymous visitor; then a
second file of orders that ties two members together and brings a new one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW, WorkspaceFactory

SPEC = """\
version: 1
name: shop
identity:
  types:
    user_id: {same_as: member_id}
sources:
  - name: crm
    entity: customers
    path: crm.csv
    columns: {source_id: id, member_id: id, phone: phone, email: email,
              registered_at: registered}
  - name: events
    entity: events
    path: events.csv
    columns: {message_id: id, anonymous_id: anon, user_id: user, device_id: device,
              event: event, timestamp: ts}
  - name: orders
    entity: orders
    path: orders*.csv
    columns: {order_id: id, member_id: member, phone: phone, ordered_at: ts}
"""
CRM = """\
id,phone,email,registered
M1,13912340001,A@X.com,2024-01-01
M2,13912340002,,2024-02-01
M3,13800000000,test@test.com,2024-03-01
M4,13800000000,,2024-03-02
"""
EVENTS = """\
id,anon,user,device,event,ts
e1,ck1,M1,D1,Signed In,2024-05-01 10:00
e2,ck1,,D1,Product Viewed,2024-05-02 10:00
e3,a-T,M1,T,Signed In,2024-05-03 10:00
e4,a-T,M2,T,Signed In,2024-05-04 10:00
e5,ck9,,D9,Product Viewed,2024-05-05 10:00
"""
ORDERS = """\
id,member,phone,ts
O1,M2,13912340001,2024-06-01 10:00
O2,M5,13912340005,2024-06-02 10:00
"""


def settings() -> Settings:
    return Settings(now=NOW, lang="en")


@pytest.fixture
def shop(make_workspace: WorkspaceFactory) -> Path:
    return make_workspace(SPEC, {"crm.csv": CRM, "events.csv": EVENTS, "orders.csv": "x\n"})


def resolve(root: Path, sources: list[str] | None = None) -> dict[str, str]:
    """Load (some) sources, resolve, and return identifier → customer id."""
    with Workspace(root, settings=settings()) as ws:
        ws.ingest.load(sources)
        ws.identity.resolve()
        return customers(ws)


def customers(ws: Workspace) -> dict[str, str]:
    rows = ws.identity.customer_ids().to_pyarrow().to_pylist()
    return {f"{r['id_type']}:{r['id_value']}": r["customer_id"] for r in rows}


def test_people_get_ids_in_the_order_they_appeared(shop: Path) -> None:
    ids = resolve(shop, ["crm", "events"])
    assert ids["member_id:M1"] == ids["phone:+8613912340001"] == ids["email:a@x.com"] \
        == ids["anonymous_id:ck1"] == ids["device_id:D1"] == "C00000001"
    assert ids["member_id:M2"] == ids["phone:+8613912340002"] == "C00000002"
    # The placeholder phone and e-mail join nobody; the family tablet is shared.
    assert (ids["member_id:M3"], ids["member_id:M4"]) == ("C00000003", "C00000004")
    assert not {"phone:+8613800000000", "email:test@test.com", "device_id:T",
                "anonymous_id:a-T"} & set(ids)
    assert ids["anonymous_id:ck9"] == ids["device_id:D9"] == "C00000005"
    with Workspace(shop, settings=settings()) as ws:
        identities = ws.table("identities").to_pyarrow().to_pylist()
    status = {(r["id_type"], r["id_value"]): (r["status"], r["reason"]) for r in identities}
    assert status["phone", "+8613800000000"] == ("junk", "placeholder value")
    assert status["device_id", "T"] == ("shared", "seen with 2 member_id values, more than 1")


def test_a_new_file_keeps_ids_and_the_oldest_id_wins_a_merge(shop: Path) -> None:
    before = resolve(shop, ["crm", "events"])
    (shop / "orders.csv").write_text(ORDERS, encoding="utf-8")
    after = resolve(shop, ["orders"])
    assert after["member_id:M2"] == after["member_id:M1"] == "C00000001"
    assert after["member_id:M5"] == "C00000006"
    unchanged = {k: v for k, v in before.items() if v != "C00000002"}
    assert {k: after[k] for k in unchanged} == unchanged
    with Workspace(shop, settings=settings()) as ws:
        history = ws.table("merge_history").to_pyarrow().to_pylist()
    merge = [h for h in history if h["left_customer_id"] and h["right_customer_id"]]
    assert len(merge) == 1
    assert merge[0]["record_key"] == "O1" and merge[0]["entity"] == "orders"
    assert {merge[0]["left_customer_id"], merge[0]["right_customer_id"]} == {
        "C00000001", "C00000002"}
    assert merge[0]["customer_id"] == "C00000001"


def test_resolving_again_changes_nothing(shop: Path) -> None:
    resolve(shop, ["crm", "events"])
    with Workspace(shop, settings=settings()) as ws:
        tables = {n: ws.engine.to_arrow(ws.table(n)) for n in
                  ("customer_ids", "merge_history", "identities", "identity_links")}
        assert ws.identity.resolve().status == "unchanged"
        ws.ingest.load(["crm", "events"], force=True)   # same rows again: nothing new
        report = ws.identity.resolve()
        assert (report.new_people, report.merges, report.splits) == (0, 0, 0)
        for name, table in tables.items():
            assert ws.engine.to_arrow(ws.table(name)).sort_by(
                [(c, "ascending") for c in table.column_names if c != "resolved_at"]).equals(
                table.sort_by([(c, "ascending") for c in table.column_names
                               if c != "resolved_at"])), name


def test_split_on_an_identifier_then_explain(shop: Path) -> None:
    (shop / "orders.csv").write_text(ORDERS, encoding="utf-8")
    resolve(shop)
    with Workspace(shop, settings=settings()) as ws:
        report = ws.identity.split(identifier="phone:13912340001")
        ids = customers(ws)
        assert report.splits == 1
        assert ids["member_id:M1"] == "C00000001"          # the oldest part keeps the id
        # one load: M1+M2 (C1), M3, M4, the visitor, M5 (C5); the split-off part is next
        assert ids["member_id:M2"] == ids["phone:+8613912340002"] == "C00000006"
        assert "phone:+8613912340001" not in ids
        blocked = ws.identity.explain("phone:+8613912340001")
        assert (blocked.status, blocked.customer_id) == ("blocked", None)
        explained = ws.identity.explain("member_id:M2")
        assert explained.customer_id == "C00000006"
        kinds = [(s.kind, s.customer_id) for s in explained.steps]
        assert ("split", "C00000006") in kinds
        split = next(s for s in explained.steps if s.kind == "split")
        assert split.left_customer_id == "C00000001"
        assert split.reason == "blocked phone:+8613912340001"
        assert ws.identity.resolve().status == "unchanged"
    assert "phone:+8613912340001" in (shop / "identity" / "blocks.yaml").read_text()


def test_explain_on_the_command_line_masks_pii(shop: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from portraits.cli import main

    monkeypatch.setattr(main.console, "width", 200)
    resolve(shop, ["crm", "events"])
    runner = CliRunner()
    masked = runner.invoke(app, ["identity", "explain", "member_id:M1", "-p", str(shop)])
    assert masked.exit_code == 0, masked.output
    assert "belongs to customer C00000001" in masked.output
    assert "139****0001" in masked.output and "a***@x.com" in masked.output
    assert "+8613912340001" not in masked.output
    assert "device_id" in masked.output and "seen with 2 member_id values" in masked.output
    shown = runner.invoke(app, ["--lang", "zh-CN", "identity", "explain", "member_id:M1",
                                "-p", str(shop), "--show-pii"])
    assert "属于客户 C00000001" in shown.output and "+8613912340001" in shown.output
