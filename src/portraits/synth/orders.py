"""Orders, order lines and reviews of a block of people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa

from portraits.synth.behaviour import Baskets, Visits, pick_products, with_partners
from portraits.synth.catalogue import LEAVES, Catalogue
from portraits.synth.people import People, permuted
from portraits.synth.personas import PERSONAS, PLATFORMS

PAYMENTS: Final = ("微信支付", "支付宝", "银行卡", "Apple Pay")
PAYMENT_WEIGHTS: Final = (0.55, 0.38, 0.05, 0.02)
REVIEW_RATE: Final = 0.12
STORE_ORDERS_PER_YEAR: Final = 3
# Planted pain points: reviews of these leaves are negative more often, about this topic.
PAIN_POINTS: Final[dict[str, tuple[float, str]]] = {"服饰/女装": (0.5, "size"),
                                                    "服饰/男装": (0.45, "size"),
                                                    "数码/耳机": (0.45, "battery")}
REVIEW_TEXT: Final[dict[tuple[str, str, str], tuple[str, ...]]] = {
    ("positive", "quality", "zh"): ("质量很好，非常满意，会回购", "做工精致，物超所值，推荐购买"),
    ("positive", "delivery", "zh"): ("物流很快，第二天就到了，包装完好",
                                     "发货速度快，快递小哥很给力"),
    ("positive", "quality", "en"): ("Great quality, very happy with it. Will buy again.",
                                    "Excellent value for money, highly recommend."),
    ("positive", "delivery", "en"): ("Fast delivery, arrived the next day, well packed.",),
    ("neutral", "quality", "zh"): ("一般般，和描述差不多", "还行吧，中规中矩"),
    ("neutral", "quality", "en"): ("It is okay, about what I expected.",),
    ("negative", "quality", "zh"): ("质量太差了，用了两天就坏了，很失望", "做工粗糙，不值这个价"),
    ("negative", "quality", "en"): ("Poor quality, broke after two days. Disappointed.",),
    ("negative", "delivery", "zh"): ("物流太慢了，等了一个星期，包装也破了",),
    ("negative", "delivery", "en"): ("Terrible delivery, took a week and the box was damaged.",),
    ("negative", "size", "zh"): ("尺码偏小，穿不上，退货又麻烦", "尺码严重不准，和尺码表不一样"),
    ("negative", "size", "en"): ("The size runs small, does not fit at all.",),
    ("negative", "battery", "zh"): ("续航太差，充满电只能用两个小时",
                                    "电池不耐用，续航和宣传的差很多"),
    ("negative", "battery", "en"): ("Battery life is awful, barely two hours.",),
}


@dataclass(frozen=True)
class Orders:
    """Orders of a block: online ones (from visits) first, then store ones."""

    order_no: np.ndarray     # global order number (for ids)
    person: np.ndarray
    ordered_at: np.ndarray   # datetime64[s]
    channel: np.ndarray      # platform name or "store"
    coupon: np.ndarray
    visit: np.ndarray        # visit index, -1 for store orders
    lines: Baskets           # lines[].order indexes this table
    subtotal: np.ndarray
    discount: np.ndarray
    status: np.ndarray
    payment: np.ndarray

    @property
    def size(self) -> int:
        """Number of orders."""
        return len(self.person)

    @property
    def total(self) -> np.ndarray:
        """Amount paid."""
        return np.round(self.subtotal - self.discount, 2)


def order_id(order_no: np.ndarray) -> pa.Array:
    """Order ids: distinct numbers that do not reveal the order count."""
    return _prefixed("O", 1_000_000_000 + permuted(order_no, 31, 10**9))


def _prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def make_orders(rng: np.random.Generator, people: People, visits: Visits, online: Baskets,
                catalogue: Catalogue, first_order_no: int, start: np.datetime64,
                end: np.datetime64) -> Orders:
    """Online orders from the visits that ended in one, plus offline store orders."""
    online_visits = np.flatnonzero(visits.ordered)
    store_person, store_time = _store_orders(rng, people, start, end)
    store_lines = _store_lines(rng, people, store_person, catalogue, len(online_visits))
    # Lines of online orders refer to visits; renumber them to order positions.
    position = np.full(visits.size, -1)
    position[online_visits] = np.arange(len(online_visits))
    lines = Baskets(np.concatenate([position[online.order], store_lines.order]),
                    np.concatenate([online.product, store_lines.product]),
                    np.concatenate([online.quantity, store_lines.quantity]))
    count = len(online_visits) + len(store_person)
    price = catalogue.price[lines.product]
    subtotal = np.round(np.bincount(lines.order, weights=price * lines.quantity,
                                    minlength=count), 2)
    coupon = np.concatenate([visits.coupon[online_visits],
                             rng.random(len(store_person)) < 0.2])
    discount = np.round(np.where(coupon, subtotal * rng.uniform(0.08, 0.3, count), 0.0), 2)
    return Orders(
        order_no=first_order_no + np.arange(count),
        person=np.concatenate([visits.person[online_visits], store_person]),
        ordered_at=np.concatenate([visits.start[online_visits]
                                   + _seconds(rng, len(online_visits), 120, 900), store_time]),
        channel=np.concatenate([np.array(PLATFORMS, dtype=object)[visits.platform[online_visits]],
                                np.full(len(store_person), "store", dtype=object)]),
        coupon=coupon,
        visit=np.concatenate([online_visits, np.full(len(store_person), -1)]),
        lines=lines, subtotal=subtotal, discount=discount,
        status=rng.choice(np.array(["paid", "refunded", "cancelled"], dtype=object), size=count,
                          p=[0.92, 0.05, 0.03]),
        payment=rng.choice(np.array(PAYMENTS, dtype=object), size=count, p=PAYMENT_WEIGHTS),
    )


def _seconds(rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
    return rng.integers(low, high, count).astype("timedelta64[s]")


def _store_orders(rng: np.random.Generator, people: People, start: np.datetime64,
                  end: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """Store orders inside the window: a regular buyer's, ``STORE_ORDERS_PER_YEAR`` a year
    while active, and a one-time buyer's on the day the card was opened."""
    once = people.buys_once & (people.registered_at >= start)
    members = np.flatnonzero(people.store_member & (people.regular | once))
    last = np.where(np.isnat(people.churned_at[members]), end,
                    people.churned_at[members].astype("datetime64[s]"))
    first = np.maximum(people.registered_at[members], start)
    span = np.maximum((last - first).astype(np.int64), 86400)
    count = np.where(people.regular[members],
                     rng.poisson(span / (86400 * 365) * STORE_ORDERS_PER_YEAR), 1)
    person = np.repeat(members, count)
    days = (rng.random(len(person)) * np.repeat(span, count)).astype(np.int64) // 86400
    days = np.where(people.regular[person], days, 0)
    when = (np.repeat(first, count).astype("datetime64[D]").astype("datetime64[s]")
            + (days * 86400 + rng.integers(10 * 3600, 21 * 3600, len(person)))
            .astype("timedelta64[s]"))
    return person, np.minimum(when, np.repeat(last, count) - np.timedelta64(1, "h"))


