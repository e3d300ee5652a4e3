"""Attribute records as a retailer's systems export them: CRM, store members, products,
orders, reviews, consents. Values are written the way such exports write them (Chinese
headers, mixed date formats, phones with and without +86, 男/女/M/F/1/0)."""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import pyarrow as pa

from portraits.model.geography import CITIES
from portraits.synth.catalogue import Catalogue
from portraits.synth.orders import Orders, Reviews, order_id
from portraits.synth.people import (
    EDUCATION,
    INCOME_BANDS,
    LEVELS,
    MARITAL,
    OCCUPATIONS,
    People,
    typo_name,
    typo_phone,
    variant_address,
)

CRM_COLUMNS: Final = ("会员编号", "姓名", "性别", "手机号", "邮箱", "出生日期", "省份", "城市",
                      "地址", "职业", "月收入", "婚姻状况", "学历", "会员等级", "注册时间",
                      "微信openid", "微信unionid")
STORE_COLUMNS: Final = ("门店会员号", "姓名", "手机", "性别", "生日", "门店城市", "开卡日期")
CONSENT_CHANNELS: Final = (("sms", 0.7), ("email", 0.45), ("push", 0.6), ("wechat", 0.55))


def phone_as_written(e164: str, style: int) -> str:
    """A +86 number as CRM clerks type it."""
    local = e164[3:]
    return (local, f"{local[:3]}-{local[3:7]}-{local[7:]}", f"+86 {local[:3]} {local[3:7]} "
            f"{local[7:]}", f"86{local}")[style % 4]


def date_as_written(day: date, style: int) -> str:
    """A date in one of the formats Chinese exports use."""
    return (day.isoformat(), f"{day.year}/{day.month}/{day.day}",
            f"{day.year}年{day.month}月{day.day}日")[style % 3]


def gender_as_written(female: bool, style: int) -> str:
    """Gender as 男/女, M/F or 1/0."""
    return (("男", "女"), ("M", "F"), ("1", "0"))[style % 3][int(female)]


def crm_rows(rng: np.random.Generator, people: People) -> list[list[str | None]]:
    """One CRM row per person, in CRM_COLUMNS order."""
    styles = rng.integers(0, 12, (people.size, 3))
    bound = rng.random(people.size) < 0.5
    registered = people.registered_at.astype("datetime64[m]").astype(str)
    rows: list[list[str | None]] = []
    for i in range(people.size):
        city = CITIES[int(people.city[i])]
        style = styles[i]
        rows.append([
            people.member_id[i], people.name[i], gender_as_written(bool(people.female[i]),
                                                                   style[0]),
            phone_as_written(people.phone[i], style[1]), people.email[i],
            date_as_written(people.birthday[i], style[2]), city.province, city.name,
            people.address[i], OCCUPATIONS[int(people.occupation[i])],
            INCOME_BANDS[int(people.income[i])], MARITAL[int(people.marital[i])],
            EDUCATION[int(people.education[i])], LEVELS[int(people.level[i])],
            str(registered[i]).replace("-", "/").replace("T", " "),
            people.openid[i] if bound[i] else None, people.unionid[i] if bound[i] else None,
        ])
    return rows


def crm_duplicates(rng: np.random.Generator, people: People, rows: list[list[str | None]],
                   share: float) -> tuple[list[list[str | None]], list[dict[str, str]]]:
    """Second CRM records of some people, typed again with typos, under a new member id."""
    chosen = np.flatnonzero(rng.random(people.size) < share)
    extra, truth = [], []
    for i in chosen:
        row = list(rows[int(i)])
        kind = ("name", "phone", "address", "name_and_phone")[int(rng.integers(0, 4))]
        duplicate_id = f"M{90_000_001 + int(people.number[i])}"
        row[0] = duplicate_id
        if "name" in kind:
            row[1] = typo_name(people.name[int(i)], rng)
        if "phone" in kind:
            row[3] = typo_phone(people.phone[int(i)], rng)[3:]
        row[4] = None
        row[8] = variant_address(people.address[int(i)])
        row[15] = row[16] = None
        extra.append(row)
        truth.append({"member_id": people.member_id[int(i)], "duplicate_member_id": duplicate_id,
                      "typo": kind})
    return extra, truth


def store_rows(rng: np.random.Generator, people: People) -> list[list[str | None]]:
    """Offline store members: same person, same phone, a store card number."""
    rows: list[list[str | None]] = []
    for i in np.flatnonzero(people.store_member):
        opened = people.registered_at[i].astype("datetime64[D]").astype(object)
        rows.append([f"S{70_000_001 + int(people.number[i])}", people.name[i],
                     people.phone[i][3:], "女" if people.female[i] else "男",
                     date_as_written(people.birthday[i], int(rng.integers(0, 3))),
                     CITIES[int(people.city[i])].name, opened.isoformat()])
    return rows


def store_member_id(people: People) -> list[str | None]:
    """The store card number of each person, or None."""
    return [f"S{70_000_001 + int(n)}" if s else None
            for n, s in zip(people.number, people.store_member, strict=True)]


