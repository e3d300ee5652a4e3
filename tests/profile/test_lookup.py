"""``ws.profiles.get``: one person's portrait by any identifier.

A hand-made shop pins the semantics: 王小明 (member M1) with a phone, an e-mail, a cookie,
a device and a family tablet he shares with 李娜 (M2); a store card numbered ``M2`` that
belongs to someone else (赵六), so a bare ``M2`` is ambiguous; a CRM record with the
placeholder phone 13800000000. Then the generated retail workspace: the same customer by
every spelling of their identifiers, and a timeline that holds exactly the records the
profile build attributes to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from portraits.errors import PortraitsError
from portraits.profile.lookup import LookupMissError, parse_lookup
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW, WorkspaceFactory
from tests.engine.test_parity import engine, on, spark_context  # noqa: F401  (fixtures)
from tests.profile.conftest import Retail

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
    columns: {source_id: id, member_id: id, name: name, phone: phone, email: email,
              birthday: birthday, address: address, registered_at: registered}
  - name: stores
    entity: customers
    path: stores.csv
    columns: {source_id: card, store_member_id: card, name: name, phone: phone,
              registered_at: registered}
  - name: events
    entity: events
    path: events.csv
    columns: {message_id: id, anonymous_id: anon, user_id: user, device_id: device,
              event: event, timestamp: ts, platform: platform, channel: channel}
  - name: orders
    entity: orders
    path: orders.csv
    columns: {order_id: id, member_id: member, phone: phone, ordered_at: ts, status: status,
              channel: channel, total_amount: total}
"""
CRM = """\
id,name,phone,email,birthday,address,registered
M1,王小明,13912340001,Wang.XM@qq.com,1990-05-17,浙江省杭州市西湖区文三路 123 号,2024-01-01
M2,李娜,13912340002,,1988-03-02,,2024-02-01
M3,张伟,13800000000,,,,2024-03-01
"""
STORES = """\
card,name,phone,registered
M2,赵六,13912340009,2024-04-01
"""
EVENTS = """\
id,anon,user,device,event,ts,platform,channel
e1,ck1,M1,D1,Signed In,2024-05-01 10:00,web,organic
e2,ck1,,D1,Product Viewed,2024-05-02 10:00,web,organic
e3,a-T,M1,T,Signed In,2024-05-03 10:00,app,store
e4,a-T,M2,T,Signed In,2024-05-04 10:00,app,store
e5,ck1,M1,D1,Order Completed,2024-06-01 10:00,web,organic
e6,ck9,,D9,Product Viewed,2024-06-02 10:00,web,ads
"""
ORDERS = """\
id,member,phone,ts,status,channel,total
O1,M1,13912340001,2024-06-01 10:00,paid,web,199.00
O2,,13912340001,2024-07-01 09:00,refunded,app,59.50
O3,M2,13912340002,2024-06-15 10:00,paid,store,10.00
"""
FILES = {"crm.csv": CRM, "stores.csv": STORES, "events.csv": EVENTS, "orders.csv": ORDERS}
# 王小明's records, newest first (an order before an event of the same minute).
TIMELINE = [("order", "refunded"), ("order", "paid"), ("event", "Order Completed"),
            ("event", "Signed In"), ("event", "Product Viewed"), ("event", "Signed In")]


def settings() -> Settings:
    return Settings(now=NOW, lang="en")


def make_shop(root: Path, pinned: Settings | None = None) -> Path:
    """The shop in ``root``, loaded and resolved (profiles not built)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "portraits.yaml").write_text(SPEC, encoding="utf-8")
    for name, content in FILES.items():
        (root / name).write_text(content, encoding="utf-8")
    with Workspace(root, settings=pinned or settings()) as ws:
        ws.ingest.load()
        ws.identity.resolve()
    return root


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Resolved once for the module: lookups only read."""
    return make_shop(tmp_path_factory.mktemp("shop"))


