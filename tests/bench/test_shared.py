"""The shared profile + RFM query of ``portraits bench`` gives one answer three ways.

A small generated shop (200 people, identity resolved without probabilistic matching;
customer records not loaded, so customers come from orders and events) plus one planted
buyer whose orders sit on the edges: one exactly at the reference time (counts), one
exactly 365 days before it (counts as an order, outside the RFM window), a cancelled one
and one after the reference time (neither counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from portraits.bench.shared import (
    FIELDS,
    check_rules,
    differences,
    floor_query,
    pandas_query,
    portraits_query,
)
from portraits.errors import PortraitsError
from portraits.profile import ProfileSpec
from portraits.profile.rfm import RFM_FIELDS, RfmSpec, rfm_scores
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW

PEOPLE = 200
SOURCES = ["orders", "events", "miniprogram_events"]
NO_MATCHING = ("\nidentity:\n", "\nidentity:\n  matching: {enabled: false}\n")
PLANTED = "M-PLANTED"
PLANTED_ORDERS = [  # order id, time, status, amount paid
    ("P1", NOW, "paid", 100.0),
    ("P2", NOW - timedelta(days=365), "paid", 50.0),
    ("P3", NOW - timedelta(days=10), "cancelled", 999.0),
    ("P4", NOW + timedelta(minutes=1), "paid", 500.0),
]


@dataclass(frozen=True)
class Shop:
    """The workspace and the query's result three ways."""

    root: Path
    results: dict[str, pd.DataFrame]

    def open(self, engine: str = "duckdb") -> Workspace:
        return Workspace(self.root, settings=Settings(now=NOW, lang="en",
                                                      engine=engine))  # type: ignore[arg-type]


def _plant(orders_csv: Path) -> None:
    rows = "".join(f'"{order}","{PLANTED}",,"{at.isoformat()}","{status}","app",,{paid},0,,\n'
                   for order, at, status, paid in PLANTED_ORDERS)
    with orders_csv.open("a", encoding="utf-8") as out:
        out.write(rows)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    root = tmp_path_factory.mktemp("bench-shared")
    create_workspace(root)
    spec = (root / "portraits.yaml").read_text(encoding="utf-8")
    assert spec.count(NO_MATCHING[0]) == 1, "the template's identity section moved"
    (root / "portraits.yaml").write_text(spec.replace(*NO_MATCHING), encoding="utf-8")
    generate(root / "data", customers=PEOPLE, seed=7, end=date(2026, 11, 1), block=250)
    _plant(root / "data" / "orders.csv")
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(SOURCES)
        ws.identity.resolve()
        check_rules(ws)
        mine = ws.engine.to_arrow(portraits_query(ws, NOW)).to_pandas()
    lake = root / ".portraits" / "lake"
    floor_query(lake, NOW, root / "floor")
    floor = pd.read_parquet(root / "floor")
    return Shop(root, {"portraits": mine, "floor": floor, "pandas": pandas_query(lake, NOW)})


def scored(shop: Shop) -> pd.DataFrame:
    mine = shop.results["portraits"]
    return mine[mine.rfm_r.notna()]


def test_the_three_results_agree(shop: Shop) -> None:
    assert differences(shop.results) == []
    for name, frame in shop.results.items():
        assert list(frame.columns) == list(FIELDS), name
        assert frame.customer_id.is_unique, name


def test_the_rfm_fields_are_those_rfm_scores_gives(shop: Shop) -> None:
    assert FIELDS[-len(RFM_FIELDS):] == tuple(RFM_FIELDS)
    with shop.open() as ws:
        orders = ws.identity.attach("orders")
        expected = ws.engine.to_arrow(
            rfm_scores(orders, RfmSpec(), NOW, ProfileSpec())).to_pandas()
    got = scored(shop)[["customer_id", *RFM_FIELDS]]
    got = got.sort_values("customer_id", ignore_index=True)
    expected = expected.sort_values("customer_id", ignore_index=True)
    assert got.customer_id.tolist() == expected.customer_id.tolist()
    for field in RFM_FIELDS:
        if field == "rfm_monetary":  # a sum of floats: its last bit depends on the order
            assert got[field].tolist() == pytest.approx(expected[field].tolist(), rel=1e-12)
        else:
            assert got[field].tolist() == expected[field].tolist(), field


