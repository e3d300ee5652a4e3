"""Benchmark: identity resolution and the profile build, beside a hand-written DuckDB SQL of
the same profile query (the floor) and a straightforward pandas one; wall s, rows/s, peak RSS.

    uv run python bench/identity_profile.py                            # 1M customers (~25M events)
    uv run python bench/identity_profile.py --customers 100000         # a quicker run
    uv run python bench/identity_profile.py --customers 2000 --check   # do the three agree?

The data comes from the synthetic generator (seed 7), cached in bench/data/retail-<20×N>/
and shared with load_events.py (the same call makes the same files). The reference time
("now", the profiles' as-of) is the day the generated data ends.

Stages, each in its own process so peak RSS is its own:
  load                       ws.ingest.load() of every source into a fresh workspace
  identity (no matching)     ws.identity.resolve() with `identity: {matching: {enabled:
                             false}}`: the ID graph alone
  identity                   ws.identity.resolve() with the default spec: the ID graph plus
                             probabilistic matching of the customer records with Splink; its
                             customer_ids are what every profile stage reads
  profile (portraits, full)  ws.profiles.build(ws.identity.customer_ids()): every field of
                             docs/profiles.md, interests included, written to the lake
  profile (portraits)        the shared profile query (below) from Portraits' own code:
                             attach_customer_id, person_events, order_facts, spine, attach
                             (the four event aggregates are behaviour.activity's expressions)
  profile (SQL floor)        the same query hand-written in DuckDB SQL over the lake's Parquet
  profile (pandas)           the same query in pandas: read_parquet, merge, groupby.agg

The shared profile query: one row per customer found in events or orders, customer ids
attached through ``customer_ids`` (a record takes the customer of its highest-priority
identifier, values trimmed); from events up to the reference time: events, active_days,
first_seen_at, last_seen_at; from orders up to it: orders, spend, average_order_value,
first_order_at, last_order_at, days_since_last_order, discount_share (cancelled and refunded
orders do not count). Counts and spend are 0 for a customer without rows in the table, as
in ``profiles``. Each of the three writes its result as Parquet, and every run compares
the three results: counts and times exactly, floats to 1e-9.

Rows are the records read: all sources for ``load``, new records for ``identity``, events
plus orders for the profile stages. Results go to bench/results/identity_profile-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from portraits import Workspace

BENCH = Path(__file__).resolve().parent
LAKE = Path(".portraits") / "lake"
STAGES = ("load", "identity (no matching)", "identity", "profile (portraits, full)",
          "profile (portraits)", "profile (SQL floor)", "profile (pandas)")
CHECK_STAGES = ("load", "identity (no matching)", "profile (portraits)",
                "profile (SQL floor)", "profile (pandas)")
CORE = {"profile (portraits)": "portraits", "profile (SQL floor)": "floor",
        "profile (pandas)": "pandas"}
IDENTITY = "\nidentity:\n"
NO_MATCHING = "\nidentity:\n  matching: {enabled: false}\n"
IDENTITY_TABLES = ("identities", "identity_links", "customer_ids", "merge_history",
                   "identity_loads", "identity_runs", "match_pairs")
# The hand-written versions spell out the workspace's identity rules (checked): identifier
# fields, highest priority first, with the type whose customer_ids they look up (the
# template's user ids are member ids), all normalised by trimming.
EVENT_IDS = (("user_id", "member_id"), ("wechat_unionid", "wechat_unionid"),
             ("wechat_openid", "wechat_openid"), ("device_id", "device_id"),
             ("anonymous_id", "anonymous_id"))
ORDER_IDS = (("member_id", "member_id"), ("user_id", "member_id"), ("phone", "phone"))
BLANKS = " \t\n\r\x0b\x0c"  # what Ibis' strip() trims on DuckDB
EXCLUDED = ("cancelled", "refunded")
FIELDS = ("customer_id", "events", "active_days", "first_seen_at", "last_seen_at", "orders",
          "spend", "average_order_value", "first_order_at", "last_order_at",
          "days_since_last_order", "discount_share")
ORDER_FIELDS = FIELDS[5:]
ZERO_WHEN_ABSENT = ("events", "active_days", "orders", "spend")


def generated(customers: int) -> Path:
    """The generator's files for ``customers`` people (made once; load_events.py's cache)."""
    folder = BENCH / "data" / f"retail-{customers * 20}"
    if not (folder / "truth" / "truth.json").exists():
        from portraits.synth import generate

        started = time.perf_counter()
        print(f"generating {customers:,} customers (once; cached in {folder})", file=sys.stderr)
        generate(folder, customers=customers, seed=7)
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def reference_time(data: Path) -> datetime:
    """The day the generated data ends (exclusive), at midnight."""
    truth = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(truth["end"])


def fresh_workspace(customers: int, data: Path) -> Path:
    """A new retail workspace whose ``data`` folder is the cached generated files."""
    from portraits.workspace.scaffold import create_workspace

    root = BENCH / "data" / f"identity-profile-{customers}"
    shutil.rmtree(root, ignore_errors=True)
    create_workspace(root)
    (root / "data").rmdir()
    (root / "data").symlink_to(data, target_is_directory=True)
    return root


def open_workspace(root: Path, as_of: datetime) -> Workspace:
    from portraits import Workspace
    from portraits.settings import Settings

    return Workspace(root, settings=Settings(now=as_of, lang="en"))


def check_rules(ws: Workspace) -> None:
    """Stop if the workspace's identity rules are not what the hand-written versions spell."""
    from portraits.model.canonical import entity

    for name, fields in (("events", EVENT_IDS), ("orders", ORDER_IDS)):
        rules = [(f, rule.name, rule.normalize)
                 for f, rule in ws.identity.rules.identifier_fields(entity(name))]
        if rules != [(f, id_type, ("trim",)) for f, id_type in fields]:
            raise SystemExit(f"identity rules of {name} changed: {rules}; update this script")


