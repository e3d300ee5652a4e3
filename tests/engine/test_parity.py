"""The same workspace loaded on DuckDB and on Spark gives the same tables, row for row.

DuckDB is the reference: every case is loaded on DuckDB and on the engine under test,
and the stored tables (entities, rejects, quality history) are compared without the
columns that differ from run to run (load ids, timings). On the DuckDB leg this checks
that a load is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portraits.ingest.quality import LoadReport
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from portraits.workspace.spec import SparkEngineSpec
from tests.conftest import NOW, WorkspaceFactory
from tests.ingest.test_load import (
    CRM,
    CRM_SPEC,
    EVENTS_SPEC,
    ITEMS,
    ORDERS,
    ORDERS_SPEC,
    events_files,
)

RUN_SPECIFIC = {"load_id", "_load_id", "seconds"}
REPORTED = ("status", "rows_read", "accepted", "rejected", "duplicates", "nulled", "filled",
            "flagged", "new", "changed", "unchanged", "integration_rate", "touched_accepted",
            "rules", "completeness")

PROFILE_SPEC = """\
version: 1
name: shop
sources:
  - name: profile
    entity: customers
    path: 会员/profile*.csv
    columns:
      source_id: id
      city: 城市
      income_band: 收入
      marital_status: 婚姻
      education: 学历
      registered_at: 注册时间
    cleaning:
      missing: {income_band: mode, marital_status: flag}
  - name: items
    entity: order_items
    path: items.csv
    columns: {order_id: order_id, line_no: line_no, product_id: product_id,
              quantity: quantity, amount: amount}
    cleaning:
      missing: {quantity: median}
  - name: products
    entity: products
    path: products.csv
    columns: {product_id: sku, category_path: 类目, brand: 品牌, price: 价格, launched_at: 上市}
  - name: app
    entity: events
    path: app/*.parquet
    columns: {message_id: id, event: event, timestamp: ts, user_id: uid}
"""
PROFILE = """\
id,城市,收入,婚姻,学历,注册时间
C1,上海市,5k-10k,已婚,本科,2026-10-01T08:00:00Z
C2,杭州, ,单身,硕士,2026/10/02 09:30
C3,某县,5k-10k,,高中,20261003
C4,北京,10k-20k,离异,未知学历,2026年10月4日 10点05分
"""
MORE_PROFILE = "id,城市,收入,婚姻,学历,注册时间\nC5,成都,10k-20k,丧偶,博士,2026-10-05\n"
MORE_ITEMS = "order_id,line_no,product_id,quantity,amount\nO2,1,P1,,3\nO2,2,P2,4,1\nO2,3,P3,7,\n"
PRODUCTS = """\
sku,类目,品牌,价格,上市
P1,母婴/奶粉/1段,vivo,"1,299.00",2026-01-02
P2,/美妆, f\vfeed\f ,¥88,2026年3月4日
P3,,　v　,-1,someday
"""  # blanks and letters v/f at the ends: Ibis' strip() on Spark once took the letters too


def app_events() -> bytes:
    table = pa.table({
        "id": ["e1", "e2", "e1", None],
        "event": ["Cart Viewed", "Checkout Started", "Cart Viewed", "Cart Viewed"],
        "ts": [datetime(2026, 10, 1, 23, 59, 59, 999999), datetime(1999, 1, 1),
               datetime(2026, 10, 1, 23, 59, 59, 999999), datetime(2026, 10, 2)],
        "uid": ["U1", "U2", "U1", "U3"],
    })
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=2)  # row numbers must run on across row groups
    return bytes(sink.getvalue().to_pybytes())


CASES: dict[str, tuple[str, dict[str, str | bytes]]] = {
    "crm_gbk": (CRM_SPEC.format(encoding="auto"), {"crm.csv": CRM.encode("gb18030")}),
    "orders": (ORDERS_SPEC, {"orders.csv": ORDERS, "items.csv": ITEMS}),
    "events": (EVENTS_SPEC, events_files()),
    "profile": (PROFILE_SPEC, {"会员/profile 1+1%.csv": PROFILE,
                               "会员/profile2.csv": MORE_PROFILE,
                               "items.csv": ITEMS + MORE_ITEMS.split("\n", 1)[1],
                               "products.csv": PRODUCTS,
                               "app/一 1+1%.parquet": app_events()}),
}


@pytest.fixture(scope="session")
def spark_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Spark context for the test session: each Spark engine opens a session on it.

    No skip when Spark cannot start (no Java): the Spark tests then fail with the reason.
    """
    from portraits.engine.spark import SparkEngine

    keeper = SparkEngine(SparkEngineSpec(master="local[2]"), tmp_path_factory.mktemp("spark"))
    yield
    keeper.close()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> str:
    """The engine under test, by name; Spark shares one context for the whole run."""
    if request.param == "spark":
        request.getfixturevalue("spark_context")
    return str(request.param)


def on(engine: str) -> Settings:
    """Pinned settings that pick ``engine`` (as ``PORTRAITS_ENGINE`` would)."""
    return Settings(now=NOW, lang="en", engine=engine)  # type: ignore[arg-type]


def load(root: Path, engine: str, **kw: object) -> list[LoadReport]:
    with Workspace(root, settings=on(engine)) as ws:
        assert ws.engine.name == engine
        return ws.ingest.load(**kw)  # type: ignore[arg-type]


def contents(root: Path, engine: str) -> dict[str, list[str]]:
    """Every stored table: its Arrow schema, then its rows sorted (JSON text), without the
    columns that differ from run to run."""
    with Workspace(root, settings=on(engine)) as ws:
        tables = {}
        for name in ws.tables():
            data = ws.engine.to_arrow(ws.table(name))
            schema = data.schema.to_string(show_field_metadata=False,
                                           show_schema_metadata=False)
            tables[name] = [schema, *sorted(
                json.dumps({k: v for k, v in r.items() if k not in RUN_SPECIFIC},
                           default=str, ensure_ascii=False, sort_keys=True)
                for r in data.to_pylist())]
        return tables


def summary(report: LoadReport) -> dict[str, object]:
    return {name: getattr(report, name) for name in REPORTED}


@pytest.mark.parametrize("case", list(CASES))
def test_a_load_stores_the_same_rows_as_on_duckdb(engine: str, case: str,
                                                   make_workspace: WorkspaceFactory) -> None:
    spec, files = CASES[case]
    reference = make_workspace(spec, files, name="reference")
    tested = make_workspace(spec, files, name=engine)
    expected = [summary(r) for r in load(reference, "duckdb")]
    assert [summary(r) for r in load(tested, engine)] == expected
    want, got = contents(reference, "duckdb"), contents(tested, engine)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name


def test_loading_again_changes_nothing(engine: str, make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(*CASES["profile"])
    sources = ["profile", "app"]  # an upsert and an append-only entity
    first = load(root, engine, sources=sources)
    before = contents(root, engine)
    assert [r.status for r in load(root, engine, sources=sources)] == ["skipped", "skipped"]
    forced = load(root, engine, sources=sources, force=True)
    assert [r.accepted for r in first] == [5, 1]
    assert [(r.new, r.changed, r.unchanged) for r in forced] == [(0, 0, 5), (0, 0, 1)]
    after = contents(root, engine)
    for name in ("customers", "events"):
        assert after[name] == before[name], name
    # C2's income was blank: filled with the mode, of two equally frequent values the smaller
    assert any('"income_band": "10k-20k"' in r and '"C2"' in r for r in after["customers"])


def test_a_changed_row_replaces_the_stored_one(engine: str,
                                              make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(*CASES["crm_gbk"])
    load(root, engine)
    (root / "crm.csv").write_bytes(CRM.replace("张三", "张三丰").encode("gb18030"))
    (report,) = load(root, engine)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 3)
    with Workspace(root, settings=on(engine)) as ws:
        names = ws.engine.to_arrow(ws.table("customers")).column("name").to_pylist()
    assert sorted(names) == sorted(["张三丰", "李四", "钱七", "孙八"])


@pytest.mark.spark
@pytest.mark.usefixtures("spark_context")
def test_spark_is_chosen_in_the_spec_or_by_the_environment(
        make_workspace: WorkspaceFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, files = CASES["crm_gbk"]
    in_spec = make_workspace(spec.replace("sources:", "engine: {kind: spark}\nsources:", 1),
                             files, name="in_spec")
    with Workspace(in_spec, settings=Settings(now=NOW)) as ws:
        assert ws.engine.name == "spark"
        (report,) = ws.ingest.load()
        assert (report.accepted, report.rejected) == (4, 2)
        assert ws.tables() == ["customers", "loads", "quality_fields", "quality_rules",
                               "rejects"]
    monkeypatch.setenv("PORTRAITS_ENGINE", "spark")
    monkeypatch.setenv("PORTRAITS_SPARK_MASTER", "local[1]")
    by_env = make_workspace(spec, files, name="by_env")
    with Workspace(by_env, settings=Settings(now=NOW)) as ws:
        assert isinstance(ws.spec.engine, SparkEngineSpec)
        assert ws.spec.engine.master == "local[1]"
        assert ws.engine.name == "spark" and ws.tables() == []


@pytest.mark.spark
@pytest.mark.usefixtures("spark_context")
def test_a_lake_written_by_spark_is_read_by_duckdb(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(*CASES["events"])
    load(root, "spark")
    on_spark = contents(root, "spark")
    assert contents(root, "duckdb") == on_spark
    # …and the other way round: DuckDB adds its own files to the tables Spark wrote.
    assert [r.new for r in load(root, "duckdb", force=True)] == [0, 0]
    assert contents(root, "spark") == contents(root, "duckdb")


@pytest.mark.spark
@pytest.mark.usefixtures("spark_context")
def test_a_lake_given_as_a_uri_goes_through_sparks_file_systems(
        make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    spec, files = CASES["orders"]
    lake = f"file://{tmp_path}/remote lake"  # as hdfs:// or s3a:// would be (not %-escaped)
    root = make_workspace(spec.replace(
        "sources:", f"engine: {{kind: spark, lake: '{lake}'}}\nsources:", 1), files)
    reference = make_workspace(spec, files, name="reference")
    load(reference, "duckdb")
    with Workspace(root, settings=Settings(now=NOW)) as ws:
        ws.ingest.load()
    with Workspace(root, settings=Settings(now=NOW)) as ws:  # tables found again, replaced
        assert [(r.new, r.unchanged) for r in ws.ingest.load(force=True)] == [(0, 1), (0, 2)]
    assert sorted(p.name for p in (tmp_path / "remote lake").iterdir()
                  if not p.name.startswith(".")) == [
        "loads", "order_items", "orders", "quality_fields", "quality_rules", "rejects"]
    got = contents(root, "spark")
    want = contents(reference, "duckdb")
    for name in ("orders", "order_items"):
        assert got[name] == want[name]