def test_every_spelling_finds_the_same_customer(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        wang = ws.profiles.get("member_id:M1").customer_id
        for spelling in ("13912340001", "139-1234-0001", "+86 139 1234 0001",
                         "phone:139 1234 0001", "WANG.XM@QQ.COM", "email:wang.xm@qq.com",
                         "user_id:M1", "ck1", wang, wang.lower()):
            assert ws.profiles.get(spelling).customer_id == wang, spelling
        assert ws.profiles.get("139-1234-0001").matched == ("phone", "+8613912340001")
        assert ws.profiles.get(wang).matched is None
        assert ws.profiles.get("13912340002").customer_id != wang


def test_the_portrait_before_profiles_are_built(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        portrait = ws.profiles.get("13912340001")
    assert (portrait.profile, portrait.completeness, portrait.missing) == (None, None, ())
    used = {(i.id_type, i.id_value) for i in portrait.identities if i.used}
    assert used == {("member_id", "M1"), ("phone", "+8613912340001"),
                    ("email", "wang.xm@qq.com"), ("anonymous_id", "ck1"), ("device_id", "D1")}
    # The family tablet was seen with him but joins nobody; identifiers he is used by come first.
    off = {(i.id_type, i.id_value): i.status for i in portrait.identities if not i.used}
    assert off == {("device_id", "T"): "shared", ("anonymous_id", "a-T"): "shared"}
    assert all(i.used for i in portrait.identities[:len(used)])
    phone = next(i for i in portrait.identities if i.id_type == "phone")
    assert (phone.records, phone.sources) == (3, ("crm", "orders"))
    assert [r["name"] for r in portrait.records] == ["王小明"]
    assert [(e.kind, e.name) for e in portrait.timeline] == TIMELINE
    assert [e.amount for e in portrait.timeline[:2]] == [59.5, 199.0]
    assert portrait.timeline[0].platform == "app"      # an order's channel is its platform


def test_the_timeline_is_limited_to_the_most_recent(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        three = ws.profiles.get("member_id:M1", events=3).timeline
        none = ws.profiles.get("member_id:M1", events=0).timeline
    assert [(e.kind, e.name) for e in three] == TIMELINE[:3]
    assert none == ()


def test_a_value_of_several_types_lists_the_customers(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        li = ws.profiles.get("member_id:M2").customer_id
        zhao = ws.profiles.get("store_member_id:M2").customer_id
        with pytest.raises(LookupMissError, match="matches 2 customers") as caught:
            ws.profiles.get("M2")
    assert caught.value.reason == "ambiguous"
    assert {(p.customer_id, p.id_type) for p in caught.value.people} == {
        (li, "member_id"), (zhao, "store_member_id")}


def test_a_shared_identifier_says_so_and_lists_who_used_it(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        wang = ws.profiles.get("member_id:M1").customer_id
        li = ws.profiles.get("member_id:M2").customer_id
        for spelling in ("device_id:T", "T"):
            with pytest.raises(LookupMissError, match="is shared") as caught:
                ws.profiles.get(spelling)
            assert caught.value.reason == "shared"
            assert [p.customer_id for p in caught.value.people] == sorted([wang, li])
            assert {p.id_value for p in caught.value.people} == {"M1", "M2"}


def test_junk_unknown_and_malformed_identifiers(shop: Path) -> None:
    with Workspace(shop, settings=settings()) as ws:
        with pytest.raises(LookupMissError, match=r"phone:138\*\*\*\*0000 is junk") as junk:
            ws.profiles.get("138 0000 0000")
        assert "13800000000" not in str(junk.value)
        with pytest.raises(LookupMissError, match=r"no customer has 139\*\*\*\*9999") as nobody:
            ws.profiles.get("13999999999")
        assert nobody.value.reason == "not_found" and "\n" not in str(nobody.value)
        with pytest.raises(LookupMissError, match="no such customer id"):
            ws.profiles.get("C99999999")
        with pytest.raises(LookupMissError, match="not a valid phone number for region CN"):
            ws.profiles.get("phone:12345")
        with pytest.raises(PortraitsError, match="'phnoe' is not an identifier type "
                                                 r"\(did you mean 'phone'\?\)"):
            ws.profiles.get("phnoe:13912340001")


def test_lookup_needs_resolved_identities(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(SPEC, FILES)
    with (Workspace(root, settings=settings()) as ws,
          pytest.raises(PortraitsError, match="run 'portraits identity resolve'")):
        ws.profiles.get("13912340001")


def test_phones_follow_the_workspace_region() -> None:
    from portraits.identity.rules import IdentityRules

    rules = IdentityRules.from_spec()
    assert ("phone", "+12015550123") in parse_lookup("(201) 555-0123", rules, "US").candidates
    assert ("phone", "+12015550123") not in parse_lookup("(201) 555-0123", rules).candidates
    assert ("phone", "+12015550123") in parse_lookup("+1 201 555 0123", rules).candidates


def portraits_on(root: Path, pinned: Settings) -> list[tuple[object, ...]]:
    """Lookups whose answers must not depend on the engine, as plain values."""
    answers: list[tuple[object, ...]] = []
    with Workspace(make_shop(root, pinned), settings=pinned) as ws:
        ws.profiles.build(ws.identity.customer_ids())
        for text in ("139-1234-0001", "member_id:M2", "WANG.XM@QQ.COM"):
            p = ws.profiles.get(text, events=4)
            answers.append((p.customer_id, p.matched, p.identities, p.timeline,
                            [{k: v for k, v in r.items() if k != "loaded_at"}
                             for r in p.records], p.completeness, p.missing, p.interests,
                            {k: v for k, v in (p.profile or {}).items() if k != "as_of"}))
        for text in ("M2", "device_id:T", "13800000000", "13999999999"):
            with pytest.raises(LookupMissError) as miss:
                ws.profiles.get(text)
            answers.append((miss.value.reason, miss.value.people))
    return answers


@pytest.mark.xdist_group("spark")
def test_the_same_portraits_on_every_engine(engine: str,  # noqa: F811
                                            tmp_path: Path) -> None:
    assert portraits_on(tmp_path / engine, on(engine)) == portraits_on(
        tmp_path / "reference", on("duckdb"))


@pytest.fixture(scope="module")
def resolved(retail: Retail) -> Path:
    """The retail workspace with identities resolved and profiles built from them."""
    with Workspace(retail.root, settings=settings()) as ws:
        ws.identity.resolve()
        ws.profiles.build(ws.identity.customer_ids())
    return retail.root


def busiest_buyer(ws: Workspace) -> tuple[str, dict[str, str]]:
    """The customer with the most orders who has a phone, an e-mail and a member id that
    are theirs alone, and those identifiers."""
    orders = ws.identity.attach("orders").to_pandas()
    ids = ws.identity.customer_ids().to_pandas()
    for customer in orders.customer_id.value_counts().index:
        mine = ids[ids.customer_id == customer]
        held = {t: mine[mine.id_type == t].id_value.min() for t in ("phone", "email",
                                                                    "member_id")}
        if all(isinstance(v, str) for v in held.values()):
            return str(customer), held
    raise AssertionError("no customer with a phone, an e-mail and a member id")


def test_the_same_customer_by_any_identifier_in_the_retail_workspace(resolved: Path) -> None:
    with Workspace(resolved, settings=settings()) as ws:
        customer, held = busiest_buyer(ws)
        digits = held["phone"].removeprefix("+86")
        spellings = [digits, f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                     f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", held["email"].upper(),
                     held["member_id"], f"member_id:{held['member_id']}", customer]
        found = {s: ws.profiles.get(s, events=5).customer_id for s in spellings}
    assert found == dict.fromkeys(spellings, customer)


def test_the_portrait_holds_the_profile_and_every_record_of_the_person(resolved: Path) -> None:
    with Workspace(resolved, settings=settings()) as ws:
        customer, held = busiest_buyer(ws)
        portrait = ws.profiles.get(held["phone"], events=10_000)
        recent = ws.profiles.get(customer, events=7)
        events = ws.identity.attach("events").to_pandas()
        orders = ws.identity.attach("orders").to_pandas()
        profile = ws.profiles.table().to_pandas().set_index("customer_id").loc[customer]
    assert portrait.profile is not None and portrait.profile["customer_id"] == customer
    assert portrait.completeness == pytest.approx(profile.completeness)
    assert portrait.profile["orders"] == profile.orders >= 2
    kinds = [e.kind for e in portrait.timeline]
    # The timeline holds what the profile build attributes to this customer, no more.
    assert kinds.count("order") == (orders.customer_id == customer).sum()
    assert kinds.count("event") == (events.customer_id == customer).sum()
    times = [e.time for e in portrait.timeline]
    assert times == sorted(times, reverse=True)
    assert recent.timeline == portrait.timeline[:7]
    assert all(e.product for e in portrait.timeline if e.kind == "order")
    assert {"phone", "email", "member_id"} <= {i.id_type for i in portrait.identities if i.used}
    assert all(r["source"] for r in portrait.records) and portrait.records
    assert [a for _, a in portrait.interests] == sorted((a for _, a in portrait.interests),
                                                       reverse=True)
