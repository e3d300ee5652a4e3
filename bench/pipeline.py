"""Benchmark: the whole batch pipeline at size on DuckDB and Spark, beside the SQL floor and
pandas — ``portraits bench`` with this folder's data cache and results.

    uv run python bench/pipeline.py                      # 1M customers / ~20M events
    uv run python bench/pipeline.py --events 100M        # the large run
    uv run python bench/pipeline.py --customers 100k -e duckdb

Generated data goes to bench/data/ and figures to bench/results/ (both ignored by git);
every other option is ``portraits bench``'s (``--help``). docs/performance.md explains
the steps, the machine and the latest figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

from portraits.cli.main import app

BENCH = Path(__file__).resolve().parent


def main() -> None:
    args = sys.argv[1:]
    if "--folder" not in args:
        args += ["--folder", str(BENCH / "data")]
    if "--out" not in args:
        args += ["--out", str(BENCH / "results")]
    app(["bench", *args])


if __name__ == "__main__":
    main()
