"""Funnels, paths and retention give the same figures on Spark as on DuckDB (the shop's
events; Spark reads the lake DuckDB wrote)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from portraits.analytics.funnel import Exclusion
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.analytics.conftest import Shop
from tests.conftest import NOW

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def _figures(shop: Shop, engine: str) -> dict[str, pd.DataFrame]:
    with Workspace(shop.root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
        assert ws.engine.name == engine
        a = ws.analytics
        exclusion = Exclusion(event="Coupon Applied", after=2, before=4)
        return {
            "funnel": a.funnel(STEPS, exclusions=[exclusion], breakdown="platform").to_pandas(),
            "strict": a.funnel(STEPS[:2], order="strict", window=timedelta(hours=1)).to_pandas(),
            "any": a.funnel(STEPS[1:], order="any", breakdown="city_tier").to_pandas(),
            "paths": a.paths(start="Product Viewed", steps=4).to_pandas(),
            "paths_to": a.paths(end="Order Completed", steps=3).to_pandas(),
            "retention": a.retention(period="month", periods=4, mode="on_or_after",
                                     cohort="recurring").to_pandas(),
            "repurchase": a.repurchase(periods=3).to_pandas(),
        }


@pytest.mark.spark
@pytest.mark.slow
def test_analytics_agree_on_spark_and_duckdb(shop: Shop) -> None:
    duck = _figures(shop, "duckdb")
    spark = _figures(shop, "spark")
    for name, frame in duck.items():
        keys = [c for c in ("group", "step", "source", "target", "cohort") if c in frame]
        left = frame.sort_values(keys).reset_index(drop=True)
        right = spark[name].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=name)
        assert len(left) > 0, name
