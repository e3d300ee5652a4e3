"""Fixtures of the analytics tests: an in-memory DuckDB, and a synthetic shop whose
profiles and tags are built once (customer ids from the planted truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW
from tests.profile.truth_ids import profile_from_truth, truth_inputs

END = date(2026, 11, 1)
PEOPLE = 1500


@dataclass(frozen=True)
class Shop:
    """The generated workspace (profiles, tags, events/orders/reviews with customer ids)
    and the generator's truth.json."""

    root: Path
    truth: dict[str, Any]

    def open(self) -> Workspace:
        """The workspace, with "now" pinned to the generator's end."""
        return Workspace(self.root, settings=Settings(now=NOW, lang="en"))


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """1,500 synthetic people on DuckDB: loaded, profiled, tagged as of the pinned time."""
    root = tmp_path_factory.mktemp("analytics-shop")
    create_workspace(root)
    generate(root / "data", customers=PEOPLE, seed=11, end=END, block=500)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        profile_from_truth(ws, NOW)
        ws.engine.write("reviews", truth_inputs(ws).reviews)
        ws.tags.run()
    truth = json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))
    return Shop(root, truth)
