"""The standard tag library and a segment with an event condition give the same answers on
Spark as on DuckDB (the small data set; Spark reads the lake DuckDB wrote)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from portraits.segments.spec import SegmentSpec
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.profile.truth_ids import profile_from_truth

END = date(2026, 11, 1)
NOW = datetime(2026, 11, 1)
SEGMENT = SegmentSpec(
    id="cart_abandoners", name={"en": "Cart abandoners", "zh-CN": "加购未买"},
    where={"all": [{"did": {"event": "Product Added", "within_days": 7}},
                   {"not": {"did": {"event": "Order Completed", "within_days": 7}}},
                   {"any": [{"tag": "repeat_buyer"}, {"expr": "product_views >= 3"}]}]})


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 generated people with profiles, and orders and events carrying customer ids."""
    root = tmp_path_factory.mktemp("tags-parity")
    create_workspace(root)
    generate(root / "data", customers=300, seed=11, end=END, block=150)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        profile_from_truth(ws, NOW)
    return root


def _tags_and_members(root: Path, engine: str) -> tuple[pd.DataFrame, list[str]]:
    with Workspace(root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
        assert ws.engine.name == engine
        tags = ws.engine.to_arrow(ws.tags.compute(NOW)).to_pandas()
        if engine == "duckdb":
            ws.tags.run(NOW)
        members = ws.engine.to_arrow(ws.segments.members(SEGMENT, NOW)).to_pandas()
    return tags.sort_values("customer_id").reset_index(drop=True), sorted(members.customer_id)


@pytest.mark.spark
@pytest.mark.slow
def test_standard_tags_and_an_event_segment_agree_on_spark(shop: Path) -> None:
    on_duckdb, members_duckdb = _tags_and_members(shop, "duckdb")
    on_spark, members_spark = _tags_and_members(shop, "spark")
    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert len(on_duckdb) == len(on_spark) >= 250
    for column in on_duckdb.columns:
        a, b = on_duckdb[column], on_spark[column]
        if pd.api.types.is_float_dtype(a):
            assert a.to_numpy() == pytest.approx(b.astype(float).to_numpy(), rel=1e-9,
                                                 nan_ok=True), column
        else:
            assert a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(
                b.notna(), None).tolist(), column
    assert members_duckdb == members_spark
    assert len(members_duckdb) > 0
    assert on_duckdb.rfm_segment.nunique() >= 8
