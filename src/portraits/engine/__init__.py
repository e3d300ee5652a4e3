"""Engines: small adapters that give the core Ibis tables on DuckDB or Spark.

Core modules take and return Ibis expressions and never import ``duckdb`` or ``pyspark``;
only the adapters in this package do, lazily, so ``portraits --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from portraits.engine.base import Engine, WriteMode
from portraits.errors import PortraitsError
from portraits.workspace.spec import DuckDBEngineSpec, EngineSpec, SparkEngineSpec

__all__ = ["Engine", "WriteMode", "connect", "local_splink_api"]


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


@contextmanager
def local_splink_api() -> Iterator[Any]:
    """A Splink backend on a fresh in-process DuckDB (one thread), closed on exit.

    Where probabilistic matching trains its model, on every engine: see
    :func:`portraits.engine.duckdb.local_splink_api`.
    """
    from portraits.engine.duckdb import local_splink_api as local

    with local() as db_api:
        yield db_api
