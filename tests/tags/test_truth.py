"""R5.3 on planted truth: the RFM value layer agrees with the value layer the generator
planted, and the planted churners are flagged.

2,000 generated people (seed 7) are loaded once per module; customer ids come from the
truth (tests/profile/truth_ids.py), so identity resolution is not under test here. The
planted layer (``truth/people.parquet`` ``value_layer``, see
``portraits.synth.people.value_layers``) follows from what drives each person's buying
(persona, activity, registration, churn), never from the orders generated; the RFM
layer is the standard ``value_layer`` tag, computed from the orders alone.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW
from tests.profile.truth_ids import profile_from_truth, truth_people

END = date(2026, 11, 1)
PEOPLE = 2000
LAYERS = ("high_value", "potential", "churn_warning", "lost")
# A churner is flagged when RFM or the lifecycle says so.
WARNING_SEGMENTS = ("at_risk", "cant_lose_them", "about_to_sleep")
WARNING_STAGES = ("churn_warning", "dormant")


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """One row per planted person: the truth (``planted_layer``) beside their tags."""
    root: Path = tmp_path_factory.mktemp("tags-truth")
    create_workspace(root)
    generate(root / "data", customers=PEOPLE, seed=7, end=END)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        profile_from_truth(ws, NOW)
        ws.tags.run()
        tags = ws.engine.to_arrow(ws.tags.table().select(
            "customer_id", "rfm_segment", "value_layer", "lifecycle_stage")).to_pandas()
    people = truth_people(root).to_pandas().rename(
        columns={"person_id": "customer_id", "value_layer": "planted_layer"})
    merged: pd.DataFrame = people.merge(tags, on="customer_id", how="left")
    merged.attrs["root"] = str(root)
    return merged


def test_rfm_value_layers_agree_with_the_planted_ones(tagged: pd.DataFrame) -> None:
    both = tagged[tagged.planted_layer.notna() & tagged.value_layer.notna()]
    confusion = pd.crosstab(both.planted_layer.rename("planted"),
                            both.value_layer.rename("rfm"), margins=True)
    agreement = (both.planted_layer == both.value_layer).mean()
    report = f"layer accuracy {agreement:.3f} over {len(both)} customers\n{confusion}"
    assert len(both) >= 500, report
    assert set(both.planted_layer) == set(both.value_layer) == set(LAYERS), report
    assert agreement >= 0.85, report


def test_only_people_planted_as_buyers_have_an_rfm_layer(tagged: pd.DataFrame) -> None:
    browsers = tagged[tagged.planted_layer.isna()]
    buyers = tagged[tagged.planted_layer.notna()]
    assert len(browsers) > 0 and len(buyers) > 0
    assert browsers.value_layer.notna().mean() <= 0.01
    # A one-time buyer whose only order was cancelled or refunded has no RFM layer.
    assert buyers.value_layer.notna().mean() >= 0.95


def test_planted_churners_land_in_churn_warning_segments(tagged: pd.DataFrame) -> None:
    scored = tagged[tagged.value_layer.notna()]
    flagged = (scored.rfm_segment.isin(WARNING_SEGMENTS)
               | scored.lifecycle_stage.isin(WARNING_STAGES))
    churners = flagged[scored.churned].mean()
    others = flagged[~scored.churned].mean()
    counts = pd.crosstab(scored.churned, scored.rfm_segment)
    report = f"flagged: churners {churners:.3f}, others {others:.3f}\n{counts}"
    assert scored.churned.sum() >= 50, report
    assert churners >= 0.9, report
    assert others <= churners / 2, report
    # The recent churners (planted churn warning) are RFM's at risk / can't lose them.
    recent = scored[scored.churned & (scored.planted_layer == "churn_warning")]
    at_risk = recent.rfm_segment.isin(("at_risk", "cant_lose_them")).mean()
    assert len(recent) >= 30 and at_risk >= 0.8, f"{at_risk:.3f}\n{report}"


def test_why_gives_the_value_the_run_stored_even_for_population_relative_scores(
        tagged: pd.DataFrame) -> None:
    root = Path(str(tagged.attrs["root"]))
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        for row in tagged[tagged.value_layer.notna()].head(5).itertuples():
            for tag in ("rfm_segment", "value_layer", "lifecycle_stage"):
                assert ws.tags.why(row.customer_id, tag).value == getattr(row, tag), (
                    row.customer_id, tag)
