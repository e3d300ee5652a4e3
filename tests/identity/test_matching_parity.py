"""Probabilistic matching scores the same pairs on Spark as on DuckDB, with one model."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from portraits.engine.spark import SparkEngine
from portraits.identity.matching import UNIQUE_ID, match_records, score_pairs
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.spec import MatchingSpec, SparkEngineSpec
from tests.conftest import NOW
from tests.engine.test_parity import spark_context  # noqa: F401  (fixture)

Pair = tuple[str, str]
Scores = dict[Pair, tuple[float, float]]  # match_weight, match_probability
TEXT = ("name", "name_sorted", "address")  # compared by edit distance and Jaro-Winkler
# Fewer random pairs than the records make, so the u estimate samples (as at full size).
SPEC = MatchingSpec(max_pairs=20_000)


def _scored(pairs: pa.Table) -> Scores:
    return {(r["left_id"], r["right_id"]): (r["match_weight"], r["match_probability"])
            for r in pairs.to_pylist()}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> tuple[pa.Table, Scores, Scores]:
    """600 synthetic people's records, scored on DuckDB and (handed over reversed) on Spark."""
    request.getfixturevalue("spark_context")
    root = tmp_path_factory.mktemp("matching-parity")
    create_workspace(root / "ws")
    generate(root / "ws" / "data", customers=600, seed=5, end=date(2026, 11, 1), block=300)
    with Workspace(root / "ws", settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(["crm", "store_members"])
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers")))
        on_duckdb = _scored(score_pairs(records, SPEC, ws.engine.splink_api()))
    # Spark hands the records over in its own order.
    reversed_records = records.take(list(range(records.num_rows - 1, -1, -1)))
    spark = SparkEngine(SparkEngineSpec(master="local[2]"), root / "spark")
    try:
        on_spark = _scored(score_pairs(reversed_records, SPEC, spark.splink_api()))
    finally:
        spark.close()
    return records, on_duckdb, on_spark


def _same(on_spark: Scores, on_duckdb: Scores, pairs: set[Pair]) -> None:
    for at in (0, 1):  # match_weight, match_probability
        assert {p: on_spark[p][at] for p in pairs} == pytest.approx(
            {p: on_duckdb[p][at] for p in pairs}, rel=1e-9)


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_scores_the_same_pairs_with_the_same_model(
        scored: tuple[pa.Table, Scores, Scores]) -> None:
    records, on_duckdb, on_spark = scored
    assert len(on_duckdb) > 10
    assert on_spark.keys() == on_duckdb.keys()
    # One training (in-process DuckDB) for both: where the engines' string functions agree
    # (texts equal, or ASCII), the weights are the same.
    text = {r[UNIQUE_ID]: [r[c] for c in TEXT] for r in records.to_pylist()}

    def agreeing(pair: Pair) -> bool:
        return all(a is None or b is None or a == b or (a.isascii() and b.isascii())
                   for a, b in zip(text[pair[0]], text[pair[1]], strict=True))

    same_functions = {p for p in on_duckdb if agreeing(p)}
    assert len(same_functions) > 10
    _same(on_spark, on_duckdb, same_functions)


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="DuckDB's levenshtein and jaro_winkler_similarity count UTF-8 bytes, Spark's "
           "characters: a Chinese name one character apart is at distance 1 on Spark and "
           "2-3 on DuckDB, so the pair lands on another comparison level")
def test_spark_scores_every_pair_with_the_same_weight(
        scored: tuple[pa.Table, Scores, Scores]) -> None:
    _, on_duckdb, on_spark = scored
    _same(on_spark, on_duckdb, set(on_duckdb))
