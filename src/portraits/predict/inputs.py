"""What every model reads (the canonical tables with each record's ``customer_id``) and
how every model fits (on a fixed number of threads), and the shared queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

ToArrow = Callable[[ir.Table], pa.Table]
# The event columns the models read. Only these go through the customer-id joins: the
# feature queries read the events several times, and DuckDB holds a shared table whole,
# every column of it (a churn feature frame of the 50k demo: 3.3 s with all columns,
# 2.2 s with these).
EVENT_COLUMNS: Final = ("message_id", "event", "timestamp", "product_id")


@dataclass(frozen=True)
class PredictInputs:
    """Canonical tables as Ibis expressions on one engine.

    Attributes:
        orders: Orders with ``customer_id`` (every status; models drop cancelled and
            refunded ones themselves, see ``portraits.profile.consumption``).
        order_items: Order lines.
        products: The catalogue (``category``, ``category_path``, ``brand``, ``price``,
            ``launched_at``).
        events: Events with ``customer_id`` (at least :data:`EVENT_COLUMNS`); None when
            the workspace has none.
        profiles: The stored profiles (one row per customer); None before they are built.
        interests: ``profile_interests`` (customer, category, affinity, rank); None
            before profiles are built.
    """

    orders: ir.Table
    order_items: ir.Table
    products: ir.Table
    events: ir.Table | None = None
    profiles: ir.Table | None = None
    interests: ir.Table | None = None


MODEL_THREADS = 2


def model_threads() -> Any:
    """A context in which OpenMP and BLAS use :data:`MODEL_THREADS` threads.

    The boosters' sums are split over the threads, so the number of threads, not the
    machine, decides the last bits of a model: a fixed number gives the same model on
    every machine (checked: one and two threads fit identical boosters on the demo's
    data, two in 70 % of the time), and no more threads than that spin against each other
    on a busy machine."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(limits=MODEL_THREADS)


class SharedQueries:
    """A :data:`ToArrow` that runs each distinct query once and hands back its result
    again when the same SQL comes back.

    Churn and propensity read the same point-in-time feature frames (four cutoffs, one
    query each), and scoring reads the features at ``as_of`` for both: shared, the demo's
    training and scoring run five 1.5 s queries fewer. The data must not change
    while it is in use (see ``ws.predict.shared_queries``); results are kept up to
    ``budget`` bytes in all, so a large workspace just runs its queries again.

    A query is known by its expression: Ibis expressions are immutable, hashed once when
    built, and equal when built alike (compiling each to SQL for a key cost 1.3 s per
    feature frame on the demo).
    """

    def __init__(self, to_arrow: ToArrow, budget: int = 1 << 30) -> None:
        self._to_arrow, self._budget = to_arrow, budget
        self._kept: dict[ops.Node, pa.Table] = {}
        self.hits = 0

    def __call__(self, data: ir.Table) -> pa.Table:
        key = data.op()
        if key in self._kept:
            self.hits += 1
            return self._kept[key]
        result = self._to_arrow(data)
        if result.nbytes <= self._budget:
            self._kept[key] = result
            self._budget -= result.nbytes
        return result
