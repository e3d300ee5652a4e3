"""Probabilistic matching scores the same pairs on Spark as on DuckDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from portraits.engine.spark import SparkEngine
from portraits.identity.matching import match_records, score_pairs
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.spec import MatchingSpec, SparkEngineSpec
from tests.conftest import NOW
from tests.engine.test_parity import spark_context  # noqa: F401  (fixture)


def _scored(pairs: pa.Table) -> dict[tuple[str, str], float]:
    return {(r["left_id"], r["right_id"]): r["match_probability"] for r in pairs.to_pylist()}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.usefixtures("spark_context")
def test_spark_scores_the_same_pairs_as_duckdb(tmp_path: Path) -> None:
    create_workspace(tmp_path / "ws")
    generate(tmp_path / "ws" / "data", customers=600, seed=5, end=date(2026, 11, 1), block=300)
    with Workspace(tmp_path / "ws", settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(["crm", "store_members"])
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers")))
        on_duckdb = _scored(score_pairs(records, MatchingSpec(), ws.engine.splink_api()))
    spark = SparkEngine(SparkEngineSpec(master="local[2]"), tmp_path / "spark")
    try:
        on_spark = _scored(score_pairs(records, MatchingSpec(), spark.splink_api()))
    finally:
        spark.close()
    assert len(on_duckdb) > 10
    assert on_spark.keys() == on_duckdb.keys()
    # The u probabilities come from a seeded random sample of pairs, and each engine draws
    # it with its own generator: the scores differ in the last digits, the decisions not.
    threshold = MatchingSpec().threshold
    assert {p for p, v in on_spark.items() if v >= threshold} == {
        p for p, v in on_duckdb.items() if v >= threshold}
    worst = max(abs(on_spark[p] - v) for p, v in on_duckdb.items())
    assert worst < 0.02, worst
