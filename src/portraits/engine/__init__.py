"""Engines: small adapters that give the core Ibis tables on DuckDB or Spark.

Core modules take and return Ibis expressions and never import ``duckdb`` or ``pyspark``;
only the adapters in this package do, lazily, so ``portraits --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from portraits.engine.base import Engine, WriteMode
from portraits.errors import PortraitsError
from portraits.workspace.spec import DuckDBEngineSpec, EngineSpec, SparkEngineSpec

__all__ = ["Engine", "WriteMode", "connect"]


def connect(spec: EngineSpec, root: Path) -> Engine:
    """Open the engine a workspace asks for.

    Args:
        spec: The ``engine:`` section of ``portraits.yaml``.
        root: The workspace folder; relative database and lake paths start here.
    """
    if isinstance(spec, DuckDBEngineSpec):
        from portraits.engine.duckdb import DuckDBEngine

        duck: Engine = DuckDBEngine(spec, root)
        return duck
    if isinstance(spec, SparkEngineSpec):
        try:
            from portraits.engine.spark import SparkEngine
        except ImportError as exc:
            raise PortraitsError(
                f"the Spark engine needs PySpark ({exc.name} is not installed): "
                "pip install 'portraits[spark]'"
            ) from None
        return SparkEngine(spec, root)
    raise PortraitsError(f"unknown engine {spec!r}")
