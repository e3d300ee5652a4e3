"""Fixtures of the report tests: the synthetic shop with review sentiment scored and
every prediction model trained and scored, reported for October 2026."""

from __future__ import annotations

from datetime import date

import pytest

from tests.shop import END, PEOPLE, Shop, build_shop

__all__ = ["END", "MONTH", "PEOPLE", "Shop"]
MONTH = date(2026, 10, 1)  # the last full month before the shop's end


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """1,500 synthetic people: loaded, profiled, sentiment scored, predictions trained and
    scored, tagged, as of the pinned time."""
    made = build_shop(tmp_path_factory.mktemp("report-shop"))
    with made.open() as ws:
        ws.analytics.sentiment()
        for model in ("churn", "propensity", "clv", "next_category", "recommend"):
            ws.predict.train(model)
        ws.predict.score()
        ws.tags.run()
    return made
