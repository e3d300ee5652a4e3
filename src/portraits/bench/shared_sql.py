"""The shared profile + RFM query of ``portraits bench`` as hand-written DuckDB SQL (the
floor: what an engineer who knows DuckDB would write by hand), and the rules it spells.

The hand-written versions (this SQL and the pandas one) spell out what Portraits reads
from the workspace and its defaults; :func:`portraits.bench.shared.check_rules` refuses a
workspace where they differ.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

# Identifier fields, highest priority first, with the type whose customer_ids they look up
# (the template's user ids are member ids), all normalised by trimming.
EVENT_IDS: Final = (("user_id", "member_id"), ("wechat_unionid", "wechat_unionid"),
                    ("wechat_openid", "wechat_openid"), ("device_id", "device_id"),
                    ("anonymous_id", "anonymous_id"))
ORDER_IDS: Final = (("member_id", "member_id"), ("user_id", "member_id"), ("phone", "phone"))
BLANKS: Final = " \t\n\r\x0b\x0c"  # what Ibis' strip() trims on DuckDB
EXCLUDED: Final = ("cancelled", "refunded")  # order statuses that are not purchases
WINDOW_DAYS: Final = 365  # RFM's frequency and monetary window
FREQUENCY_CUTS: Final = (2, 3, 4, 6)  # orders for an F score of 2, 3, 4, 5


def _joins(alias: str, fields: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """LEFT JOINs of ``alias`` to each identifier type's ids, and the first customer found."""
    joins = "".join(
        f"\n  LEFT JOIN ids AS i{n} ON i{n}.id_type = '{id_type}'"
        f" AND i{n}.id_value = nullif(trim({alias}.{field}, $blanks), '')"
        for n, (field, id_type) in enumerate(fields))
    first = ", ".join(f"i{n}.customer_id" for n in range(len(fields)))
    return joins, f"coalesce({first})"


def _frequency_score() -> str:
    """F by thresholds: at or above the i-th cut point scores i + 2."""
    cases = " ".join(f"WHEN rfm_frequency >= {cut} THEN {n + 2}"
                     for n, cut in reversed(list(enumerate(FREQUENCY_CUTS))))
    return f"CASE WHEN rfm_frequency IS NOT NULL THEN CASE {cases} ELSE 1 END END"


def floor_sql() -> str:
    """The shared profile + RFM query in DuckDB SQL, written by hand.

    Parameters: ``$ids``, ``$events``, ``$orders`` (Parquet globs), ``$as_of``,
    ``$window_start`` (as_of − 365 days) and ``$blanks`` (what trimming removes).
    R and M are quintiles of the percent rank among the customers with a counted order
    (the partition ``orders > 0``); recency ranks ascending and scores 5 − bucket.
    """
    event_joins, event_customer = _joins("e", EVENT_IDS)
    order_joins, order_customer = _joins("o", ORDER_IDS)
    excluded = ", ".join(f"'{status}'" for status in EXCLUDED)
    return f"""
WITH ids AS (
  SELECT id_type, id_value, customer_id FROM read_parquet($ids, union_by_name = true)
), events AS (
  SELECT {event_customer} AS customer_id, e.timestamp
  FROM read_parquet($events, union_by_name = true) AS e{event_joins}
  WHERE e.timestamp <= $as_of
), orders AS (
  SELECT {order_customer} AS customer_id, o.ordered_at,
         o.status IS NULL OR o.status NOT IN ({excluded}) AS ok,
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
         max(ordered_at) FILTER (ok) AS last_order_at,
         count(*) FILTER (ok AND ordered_at > $window_start) AS recent_orders,
         coalesce(sum(paid) FILTER (ok AND ordered_at > $window_start), 0) AS recent_paid
  FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id
), profile AS (
  SELECT customer_id, coalesce(events, 0) AS events, coalesce(active_days, 0) AS active_days,
         first_seen_at, last_seen_at, coalesce(orders, 0) AS orders,
         coalesce(spend, 0) AS spend, spend / nullif(orders, 0) AS average_order_value,
         first_order_at, last_order_at,
         date_diff('day', last_order_at::DATE, $as_of::DATE) AS days_since_last_order,
         CASE WHEN spend + discount > 0 THEN discount / (spend + discount) END AS discount_share,
         CASE WHEN orders > 0 THEN recent_orders END AS rfm_frequency,
         CASE WHEN orders > 0 THEN recent_paid END AS rfm_monetary
  FROM activity FULL JOIN facts USING (customer_id)
), scored AS (
  SELECT *, days_since_last_order AS rfm_recency_days,
         CASE WHEN orders > 0 THEN 5 - least(floor(5 * percent_rank() OVER (
           PARTITION BY orders > 0 ORDER BY days_since_last_order)), 4)::BIGINT END AS rfm_r,
         {_frequency_score()} AS rfm_f,
         CASE WHEN orders > 0 THEN 1 + least(floor(5 * percent_rank() OVER (
           PARTITION BY orders > 0 ORDER BY rfm_monetary)), 4)::BIGINT END AS rfm_m
  FROM profile
)
SELECT customer_id, events, active_days, first_seen_at, last_seen_at, orders, spend,
       average_order_value, first_order_at, last_order_at, days_since_last_order,
       discount_share, rfm_recency_days, rfm_frequency, rfm_monetary, rfm_r, rfm_f, rfm_m,
       (rfm_f + rfm_m + 1) // 2 AS rfm_fm,
       rfm_r::VARCHAR || rfm_f::VARCHAR || rfm_m::VARCHAR AS rfm_score
FROM scored
"""


def floor_query(lake: Path, as_of: datetime, out: Path) -> int:
    """Run :func:`floor_sql` on a bare DuckDB connection over the lake's Parquet.

    Args:
        lake: A workspace's ``.portraits/lake`` folder.
        as_of: Reference time.
        out: Folder the result is written to as Parquet (replaced).

    Returns:
        Rows written.
    """
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": False})
    try:
        shutil.rmtree(out, ignore_errors=True)
        target = str(out).replace("'", "''")
        written = con.execute(
            f"COPY ({floor_sql()}) TO '{target}' (FORMAT parquet, PER_THREAD_OUTPUT true)",
            {"ids": str(lake / "customer_ids" / "*.parquet"),
             "events": str(lake / "events" / "*.parquet"),
             "orders": str(lake / "orders" / "*.parquet"), "as_of": as_of,
             "window_start": as_of - timedelta(days=WINDOW_DAYS), "blanks": BLANKS},
        ).fetchone()
    finally:
        con.close()
    return int(written[0]) if written else 0
