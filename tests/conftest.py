"""Shared fixtures: pinned settings and tiny workspaces built from text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import ibis
import pytest
from ibis.backends import BaseBackend

from portraits.settings import Settings

NOW = datetime(2026, 11, 1, 12, 0, 0)
WorkspaceFactory = Callable[..., Path]


@pytest.fixture
def settings() -> Settings:
    """Settings with "now" pinned, so future/past rules give the same answer every day."""
    return Settings(now=NOW, lang="en")


@pytest.fixture
def con() -> Iterator[BaseBackend]:
    """An in-memory DuckDB connection."""
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()


@pytest.fixture
def make_workspace(tmp_path: Path) -> WorkspaceFactory:
    """Write ``portraits.yaml`` and files (text is UTF-8 unless bytes are given)."""

    def build(spec: str, files: dict[str, str | bytes] | None = None,
              name: str = "ws") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        (root / "portraits.yaml").write_text(spec, encoding="utf-8")
        for rel, content in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return build
