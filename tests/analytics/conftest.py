"""Fixtures of the analytics tests: a synthetic shop whose profiles and tags are built
once (customer ids from the planted truth)."""

from __future__ import annotations

import pytest

from tests.shop import END, PEOPLE, Shop, build_shop

__all__ = ["END", "PEOPLE", "Shop"]


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """1,500 synthetic people on DuckDB: loaded, profiled, tagged as of the pinned time."""
    return build_shop(tmp_path_factory.mktemp("analytics-shop"))
