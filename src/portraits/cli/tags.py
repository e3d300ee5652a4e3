"""``portraits tags run|list|why|history`` and ``portraits segment count|export|overlap|list``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from portraits.i18n import Lang, text

if TYPE_CHECKING:
    from portraits.tags.catalog import TagSet
    from portraits.tags.why import TagExplanation
    from portraits.workspace.tagging import TagCount, TagRun

tags_app = typer.Typer(
    name="tags", no_args_is_help=True, rich_markup_mode="markdown",
    help="Tags (标签): the standard library plus the workspace's tags/*.yaml; RFM, value "
         "layers and lifecycle stages are tags too.")
segment_app = typer.Typer(
    name="segment", no_args_is_help=True, rich_markup_mode="markdown",
    help="Segments (人群/受众) defined in segments/*.yaml: count, compare, export.")
WorkspaceDir = Annotated[Path, typer.Option("--path", "-p",
                                            help="Workspace folder (holds portraits.yaml).")]
RFM_ORDER = ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
             "about_to_sleep", "at_risk", "cant_lose_them", "hibernating", "lost")


def _run(action: Any) -> None:
    from portraits.cli import main as cli

    cli.friendly(action)()


@tags_app.command("run")
def run_tags(path: WorkspaceDir = Path(".")) -> None:
    """Compute every tag for every profile, store them (`tags` table) and add this run to
    the tag history; prints customers per tag and the RFM segment sizes."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws, cli.console.status("computing tags"):
            result = ws.tags.run()
            tagset = ws.tags.catalog()
        print_tag_run(cli.console, result, tagset, cli.lang())

    _run(action)


def print_tag_run(console: Console, result: TagRun, tagset: TagSet, lang: Lang) -> None:
    """Customers per tag (labels of label tags), then RFM segments and value layers."""
    table = Table(title=text("tags_title", lang, tags=result.tags, customers=result.customers),
                  title_justify="left")
    for key in ("tag", "tag_category", "label", "customers", "share"):
        table.add_column(text(key, lang), justify="right" if key in ("customers", "share")
                         else "left")
    for tag in tagset:
        if tag.spec.kind == "top":
            continue
        counts: list[TagCount | None] = [c for c in result.counts if c.tag == tag.id]
        for c in counts or [None]:
            n = c.customers if c else 0
            table.add_row(f"{tag.spec.name.get(lang)} ({tag.id})", text(
                f"category.{tag.spec.category}", lang), (c.label or "") if c else "",
                f"{n:,}", f"{n / max(result.customers, 1):.1%}")
    console.print(table)
    print_rfm(console, result, lang)


def print_rfm(console: Console, result: TagRun, lang: Lang) -> None:
    """RFM segment sizes in the standard order, with their value layer."""
    table = Table(title=text("rfm_title", lang), title_justify="left")
    for key in ("rfm_segment", "customers", "share"):
        table.add_column(text(key, lang), justify="left" if key == "rfm_segment" else "right")
    scored = sum(c.customers for c in result.counts if c.tag == "rfm_segment")
    for segment in RFM_ORDER:
        n = result.count("rfm_segment", segment)
        table.add_row(text(f"rfm.{segment}", lang), f"{n:,}", f"{n / max(scored, 1):.1%}")
    layers = ", ".join(f"{text(f'layer.{layer}', lang)} {result.count('value_layer', layer):,}"
                       for layer in ("high_value", "potential", "churn_warning", "lost"))
    console.print(table)
    console.print(f"{text('value_layer', lang)}: {layers}")


@tags_app.command("list")
def list_tags(path: WorkspaceDir = Path(".")) -> None:
    """List every enabled tag: id, names, category, kind, owner, version and where it is
    defined (the standard library or the workspace's tags/ folder)."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            tagset = ws.tags.catalog()
        lang = cli.lang()
        table = Table(title=text("tag_list_title", lang, tags=len(tagset)), title_justify="left")
        for key in ("tag", "name", "tag_category", "kind", "owner", "version", "defined_in"):
            table.add_column(text(key, lang), overflow="fold")
        for tag in tagset:
            spec = tag.spec
            table.add_row(tag.id, f"{spec.name.zh} / {spec.name.en}",
                          text(f"category.{spec.category}", lang), spec.kind, spec.owner,
                          str(spec.version), tag.file)
        cli.console.print(table)
        if tagset.disabled:
            cli.console.print(text("tags_disabled", lang, tags=", ".join(tagset.disabled)))

    _run(action)


@tags_app.command()
def why(
    customer: Annotated[str, typer.Argument(help="Customer id (C00000042).", show_default=False)],
    tag: Annotated[str, typer.Argument(help="Tag id (see `portraits tags list`).",
                                       show_default=False)],
    path: WorkspaceDir = Path("."),
) -> None:
    """Show a tag's rule and the customer's actual values that make it true or false."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            explanation = ws.tags.why(customer, tag)
        print_why(cli.console, explanation, cli.lang())

    _run(action)


