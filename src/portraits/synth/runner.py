"""The generator's runner: blocks of people → files, plus the truth of what was planted."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from portraits.model.geography import CITIES
from portraits.synth import records
from portraits.synth.behaviour import (
    CHECKOUT_RATE,
    PAY_RATE,
    SEARCH_RATE,
    make_visits,
    online_baskets,
    viewed_products,
)
from portraits.synth.catalogue import LEAVES, PAIR_PROBABILITY, Catalogue, build_catalogue
from portraits.synth.defects import (
    CRM_DEFECTS,
    EVENT_DEFECTS,
    ITEM_DEFECTS,
    ORDER_DEFECTS,
    PRODUCT_DEFECTS,
    REVIEW_DEFECTS,
    Defect,
    how_many,
    plant_copies,
    plant_values,
)
from portraits.synth.events import Identifiers, event_rows, events_table, identifiers
from portraits.synth.orders import PAIN_POINTS, make_orders, make_reviews
from portraits.synth.people import People, make_people, value_layers
from portraits.synth.personas import PERSONAS
from portraits.synth.writers import CsvSink, ExcelSink, JsonLinesSink, json_objects, write_parquet

BLOCK: Final = 20_000
WINDOW_DAYS: Final = 540
DUPLICATE_SHARE: Final = 0.02
SHARED_TABLET_SHARE: Final = 0.01
KIOSK_SHARE: Final = 0.3
JUNK_PHONE: Final = "13800000000"
JUNK_EMAIL: Final = "test@test.com"
Progress = Callable[[str, int, int], None]


@dataclass
class GenerationSummary:
    """What ``generate`` wrote: rows per file, where, and how long it took."""

    out_dir: Path
    files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    truth: Path | None = None


def generate(out_dir: str | Path, customers: int = 1000, seed: int = 42,
             end: date | None = None, progress: Progress | None = None,
             block: int = BLOCK) -> GenerationSummary:
    """Write a synthetic retail data set and its truth into ``out_dir``.

    Args:
        out_dir: Folder for the files (created; earlier generated files are replaced).
        customers: Number of people (CRM records, before planted duplicates).
        seed: Random seed; the same seed, size and ``end`` give the same files.
        end: Last day of the data (exclusive); yesterday when omitted.
        progress: Called with (stage, people done, people in all).
        block: People made and written at a time; memory grows with it, not with
            ``customers``.

    Returns:
        Rows written per file, the folder, the time taken and the truth folder.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    end = end or date.today() - timedelta(days=1)
    _clear(out)
    run = _Run(out, customers, seed, end)
    # A block is written on a thread of its own while the next one is made: the writers
    # (Parquet, CSV, JSON lines, the workbook) and the makers spend much of their time
    # outside the GIL in NumPy and Arrow. One block waits at most, so memory stays at two
    # blocks, and each block's writes keep its own random stream and the files' order:
    # the files are the same as written one block after another.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate") as writer:
        written: Future[None] | None = None
        for number, first in enumerate(range(0, customers, block)):
            if progress:
                progress("generating", first, customers)
            made = run.make(number, first, min(block, customers - first))
            if written is not None:
                written.result()
            written = writer.submit(run.write, made)
        if written is not None:
            written.result()
    if progress:
        progress("generating", customers, customers)
    summary = GenerationSummary(out, run.close(), time.perf_counter() - started, out / "truth")
    return summary


@dataclass(frozen=True)
class _Block:
    """One block of people, made and not yet written, with its random stream."""

    number: int
    rng: np.random.Generator
    people: People
    tablet: np.ndarray
    ids: Identifiers
    events: pa.Table
    orders: Any


def _clear(out: Path) -> None:
    for folder in (out / "events", out / "truth"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)


