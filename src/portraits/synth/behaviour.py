"""Visits, events and orders of a block of people, vectorised with NumPy.

A visit (session) runs through the E-commerce Spec funnel: opened → searched → product
viewed → product added → checkout started → order completed, with planted step rates.
Only a regular buyer's browsing visits may check out and end in an order; besides them,
regular buyers come to order about every persona cycle, and one-time buyers on the day
they register (see ``Persona.regular``). Churners' visits thin out towards their churn
date and then stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np

from portraits.synth.catalogue import PAIR_PROBABILITY, Catalogue
from portraits.synth.people import People
from portraits.synth.personas import PERSONAS, PLATFORMS, hour_weights, leaf_weights

CHECKOUT_RATE: Final = 0.6   # Product Added → Checkout Started
PAY_RATE: Final = 0.75       # Checkout Started → Order Completed
SEARCH_RATE: Final = 0.35
VISIT_RATE: Final = 0.7         # multiplier of the personas' sessions per month …
REGULAR_BROWSING: Final = 0.25  # … and again for regular buyers, who also come to order
BROWSE, MAY_ORDER, ORDERS = 0, 1, 2  # a visit does not, may or does end in an order
HERO_RATE: Final = 0.35      # a product of a pair's leaf is its anchor ("hero" SKU)
CHANNELS: Final = (("organic", "", ""), ("search", "baidu", "cpc"), ("social", "douyin", "feed"),
                   ("social", "xiaohongshu", "note"), ("social", "weibo", "feed"),
                   ("email", "edm", "email"), ("sms", "sms", "sms"),
                   ("wechat", "wechat", "article"))
CHANNEL_WEIGHTS: Final = (0.4, 0.15, 0.15, 0.1, 0.05, 0.05, 0.04, 0.06)
CAMPAIGNS: Final = ("", "double11", "618", "spring_festival", "member_day", "new_arrivals")
OS_BY_PLATFORM: Final = {"app": ("iOS", "Android", "HarmonyOS"),
                         "web": ("Windows", "macOS", "iOS", "Android"),
                         "mini_program": ("iOS", "Android", "HarmonyOS")}
KEYWORDS: Final = {"数码": ("手机", "蓝牙耳机", "笔记本", "快充"),
                   "母婴": ("纸尿裤", "奶粉", "湿巾"),
                   "美妆": ("面霜", "口红", "精华"), "服饰": ("连衣裙", "卫衣", "运动鞋"),
                   "食品": ("零食大礼包", "坚果", "气泡水"), "家居": ("纸巾", "洗衣液", "炒锅"),
                   "运动": ("瑜伽垫", "跑步")}


@dataclass(frozen=True)
class Visits:
    """One row per visit."""

    person: np.ndarray      # index into the People block
    start: np.ndarray       # datetime64[s]
    platform: np.ndarray    # index into PLATFORMS
    views: np.ndarray       # products viewed
    searched: np.ndarray
    added: np.ndarray
    checkout: np.ndarray
    ordered: np.ndarray
    shared: np.ndarray
    wished: np.ndarray
    coupon: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    device_slot: np.ndarray  # 0/1: which of the person's devices or cookies; 2: shared tablet
    logged_in: np.ndarray

    @property
    def size(self) -> int:
        """Number of visits."""
        return len(self.person)


def persona_array(people: People, attribute: str) -> np.ndarray:
    """A persona attribute per person."""
    return np.array([getattr(p, attribute) for p in PERSONAS])[people.persona]


def make_visits(rng: np.random.Generator, people: People, start: date, end: date,
                shared_tablet: np.ndarray) -> Visits:
    """Visits of every person between their registration and their churn (or ``end``):
    browsing visits at the persona's rate (only a regular buyer's may end in an order),
    plus the visits in which a regular buyer orders again and a one-time buyer orders."""
    window_start = np.datetime64(start, "s")
    active_from = np.maximum(people.registered_at, window_start)
    active_to = np.where(np.isnat(people.churned_at), np.datetime64(end, "s"),
                         people.churned_at.astype("datetime64[s]"))
    span = np.maximum((active_to - active_from).astype(np.int64), 3600)
    months = span / (30 * 86400)
    rate = persona_array(people, "sessions_per_month") * people.activity * VISIT_RATE
    rate = np.where(people.regular, rate * REGULAR_BROWSING, rate)
    count = rng.poisson(rate * months)
    person = np.repeat(np.arange(people.size), count)
    u = rng.random(len(person))
    churner = ~np.isnat(people.churned_at)[person]
    # Churners: density falling linearly to zero at the churn date.
    u = np.where(churner, 1.0 - np.sqrt(1.0 - u), u)
    day_offset = (u * span[person]).astype(np.int64) // 86400 * 86400
    day = active_from[person].astype("datetime64[D]").astype("datetime64[s]") + day_offset
    day = _weekend_shift(rng, day, persona_array(people, "weekend")[person], active_to[person])
    buying, buying_day = _buying_days(rng, people, window_start, active_to)
    person = np.concatenate([person, buying])
    day = np.concatenate([day, buying_day])
    buys = np.concatenate([np.where(people.regular[person[:len(u)]], MAY_ORDER, BROWSE),
                           np.full(len(buying), ORDERS)])
    order = np.lexsort((day, person))
    person, day, buys = person[order], day[order], buys[order]
    hours = np.empty(len(person), dtype=np.int64)
    for index, persona in enumerate(PERSONAS):
        mine = people.persona[person] == index
        hours[mine] = rng.choice(24, size=int(mine.sum()), p=hour_weights(persona))
    start_s = day + (hours * 3600 + rng.integers(0, 3600, len(person))).astype("timedelta64[s]")
    start_s = np.minimum(start_s, active_to[person] - np.timedelta64(1, "h"))
    # An order planned for the day of registration at an hour before it: the next day.
    early = (buys == ORDERS) & (start_s < people.registered_at[person])
    start_s = np.where(early, start_s + np.timedelta64(1, "D"), start_s)
    return _funnel(rng, people, person, start_s, shared_tablet, buys)


def _buying_days(rng: np.random.Generator, people: People, window_start: np.datetime64,
                 active_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days on which people come to order, inside the window: a regular buyer on the day
    they register, again after a quarter to half a cycle, then every cycle (±25%) until
    they churn; a one-time buyer (not a store member, who buys in the store) on the day
    they register."""
    cycle = persona_array(people, "cycle").astype(float)
    regular = np.flatnonzero(people.regular)
    first = people.registered_at[regular].astype("datetime64[D]").astype("datetime64[s]")
    last = active_to[regular]
    days = (last - first).astype(np.int64) / 86400
    steps = np.ceil(days / (0.75 * cycle[regular])).astype(np.int64) + 2
    person = np.repeat(regular, steps)
    gaps = cycle[person] * rng.uniform(0.75, 1.25, len(person))
    starts = np.cumsum(steps) - steps
    gaps[starts + 1] = cycle[person[starts]] * rng.uniform(0.25, 0.5, len(starts))
    gaps[starts] = 0.0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[starts], steps)
    day = np.repeat(first, steps) + (offset * 86400).astype(np.int64).astype("timedelta64[s]")
    day = day.astype("datetime64[D]").astype("datetime64[s]")
    keep = (day >= window_start) & (day < np.repeat(last, steps))
    once = np.flatnonzero(people.buys_once & ~people.store_member
                          & (people.registered_at >= window_start))
    return (np.concatenate([person[keep], once]),
            np.concatenate([day[keep], people.registered_at[once].astype("datetime64[D]")
                            .astype("datetime64[s]")]))


