"""The matching model is trained the same way whatever order the records arrive in."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from portraits.engine.duckdb import DuckDBEngine
from portraits.identity.matching import UNIQUE_ID, match_records, score_pairs, trained_model
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.spec import DuckDBEngineSpec, MatchingSpec
from tests.conftest import NOW


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The match records of 600 synthetic people (CRM and store members), on DuckDB."""
    root = tmp_path_factory.mktemp("training")
    create_workspace(root)
    generate(root / "data", customers=600, seed=5, end=date(2026, 11, 1), block=300)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(["crm", "store_members"])
        return ws.engine.to_arrow(match_records(ws.engine.table("customers")))


def _shuffled(records: pa.Table) -> pa.Table:
    return records.take(np.random.default_rng(7).permutation(records.num_rows))


def _parameters(model: dict[str, Any]) -> tuple[Any, ...]:
    """The trained prior and every level's m and u probabilities (not the linker's id)."""
    return model["probability_two_random_records_match"], model["comparisons"]


def test_training_twice_gives_the_same_parameters(records: pa.Table) -> None:
    ordered = records.sort_by(UNIQUE_ID)
    first = trained_model(ordered, MatchingSpec())
    assert _parameters(trained_model(ordered, MatchingSpec())) == _parameters(first)
    levels = [level for c in first["comparisons"] for level in c["comparison_levels"]]
    assert sum("m_probability" in level for level in levels) > 10  # trained, not defaults


def test_shuffled_records_score_the_same_pairs_with_the_same_weights(
        records: pa.Table, tmp_path: Path) -> None:
    engine = DuckDBEngine(DuckDBEngineSpec(database=":memory:", threads=2), tmp_path)
    try:
        as_given = score_pairs(records, MatchingSpec(), engine.splink_api())
        shuffled = score_pairs(_shuffled(records), MatchingSpec(), engine.splink_api())
    finally:
        engine.close()
    assert as_given.num_rows > 10
    by_pair = [("left_id", "ascending"), ("right_id", "ascending")]
    assert shuffled.sort_by(by_pair).equals(as_given.sort_by(by_pair))  # bit for bit
