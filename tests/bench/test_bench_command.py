"""``portraits bench``: sizes, the arithmetic of the table, and one small run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portraits.bench.run import BenchResult, parse_size
from portraits.cli.main import app
from portraits.errors import PortraitsError


def test_sizes_are_read_with_their_units() -> None:
    assert parse_size("20M") == 20_000_000
    assert parse_size("100m") == 100_000_000
    assert parse_size("500k") == 500_000
    assert parse_size(" 1.5M ") == 1_500_000
    assert parse_size("1500") == 1_500
    with pytest.raises(PortraitsError, match="'twenty' is not a size"):
        parse_size("twenty")


def _row(step: str, engine: str, seconds: float, peak: int = 100) -> dict[str, object]:
    return {"step": step, "engine": engine, "seconds": seconds, "rows": 1000, "output": 10,
            "peak_rss_mb": peak, "detail": ""}


def test_the_batch_total_leaves_generation_and_training_out() -> None:
    result = BenchResult(1000, steps=[
        _row("generate", "python", 50.0, 900), _row("load", "duckdb", 2.0, 300),
        _row("train", "duckdb", 40.0, 2000), _row("tags", "duckdb", 1.5, 500),
        _row("load", "spark", 20.0), _row("query", "duckdb", 1.2),
        _row("floor", "duckdb", 1.0), _row("pandas", "pandas", 4.8)])
    assert result.batch_seconds("duckdb") == 3.5
    assert result.batch_peak_mb("duckdb") == 500
    assert result.batch_seconds("spark") == 20.0
    body = result.to_json()
    assert body["batch"]["duckdb"] == {"seconds": 3.5, "peak_rss_mb": 500.0}
    assert body["ratios"]["portraits_over_floor"] == pytest.approx(1.2)
    assert body["ratios"]["pandas_over_portraits"] == pytest.approx(4.0)
    assert body["ratios"]["spark_over_duckdb"] is None  # no Spark query was run


@pytest.mark.slow
def test_a_small_run_prints_the_table_and_writes_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = CliRunner().invoke(app, [
        "bench", "--customers", "300", "-e", "duckdb", "--no-train",
        "--folder", str(tmp_path / "bench"), "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for line in ("Benchmark: 300 customers", "Load", "Identity", "Tags, RFM, lifecycle",
                 "Batch pipeline in all", "hand-written DuckDB SQL (floor)", "pandas",
                 "results agree"):
        assert line in result.output
    body = json.loads(out.read_text(encoding="utf-8"))
    steps = {(s["step"], s["engine"]) for s in body["steps"]}
    assert ("load", "duckdb") in steps and ("floor", "duckdb") in steps
    assert ("train", "duckdb") not in steps and ("score", "duckdb") not in steps
    assert body["differences"] == []
    assert body["events"] > 300 and body["machine"]["cpus"] >= 1
    assert all(s["seconds"] > 0 and s["peak_rss_mb"] > 0 for s in body["steps"])
    load = next(s for s in body["steps"] if s["step"] == "load")
    assert load["rows"] > load["output"] > 0


def test_a_memory_limit_goes_into_the_duckdb_workspace_only(tmp_path: Path) -> None:
    from portraits.bench.run import BenchPlan, _fresh_workspace
    from portraits.workspace.loader import load_spec

    plan = BenchPlan(customers=100, folder=tmp_path, memory_limit="5GB")
    plan.data().mkdir(parents=True)
    duck = load_spec(_fresh_workspace(plan, "duckdb") / "portraits.yaml").engine
    assert duck.kind == "duckdb" and duck.memory_limit == "5GB"
    spark = load_spec(_fresh_workspace(plan, "spark") / "portraits.yaml").engine
    assert spark.kind == "spark"
    plain = BenchPlan(customers=100, folder=tmp_path)
    unlimited = load_spec(_fresh_workspace(plain, "duckdb") / "portraits.yaml").engine
    assert unlimited.kind == "duckdb" and unlimited.memory_limit is None
