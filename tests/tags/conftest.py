"""Fixtures of the tag tests: one in-memory DuckDB per module."""

from __future__ import annotations

from collections.abc import Iterator

import ibis
import pytest
from ibis.backends import BaseBackend


@pytest.fixture(scope="module")
def con() -> Iterator[BaseBackend]:
    """An in-memory DuckDB connection shared by a module's tests."""
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()