def products_table(catalogue: Catalogue) -> pa.Table:
    """The catalogue as the products export."""
    index = np.arange(catalogue.size)
    return pa.table({
        "product_id": pa.array(catalogue.product_id, pa.string()),
        "name": pa.array(catalogue.name, pa.string()),
        "category_path": pa.array(catalogue.category_path(index), pa.string()),
        "brand": pa.array(catalogue.brand, pa.string()),
        "price": pa.array(np.round(catalogue.price, 2)),
        "launched_at": pa.array(catalogue.launched_at, pa.date32()),
    })


def orders_table(rng: np.random.Generator, people: People, orders: Orders) -> pa.Table:
    """Orders: online ones carry the member id, store ones the phone (sometimes both)."""
    store = orders.channel == "store"
    with_member = ~store | (rng.random(orders.size) < 0.5)
    with_phone = store | (rng.random(orders.size) < 0.3)
    member = np.array(people.member_id, dtype=object)[orders.person]
    phone = np.array([p[3:] for p in people.phone], dtype=object)[orders.person]
    city = np.array([c.name for c in CITIES], dtype=object)[people.city[orders.person]]
    campaign = np.array(["CP618", "CP1111", "CPNEW", "CPVIP", "CPBACK"], dtype=object)
    return pa.table({
        "order_id": order_id(orders.order_no),
        "member_id": pa.array(np.where(with_member, member, None), pa.string()),
        "phone": pa.array(np.where(with_phone, phone, None), pa.string()),
        "order_time": pa.array(orders.ordered_at.astype(str), pa.string()),
        "status": pa.array(orders.status, pa.string()),
        "channel": pa.array(orders.channel, pa.string()),
        "store_city": pa.array(np.where(store, city, None), pa.string()),
        "total_amount": pa.array(orders.total),
        "discount_amount": pa.array(orders.discount),
        "coupon_code": pa.array(np.where(orders.coupon, campaign[orders.order_no % 5], None),
                                pa.string()),
        "payment_method": pa.array(orders.payment, pa.string()),
    })


def order_items_table(orders: Orders, catalogue: Catalogue) -> pa.Table:
    """Order lines, numbered from 1 within each order."""
    lines = orders.lines
    sort = np.argsort(lines.order, kind="stable")
    order = lines.order[sort]
    starts = np.searchsorted(order, order)
    price = np.round(catalogue.price[lines.product[sort]], 2)
    quantity = lines.quantity[sort]
    return pa.table({
        "order_id": order_id(orders.order_no[order]),
        "line_no": pa.array(np.arange(len(order)) - starts + 1),
        "product_id": pa.array(catalogue.product_id[lines.product[sort]], pa.string()),
        "quantity": pa.array(quantity),
        "unit_price": pa.array(price),
        "amount": pa.array(np.round(price * quantity, 2)),
    })


def reviews_table(people: People, orders: Orders, reviews: Reviews, catalogue: Catalogue,
                  first_review: int, end: np.datetime64) -> pa.Table:
    """Reviews as the shop's review export (JSON lines)."""
    lines = orders.lines
    order = lines.order[reviews.line]
    created = np.minimum(orders.ordered_at[order]
                         + (reviews.delay * 86400).astype("timedelta64[s]"),
                         end - np.timedelta64(1, "h"))
    return pa.table({
        "review_id": pa.array([f"R{first_review + i:09d}" for i in range(len(order))]),
        "order_id": order_id(orders.order_no[order]),
        "product_id": pa.array(catalogue.product_id[lines.product[reviews.line]], pa.string()),
        "member_id": pa.array(np.array(people.member_id, dtype=object)[orders.person[order]],
                              pa.string()),
        "rating": pa.array(reviews.rating),
        "text": pa.array(reviews.text, pa.string()),
        "lang": pa.array(reviews.lang, pa.string()),
        "created_at": pa.array(created.astype(str), pa.string()),
    })


def consents_table(rng: np.random.Generator, people: People, end: np.datetime64) -> pa.Table:
    """Marketing consent per channel; some are withdrawn 90 days later."""
    member, channel, status, when, source = [], [], [], [], []
    sources = ("app注册", "门店", "小程序", "官网")
    for name, rate in CONSENT_CHANNELS:
        granted = np.flatnonzero(rng.random(people.size) < rate)
        later = people.registered_at[granted] + np.timedelta64(90, "D") < end
        withdrawn = granted[later & (rng.random(len(granted)) < 0.08)]
        for chosen, state, delay in ((granted, "granted", 0), (withdrawn, "withdrawn", 90)):
            member += [people.member_id[i] for i in chosen]
            channel += [name] * len(chosen)
            status += [state] * len(chosen)
            when += list((people.registered_at[chosen] + np.timedelta64(delay, "D")).astype(str))
            source += [sources[int(i) % len(sources)] for i in chosen]
    return pa.table({"member_id": member, "purpose": ["marketing"] * len(member),
                     "channel": channel, "status": status, "recorded_at": when,
                     "source": source})
