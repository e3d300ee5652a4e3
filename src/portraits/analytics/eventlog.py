"""What funnels and paths share about reading an event log."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def event_sequence(events: ir.Table) -> ir.StringValue:
    """What orders events at the same time: the message id (or nothing, if absent), so
    ties resolve the same way on every engine and every run."""
    if "message_id" in events.columns:
        return events.message_id.cast("string").fill_null("")
    return ibis.literal("")