def portraits_core(ws: Workspace, as_of: datetime) -> ir.Table:
    """The shared profile query built from Portraits' profile and identity modules."""
    from portraits.profile import ProfileSpec
    from portraits.profile.behaviour import person_events
    from portraits.profile.consumption import order_facts
    from portraits.profile.spine import attach, spine

    events = person_events(ws.identity.attach("events"), as_of)
    activity = events.group_by("customer_id").aggregate(
        events=events.count(), active_days=events.timestamp.date().nunique(),
        first_seen_at=events.timestamp.min(), last_seen_at=events.timestamp.max())
    facts = order_facts(ws.identity.attach("orders"), ProfileSpec(), as_of)
    facts = facts.select("customer_id", *ORDER_FIELDS)
    joined = attach(spine(activity, facts), activity, facts)
    return joined.select(*(joined[name].fill_null(0).name(name) if name in ZERO_WHEN_ABSENT
                           else joined[name] for name in FIELDS))


def _joins(alias: str, fields: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """LEFT JOINs of ``alias`` to each identifier type's ids, and the first customer found."""
    joins = "".join(
        f"\n  LEFT JOIN ids AS i{n} ON i{n}.id_type = '{id_type}'"
        f" AND i{n}.id_value = nullif(trim({alias}.{field}, $blanks), '')"
        for n, (field, id_type) in enumerate(fields))
    first = ", ".join(f"i{n}.customer_id" for n in range(len(fields)))
    return joins, f"coalesce({first})"


def floor_sql() -> str:
    """The shared profile query in DuckDB SQL, written by hand."""
    event_joins, event_customer = _joins("e", EVENT_IDS)
    order_joins, order_customer = _joins("o", ORDER_IDS)
    return f"""
WITH ids AS (
  SELECT id_type, id_value, customer_id FROM read_parquet($ids, union_by_name = true)
), events AS (
  SELECT {event_customer} AS customer_id, e.timestamp
  FROM read_parquet($events, union_by_name = true) AS e{event_joins}
  WHERE e.timestamp <= $as_of
), orders AS (
  SELECT {order_customer} AS customer_id, o.ordered_at,
         o.status IS NULL OR o.status NOT IN ('cancelled', 'refunded') AS ok,
         coalesce(o.total_amount, 0) AS paid, coalesce(o.discount_amount, 0) AS discount
  FROM read_parquet($orders, union_by_name = true) AS o{order_joins}
  WHERE o.ordered_at <= $as_of
), activity AS (
  SELECT customer_id, count(*) AS events, count(DISTINCT timestamp::DATE) AS active_days,
         min(timestamp) AS first_seen_at, max(timestamp) AS last_seen_at
  FROM events WHERE customer_id IS NOT NULL GROUP BY customer_id
), facts AS (
  SELECT customer_id, count(*) FILTER (ok) AS orders, sum(paid) FILTER (ok) AS spend,
         sum(discount) FILTER (ok) AS discount, min(ordered_at) FILTER (ok) AS first_order_at,
         max(ordered_at) FILTER (ok) AS last_order_at
  FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id
)
SELECT customer_id, coalesce(events, 0) AS events, coalesce(active_days, 0) AS active_days,
       first_seen_at, last_seen_at, coalesce(orders, 0) AS orders,
       coalesce(spend, 0) AS spend, spend / nullif(orders, 0) AS average_order_value,
       first_order_at, last_order_at,
       date_diff('day', last_order_at::DATE, $as_of::DATE) AS days_since_last_order,
       CASE WHEN spend + discount > 0 THEN discount / (spend + discount) END AS discount_share
FROM activity FULL JOIN facts USING (customer_id)
"""


def run_floor(root: Path, as_of: datetime, out: Path) -> int:
    """The hand-written SQL on a bare DuckDB connection, written as Parquet."""
    import duckdb

    lake = root / LAKE
    con = duckdb.connect(config={"preserve_insertion_order": False})
    shutil.rmtree(out, ignore_errors=True)
    target = str(out).replace("'", "''")
    written = con.execute(
        f"COPY ({floor_sql()}) TO '{target}' (FORMAT parquet, PER_THREAD_OUTPUT true)",
        {"ids": str(lake / "customer_ids" / "*.parquet"),
         "events": str(lake / "events" / "*.parquet"),
         "orders": str(lake / "orders" / "*.parquet"), "as_of": as_of, "blanks": BLANKS},
    ).fetchone()
    return int(written[0]) if written else 0


def with_customer(table: pd.DataFrame, fields: tuple[tuple[str, str], ...],
                  ids: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``customer_id``: the customer of its first identifier found."""
    customer = None
    for field, id_type in fields:
        known = ids.loc[ids.id_type == id_type, ["id_value", "customer_id"]]
        key = table[field].str.strip(BLANKS)
        keyed = table[[field]].assign(id_value=key.mask(key == ""))
        found = keyed.merge(known, on="id_value", how="left")["customer_id"]
        customer = found if customer is None else customer.fillna(found)
    return table.assign(customer_id=customer.to_numpy() if customer is not None else None)


def pandas_core(lake: Path, as_of: datetime) -> pd.DataFrame:
    """The shared profile query in pandas, as an analyst would write it."""
    import pandas as pd

    ids = pd.read_parquet(lake / "customer_ids", columns=["id_type", "id_value", "customer_id"])
    events = pd.read_parquet(lake / "events", columns=[f for f, _ in EVENT_IDS] + ["timestamp"])
    events = with_customer(events, EVENT_IDS, ids)
    events = events[events.customer_id.notna() & (events.timestamp <= as_of)]
    activity = events.assign(day=events.timestamp.dt.normalize()).groupby("customer_id").agg(
        events=("timestamp", "size"), active_days=("day", "nunique"),
        first_seen_at=("timestamp", "min"), last_seen_at=("timestamp", "max"))
    orders = pd.read_parquet(lake / "orders", columns=[
        *(f for f, _ in ORDER_IDS), "ordered_at", "status", "total_amount", "discount_amount"])
    orders = with_customer(orders, ORDER_IDS, ids)
    orders = orders[orders.customer_id.notna() & (orders.ordered_at <= as_of)]
    ok = orders.status.isna() | ~orders.status.isin(EXCLUDED)
    orders = orders.assign(ok=ok, paid=orders.total_amount.fillna(0.0).where(ok),
                           discount=orders.discount_amount.fillna(0.0).where(ok),
                           counted_at=orders.ordered_at.where(ok))
    facts = orders.groupby("customer_id").agg(
        orders=("ok", "sum"), spend=("paid", "sum"), discount=("discount", "sum"),
        first_order_at=("counted_at", "min"), last_order_at=("counted_at", "max"))
    facts["average_order_value"] = (facts.spend / facts.orders).where(facts.orders > 0)
    facts["days_since_last_order"] = (
        pd.Timestamp(as_of).normalize() - facts.last_order_at.dt.normalize()).dt.days
    list_value = facts.spend + facts.discount
    facts["discount_share"] = (facts.discount / list_value).where(list_value > 0)
    profile = activity.join(facts, how="outer")
    for name in ZERO_WHEN_ABSENT:
        profile[name] = profile[name].fillna(0)
    for name in ("events", "active_days", "orders"):
        profile[name] = profile[name].astype("int64")
    profile["days_since_last_order"] = profile.days_since_last_order.astype("Int64")
    return profile.reset_index()[list(FIELDS)]


def import_libraries(stage: str) -> None:
    """Import what the stage needs before the clock starts: startup is not its work."""
    if stage == "profile (SQL floor)":
        import duckdb  # noqa: F401
    elif stage == "profile (pandas)":
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    else:
        import portraits.identity.resolve
        import portraits.profile.build
        import portraits.workspace.facade  # noqa: F401


def run_stage(stage: str, root: Path, as_of: datetime) -> dict[str, Any]:
    """Run one stage in this process and return its measurements."""
    outputs = root / "bench-out"
    import_libraries(stage)
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    if stage == "load":
        with open_workspace(root, as_of) as ws:
            reports = ws.ingest.load()
        extra["rows"] = sum(r.rows_read for r in reports)
    elif stage.startswith("identity"):
        with open_workspace(root, as_of) as ws:
            report = ws.identity.resolve()
        extra |= {"rows": report.records, "identifiers": report.identifiers,
                  "people": report.people, "matched_pairs": report.matched_pairs}
    elif stage == "profile (portraits, full)":
        with open_workspace(root, as_of) as ws:
            extra["result_rows"] = ws.profiles.build(ws.identity.customer_ids())
    elif stage == "profile (portraits)":
        with open_workspace(root, as_of) as ws:
            check_rules(ws)
            ws.engine.write("profile_core", portraits_core(ws, as_of))
            extra["result_rows"] = ws.engine.count(ws.engine.table("profile_core"))
    elif stage == "profile (SQL floor)":
        extra["result_rows"] = run_floor(root, as_of, outputs / "floor")
    else:
        profile = pandas_core(root / LAKE, as_of)
        (outputs / "pandas").mkdir(parents=True, exist_ok=True)
        profile.to_parquet(outputs / "pandas" / "part-0.parquet", index=False)
        extra["result_rows"] = len(profile)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if stage == "profile (portraits)":  # beside the others, for the comparison
        shutil.rmtree(outputs / "portraits", ignore_errors=True)
        shutil.copytree(root / LAKE / "profile_core", outputs / "portraits")
    return {"stage": stage, "seconds": round(seconds, 2), "peak_rss_mb": round(peak), **extra}


def differences(outputs: Path) -> list[str]:
    """Where the three results of the shared profile query differ (empty: they agree)."""
    import numpy as np
    import pandas as pd

    results = {}
    for name in CORE.values():
        frame = pd.read_parquet(outputs / name).sort_values("customer_id", ignore_index=True)
        results[name] = frame[list(FIELDS)]
    base = results["portraits"]
    found = []
    for name in ("floor", "pandas"):
        other = results[name]
        if len(other) != len(base) or not other.customer_id.equals(base.customer_id):
            found.append(f"{name}: other customers ({len(other):,} rows, portraits {len(base):,})")
            continue
        for field in FIELDS[1:]:
            mine, theirs = base[field], other[field]
            if field in ("spend", "average_order_value", "discount_share"):
                left, right = mine.to_numpy(float), theirs.to_numpy(float)
                same = np.isclose(left, right, rtol=1e-9, atol=1e-9, equal_nan=True).all()
            elif field.endswith("_at"):
                same = mine.astype("datetime64[us]").equals(theirs.astype("datetime64[us]"))
            else:
                same = mine.astype("Int64").equals(theirs.astype("Int64"))
            if not same:
                found.append(f"{name}: {field} differs")
    return found


def input_rows(root: Path) -> int:
    """Events plus orders in the lake (from the Parquet footers)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(part).metadata.num_rows for table in ("events", "orders")
               for part in (root / LAKE / table).glob("*.parquet"))


def with_memory_limit(spec: str, limit: str) -> str:
    """The workspace spec with DuckDB's memory limit set."""
    engine = "  kind: duckdb"
    assert spec.count(engine) == 1, "the template's engine section moved"
    return spec.replace(engine, f"{engine}\n  memory_limit: {limit}", 1)


def prepare(stage: str, root: Path, template: str) -> None:
    """Before an identity stage: no identity tables yet, and the stage's spec."""
    if not stage.startswith("identity"):
        return
    for table in IDENTITY_TABLES:
        shutil.rmtree(root / LAKE / table, ignore_errors=True)
    assert template.count(IDENTITY) == 1, "the template's identity section moved"
    spec = (template.replace(IDENTITY, NO_MATCHING) if stage == "identity (no matching)"
            else template)
    (root / "portraits.yaml").write_text(spec, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--check", action="store_true",
                        help="only the stages the comparison needs; exit 1 if results differ")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="DuckDB's memory_limit for every stage, e.g. 12GB (it spills "
                             "to disk beyond it); DuckDB's default is 80%% of the RAM")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        data = generated(args.customers)
        if args.stage != "generate":
            result = run_stage(args.stage, args.workspace, reference_time(data))
            print(json.dumps(result))
        return
    # Generating in a process of its own keeps this one small: a child's peak RSS starts
    # from its parent's.
    subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--stage",
                    "generate"], check=True)
    data = generated(args.customers)
    as_of = reference_time(data)
    root = fresh_workspace(args.customers, data)
    template = (root / "portraits.yaml").read_text(encoding="utf-8")
    if args.memory_limit:
        template = with_memory_limit(template, args.memory_limit)
        (root / "portraits.yaml").write_text(template, encoding="utf-8")
    results = []
    for stage in CHECK_STAGES if args.check else STAGES:
        prepare(stage, root, template)
        print(f"{stage} …", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, __file__, "--customers", str(args.customers), "--stage", stage,
             "--workspace", str(root)], check=False, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{stage} failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if stage.startswith("profile"):
            result["rows"] = input_rows(root)
        result["rows_per_s"] = round(result["rows"] / result["seconds"])
        results.append(result)
    found = differences(root / "bench-out")
    report(results, found, args.customers, as_of)
    if not args.check:
        out = BENCH / "results" / f"identity_profile-{args.customers}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"customers": args.customers, "as_of": as_of.isoformat(),
                                   "same_results": not found, "stages": results}, indent=2),
                       encoding="utf-8")
        print(f"written to {out.relative_to(BENCH.parent)}")
    if found:
        sys.exit(1)


