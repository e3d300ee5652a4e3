"""Events of a block of people as Arrow tables (app and web to Parquet, mini-program to JSON).

Strings are built with Arrow compute (take, join) rather than Python loops, so a block
of a million events takes about a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portraits.model.geography import CITIES
from portraits.synth.behaviour import CAMPAIGNS, CHANNELS, KEYWORDS, OS_BY_PLATFORM, Visits
from portraits.synth.catalogue import Catalogue
from portraits.synth.orders import Orders, order_id
from portraits.synth.people import People, permuted
from portraits.synth.personas import PLATFORMS

OPENERS: Final = ("Application Opened", "Page Viewed", "Screen Viewed")


@dataclass(frozen=True)
class Identifiers:
    """Device, cookie and tablet ids of a block of people (Arrow string arrays)."""

    devices: tuple[pa.Array, pa.Array, pa.Array]   # slot 0, slot 1, shared tablet
    cookies: tuple[pa.Array, pa.Array]
    member: pa.Array
    openid: pa.Array
    unionid: pa.Array


def identifiers(people: People, tablet: np.ndarray) -> Identifiers:
    """Ids of each person; ``tablet`` is the shared-tablet number or -1."""
    n = people.number

    def ids(prefix: str, salt: int) -> pa.Array:
        return _join(prefix, pa.array(10**9 + permuted(n, salt, 10**9)))

    shared = _join("TAB-", pa.array(np.where(tablet >= 0, 10**7 + tablet, 0)))
    shared = pc.if_else(pa.array(tablet >= 0), shared, pa.scalar(None, pa.string()))
    return Identifiers(
        devices=(ids("DEV-", 21), ids("DEV-", 22), shared),
        cookies=(ids("ck", 23), ids("ck", 24)),
        member=pa.array(people.member_id, pa.string()),
        openid=pa.array(people.openid, pa.string()),
        unionid=pa.array(people.unionid, pa.string()),
    )


def _join(*parts: str | pa.Array) -> pa.Array:
    texts = [p if isinstance(p, str) else p.cast(pa.string()) for p in parts]
    return pc.binary_join_element_wise(*texts, "")


@dataclass(frozen=True)
class EventRows:
    """Event rows before they become a table: which visit, which kind, which product."""

    visit: np.ndarray
    name: np.ndarray
    position: np.ndarray
    product: np.ndarray    # -1 when none


def event_rows(visits: Visits, viewed: np.ndarray, view_visit: np.ndarray) -> EventRows:
    """Every event of every visit, in funnel order."""
    searched = visits.searched.astype(np.int64)
    first_view = np.searchsorted(view_visit, np.arange(visits.size))
    after_views = 1 + searched + visits.views
    main = viewed[first_view]
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]] = []
    all_visits = np.arange(visits.size)
    parts.append((all_visits, "", np.zeros(visits.size, np.int64), np.full(visits.size, -1)))
    s = np.flatnonzero(visits.searched)
    parts.append((s, "Products Searched", np.ones(len(s), np.int64), np.full(len(s), -1)))
    parts.append((view_visit, "Product Viewed",
                  1 + searched[view_visit] + np.arange(len(view_visit)) - first_view[view_visit],
                  viewed))
    steps = (("Product Added to Wishlist", visits.wished), ("Product Shared", visits.shared),
             ("Product Added", visits.added), ("Cart Viewed", visits.added),
             ("Checkout Started", visits.checkout), ("Coupon Applied", visits.coupon),
             ("Order Completed", visits.ordered))
    for offset, (name, mask) in enumerate(steps):
        chosen = np.flatnonzero(mask)
        product = main[chosen] if name in ("Product Added to Wishlist", "Product Shared",
                                           "Product Added") else np.full(len(chosen), -1)
        parts.append((chosen, name, after_views[chosen] + offset, product))
    visit = np.concatenate([p[0] for p in parts])
    names = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts])
    opener = np.array(OPENERS, dtype=object)[visits.platform]
    names[: visits.size] = opener
    return EventRows(visit, names, np.concatenate([p[2] for p in parts]),
                     np.concatenate([p[3] for p in parts]))


def events_table(rng: np.random.Generator, people: People, visits: Visits, rows: EventRows,
                 ids: Identifiers, catalogue: Catalogue, orders: Orders,
                 first_message: int) -> pa.Table:
    """The events of a block with every canonical column (JSON ``properties`` included)."""
    v = rows.visit
    person = visits.person[v]
    platform = visits.platform[v]
    slot = visits.device_slot[v]
    n = len(v)
    gap = rng.integers(15, 90, visits.size)
    timestamp = visits.start[v] + (rows.position * gap[v]).astype("timedelta64[s]")
    take = pa.array(person)
    app = platform == PLATFORMS.index("app")
    web = platform == PLATFORMS.index("web")
    device = pc.choose(pa.array(np.minimum(slot, 2)), *(d.take(take) for d in ids.devices))
    device = pc.if_else(pa.array(web), pa.scalar(None, pa.string()), device)
    cookie = pc.choose(pa.array(np.minimum(slot, 1)), *(c.take(take) for c in ids.cookies))
    anonymous = pc.if_else(pa.array(web), cookie,
                           pc.if_else(pa.array(app), _join("a-", device),
                                      _join("mp-", ids.openid.take(take))))
    user = pc.if_else(pa.array(visits.logged_in[v]), ids.member.take(take),
                      pa.scalar(None, pa.string()))
    channel = visits.channel[v]
    os_names = np.array([OS_BY_PLATFORM[p][0] for p in PLATFORMS], dtype=object)[platform]
    android = rng.random(n) < 0.55
    os_names = np.where(android & (platform != PLATFORMS.index("web")), "Android", os_names)
    order_of_visit = np.full(visits.size, -1)
    online = orders.visit >= 0
    order_of_visit[orders.visit[online]] = orders.order_no[online]
    ordered = np.isin(rows.name, ["Checkout Started", "Coupon Applied", "Order Completed"])
    revenue = np.full(visits.size, np.nan)
    revenue[orders.visit[online]] = orders.total[online]
    has_product = rows.product >= 0
    product = np.where(has_product, rows.product, 0)
    city_names = pa.array([c.name for c in CITIES])
    table = pa.table({
        "message_id": _join("m", pa.array(10**11 + permuted(first_message + np.arange(n), 41,
                                                            10**11))),
        "anonymous_id": anonymous,
        "user_id": user,
        "device_id": device,
        "event": pa.array(rows.name, pa.string()),
        "timestamp": pa.array(timestamp.astype("datetime64[us]")),
        "platform": pa.array(np.array(PLATFORMS, dtype=object)[platform], pa.string()),
        "device_type": pa.array(np.where(slot == 2, "tablet", np.where(
            web & (rng.random(n) < 0.6), "desktop", "mobile")), pa.string()),
        "os": pa.array(np.where(slot == 2, "iPadOS", os_names), pa.string()),
        "channel": pa.array([c[0] for c in CHANNELS]).take(channel),
        "utm_source": _blank(pa.array([c[1] for c in CHANNELS]).take(channel)),
        "utm_medium": _blank(pa.array([c[2] for c in CHANNELS]).take(channel)),
        "utm_campaign": _blank(pa.array(CAMPAIGNS).take(visits.campaign[v])),
        # A home network per person; the last octet changes from visit to visit.
        "ip": _join("36.", pa.array(person % 200 + 20), ".", pa.array(person // 200 % 250),
                    ".", pa.array(rng.integers(1, 254, visits.size)[v])),
        "city": city_names.take(pa.array(people.city[person])),
        "product_id": _masked(pa.array(catalogue.product_id, pa.string()).take(product),
                              has_product),
        "category": _masked(pa.array(catalogue.top_category(np.arange(catalogue.size)),
                                     pa.string()).take(product), has_product),
        "order_id": _masked(order_id(np.maximum(order_of_visit[v], 0)),
                            ordered & (order_of_visit[v] >= 0)),
        "revenue": pa.array(np.where(rows.name == "Order Completed", revenue[v], np.nan),
                            from_pandas=True),
        "query": _masked(_queries(rng, n), rows.name == "Products Searched"),
        "properties": _properties(catalogue, product, has_product),
        "wechat_openid": _masked(ids.openid.take(take), ~app & ~web),
        "wechat_unionid": _masked(ids.unionid.take(take), ~app & ~web),
    })
    return table.take(pa.array(np.argsort(timestamp, kind="stable")))


def _blank(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _masked(values: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


def _queries(rng: np.random.Generator, count: int) -> pa.Array:
    words = [w for group in KEYWORDS.values() for w in group]
    return pa.array(words).take(pa.array(rng.integers(0, len(words), count)))


def _properties(catalogue: Catalogue, product: np.ndarray, has_product: np.ndarray) -> pa.Array:
    price = pa.array(np.round(catalogue.price, 2)).cast(pa.string())
    brand = pa.array(catalogue.brand, pa.string())
    # Generated values hold no quotes or backslashes, so plain joining gives valid JSON.
    json_text = _join('{"brand": "', brand, '", "price": ', price, "}")
    return _masked(json_text.take(pa.array(product)), has_product)
