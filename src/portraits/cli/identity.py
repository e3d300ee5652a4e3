"""``portraits identity resolve|explain|split``: people from identifiers, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from portraits.i18n import Lang, text

identity_app = typer.Typer(
    name="identity", no_args_is_help=True, rich_markup_mode="markdown",
    help="Identity resolution: one customer id per person (ID graph, merge history, splits).")
WorkspaceDir = Annotated[Path, typer.Option("--path", "-p",
                                            help="Workspace folder (holds portraits.yaml).")]


@identity_app.command()
def resolve(path: WorkspaceDir = Path(".")) -> None:
    """Resolve the records loaded since the last run into people (customer ids).

    Only new loads are read; existing customers keep their ids, and when two of them
    turn out to be one person the older id wins. Running it again with nothing new
    changes nothing.
    """
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws, cli.console.status("resolving identities"):
            report = ws.identity.resolve()
        print_resolve(cli.console, report, cli.lang())

    run()


@identity_app.command()
def explain(
    identifier: Annotated[str, typer.Argument(
        help="type:value (phone:+8613912345678, member_id:M10000001) or a customer id.")],
    path: WorkspaceDir = Path("."),
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Show phones and e-mails unmasked.")] = False,
) -> None:
    """Show how a person was assembled: identifiers, merges in order with the record
    that caused each, and identifiers left out (junk, shared, blocked) with why."""
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            explanation = ws.identity.explain(identifier)
        print_explanation(cli.console, explanation, cli.lang(), show_pii)

    run()


@identity_app.command()
def split(
    path: WorkspaceDir = Path("."),
    identifier: Annotated[str | None, typer.Option(
        "--identifier", help="Block this identifier (type:value) from merging.")] = None,
    link: Annotated[list[str] | None, typer.Option(
        "--link", help="Block the link between two identifiers (give --link twice).")] = None,
) -> None:
    """Block an identifier or a link (kept in identity/blocks.yaml) and resolve the
    people it joined again; the oldest part keeps the customer id, the others get new
    ones, and the split is recorded in the merge history."""
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.errors import PortraitsError
        from portraits.workspace.facade import Workspace

        if link is not None and len(link) != 2:
            raise PortraitsError("give --link twice: the two ends of the link")
        pair = (link[0], link[1]) if link else None
        with Workspace(path) as ws, cli.console.status("splitting"):
            report = ws.identity.split(identifier=identifier, link=pair)
        print_resolve(cli.console, report, cli.lang())

    run()


@identity_app.command()
def review(
    path: WorkspaceDir = Path("."),
    export: Annotated[Path | None, typer.Option(
        "--export", help="Write the pairs to review to this CSV (opens in Excel).")] = None,
    apply: Annotated[Path | None, typer.Option(
        "--apply", help="Read reviewers' decisions from this CSV and resolve again.")] = None,
) -> None:
    """Review the customer-record pairs that probabilistic matching is unsure of.

    `--export FILE` writes each pair with both records side by side and an empty
    **decision** column; write `match` or `no_match` (是/否 also work). `--apply FILE`
    keeps the decisions in the workspace (identity/match_decisions.csv), links the pairs
    decided `match`, and splits people that a match decided `no_match` had joined.
    """
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.errors import PortraitsError
        from portraits.workspace.facade import Workspace

        if (export is None) == (apply is None):
            raise PortraitsError("give --export FILE or --apply FILE")
        with Workspace(path) as ws:
            if export is not None:
                pairs = ws.identity.review(export)
                cli.console.print(text("review_written", cli.lang(), pairs=pairs,
                                       path=str(export)))
                return
            assert apply is not None
            with cli.console.status("resolving identities"):
                report = ws.identity.apply_review(apply)
        print_resolve(cli.console, report, cli.lang())

    run()


def print_resolve(console: Console, report: Any, lang: Lang) -> None:
    """What the run changed, then one line: records → people."""
    table = Table(title=text("identity_title", lang), title_justify="left")
    table.add_column(text("field", lang))
    table.add_column(text("value", lang), justify="right")
    values = {**vars(report), **{k: report.ignored.get(k, 0)
                                 for k in ("junk", "shared", "blocked")}}
    for key in ("status", "records", "identifiers", "people", "new_people", "merges",
                "merged_customers", "splits", "matched_pairs", "review_pairs",
                "skipped_keys", "junk", "shared", "blocked", "seconds"):
        value = values[key]
        table.add_row(text(key, lang), text(value, lang) if key == "status" else
                      f"{value:.2f}" if key == "seconds" else f"{value:,}")
    console.print(table)
    console.print(text("identity_summary", lang, records=report.records,
                       people=report.people))


def print_explanation(console: Console, explanation: Any, lang: Lang, show_pii: bool) -> None:
    """The person's identifiers, merge history and left-out identifiers."""
    from portraits.identity.blocks import identifier_text

    def shown(pair: tuple[str, str] | None) -> str:
        if pair is None:
            return ""
        return identifier_text(pair if show_pii else (pair[0], mask(*pair)))

    query = shown(explanation.query) if explanation.query[0] != "customer_id" else (
        explanation.query[1])
    if explanation.customer_id is None or explanation.status != "used":
        console.print(text("explain_none", lang, identifier=query,
                           status=text(explanation.status, lang),
                           reason=explanation.reason or ""))
        return
    console.print(text("explain_head", lang, identifier=query,
                       customer=explanation.customer_id,
                       identifiers=len(explanation.identifiers),
                       merges=sum(s.kind == "merge" for s in explanation.steps)))
    ids = Table(title=text("explain_identifiers", lang), title_justify="left")
    for key in ("id_type", "value", "first_seen", "last_seen", "records", "source"):
        ids.add_column(text(key, lang), justify="right" if key == "records" else "left")
    for s in explanation.identifiers:
        ids.add_row(s.id_type, s.id_value if show_pii else mask(s.id_type, s.id_value),
                    _time(s.first_seen), _time(s.last_seen), f"{s.records:,}",
                    ", ".join(s.sources))
    console.print(ids)
    steps = Table(title=text("explain_steps", lang), title_justify="left")
    for key in ("step", "kind", "seen_at", "record", "link", "customers"):
        steps.add_column(text(key, lang), overflow="fold")
    for i, s in enumerate(explanation.steps, start=1):
        record = "/".join(p for p in (s.entity, s.source, s.record_key) if p)
        link = f"{shown(s.left)} ↔ {shown(s.right)}" if s.left else (s.reason or "")
        joined = " + ".join(c for c in (s.left_customer_id, s.right_customer_id) if c)
        steps.add_row(str(i), text(s.kind, lang), _time(s.seen_at), record, link,
                      f"{joined} → {s.customer_id}" if joined else (s.customer_id or ""))
    console.print(steps)
    if explanation.ignored:
        off = Table(title=text("explain_ignored", lang), title_justify="left")
        for key in ("id_type", "value", "status", "reason"):
            off.add_column(text(key, lang), overflow="fold")
        for g in explanation.ignored:
            off.add_row(g.id_type, g.id_value if show_pii else mask(g.id_type, g.id_value),
                        text(g.status, lang), g.reason or "")
        console.print(off)


def mask(id_type: str, value: str) -> str:
    """A value as shown without the PII scope."""
    from portraits.model.pii import mask_identifier

    return mask_identifier(id_type, value)


def _time(value: Any) -> str:
    return "" if value is None else str(value)[:19]
