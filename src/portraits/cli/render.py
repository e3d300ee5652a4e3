"""Rich renderings of load reports, quality history and rejects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from portraits.i18n import Lang, text
from portraits.ingest.quality import LoadReport


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def reports_table(reports: Sequence[LoadReport], lang: Lang) -> Table:
    """One row per load: what was read, accepted, rejected, and the quality rates."""
    table = Table(title=text("quality_title", lang), title_justify="left")
    keys = ["source", "entity", "status", "rows_read", "accepted", "rejected", "duplicates",
            "nulled", "filled", "new", "changed", "unchanged", "pass_rate", "integration_rate",
            "seconds"]
    for key in keys:
        table.add_column(text(key, lang), justify="left" if key in keys[:3] else "right")
    for r in reports:
        status = text(r.status, lang)
        style = {"ok": "green", "skipped": "yellow"}.get(r.status, "red")
        table.add_row(r.source, r.entity, f"[{style}]{status}[/]", _n(r.rows_read),
                      _n(r.accepted), _n(r.rejected), _n(r.duplicates), _n(r.nulled),
                      _n(r.filled), _n(r.new), _n(r.changed), _n(r.unchanged),
                      _pct(r.pass_rate), _pct(r.integration_rate), f"{r.seconds:.2f}")
    return table


def rules_table(rows: Sequence[dict[str, Any]], lang: Lang) -> Table:
    """Rows per rule and field, with the rule in words."""
    table = Table(title=text("rules_title", lang), title_justify="left")
    for key in ("source", "rule", "field", "action", "rows"):
        table.add_column(text(key, lang), justify="right" if key == "rows" else "left")
    for r in rows:
        table.add_row(r.get("source", ""), text(f"rule.{r['rule']}", lang), r["field"] or "",
                      text(f"action.{r['action']}", lang), _n(r["rows"]))
    return table


def completeness_table(rows: Sequence[tuple[str, str, float]], lang: Lang) -> Table:
    """Completeness per source and field, least complete first."""
    table = Table(title=text("completeness_title", lang), title_justify="left")
    for key in ("source", "field", "completeness"):
        table.add_column(text(key, lang), justify="right" if key == "completeness" else "left")
    for source, field, share in sorted(rows, key=lambda r: (r[2], r[0], r[1])):
        colour = "green" if share >= 0.95 else "yellow" if share >= 0.8 else "red"
        table.add_row(source, field, f"[{colour}]{share:.1%}[/]")
    return table


def records_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str],
                  lang: Lang) -> Table:
    """A plain table of records (history, rejects, table sizes)."""
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(text(c, lang), overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in columns))
    return table


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_reports(console: Console, reports: Sequence[LoadReport], lang: Lang,
                  details: bool = True) -> None:
    """The summary table, then what the rules found and the least complete fields."""
    console.print(reports_table(reports, lang))
    for r in reports:
        if r.status == "failed":
            console.print(f"[red]{r.source}: {r.message}[/]")
    if not details:
        return
    rules = [{"source": r.source, "rule": x.rule, "field": x.field, "action": x.action,
              "rows": x.rows} for r in reports for x in r.rules]
    if rules:
        console.print(rules_table(rules, lang))
    gaps = [(r.source, f, c) for r in reports for f, c in r.completeness.items() if c < 1.0]
    if gaps:
        console.print(completeness_table(gaps, lang))
