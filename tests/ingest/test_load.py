"""Loading files end to end on DuckDB: every kind of bad input gives a precise message
and keeps the rejected rows; loading twice changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portraits.errors import PortraitsError
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW, WorkspaceFactory

CRM_SPEC = """\
version: 1
name: shop
sources:
  - name: crm
    entity: customers
    path: crm.csv
    encoding: {encoding}
    columns:
      source_id: 会员编号
      member_id: 会员编号
      name: 姓名
      gender: 性别
      phone: 手机号
      birthday: 出生日期
      email: 邮箱
      registered_at: 注册时间
    cleaning:
      dedupe: {{keys: [phone], keep: last}}
      missing:
        gender: {{fill: unknown}}
"""
CRM = """\
会员编号,姓名,性别,手机号,邮箱,出生日期,注册时间
M1,张三,男,138-1234-5678,ZS@QQ.com ,1990年5月3日,2024/03/15 10:22
M2,李四,F,12345,bad,1990-13-45,2024/03/15 10:22
M3,王五,,+86 139 1234 5678,,1890-01-01,2030-01-01
,赵六,女,13712345678,,,
M5,钱七,女,13912345678,,1992/1/2,
M6,孙八,0,13612345678,,1980-02-29,2026-10-31 23:00
"""


def load(root: Path, settings: Settings, **kw: object) -> list:  # type: ignore[type-arg]
    with Workspace(root, settings=settings) as ws:
        return ws.ingest.load(**kw)  # type: ignore[arg-type]


def rejects(root: Path, settings: Settings) -> list[dict[str, object]]:
    with Workspace(root, settings=settings) as ws:
        return ws.ingest.rejects().to_pyarrow().to_pylist()


@pytest.fixture
def crm_gbk(make_workspace: WorkspaceFactory) -> Path:
    return make_workspace(CRM_SPEC.format(encoding="auto"), {"crm.csv": CRM.encode("gb18030")})


def test_a_gbk_crm_file_loads_with_every_finding_kept(crm_gbk: Path, settings: Settings) -> None:
    (report,) = load(crm_gbk, settings)
    assert (report.rows_read, report.accepted, report.rejected, report.duplicates) == (6, 4, 2, 1)
    found = {(r["row"], r["field"], r["rule"], r["action"]) for r in rejects(crm_gbk, settings)}
    assert found == {
        (3, "phone", "invalid_phone", "nulled"),
        (3, "email", "invalid_email", "nulled"),
        (3, "birthday", "unparsable_date", "nulled"),
        (4, "birthday", "age_out_of_range", "nulled"),
        (4, "registered_at", "future_timestamp", "nulled"),
        (4, "gender", "missing_value", "filled"),
        (4, "phone", "duplicate", "rejected"),
        (5, "source_id", "missing_required", "rejected"),
    }
    with Workspace(crm_gbk, settings=settings) as ws:
        people = {r["source_id"]: r for r in ws.table("customers").to_pyarrow().to_pylist()}
    assert set(people) == {"M1", "M2", "M5", "M6"}
    assert people["M1"]["phone"] == "+8613812345678"
    assert people["M1"]["email"] == "zs@qq.com"
    assert people["M1"]["gender"] == "male" and people["M6"]["gender"] == "female"
    assert str(people["M1"]["birthday"]) == "1990-05-03"
    assert people["M2"]["phone"] is None and people["M2"]["birthday"] is None
    assert str(people["M6"]["registered_at"]) == "2026-10-31 23:00:00"


def test_the_reasons_name_the_value(crm_gbk: Path, settings: Settings) -> None:
    load(crm_gbk, settings)
    reasons = {(r["row"], r["rule"]): r for r in rejects(crm_gbk, settings)}
    assert reasons[(3, "unparsable_date")]["value"] == "1990-13-45"
    assert reasons[(3, "unparsable_date")]["column"] == "出生日期"
    assert "cannot read '1990-13-45' as a date" in str(reasons[(3, "unparsable_date")]["reason"])
    assert "of row 6 in crm.csv" in str(reasons[(4, "duplicate")]["reason"])


def test_loading_the_same_file_twice_changes_nothing(crm_gbk: Path, settings: Settings) -> None:
    (first,) = load(crm_gbk, settings)
    (skipped,) = load(crm_gbk, settings)
    assert skipped.status == "skipped" and first.load_id in skipped.message
    (forced,) = load(crm_gbk, settings, force=True)
    assert (forced.new, forced.changed, forced.unchanged) == (0, 0, 4)
    with Workspace(crm_gbk, settings=settings) as ws:
        assert ws.engine.count(ws.table("customers")) == 4
        assert {r["_load_id"] for r in ws.table("customers").to_pyarrow().to_pylist()} == {
            first.load_id}


def test_a_changed_row_replaces_the_stored_one(crm_gbk: Path, settings: Settings) -> None:
    load(crm_gbk, settings)
    (crm_gbk / "crm.csv").write_bytes(CRM.replace("张三", "张三丰").encode("gb18030"))
    (report,) = load(crm_gbk, settings)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 3)
    with Workspace(crm_gbk, settings=settings) as ws:
        names = ws.table("customers").to_pyarrow().column("name").to_pylist()
    assert "张三丰" in names and "张三" not in names and len(names) == 4


def test_a_declared_encoding_that_is_wrong_says_what_it_looks_like(
        make_workspace: WorkspaceFactory, settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="utf-8"), {"crm.csv": CRM.encode("gb18030")})
    with pytest.raises(PortraitsError, match=r"crm.csv, line 1: not valid utf-8.*gb18030"):
        load(root, settings)
    with Workspace(root, settings=settings) as ws:
        (row,) = ws.ingest.loads().to_pyarrow().to_pylist()
    assert row["status"] == "failed" and "not valid utf-8" in row["message"]


def test_utf8_with_bom_is_read(make_workspace: WorkspaceFactory, settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="utf-8"),
                          {"crm.csv": b"\xef\xbb\xbf" + CRM.encode("utf-8")})
    (report,) = load(root, settings)
    assert report.accepted == 4


def test_a_mapped_column_missing_from_the_file_is_named_with_a_hint(
        make_workspace: WorkspaceFactory, settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"),
                          {"crm.csv": CRM.replace("手机号", "手机").encode("gb18030")})
    with pytest.raises(PortraitsError) as caught:
        load(root, settings)
    message = str(caught.value)
    assert "field 'phone': column '手机号' is not in crm.csv" in message
    assert "did you mean '手机'?" in message


def test_an_empty_file_is_an_error(make_workspace: WorkspaceFactory, settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"), {"crm.csv": b""})
    with pytest.raises(PortraitsError, match=r"crm.csv is empty"):
        load(root, settings)


def test_a_header_only_file_loads_nothing(make_workspace: WorkspaceFactory,
                                          settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"), {"crm.csv": CRM.splitlines()[0]})
    (report,) = load(root, settings)
    assert (report.rows_read, report.accepted) == (0, 0)


def test_a_missing_file_names_the_pattern(make_workspace: WorkspaceFactory,
                                          settings: Settings) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"))
    with pytest.raises(PortraitsError, match=r"source 'crm': no file matches 'crm.csv'"):
        load(root, settings)


def test_an_unknown_source_name_gets_a_hint(crm_gbk: Path, settings: Settings) -> None:
    with pytest.raises(PortraitsError, match=r"no source 'cmr' \(did you mean 'crm'\?\)"):
        load(crm_gbk, settings, sources=["cmr"])


ORDERS_SPEC = """\
version: 1
name: shop
sources:
  - name: orders
    entity: orders
    path: orders.csv
    columns:
      order_id: order_id
      member_id: member_id
      ordered_at: order_time
      total_amount: total_amount
  - name: items
    entity: order_items
    path: items.csv
    columns: {order_id: order_id, line_no: line_no, product_id: product_id,
              quantity: quantity, amount: amount}