def test_customers_with_a_counted_order_and_only_they_are_scored(shop: Shop) -> None:
    mine = shop.results["portraits"]
    assert (mine.rfm_r.notna() == (mine.orders > 0)).all()
    assert mine.rfm_score.notna().sum() == (mine.orders > 0).sum() > 50
    assert (mine.orders == 0).any()  # people with events only are in the query, unscored


def test_scores_lie_in_one_to_five_and_follow_the_values(shop: Shop) -> None:
    rfm = scored(shop)
    for score in ("rfm_r", "rfm_f", "rfm_m", "rfm_fm"):
        assert rfm[score].between(1, 5).all(), score
    assert sorted(rfm.rfm_r.unique()) == [1, 2, 3, 4, 5]
    assert sorted(rfm.rfm_m.unique()) == [1, 2, 3, 4, 5]
    by_recency = rfm.sort_values(["rfm_recency_days", "rfm_r"], ascending=[True, False])
    assert by_recency.rfm_r.is_monotonic_decreasing  # fewer days, never a lower R
    by_monetary = rfm.sort_values(["rfm_monetary", "rfm_m"])
    assert by_monetary.rfm_m.is_monotonic_increasing
    assert rfm.groupby("rfm_recency_days").rfm_r.nunique().max() == 1  # ties share a score
    assert (rfm.rfm_f == 1).eq(rfm.rfm_frequency < 2).all()
    assert (rfm.rfm_f == 5).eq(rfm.rfm_frequency >= 6).all()
    assert (rfm.rfm_frequency == 0).any()  # a last order over a year ago is still scored
    spelled = (rfm.rfm_r.astype(int).astype(str) + rfm.rfm_f.astype(int).astype(str)
               + rfm.rfm_m.astype(int).astype(str))
    assert (rfm.rfm_score == spelled).all()
    assert ((rfm.rfm_f + rfm.rfm_m) / 2 - rfm.rfm_fm).isin([0, -0.5]).all()  # half up


def test_planted_orders_on_the_edges_count_as_portraits_counts_them(shop: Shop) -> None:
    with shop.open() as ws:
        ids = ws.identity.customer_ids().to_pandas()
    customer = ids.loc[ids.id_value == PLANTED, "customer_id"].item()
    for name, frame in shop.results.items():
        row = frame.set_index("customer_id").loc[customer]
        assert (row.orders, row.spend, row.last_order_at) == (2, 150.0, NOW), name
        assert row.first_order_at == NOW - timedelta(days=365), name
        assert (row.rfm_recency_days, row.rfm_frequency, row.rfm_monetary) == (0, 1, 100.0), \
            name
        assert (row.rfm_r, row.rfm_f) == (5, 1), name


def test_a_planted_disagreement_is_reported(shop: Shop) -> None:
    changed = shop.results["pandas"].copy()
    at = changed.index[changed.rfm_m.notna()][0]
    changed.loc[at, "rfm_m"] = 1 if changed.loc[at, "rfm_m"] != 1 else 2
    spend = shop.results["floor"].copy()
    spend.loc[spend.index[0], "spend"] += 0.01
    found = differences({"portraits": shop.results["portraits"], "pandas": changed,
                         "floor": spend})
    assert len(found) == 2
    assert found[0].startswith("pandas: rfm_m differs in 1 rows")
    assert found[1].startswith("floor: spend differs in 1 rows")
    fewer = shop.results["floor"].iloc[1:]
    assert differences({"portraits": shop.results["portraits"], "floor": fewer}) == [
        f"floor: other customers ({len(fewer):,} rows, portraits {len(fewer) + 1:,})"]


def test_changed_identity_rules_are_refused(shop: Shop, tmp_path: Path) -> None:
    spec = (shop.root / "portraits.yaml").read_text(encoding="utf-8")
    same_as = "    user_id: {same_as: member_id}"
    assert spec.count(same_as) == 1, "the template's identity types moved"
    (tmp_path / "portraits.yaml").write_text(spec.replace(same_as, ""), encoding="utf-8")
    with Workspace(tmp_path, settings=Settings(now=NOW, lang="en")) as ws, \
            pytest.raises(PortraitsError, match="identity rules of events"):
        check_rules(ws)


@pytest.mark.spark
@pytest.mark.slow
def test_the_query_on_spark_equals_the_one_on_duckdb(shop: Shop) -> None:
    with shop.open("spark") as ws:
        assert ws.engine.name == "spark"
        on_spark = ws.engine.to_arrow(portraits_query(ws, NOW)).to_pandas()
    assert differences({"portraits": shop.results["portraits"], "spark": on_spark}) == []
