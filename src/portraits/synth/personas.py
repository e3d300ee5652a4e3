"""Planted personas: who they are, what they browse and buy, when and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from portraits.synth.catalogue import LEAVES

PLATFORMS: Final[tuple[str, ...]] = ("app", "web", "mini_program")


@dataclass(frozen=True)
class Persona:
    """How one kind of customer behaves.

    Attributes:
        name: Stable id written to the truth file.
        zh: Chinese name.
        share: Share of all customers.
        signature: Leaf categories (paths) this persona mostly browses and buys.
        focus: Probability that a viewed product is from a signature category.
        price_rank: Where in a category's price range the persona buys (0 cheapest, 1 dearest).
        sessions_per_month: Mean number of visits a month while active.
        order_rate: Probability that a visit ends in an order.
        coupon_rate: Probability that an order uses a coupon.
        platforms: Weights of app, web and mini-program visits.
        hours: Weights of the 24 hours of the day for visits.
        weekend: Relative weight of Saturday and Sunday visits (1 = like a weekday).
        female: Share of women.
        age: Mean and spread of age in years.
        share_rate: Probability that a visit includes a Product Shared event.
        regular: Share of the persona, its most active people, who are regular buyers:
            they order on the day they register and then about every ``cycle`` days
            until they churn.
        once: Share, the next most active, who buy once, on the day they register, and
            then only browse. The rest (the least active) only browse.
        cycle: Mean days between a regular buyer's orders.
    """

    name: str
    zh: str
    share: float
    signature: tuple[str, ...]
    focus: float
    price_rank: float
    sessions_per_month: float
    order_rate: float
    coupon_rate: float
    platforms: tuple[float, float, float]
    hours: tuple[float, ...]
    weekend: float
    female: float
    age: tuple[float, float]
    share_rate: float
    regular: float = 0.0
    once: float = 0.0
    cycle: int = 60


_DAY = (1, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 6, 7, 6, 5, 5, 5, 5, 6, 8, 9, 9, 7, 3)
_NIGHT = (8, 6, 4, 2, 1, 1, 1, 1, 2, 3, 3, 3, 4, 3, 3, 3, 3, 3, 4, 5, 6, 8, 12, 11)
_EVENING = (1, 1, 1, 1, 1, 1, 2, 3, 3, 4, 5, 6, 5, 5, 4, 4, 4, 5, 6, 9, 11, 12, 9, 4)

PERSONAS: Final[tuple[Persona, ...]] = (
    Persona("deal_hunter", "精打细算型", 0.25, ("食品/零食", "家居/日用品", "食品/饮料"),
            0.75, 0.1, 0.4, 0.22, 0.85, (0.45, 0.2, 0.35), _DAY, 1.2, 0.62, (33.0, 9.0),
            0.12, regular=0.15, once=0.35, cycle=45),
    Persona("tech_enthusiast", "数码发烧友", 0.18, ("数码/手机", "数码/耳机", "数码/笔记本电脑",
                                                "数码/手机壳"),
            0.8, 0.65, 0.45, 0.16, 0.15, (0.7, 0.25, 0.05), _NIGHT, 1.0, 0.2, (27.0, 6.0),
            0.05, regular=0.25, once=0.25, cycle=60),
    Persona("mother_baby", "宝妈型", 0.17, ("母婴/纸尿裤", "母婴/奶粉", "母婴/湿巾", "母婴/玩具"),
            0.8, 0.45, 0.45, 0.3, 0.4, (0.6, 0.1, 0.3), _EVENING, 1.8, 0.92, (31.0, 4.0),
            0.2, regular=0.4, once=0.25, cycle=45),
    Persona("loyalist", "高价值忠实型", 0.1, ("美妆/护肤", "美妆/彩妆", "服饰/女装", "家居/厨具"),
            0.7, 0.85, 0.7, 0.4, 0.2, (0.75, 0.2, 0.05), _EVENING, 1.3, 0.7, (38.0, 8.0),
            0.08, regular=0.75, once=0.15, cycle=60),
    Persona("occasional", "偶尔购买型", 0.3, (), 0.0, 0.5, 0.1, 0.12, 0.3, (0.45, 0.45, 0.1),
            _DAY, 1.0, 0.5, (36.0, 12.0), 0.03, regular=0.0, once=0.25),
)
PERSONA_NAMES: Final[tuple[str, ...]] = tuple(p.name for p in PERSONAS)
LEAF_PATHS: Final[tuple[str, ...]] = tuple(path for path, *_ in LEAVES)


def leaf_weights(persona: Persona) -> np.ndarray:
    """Probability of each leaf category for a product this persona views."""
    weights = np.full(len(LEAF_PATHS), (1.0 - persona.focus) / len(LEAF_PATHS))
    for path in persona.signature:
        weights[LEAF_PATHS.index(path)] += persona.focus / len(persona.signature)
    return weights / weights.sum()


def hour_weights(persona: Persona) -> np.ndarray:
    """Probability of each hour of the day for a visit."""
    hours = np.asarray(persona.hours, dtype=float)
    return hours / hours.sum()