"""
ORDERS = """\
order_id,member_id,order_time,total_amount
O1,M1,2026-10-01 08:00:00,"1,100.50"
O2,M1,2026-10-02 08:00:00,-5
O3,M2,2031-01-01,10
O4,M2,2026-10-01,1,extra
O5,M2,1999-12-31,5
O6,M2,yesterday,5
O1,M1,2026-10-01 08:00:00,"1,100.50"
"""
ITEMS = "order_id,line_no,product_id,quantity,amount\nO1,1,P1,0,1\nO1,2,P2,2,x\nO1,3,P3,1,5\n"


def test_order_outliers_and_wrong_field_counts(make_workspace: WorkspaceFactory,
                                               settings: Settings) -> None:
    root = make_workspace(ORDERS_SPEC, {"orders.csv": ORDERS, "items.csv": ITEMS})
    orders, items = load(root, settings)
    assert (orders.rows_read, orders.accepted, orders.rejected) == (7, 1, 6)
    found = {(r["row"], r["rule"]) for r in rejects(root, settings) if r["source"] == "orders"}
    assert found == {(3, "negative_amount"), (4, "future_timestamp"),
                     (5, "wrong_field_count"), (6, "before_2000"),
                     (7, "unparsable_timestamp"),
                     (2, "duplicate_key")}  # for upserts the later row of a key wins
    assert (items.accepted, items.rejected, items.nulled) == (2, 1, 1)
    with Workspace(root, settings=settings) as ws:
        (order,) = ws.table("orders").to_pyarrow().to_pylist()
    assert order["total_amount"] == 1100.5


EVENTS_SPEC = """\
version: 1
name: shop
sources:
  - name: web
    entity: events
    path: events/*.parquet
    columns: {message_id: message_id, event: event, timestamp: timestamp, user_id: user_id,
              revenue: revenue}
  - name: mini
    entity: events
    path: events/*.jsonl
    columns:
      message_id: messageId
      event: event
      timestamp: timestamp
      user_id: userId
      device_id: context.device.id
      wechat_openid: context.wechat.openid
      platform: {value: mini_program}
      product_id: properties.product_id
      properties: properties
"""


def events_files() -> dict[str, str | bytes]:
    from datetime import datetime

    table = pa.table({
        "message_id": ["a", "b", "a", "c"],
        "event": ["Product Viewed", "Order Completed", "Product Viewed", "Product Viewed"],
        "timestamp": [datetime(2026, 10, 1), datetime(2026, 10, 2), datetime(2026, 10, 1),
                      datetime(2031, 1, 1)],
        "user_id": ["M1", None, "M1", "M2"],
        "revenue": [None, 10.0, None, None],
    })
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    lines = [
        json.dumps({"messageId": "m1", "event": "Product Viewed", "userId": None,
                    "timestamp": "2026-10-01T08:00:00.123+08:00",
                    "properties": {"product_id": "P1", "price": 9.9},
                    "context": {"device": {"id": "D1"}, "wechat": {"openid": "oX1"}}},
                   ensure_ascii=False),
        '{"messageId": "m2", "event": ',
        json.dumps({"messageId": "m3", "event": "Products Searched",
                    "timestamp": "2026-10-01 09:00:00", "properties": {"query": "奶粉"}},
                   ensure_ascii=False),
    ]
    return {"events/web.parquet": sink.getvalue().to_pybytes(),
            "events/mini.jsonl": "\n".join(lines) + "\n"}


def test_events_from_parquet_and_segment_json_lines(make_workspace: WorkspaceFactory,
                                                    settings: Settings) -> None:
    root = make_workspace(EVENTS_SPEC, events_files())
    web, mini = load(root, settings)
    assert (web.rows_read, web.accepted, web.duplicates) == (4, 2, 1)
    assert (mini.rows_read, mini.accepted, mini.rejected) == (3, 2, 1)
    found = {(r["file"], r["row"], r["rule"]) for r in rejects(root, settings)}
    assert ("events/web.parquet", 3, "duplicate_key") in found
    assert ("events/web.parquet", 4, "future_timestamp") in found
    assert ("mini.jsonl", 2, "malformed_json") in found
    with Workspace(root, settings=settings) as ws:
        events = {r["message_id"]: r for r in ws.table("events").to_pyarrow().to_pylist()}
    assert set(events) == {"a", "b", "m1", "m3"}
    m1 = events["m1"]
    assert (m1["device_id"], m1["wechat_openid"], m1["product_id"]) == ("D1", "oX1", "P1")
    assert m1["platform"] == "mini_program"
    assert json.loads(m1["properties"]) == {"price": 9.9, "product_id": "P1"}
    assert str(m1["timestamp"]) == "2026-10-01 08:00:00.123000"
    assert web.integration_rate == 0.5


def test_events_are_deduplicated_by_message_id_across_loads(make_workspace: WorkspaceFactory,
                                                            settings: Settings) -> None:
    root = make_workspace(EVENTS_SPEC, events_files())
    load(root, settings)
    again = load(root, settings, force=True)
    assert [r.new for r in again] == [0, 0]
    assert [r.unchanged for r in again] == [2, 2]


def test_excel_with_chinese_headers(make_workspace: WorkspaceFactory, settings: Settings) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "会员"
    sheet.append(["门店会员号", "姓名", "手机", "生日", "开卡日期"])
    sheet.append(["S1", "周九", 13812345678, datetime(1988, 8, 8), datetime(2025, 1, 2, 10, 30)])
    sheet.append([None, None, None, None, None])
    sheet.append(["S2", "吴十", "138 0000 1111", "1990年1月2日", "2025/1/3"])
    spec = """\
version: 1
name: shop
sources:
  - name: store
    entity: customers
    path: store.xlsx
    sheet: 会员
    columns: {source_id: 门店会员号, store_member_id: 门店会员号, name: 姓名, phone: 手机,
              birthday: 生日, registered_at: 开卡日期}
"""
    root = make_workspace(spec)
    book.save(root / "store.xlsx")
    (report,) = load(root, settings)
    assert (report.rows_read, report.accepted) == (2, 2)
    with Workspace(root, settings=settings) as ws:
        rows = {r["source_id"]: r for r in ws.table("customers").to_pyarrow().to_pylist()}
    assert rows["S1"]["phone"] == "+8613812345678"
    assert str(rows["S1"]["birthday"]) == "1988-08-08"
    assert str(rows["S1"]["registered_at"]) == "2025-01-02 10:30:00"
    assert rows["S2"]["_row"] == 4
    assert str(rows["S2"]["birthday"]) == "1990-01-02"


def test_the_quality_report_is_stored(crm_gbk: Path, settings: Settings) -> None:
    (report,) = load(crm_gbk, settings)
    with Workspace(crm_gbk, settings=settings) as ws:
        (row,) = ws.ingest.loads().to_pyarrow().to_pylist()
        rules = ws.ingest.rules(report.load_id).to_pyarrow().to_pylist()
        fields = {r["field"]: r["completeness"]
                  for r in ws.ingest.completeness(report.load_id).to_pyarrow().to_pylist()}
    assert row["accepted"] == 4 and row["rejected"] == 2
    assert row["pass_rate"] == pytest.approx(2 / 6)  # the rows of M1 and M6 had no finding
    assert row["integration_rate"] == 1.0
    assert row["started_at"] == NOW
    assert {(r["rule"], r["rows"]) for r in rules} >= {("invalid_phone", 1), ("duplicate", 1)}
    assert fields["phone"] == pytest.approx(3 / 4)
    assert fields["source_id"] == 1.0
