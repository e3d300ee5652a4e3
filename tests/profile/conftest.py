"""Fixtures of the profile tests: an in-memory DuckDB, and the synthetic retail workspace
with its profiles built once (customer ids from the planted truth)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from portraits.profile import build_profiles, profile_interests
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW
from tests.profile.truth_ids import truth_inputs, truth_people

END = date(2026, 11, 1)
PEOPLE = 600


@dataclass(frozen=True)
class Retail:
    """The generated workspace, its profiles and interests (pandas), and the truth."""

    root: Path
    profiles: pd.DataFrame
    interests: pd.DataFrame
    people: pd.DataFrame


@pytest.fixture(scope="package")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Retail:
    """600 synthetic people loaded on DuckDB, profiled as of the pinned time."""
    root = tmp_path_factory.mktemp("retail-profiles")
    create_workspace(root)
    generate(root / "data", customers=PEOPLE, seed=7, end=END, block=250)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        inputs = truth_inputs(ws)
        profiles = build_profiles(inputs, NOW).to_pandas()
        interests = profile_interests(inputs, NOW)
        assert interests is not None
        people = truth_people(root).to_pandas().rename(columns={"person_id": "customer_id"})
        return Retail(root, profiles, interests.to_pandas(), people)
