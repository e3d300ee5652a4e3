"""Tiny hand-made event logs for the funnel, path and retention tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

T0 = datetime(2026, 3, 2, 9, 0, 0)  # a Monday


def at(days: float = 0, minutes: float = 0) -> datetime:
    """A time ``days`` and ``minutes`` after T0."""
    return T0 + timedelta(days=days, minutes=minutes)


def events(rows: Sequence[tuple[str, str, datetime] | tuple[str, str, datetime, str]]
           ) -> ir.Table:
    """(customer_id, event, timestamp[, platform]) rows → an events table; message ids
    follow the row order (they break ties between events at the same time)."""
    frame = pd.DataFrame([(*r[:3], r[3] if len(r) > 3 else "app") for r in rows],
                         columns=["customer_id", "event", "timestamp", "platform"])
    frame["message_id"] = [f"m{i:04d}" for i in range(len(frame))]
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    return ibis.memtable(frame)
