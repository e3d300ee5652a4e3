"""``portraits quality``: the load history, one load in detail, and its rejects."""

from __future__ import annotations

from rich.console import Console

from portraits.cli.render import completeness_table, records_table, rules_table
from portraits.errors import PortraitsError
from portraits.i18n import Lang, text
from portraits.workspace.facade import Workspace

HISTORY = ["load_id", "source", "status", "rows_read", "accepted", "rejected", "new",
           "pass_rate", "integration_rate", "started_at"]
REJECTS = ["file", "row", "field", "value", "rule", "action", "reason"]


def show_quality(console: Console, ws: Workspace, load_id: str | None, rejects: bool,
                 limit: int, lang: Lang) -> None:
    """Print the history, then the detail of ``load_id`` (or of the latest loads)."""
    if not ws.engine.has_table("loads"):
        raise PortraitsError("nothing has been loaded yet; run 'portraits load' first")
    history = ws.ingest.loads().to_pyarrow().to_pylist()
    console.print(records_table(text("history_title", lang), history[:limit], HISTORY, lang))
    if load_id is not None:
        if not any(h["load_id"] == load_id for h in history):
            raise PortraitsError(f"no load '{load_id}'; see the list above")
        chosen = [load_id]
    else:
        latest: dict[str, str] = {}
        for h in history:
            if h["status"] == "ok":
                latest.setdefault(h["source"], h["load_id"])
        chosen = list(latest.values())
    source_of = {h["load_id"]: h["source"] for h in history}
    rules = [{**r, "source": source_of[i]} for i in chosen
             for r in ws.ingest.rules(i).to_pyarrow().to_pylist()]
    if rules:
        console.print(rules_table(rules, lang))
    gaps = [(source_of[i], r["field"], r["completeness"]) for i in chosen
            for r in ws.ingest.completeness(i).to_pyarrow().to_pylist() if r["completeness"] < 1]
    if gaps:
        console.print(completeness_table(gaps, lang))
    if rejects and ws.engine.has_table("rejects"):
        found = ws.ingest.rejects()
        found = found.filter(found.load_id.isin(chosen)).limit(limit)
        console.print(records_table(text("rejects_title", lang), found.to_pyarrow().to_pylist(),
                                    REJECTS, lang))
