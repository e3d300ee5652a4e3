"""The whole batch pipeline gives the same tables on DuckDB and on Spark local mode.

The demo's generator writes a retail data set; the DuckDB workspace runs every stage
(load → identity → sentiment → profiles → train → score → tags → segments → analytics);
a copy of the workspace without its lake — the same files, the same trained models —
runs the same stages on Spark, which scores with those models rather than training its
own (training's parity is tests/predict/test_churn_spark.py). Every table of the two
lakes is then compared by ``portraits.workspace.parity``: counts, keys and every non-float
value exactly, floats to a relative 1e-6; Splink's match weights aside (one training, but
DuckDB's string similarities count bytes and Spark's characters; the pairs and decisions
are compared).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

import pytest

from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from portraits.workspace.parity import compare_workspaces
from portraits.workspace.pipeline import STAGES
from tests.conftest import NOW

CUSTOMERS: Final = 10_000
# What the pipeline writes, at least (every stage leaves its tables).
TABLES: Final = {"customers", "events", "orders", "order_items", "products", "reviews",
                 "consents", "rejects", "loads", "quality_rules", "quality_fields",
                 "identities", "identity_links", "customer_ids", "merge_history",
                 "match_pairs", "identity_runs", "review_sentiment", "profiles",
                 "profile_interests", "predictions", "recommendations", "tags",
                 "tag_history", "segment_history"}


@pytest.mark.spark
@pytest.mark.slow
def test_every_table_of_the_pipeline_is_the_same_on_spark(tmp_path: Path) -> None:
    duck, spark = tmp_path / "duckdb", tmp_path / "spark"
    Workspace.init(duck).close()
    with Workspace(duck, settings=Settings(now=NOW, lang="en")) as ws:
        ws.synth.generate(customers=CUSTOMERS, seed=42)
        on_duckdb = ws.pipeline.run()
    shutil.copytree(duck, spark, ignore=shutil.ignore_patterns(".portraits"))
    with Workspace(spark, settings=Settings(now=NOW, lang="en", engine="spark")) as ws:
        assert ws.engine.name == "spark"
        on_spark = ws.pipeline.run(train="never")

    assert [r.stage for r in on_duckdb] == [r.stage for r in on_spark] == list(STAGES)
    for a, b in zip(on_duckdb, on_spark, strict=True):
        if a.stage != "train":
            assert (a.stage, a.rows, a.output) == (b.stage, b.rows, b.output)
    assert on_duckdb[1].output > CUSTOMERS  # people: customers plus anonymous visitors
    verdicts = compare_workspaces(duck, spark)
    assert {v.table for v in verdicts} >= TABLES
    assert [str(v) for v in verdicts if not v.same] == []
    assert all(v.rows > 0 for v in verdicts if v.table in TABLES)