def _weekend_shift(rng: np.random.Generator, day: np.ndarray, weekend: np.ndarray,
                   limit: np.ndarray) -> np.ndarray:
    """Move some weekday visits to the next Saturday so weekends get ``weekend`` × weight."""
    weekday = (day.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    share = 2 * weekend / (5 + 2 * weekend)
    move = (weekday < 5) & (rng.random(len(day)) < (share - 2 / 7) * 7 / 5)
    moved = day + ((5 - weekday) * 86400).astype("timedelta64[s]")
    return np.where(move & (moved < limit), moved, day)


def _funnel(rng: np.random.Generator, people: People, person: np.ndarray, start: np.ndarray,
            shared_tablet: np.ndarray, buys: np.ndarray) -> Visits:
    """The funnel of each visit; ``buys`` says whether it may end in an order (the step
    rates above), must (a planned purchase) or does not (a browse-only person's visit:
    they add products to the cart at the same rate, but never check out)."""
    n = len(person)
    platforms = np.array([p.platforms for p in PERSONAS])[people.persona[person]]
    platform = (rng.random(n)[:, None] > np.cumsum(platforms, axis=1)).sum(axis=1)
    platform = np.minimum(platform, len(PLATFORMS) - 1)
    order_rate = persona_array(people, "order_rate")[person]
    planned = buys == ORDERS
    added = (rng.random(n) < np.minimum(order_rate / (CHECKOUT_RATE * PAY_RATE), 1.0)) | planned
    checkout = (added & (rng.random(n) < CHECKOUT_RATE) & (buys == MAY_ORDER)) | planned
    ordered = checkout & ((rng.random(n) < PAY_RATE) | planned)
    coupon = ordered & (rng.random(n) < persona_array(people, "coupon_rate")[person])
    slot = (rng.random(n) < 0.2).astype(np.int64)
    on_tablet = shared_tablet[person] & (PLATFORMS.index("app") == platform) & (rng.random(n) < 0.4)
    slot = np.where(on_tablet, 2, slot)
    logged_in = ordered | (rng.random(n) < np.array([0.85, 0.5, 0.7])[platform])
    return Visits(
        person=person, start=start, platform=platform,
        views=1 + rng.poisson(1.0, n), searched=rng.random(n) < SEARCH_RATE,
        added=added, checkout=checkout, ordered=ordered,
        shared=rng.random(n) < persona_array(people, "share_rate")[person],
        wished=rng.random(n) < 0.08, coupon=coupon,
        channel=rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS),
        campaign=rng.integers(0, len(CAMPAIGNS), n), device_slot=slot, logged_in=logged_in,
    )


