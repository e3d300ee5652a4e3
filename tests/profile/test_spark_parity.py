"""The profile build gives the same profiles on Spark as on DuckDB (the small data set).

The retail workspace is loaded by DuckDB; Spark reads the same Parquet lake, so any
difference comes from the profile build itself.
"""

from __future__ import annotations

import pandas as pd
import pytest

from portraits.profile import build_profiles, profile_interests
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.profile.conftest import Retail
from tests.profile.truth_ids import truth_inputs


def _same(left: pd.DataFrame, right: pd.DataFrame, key: list[str]) -> None:
    left = left.sort_values(key).reset_index(drop=True)
    right = right.sort_values(key).reset_index(drop=True)
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            assert a.astype(float).to_numpy() == pytest.approx(
                b.astype(float).to_numpy(), rel=1e-9, nan_ok=True), column
        else:
            assert a.astype(object).where(a.notna(), None).to_list() == b.astype(object).where(
                b.notna(), None).to_list(), column


@pytest.mark.spark
@pytest.mark.slow
def test_profiles_on_spark_equal_those_on_duckdb(retail: Retail) -> None:
    settings = Settings(now=NOW, lang="en", engine="spark")
    with Workspace(retail.root, settings=settings) as ws:
        assert ws.engine.name == "spark"
        inputs = truth_inputs(ws)
        interests = profile_interests(inputs, NOW)
        assert interests is not None
        on_spark = ws.engine.to_arrow(build_profiles(inputs, NOW)).to_pandas()
        interests_on_spark = ws.engine.to_arrow(interests).to_pandas()
    _same(on_spark, retail.profiles, ["customer_id"])
    _same(interests_on_spark, retail.interests, ["customer_id", "category"])