def print_why(console: Console, e: TagExplanation, lang: Lang) -> None:
    """The tag, its verdict, and each clause with the values it read."""
    spec = e.tag.spec
    verdict = _value_text(e.value, lang)
    console.print(f"[bold]{spec.name.get(lang)}[/] ({e.tag.id}, {spec.kind}, v{spec.version}) "
                  f"— {e.customer_id}: [bold]{verdict}[/]")
    if spec.description:
        console.print(f"  {spec.description}")
    if e.joiner in ("and", "or"):
        console.print(f"  {text('why_joined_' + e.joiner, lang)}")
    won = False
    for clause in e.clauses:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "·"}[clause.held]
        prefix = ""
        if clause.label is not None:
            prefix = f"{clause.label} ← "
            if clause.held and not won:
                won, prefix = True, f"[bold]{clause.label}[/] ← "
        weight = f" × {clause.weight:g}" if clause.weight is not None else ""
        values = ", ".join(f"{k} = {_value_text(v, lang)}" for k, v in clause.values.items())
        console.print(f"  {mark} {prefix}{clause.text}{weight}    [dim]{values}[/]")
    if e.score is not None:
        console.print(f"  {text('score', lang)} = {e.score:.3f}")


def _value_text(value: object, lang: Lang) -> str:
    if value is None:
        return text("empty", lang)
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


@tags_app.command()
def history(
    tag: Annotated[str, typer.Argument(help="Tag id.", show_default=False)],
    path: WorkspaceDir = Path("."),
) -> None:
    """A tag's population at every run (per label for label tags)."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.cli.render import records_table
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            ws.tags.catalog().get(tag)
            rows = ws.engine.to_arrow(ws.tags.history(tag)).to_pylist()
        cli.console.print(records_table(text("tag_history_title", cli.lang(), tag=tag), rows,
                                        ["run_at", "value", "customers"], cli.lang()))

    _run(action)


@segment_app.command("list")
def list_segments(path: WorkspaceDir = Path(".")) -> None:
    """List the workspace's segments with their conditions."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            segments = ws.segments.catalog()
        lang = cli.lang()
        table = Table(title=text("segments_title", lang), title_justify="left")
        for key in ("segment", "name", "condition"):
            table.add_column(text(key, lang), overflow="fold")
        for s in segments.values():
            table.add_row(s.id, s.spec.name.get(lang), s.spec.condition_text())
        cli.console.print(table)

    _run(action)


@segment_app.command()
def count(
    segments: Annotated[list[str] | None, typer.Argument(
        help="Segment ids (all segments when omitted).", show_default=False)] = None,
    path: WorkspaceDir = Path("."),
) -> None:
    """Count members now (live) and record the size, so size over time can be shown."""
    from portraits.cli import main as cli

    def action() -> None:
        import time

        from portraits.workspace.facade import Workspace

        lang = cli.lang()
        table = Table(title=text("segment_counts_title", lang), title_justify="left")
        for key in ("segment", "name", "customers", "seconds"):
            table.add_column(text(key, lang), justify="right" if key in (
                "customers", "seconds") else "left")
        with Workspace(path) as ws:
            chosen = segments or list(ws.segments.catalog())
            for segment_id in chosen:
                started = time.perf_counter()
                size = ws.segments.count(segment_id)
                table.add_row(segment_id, ws.segments.get(segment_id).spec.name.get(lang),
                              f"{size:,}", f"{time.perf_counter() - started:.2f}")
        cli.console.print(table)

    _run(action)


@segment_app.command()
def overlap(
    left: Annotated[str, typer.Argument(help="A segment id.", show_default=False)],
    right: Annotated[str, typer.Argument(help="Another segment id.", show_default=False)],
    path: WorkspaceDir = Path("."),
) -> None:
    """How two segments overlap: sizes, members of both, of one only, Jaccard index."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            o = ws.segments.overlap(left, right)
        lang = cli.lang()
        cli.console.print(text("overlap_line", lang, left=o.left, right=o.right,
                               left_size=o.left_size, right_size=o.right_size, both=o.both,
                               only_left=o.left_size - o.both, only_right=o.right_size - o.both,
                               jaccard=o.jaccard))

    _run(action)


@segment_app.command()
def export(
    segment: Annotated[str, typer.Argument(help="Segment id.", show_default=False)],
    out: Annotated[Path, typer.Argument(help="File to write: .csv, .xlsx or .parquet.",
                                        show_default=False)],
    path: WorkspaceDir = Path("."),
    columns: Annotated[str | None, typer.Option(
        help="Comma-separated columns: profile fields, RFM fields, tags, and contact columns "
             "name, phone, email, wechat_openid. Default: id, demographics, orders, RFM "
             "segment, value layer, lifecycle stage.")] = None,
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Write names, phones, e-mails and WeChat ids unmasked (the file "
                           "then holds personal data).")] = False,
) -> None:
    """Export a segment's members to CSV (UTF-8 with BOM, opens in Excel), Excel or Parquet;
    personal data is masked unless --show-pii is given."""
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.workspace.facade import Workspace

        wanted: Sequence[str] | None = [c.strip() for c in columns.split(",") if c.strip()] \
            if columns else None
        with Workspace(path) as ws:
            rows = ws.segments.export(segment, out, wanted, show_pii=show_pii)
        cli.console.print(text("exported", cli.lang(), rows=rows, path=out))

    _run(action)