def _store_lines(rng: np.random.Generator, people: People, store_person: np.ndarray,
                 catalogue: Catalogue, offset: int) -> Baskets:
    count = 1 + rng.poisson(0.8, len(store_person))
    order = np.repeat(np.arange(len(store_person)), count)
    product = pick_products(rng, people.persona[store_person[order]], catalogue)
    order, product = with_partners(rng, order, product, catalogue)
    sort = np.argsort(order, kind="stable")
    quantity = np.asarray(1 + rng.poisson(0.4, len(order)))
    return Baskets(order[sort] + offset, product[sort], quantity)


@dataclass(frozen=True)
class Reviews:
    """Reviews with their planted sentiment and topic."""

    line: np.ndarray       # index into orders.lines
    rating: np.ndarray
    sentiment: np.ndarray
    topic: np.ndarray
    lang: np.ndarray
    text: list[str]
    delay: np.ndarray      # days after the order


def make_reviews(rng: np.random.Generator, people: People, orders: Orders,
                 catalogue: Catalogue) -> Reviews:
    """Reviews of some paid order lines; pain-point categories get more negative ones."""
    lines = orders.lines
    paid = orders.status[lines.order] == "paid"
    persona_rate = np.array([0.8 if p.name in ("deal_hunter", "loyalist") else 1.0
                             for p in PERSONAS])[people.persona[orders.person[lines.order]]]
    chosen = np.flatnonzero(paid & (rng.random(len(lines.order)) < REVIEW_RATE * persona_rate))
    leaf_paths = np.array([p for p, *_ in LEAVES], dtype=object)[catalogue.leaf[
        lines.product[chosen]]]
    negative_share = np.array([PAIN_POINTS.get(p, (0.15, ""))[0] for p in leaf_paths])
    draw = rng.random(len(chosen))
    sentiment = np.where(draw < negative_share, "negative",
                         np.where(draw < negative_share + 0.1, "neutral", "positive"))
    pain_topic = np.array([PAIN_POINTS.get(p, (0.0, "quality"))[1] for p in leaf_paths],
                          dtype=object)
    generic = rng.choice(np.array(["quality", "delivery"], dtype=object), size=len(chosen))
    topic = np.where((sentiment == "negative") & (pain_topic != "quality")
                     & (rng.random(len(chosen)) < 0.8), pain_topic, generic)
    topic = np.where(sentiment == "neutral", "quality", topic)
    lang = np.where(rng.random(len(chosen)) < 0.12, "en", "zh")
    rating = np.select([sentiment == "positive", sentiment == "neutral"],
                       [rng.integers(4, 6, len(chosen)), np.full(len(chosen), 3)],
                       rng.integers(1, 3, len(chosen)))
    texts = []
    for s, t, lg, pick in zip(sentiment, topic, lang, rng.random(len(chosen)), strict=True):
        options = REVIEW_TEXT[(str(s), str(t), str(lg))]
        texts.append(options[int(pick * len(options))])
    return Reviews(chosen, rating, sentiment.astype(object), topic.astype(object),
                   lang.astype(object), texts, rng.integers(1, 20, len(chosen)))
