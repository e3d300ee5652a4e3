"""``ws.profiles``: build and store the profiles of a workspace, read them back."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from portraits.errors import PortraitsError
from portraits.profile import PROFILE_FIELDS
from portraits.profile.build import behaviour_buckets, customer_bucket
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.profile.conftest import Retail
from tests.profile.truth_ids import truth_inputs


def test_build_stores_profiles_and_interests(retail: Retail) -> None:
    with Workspace(retail.root, settings=Settings(now=NOW, lang="en")) as ws:
        count = ws.profiles.build(inputs=truth_inputs(ws))
        assert count == len(retail.profiles)
        schema = ws.profiles.table().schema()
        # Whole numbers stay whole numbers in the lake (DuckDB sums them as HUGEINT).
        assert {f.name: str(schema[f.name]).split("(")[0] for f in PROFILE_FIELDS} == {
            f.name: f.dtype for f in PROFILE_FIELDS}
        stored = ws.profiles.table().to_pandas().set_index("customer_id").sort_index()
        assert {"profiles", "profile_interests"} <= set(ws.tables())
        expected = retail.profiles.set_index("customer_id").sort_index()
        assert stored.spend.to_list() == pytest.approx(expected.spend.to_list())
        assert stored.top_interest.fillna("").to_list() == expected.top_interest.fillna(
            "").to_list()
        assert ws.engine.count(ws.profiles.interests()) == len(retail.interests)
        summary = ws.profiles.completeness().to_pandas()
        assert list(summary[["population", "item"]].iloc[0]) == ["customers", "gender"]
        everyone = summary[summary.population == "all"].set_index("item")
        assert everyone.loc["overall", "percent"] == pytest.approx(expected.completeness.mean())


def test_stored_tables_need_customer_ids_first(retail: Retail) -> None:
    with (Workspace(retail.root, settings=Settings(now=NOW, lang="en")) as ws,
          pytest.raises(PortraitsError, match="'customers' table has no customer_id")):
        ws.profiles.build()


def test_build_from_identity_resolution(retail: Retail) -> None:
    with Workspace(retail.root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.identity.resolve()
        customer_ids = ws.identity.customer_ids()
        count = ws.profiles.build(customer_ids)
        profiles = ws.profiles.table().to_pandas()
        known = set(customer_ids.to_pandas().customer_id)
        summary = ws.profiles.completeness().to_pandas().set_index(["population", "item"])
    assert count == len(profiles) and profiles.customer_id.is_unique
    assert set(profiles.customer_id) <= known
    # Identity resolution is not under test here: its people are about the planted ones.
    assert 0.9 * len(retail.people) <= count <= 1.5 * len(retail.people)
    assert profiles.completeness.between(0, 100).all()
    # R3.6 on people who registered; visitors (events only) are reported beside them.
    assert summary.loc[("customers", "overall"), "percent"] >= 85
    assert summary.loc[("visitors", "overall"), "percent"] < summary.loc[
        ("customers", "overall"), "percent"]


def test_behaviour_built_in_customer_buckets_equals_one_pass(
        retail: Retail, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portraits.profile.build.EVENTS_PER_BUCKET", 4_000)
    with Workspace(retail.root, settings=Settings(now=NOW, lang="en")) as ws:
        inputs = truth_inputs(ws)
        assert inputs.events is not None
        assert behaviour_buckets(ws.engine.count(inputs.events)) >= 3
        ws.profiles.build(inputs=inputs)
        stored = ws.profiles.table().to_pandas()
    expected = retail.profiles.sort_values("customer_id").reset_index(drop=True)
    stored = stored.sort_values("customer_id").reset_index(drop=True)[expected.columns]
    assert stored.events.sum() > 0
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)


def test_customer_buckets_split_customers_whole() -> None:
    events = ibis.memtable({"customer_id": [f"C{i % 50}" for i in range(400)] + [None],
                            "n": list(range(401))})
    buckets = [customer_bucket(events, 3, b).to_pandas() for b in range(3)]
    assert sum(len(b) for b in buckets) == 400  # the row without a customer in none
    owners = [set(b.customer_id) for b in buckets]
    assert all(a.isdisjoint(b) for i, a in enumerate(owners) for b in owners[i + 1:])
    assert behaviour_buckets(0) == 1 and behaviour_buckets(8_000_001) == 2