def pick_products(rng: np.random.Generator, persona: np.ndarray,
                  catalogue: Catalogue) -> np.ndarray:
    """A product for each persona index: a category by taste, a product by price rank."""
    leaf = np.empty(len(persona), dtype=np.int64)
    for index, p in enumerate(PERSONAS):
        mine = persona == index
        weights = leaf_weights(p)
        leaf[mine] = rng.choice(len(weights), size=int(mine.sum()), p=weights)
    groups = np.array(catalogue.by_leaf())
    per_leaf = groups.shape[1]
    rank = np.array([p.price_rank for p in PERSONAS])[persona]
    position = np.clip(np.rint(rank * (per_leaf - 1) + rng.normal(0, per_leaf / 5, len(leaf))),
                       0, per_leaf - 1).astype(np.int64)
    product = groups[leaf, position]
    for anchor, _ in catalogue.pairs:
        hero = (leaf == catalogue.leaf[anchor]) & (rng.random(len(leaf)) < HERO_RATE)
        product[hero] = anchor
    return product


def viewed_products(rng: np.random.Generator, people: People, visits: Visits,
                    catalogue: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """The products of every Product Viewed event, and the visit each belongs to."""
    visit = np.repeat(np.arange(visits.size), visits.views)
    return pick_products(rng, people.persona[visits.person[visit]], catalogue), visit


@dataclass(frozen=True)
class Baskets:
    """Order lines: the order (visit index or store order index) and product per line."""

    order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray


def online_baskets(rng: np.random.Generator, visits: Visits, product: np.ndarray,
                   visit_of_view: np.ndarray, catalogue: Catalogue) -> Baskets:
    """Lines of the online orders: the added product, sometimes a second viewed one, and
    the planted partner of an anchor product."""
    first_view = np.searchsorted(visit_of_view, np.arange(visits.size))
    ordered = np.flatnonzero(visits.ordered)
    main = product[first_view[ordered]]
    second_ok = (visits.views[ordered] > 1) & (rng.random(len(ordered)) < 0.3)
    second = product[np.minimum(first_view[ordered] + 1, len(product) - 1)]
    order = np.concatenate([ordered, ordered[second_ok & (second != main)]])
    lines = np.concatenate([main, second[second_ok & (second != main)]])
    order, lines = with_partners(rng, order, lines, catalogue)
    sort = np.argsort(order, kind="stable")
    quantity = 1 + rng.poisson(0.3, len(order))
    return Baskets(order[sort], lines[sort], quantity)


def with_partners(rng: np.random.Generator, order: np.ndarray, product: np.ndarray,
                  catalogue: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """Order lines plus the planted partner of each anchor product (with its probability),
    each (order, product) once."""
    orders, products = [order], [product]
    for anchor, partner in catalogue.pairs:
        chosen = order[(product == anchor) & (rng.random(len(order)) < PAIR_PROBABILITY)]
        orders.append(chosen)
        products.append(np.full(len(chosen), partner))
    pairs = np.stack([np.concatenate(orders), np.concatenate(products)])
    keep = np.sort(np.unique(pairs, axis=1, return_index=True)[1])
    return pairs[0, keep], pairs[1, keep]
