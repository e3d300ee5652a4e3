"""Prediction settings of a workspace (``predict:`` in ``portraits.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PredictSpec(BaseModel):
    """How the models are trained and scored; every setting has a default.

    Attributes:
        horizon_days: Churn, propensity and next category look this many days ahead:
            churn is no purchase in the next ``horizon_days``, propensity a purchase.
        training_windows: Earlier windows of that length stacked to train on; the latest
            window is held out for the evaluation.
        seed: Seed of every model, so the same data gives the same scores.
        clv_model: ``bgnbd`` (BG/NBD) or ``pareto_nbd`` for purchase frequency.
        clv_horizon_days: CLV sums the expected value of this many days.
        clv_holdout_days: The CLV evaluation fits on the data before the last this many
            days and compares its expected purchases with those days'.
        discount_rate: Annual discount rate of future value (0.1 = 10 %).
        margin: Share of spend that is profit (1.0 reports revenue).
        recommendations: Products recommended per customer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_days: int = Field(30, ge=7, le=365)
    training_windows: int = Field(3, ge=1, le=12)
    seed: int = 42
    clv_model: Literal["bgnbd", "pareto_nbd"] = "bgnbd"
    clv_horizon_days: int = Field(365, ge=30, le=3650)
    clv_holdout_days: int = Field(120, ge=14, le=730)
    discount_rate: float = Field(0.1, ge=0, lt=1)
    margin: float = Field(1.0, gt=0, le=1)
    recommendations: int = Field(10, ge=1, le=100)
