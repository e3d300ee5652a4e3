"""Compare every table of two workspaces, e.g. the demo run on DuckDB and on Spark.

    PORTRAITS_NOW=2026-11-01T12:00:00 uv run portraits demo /tmp/duck --customers 10000
    PORTRAITS_ENGINE=spark PORTRAITS_NOW=2026-11-01T12:00:00 \\
        uv run portraits demo /tmp/spark --customers 10000
    uv run python bench/parity.py /tmp/duck /tmp/spark

The comparison (what is exact, the float tolerance, the columns left out and why) is
:mod:`portraits.workspace.parity`, the one the engine parity test uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from portraits.workspace.parity import compare_workspaces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", type=Path)
    parser.add_argument("right", type=Path)
    args = parser.parse_args()
    verdicts = compare_workspaces(args.left, args.right)
    for verdict in verdicts:
        print(verdict)
    raise SystemExit(0 if all(v.same for v in verdicts) else 1)


if __name__ == "__main__":
    main()
