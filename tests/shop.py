"""A synthetic shop for the analytics and prediction tests: 1,500 people generated,
loaded, profiled and tagged once (customer ids from the planted truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

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


def build_shop(root: Path, people: int = PEOPLE, seed: int = 11) -> Shop:
    """Generate, load, profile and tag a shop at ``root`` as of the pinned time."""
    create_workspace(root)
    generate(root / "data", customers=people, seed=seed, end=END, block=500)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        profile_from_truth(ws, NOW)
        ws.engine.write("reviews", truth_inputs(ws).reviews)
        ws.tags.run()
    truth = json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))
    return Shop(root, truth)