class _Run:
    """The open files and running counters of one generation."""

    def __init__(self, out: Path, customers: int, seed: int, end: date) -> None:
        self.out, self.seed, self.end = out, seed, end
        self.start = end - timedelta(days=WINDOW_DAYS)
        self.end_s = np.datetime64(end, "s")
        per_leaf = int(np.clip(customers // 1000, 12, 120))
        self.catalogue = build_catalogue(np.random.default_rng([seed, 10**6]), per_leaf, end)
        self.crm = CsvSink(out / "crm_customers.csv", "gb18030")
        self.orders = CsvSink(out / "orders.csv")
        self.items = CsvSink(out / "order_items.csv")
        self.consents = CsvSink(out / "consents.csv")
        self.reviews = JsonLinesSink(out / "reviews.jsonl")
        self.store = ExcelSink(out / "store_members.xlsx", "会员", records.STORE_COLUMNS)
        self.events = 0
        self.mini = 0
        self.order_no = 0
        self.review_no = 0
        self.message_no = 0
        self.defects: list[Defect] = []
        self.truth: dict[str, list[Any]] = {"crm_duplicates": [], "shared_devices": [],
                                            "store_tablets": [], "junk_identifiers": []}
        self.people_writer: pq.ParquetWriter | None = None
        self.review_writer: pq.ParquetWriter | None = None
        self._products()

    def _products(self) -> None:
        rng = np.random.default_rng([self.seed, 10**6 + 1])
        table, planted = plant_values(rng, records.products_table(self.catalogue),
                                      PRODUCT_DEFECTS, set())
        sink = CsvSink(self.out / "products.csv")
        sink.write(table)
        sink.close()
        self._record("products", sink.path, 2, planted)
        self.product_rows = table.num_rows

    def _record(self, source: str, path: Path, first_row: int,
                planted: list[tuple[int, str, str]]) -> None:
        self.defects += [Defect(source, path.name, first_row + i, rule, fld)
                         for i, rule, fld in planted]

    def make(self, number: int, first: int, count: int) -> _Block:
        """Make block ``number`` (``count`` people numbered from ``first``): everything
        but what its files need of the random stream, which :meth:`write` draws next."""
        rng = np.random.default_rng([self.seed, first])
        people = make_people(rng, first, count, self.start, self.end)
        tablet = self._shared_tablets(rng, people)
        visits = make_visits(rng, people, self.start, self.end, tablet >= 0)
        viewed, view_visit = viewed_products(rng, people, visits, self.catalogue)
        baskets = online_baskets(rng, visits, viewed, view_visit, self.catalogue)
        orders = make_orders(rng, people, visits, baskets, self.catalogue, self.order_no,
                             np.datetime64(self.start, "s"), self.end_s)
        self.order_no += orders.size
        ids = identifiers(people, tablet)
        rows = event_rows(visits, viewed, view_visit)
        events = events_table(rng, people, visits, rows, ids, self.catalogue, orders,
                              self.message_no)
        self.message_no += events.num_rows
        kiosk = self._kiosk_events(rng, people, ids, events.schema, number)
        return _Block(number, rng, people, tablet, ids, pa.concat_tables([events, kiosk]),
                      orders)

    def write(self, made: _Block) -> None:
        """Write a made block into the files (blocks in the order they were made)."""
        rng, people = made.rng, made.people
        self._write_events(rng, made.events, made.number)
        self._write_people(rng, people, made.tablet, made.ids)
        self._write_orders(rng, people, made.orders)
        self.consents.write(records.consents_table(rng, people, self.end_s))

    def _shared_tablets(self, rng: np.random.Generator, people: People) -> np.ndarray:
        """Pairs of people (a couple) who share one family tablet: the tablet number or -1.
        Couples are chosen among regular buyers, who visit often enough to both use it."""
        pairs = how_many(people.size, SHARED_TABLET_SHARE / 2, 10**6)
        pool = np.flatnonzero(people.regular)
        pool = pool if len(pool) >= 2 * pairs else np.arange(people.size)
        chosen = rng.choice(pool, size=2 * pairs, replace=False)
        tablet = np.full(people.size, -1)
        tablet[chosen] = people.first + np.repeat(np.arange(pairs), 2)
        for a, b in chosen.reshape(-1, 2):
            self.truth["shared_devices"].append({
                "device_id": f"TAB-{10**7 + int(tablet[a])}",
                "member_ids": [people.member_id[a], people.member_id[b]]})
        return tablet

    def _kiosk_events(self, rng: np.random.Generator, people: People, ids: Identifiers,
                      schema: pa.Schema, number: int) -> pa.Table:
        """In-store tablets that many members sign in on: a device that must not merge."""
        users = np.flatnonzero(people.store_member & (rng.random(people.size) < KIOSK_SHARE))
        kiosk = f"KIOSK-{number + 1:04d}"
        self.truth["store_tablets"].append({"device_id": kiosk, "members": len(users)})
        when = np.minimum(people.registered_at[users] + np.timedelta64(3, "D"),
                          self.end_s - np.timedelta64(1, "D"))
        count = 2 * len(users)
        columns: dict[str, pa.Array] = {name: pa.nulls(count, schema.field(name).type)
                                        for name in schema.names}
        columns.update({
            "message_id": pa.array([f"k{self.message_no + i}" for i in range(count)]),
            "anonymous_id": pa.array([f"a-{kiosk}"] * count),
            "user_id": ids.member.take(pa.array(np.repeat(users, 2))),
            "device_id": pa.array([kiosk] * count),
            "event": pa.array(["Application Opened", "Signed In"] * len(users)),
            "timestamp": pa.array(np.repeat(when, 2).astype("datetime64[us]")
                                  + np.tile([0, 30], len(users)).astype("timedelta64[s]")),
            "platform": pa.array(["store"] * count), "device_type": pa.array(["tablet"] * count),
            "os": pa.array(["iPadOS"] * count),
        })
        self.message_no += count
        return pa.table([columns[n].cast(schema.field(n).type) for n in schema.names],
                        schema=schema)

    def _write_events(self, rng: np.random.Generator, events: pa.Table, number: int) -> None:
        mini = pc.equal(events.column("platform"), "mini_program")
        app_web = events.filter(pc.invert(mini)).drop_columns(["wechat_openid",
                                                               "wechat_unionid"])
        count = how_many(app_web.num_rows)
        picks = rng.choice(app_web.num_rows, size=3 * count, replace=False)
        copies = np.sort(picks[:count])
        stamps = app_web.column("timestamp").to_numpy().copy()
        name = f"part-{number:05d}.parquet"
        for k, (rule, fld, _, value) in enumerate(EVENT_DEFECTS, start=1):
            chosen = picks[k * count:(k + 1) * count]
            stamps[chosen] = np.datetime64(value.replace(" ", "T"), "us")
            self.defects += [Defect("events", name, int(i) + 1, rule, fld) for i in chosen]
        self.defects += [Defect("events", name, app_web.num_rows + k + 1, "duplicate_key",
                                "message_id") for k in range(count)]
        app_web = app_web.set_column(app_web.schema.get_field_index("timestamp"), "timestamp",
                                     pa.array(stamps))
        app_web = pa.concat_tables([app_web, app_web.take(pa.array(copies))])
        write_parquet(app_web, self.out / "events" / name)
        self.events += app_web.num_rows
        self._write_mini(events.filter(mini), number)

    def _write_mini(self, mini: pa.Table, number: int) -> None:
        """Mini-program events as Segment-style JSON lines, timestamps in UTC."""
        c = mini.column
        utc = pc.subtract(c("timestamp"), pa.scalar(8 * 3600 * 10**6, pa.duration("us")))
        context = json_objects({
            "device": ("json", json_objects({"id": c("device_id"), "type": c("device_type")})),
            "wechat": ("json", json_objects({"openid": c("wechat_openid"),
                                             "unionid": c("wechat_unionid")})),
            "os": ("json", json_objects({"name": c("os")})),
            "campaign": ("json", json_objects({"source": c("utm_source"),
                                               "medium": c("utm_medium"),
                                               "name": c("utm_campaign")})),
            "ip": c("ip"), "location": ("json", json_objects({"city": c("city")})),
        })
        properties = json_objects({"product_id": c("product_id"), "category": c("category"),
                                   "order_id": c("order_id"), "revenue": c("revenue"),
                                   "query": c("query")})
        lines = json_objects({
            "messageId": c("message_id"), "anonymousId": c("anonymous_id"),
            "userId": c("user_id"), "event": c("event"),
            "timestamp": pc.strftime(utc, "%Y-%m-%dT%H:%M:%SZ"),
            "context": ("json", context), "properties": ("json", properties)})
        sink = JsonLinesSink(self.out / "events" / f"mini-{number:05d}.jsonl")
        sink.write_lines(lines)
        sink.write_raw('{"messageId": "broken", "event": "Product Viewed", "timestamp": ')
        self.defects.append(Defect("miniprogram_events", sink.path.name, sink.rows,
                                   "malformed_json", None))
        sink.close()
        self.mini += sink.rows

    def _write_people(self, rng: np.random.Generator, people: People, tablet: np.ndarray,
                      ids: Identifiers) -> None:
        crm = records.crm_rows(rng, people)
        extra, duplicates = records.crm_duplicates(rng, people, crm, DUPLICATE_SHARE)
        self.truth["crm_duplicates"] += duplicates
        duplicated = {d["member_id"] for d in duplicates}
        taken = {i for i, m in enumerate(people.member_id) if m in duplicated}
        taken |= set(range(people.size, people.size + len(extra)))
        junk = self._junk(rng, people, crm, taken)
        rows = crm + extra
        table = pa.table({name: pa.array([r[i] for r in rows], pa.string())
                          for i, name in enumerate(records.CRM_COLUMNS)})
        table, planted = plant_values(rng, table, CRM_DEFECTS, taken | junk)
        table, copies = plant_copies(rng, table, taken | junk)
        first_row = self.crm.next_row
        self.crm.write(table)
        self._record("crm", self.crm.path, first_row, planted)
        self._record("crm", self.crm.path, first_row,
                     [(original, "duplicate", "member_id") for original, _ in copies])
        broken = ",".join(str(v or "") for v in rows[0]) + ",多余的一列"
        self.defects.append(Defect("crm", self.crm.path.name, self.crm.next_row,
                                   "wrong_field_count", None))
        self.crm.write_raw(broken)
        self.store.write(records.store_rows(rng, people))
        self._truth_people(people, tablet, ids, {d["member_id"]: d["duplicate_member_id"]
                                                 for d in duplicates})

    def _junk(self, rng: np.random.Generator, people: People, crm: list[list[str | None]],
              taken: set[int]) -> set[int]:
        """A few CRM rows with placeholder phone and e-mail that many people share."""
        free = np.setdiff1d(np.arange(people.size), np.fromiter(taken, np.int64, len(taken)))
        chosen = rng.choice(free, size=min(len(free), how_many(people.size, 0.002)),
                            replace=False)
        for i in chosen:
            crm[int(i)][3], crm[int(i)][4] = JUNK_PHONE, JUNK_EMAIL
        self.truth["junk_identifiers"] += [people.member_id[int(i)] for i in chosen]
        return {int(i) for i in chosen}

    def _truth_people(self, people: People, tablet: np.ndarray, ids: Identifiers,
                      duplicate_of: dict[str, str]) -> None:
        persona = np.array([p.name for p in PERSONAS], dtype=object)[people.persona]
        table = pa.table({
            "person_id": pa.array([f"P{int(n) + 1:07d}" for n in people.number]),
            "member_id": pa.array(people.member_id),
            "duplicate_member_id": pa.array([duplicate_of.get(m) for m in people.member_id],
                                            pa.string()),
            "store_member_id": pa.array(records.store_member_id(people), pa.string()),
            "persona": pa.array(persona, pa.string()),
            "churned": pa.array(~np.isnat(people.churned_at)),
            "churned_at": pa.array(people.churned_at.astype("datetime64[s]").astype(
                "datetime64[us]")).cast(pa.timestamp("us")).cast(pa.date32()),
            "registered_at": pa.array(people.registered_at.astype("datetime64[us]")),
            "value_layer": pa.array(value_layers(people, self.start, self.end), pa.string()),
            "gender": pa.array(np.where(people.female, "female", "male"), pa.string()),
            "birthday": pa.array(people.birthday, pa.date32()),
            "city": pa.array([CITIES[int(c)].name for c in people.city]),
            "city_tier": pa.array([CITIES[int(c)].tier for c in people.city]),
            "phone": pa.array(people.phone), "email": pa.array(people.email, pa.string()),
            "wechat_openid": ids.openid, "wechat_unionid": ids.unionid,
            "device_ids": pa.array([[a, b] for a, b in zip(ids.devices[0].to_pylist(),
                                                          ids.devices[1].to_pylist(),
                                                          strict=True)]),
            "cookie_ids": pa.array([[a, b] for a, b in zip(ids.cookies[0].to_pylist(),
                                                          ids.cookies[1].to_pylist(),
                                                          strict=True)]),
            "shared_tablet": ids.devices[2],
        })
        if self.people_writer is None:
            self.people_writer = pq.ParquetWriter(self.out / "truth" / "people.parquet",
                                                  table.schema)
        self.people_writer.write_table(table)

    def _write_orders(self, rng: np.random.Generator, people: People, orders: Any) -> None:
        table, planted = plant_values(rng, records.orders_table(rng, people, orders),
                                      ORDER_DEFECTS, set())
        table, copies = plant_copies(rng, table, {i for i, _, _ in planted})
        first_row = self.orders.next_row
        self.orders.write(table)
        self._record("orders", self.orders.path, first_row, planted)
        self._record("orders", self.orders.path, first_row,
                     [(original, "duplicate_key", "order_id") for original, _ in copies])
        items, planted = plant_values(rng, records.order_items_table(orders, self.catalogue),
                                      ITEM_DEFECTS, set())
        self._record("order_items", self.items.path, self.items.next_row, planted)
        self.items.write(items)
        reviews = make_reviews(rng, people, orders, self.catalogue)
        table = records.reviews_table(people, orders, reviews, self.catalogue, self.review_no,
                                      self.end_s)
        self.review_no += table.num_rows
        truth = pa.table({"review_id": table.column("review_id"),
                          "sentiment": pa.array(reviews.sentiment, pa.string()),
                          "topic": pa.array(reviews.topic, pa.string())})
        if self.review_writer is None:
            self.review_writer = pq.ParquetWriter(self.out / "truth" / "reviews.parquet",
                                                  truth.schema)
        self.review_writer.write_table(truth)
        table, planted = plant_values(rng, table, REVIEW_DEFECTS, set())
        self._record("reviews", self.reviews.path, self.reviews.rows + 1, planted)
        self.reviews.write_lines(json_objects({n: table.column(n) for n in table.column_names}))

    def close(self) -> dict[str, int]:
        """Close every file, write ``truth/truth.json`` and return rows per file."""
        for sink in (self.crm, self.orders, self.items, self.consents, self.reviews, self.store):
            sink.close()
        for writer in (self.people_writer, self.review_writer):
            if writer is not None:
                writer.close()
        files = {"crm_customers.csv": self.crm.rows, "store_members.xlsx": self.store.rows,
                 "products.csv": self.product_rows, "orders.csv": self.orders.rows,
                 "order_items.csv": self.items.rows, "events/*.parquet": self.events,
                 "events/*.jsonl": self.mini, "reviews.jsonl": self.reviews.rows,
                 "consents.csv": self.consents.rows}
        (self.out / "truth" / "truth.json").write_text(
            json.dumps(self._truth(files), ensure_ascii=False, indent=1), encoding="utf-8")
        return files

    def _truth(self, files: dict[str, int]) -> dict[str, Any]:
        catalogue: Catalogue = self.catalogue
        leaves = [p for p, *_ in LEAVES]
        return {
            "seed": self.seed, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "files": files,
            "personas": {p.name: {"zh": p.zh, "share": p.share, "signature": list(p.signature),
                                  "order_rate": p.order_rate, "coupon_rate": p.coupon_rate,
                                  "regular": p.regular, "once": p.once, "cycle": p.cycle}
                         for p in PERSONAS},
            "funnel": {"checkout_rate": CHECKOUT_RATE, "pay_rate": PAY_RATE,
                       "search_rate": SEARCH_RATE},
            "bought_together": [
                {"anchor": str(catalogue.product_id[a]), "partner": str(catalogue.product_id[b]),
                 "anchor_category": leaves[int(catalogue.leaf[a])],
                 "partner_category": leaves[int(catalogue.leaf[b])],
                 "probability": PAIR_PROBABILITY} for a, b in catalogue.pairs],
            "pain_points": {leaf: {"negative_share": share, "topic": topic}
                            for leaf, (share, topic) in PAIN_POINTS.items()},
            "junk_values": {"phone": "+86" + JUNK_PHONE, "email": JUNK_EMAIL},
            **self.truth,
            "defects": [d.as_dict() for d in self.defects],
        }
