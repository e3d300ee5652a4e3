"""Favourites: each customer's most frequent (or heaviest) values of some columns.

Several columns are ranked in one pass: the rows are unpivoted to (customer, column,
value), counted in one grouped aggregation, and the winner of each column is picked by
a second aggregation with ``min`` over a sortable text key — the weight's complement,
zero-padded, followed by the value — so the heaviest value wins and ties go to the
smallest value. No window and no sort: every run and every engine gives the same answer
(DuckDB's ``mode`` picks any of equally frequent values, and Spark's ``max_by`` too).
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from portraits.profile.schema import CUSTOMER_ID

_KEY_DIGITS = 18
_KEY_BASE = 10**17


def _long(rows: ir.Table, columns: Mapping[str, str], weight: str | None) -> ir.Table:
    """(customer, favourite name, value, weight) rows, nulls dropped."""
    parts = []
    for name, column in columns.items():
        value = rows[column].cast("string")
        amount = rows[weight].cast("int64") if weight else ibis.literal(1, "int64")
        parts.append(rows.select(CUSTOMER_ID, _name=ibis.literal(name), _value=value,
                                 _weight=amount))
    long = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return long.filter(long["_value"].notnull())


def favourites(rows: ir.Table, columns: Mapping[str, str], weight: str | None = None,
               distinct: Mapping[str, str] | None = None,
               shares: Mapping[str, str] | None = None) -> ir.Table:
    """Per customer, the value of each column with the most rows (or the most ``weight``).

    Args:
        rows: A table with ``customer_id`` and the columns.
        columns: Output name → column to pick from (values compared as text; nulls
            ignored).
        weight: An integer column (e.g. cents) to sum per value; rows are counted when
            omitted.
        distinct: Output name → name of a column with the number of distinct values.
        shares: Output name → name of a column with the favourite's share (0-1) of all
            the rows (or weight) of that column.

    Returns:
        One row per customer with any non-null value: ``customer_id``, one text column per
        output name (and the distinct counts).

    Example:
        >>> favourites(visits, {"main_channel": "channel"})  # doctest: +SKIP
    """
    long = _long(rows, columns, weight)
    counts = long.group_by([CUSTOMER_ID, "_name", "_value"]).aggregate(
        _weight=long["_weight"].sum())
    complement = (ibis.literal(_KEY_BASE, "int64") - counts["_weight"]).cast("string")
    key = complement.lpad(_KEY_DIGITS, "0") + counts["_value"]
    metrics: dict[str, ir.Value] = {}
    for name in columns:
        mine = counts["_name"] == name
        metrics[name] = key.min(where=mine).substr(_KEY_DIGITS)
        if distinct and name in distinct:
            metrics[distinct[name]] = counts["_value"].count(where=mine)
        if shares and name in shares:
            metrics[f"_best_{name}"] = key.min(where=mine)
            metrics[f"_total_{name}"] = counts["_weight"].sum(where=mine)
    picked = counts.group_by(CUSTOMER_ID).aggregate(**metrics)
    if not shares:
        return picked
    best = {out: (ibis.literal(_KEY_BASE, "int64")
                  - picked[f"_best_{name}"].substr(0, _KEY_DIGITS).cast("int64")).cast("float64")
            / picked[f"_total_{name}"] for name, out in shares.items()}
    return picked.mutate(**best).drop(*(f"_{part}_{name}" for name in shares
                                        for part in ("best", "total")))


def top_values(rows: ir.Table, column: str, name: str, top: int) -> ir.Table:
    """Per customer, the ``top`` most frequent values joined by commas, most frequent first
    (ties: smallest value first).

    Args:
        rows: A table with ``customer_id`` and ``column`` (a string column).
        column: The column to pick from; nulls are ignored.
        name: Name of the output column.
        top: How many values to list.

    Returns:
        One row per customer: ``customer_id`` and ``name``.
    """
    present = rows.filter(rows[column].notnull())
    counts = present.group_by([CUSTOMER_ID, present[column].name("_value")]).aggregate(
        _count=present.count())
    ranking = ibis.window(group_by=counts[CUSTOMER_ID],
                          order_by=[counts["_count"].desc(), counts["_value"].asc()])
    ranked = counts.mutate(_rank=ibis.row_number().over(ranking))
    ranked = ranked.filter(ranked["_rank"] < top)
    listed = ranked.group_by(CUSTOMER_ID).aggregate(
        **{f"_top{k}": ranked["_value"].max(where=ranked["_rank"] == k) for k in range(top)})
    joined: ir.StringValue = listed["_top0"]
    for k in range(1, top):
        joined = joined + (ibis.literal(",") + listed[f"_top{k}"]).fill_null("")
    return listed.select(CUSTOMER_ID, **{name: joined})
