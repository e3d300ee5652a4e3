"""The tunable definitions of the profile build: one typed, backend-free spec.

Every threshold a marketer may ask about ("what counts as high spending?") is here with
its default, so ``docs/profiles.md`` can quote it and a workspace can change it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InterestSpec(BaseModel):
    """How interest affinities per category are weighted.

    Attributes:
        view_weight: Weight of one Product Viewed event.
        add_weight: Weight of one Product Added event.
        order_weight: Weight of one bought order line.
        half_life_days: A signal this many days old counts half as much as one today.
        top: How many categories the wide profile lists in ``interests``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    view_weight: float = Field(1.0, ge=0)
    add_weight: float = Field(3.0, ge=0)
    order_weight: float = Field(5.0, ge=0)
    half_life_days: float = Field(90.0, gt=0)
    top: int = Field(3, ge=1, le=10)


class SpendingSpec(BaseModel):
    """Spending level from the spend of the last 365 days (CNY, after discounts).

    Attributes:
        high: ``high`` at or above this spend.
        mid: ``mid`` at or above this spend, ``mass`` below it (and with no spend).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    high: float = Field(5000.0, gt=0)
    mid: float = Field(1000.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SpendingSpec:
        if self.mid >= self.high:
            raise ValueError(f"spending.mid ({self.mid}) must be below spending.high "
                             f"({self.high})")
        return self


class PriceSensitivitySpec(BaseModel):
    """Price sensitivity from the price index and the coupon use rate.

    ``high`` if the price index is below ``cheap`` or the coupon use rate reaches
    ``coupon_high``; ``low`` if the price index is above ``dear`` and the coupon use rate
    is below ``coupon_low``; ``medium`` otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cheap: float = Field(0.85, gt=0)
    dear: float = Field(1.15, gt=0)
    coupon_high: float = Field(0.5, ge=0, le=1)
    coupon_low: float = Field(0.25, ge=0, le=1)


class ProfileSpec(BaseModel):
    """Definitions of the profile build.

    Attributes:
        session_gap_minutes: A visit (session) ends after more than this many idle minutes.
        excluded_order_statuses: Orders with these statuses do not count as purchases
            (they are counted in ``returned_orders``); orders without a status count.
        search_keywords: How many keywords ``top_search_keywords`` lists.
        night_hours: Hours (0-23) whose visits count towards ``night_share``.
        interests: Interest affinity weights.
        spending: Spending level thresholds.
        price_sensitivity: Price sensitivity thresholds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_gap_minutes: int = Field(30, ge=1)
    excluded_order_statuses: tuple[str, ...] = ("cancelled", "refunded")
    search_keywords: int = Field(3, ge=1, le=10)
    night_hours: tuple[int, ...] = (22, 23, 0, 1, 2, 3, 4, 5)
    interests: InterestSpec = InterestSpec()
    spending: SpendingSpec = SpendingSpec()
    price_sensitivity: PriceSensitivitySpec = PriceSensitivitySpec()