def report(results: list[dict[str, Any]], found: list[str], customers: int,
           as_of: datetime) -> None:
    """The results as a Rich table, the ratios against the targets, and the comparison."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Identity + profile, {customers:,} customers, as of {as_of:%Y-%m-%d}")
    for column in ("stage", "rows", "wall s", "rows/s", "peak RSS (MB)", "result"):
        table.add_column(column, justify="left" if column == "stage" else "right",
                         no_wrap=True)
    for r in results:
        result = r.get("people", r.get("result_rows"))
        table.add_row(r["stage"], f"{r['rows']:,}", f"{r['seconds']:.2f}",
                      f"{r['rows_per_s']:,}", f"{r['peak_rss_mb']:,}",
                      "" if result is None else f"{result:,}")
    console = Console()
    console.print(table)
    console.print("rows: records read (load: all sources; identity: new records; profile: "
                  "events + orders). result: people, or profile rows written.")
    seconds = {r["stage"]: r["seconds"] for r in results}
    portraits, floor = seconds["profile (portraits)"], seconds["profile (SQL floor)"]
    pandas = seconds["profile (pandas)"]
    for label, ratio, target, met in (
            ("portraits / SQL floor", portraits / floor, "≤ 1.3×", portraits / floor <= 1.3),
            ("pandas / portraits", pandas / portraits, "≥ 3×", pandas / portraits >= 3)):
        console.print(f"{label}: {ratio:.2f}× (target {target}: {'met' if met else 'NOT met'})")
    if found:
        console.print("[red]The three results differ:[/red] " + "; ".join(found))
    else:
        console.print("The three results agree (counts and times exactly, floats to 1e-9).")


if __name__ == "__main__":
    main()
