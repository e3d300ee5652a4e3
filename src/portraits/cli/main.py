"""``portraits``: set up a workspace, generate data, load it, see its quality, run the demo.

Only Typer and Rich are imported at start; the engine and the data stack load when a
command needs them, so ``portraits --help`` answers at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from portraits.cli.analyze import analyze_app
from portraits.cli.bench import bench_command
from portraits.cli.identity import identity_app
from portraits.cli.predict import predict_app
from portraits.cli.profile import profile_app
from portraits.cli.report import report_command
from portraits.cli.run import run_command
from portraits.cli.tags import segment_app, tags_app
from portraits.errors import PortraitsError
from portraits.i18n import Lang, text
from portraits.settings import get_settings

app = typer.Typer(
    name="portraits",
    help="Portraits: customer profiling (用户画像) and precision marketing (精准营销).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
WorkspaceDir = Annotated[Path, typer.Argument(help="Workspace folder (holds portraits.yaml).")]
_state: dict[str, Lang] = {"lang": get_settings().lang}
app.add_typer(identity_app)
app.add_typer(profile_app)
app.add_typer(tags_app)
app.add_typer(segment_app)
app.add_typer(analyze_app)
app.add_typer(predict_app)
app.command("report")(report_command)
app.command("run")(run_command)
app.command("bench")(bench_command)


def lang() -> Lang:
    """The language of this command's output."""
    return _state["lang"]


def friendly(command: F) -> F:
    """Print a user mistake as one clear message and exit 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PortraitsError as exc:
            err_console.print(f"[bold red]{text('error', _state['lang'])}:[/] {exc}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def root(
    lang: Annotated[str | None, typer.Option(
        help="Language of the output: en or zh-CN (default: PORTRAITS_LANG or en).")] = None,
) -> None:
    """Portraits command line."""
    if lang is not None and lang not in ("en", "zh-CN"):
        raise typer.BadParameter("use en or zh-CN", param_hint="--lang")
    _state["lang"] = lang or get_settings().lang  # type: ignore[assignment]


@app.command()
@friendly
def init(
    path: WorkspaceDir,
    force: Annotated[bool, typer.Option(help="Overwrite an existing portraits.yaml.")] = False,
) -> None:
    """Create a workspace: portraits.yaml (the retail example mapping) and its folders."""
    from portraits.workspace.scaffold import create_workspace

    spec = create_workspace(path, force=force)
    console.print(text("workspace_created", _state["lang"], path=spec))


@app.command()
@friendly
def check(path: WorkspaceDir = Path(".")) -> None:
    """Validate portraits.yaml and report every problem with file, line and a hint."""
    from portraits.workspace.loader import SPEC_FILE, load_spec

    spec = load_spec(path / SPEC_FILE)
    console.print(text("spec_ok", _state["lang"], path=path / SPEC_FILE,
                       sources=len(spec.sources)))


@app.command()
@friendly
def generate(
    path: WorkspaceDir = Path("."),
    customers: Annotated[int, typer.Option(min=10, help="How many customers.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 42,
    end: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"],
        help="The data stops before this day (default: today, or PORTRAITS_NOW).")] = None,
) -> None:
    """Write synthetic Chinese retail data with planted truth into the workspace's data folder.

    About 25 events, 2 orders and 0.3 reviews per customer over 18 months, in the files
    portraits.yaml of 'portraits init' maps (GB18030 CRM CSV with Chinese headers, Excel
    store members, orders, order items, products, Parquet and JSON-lines events, reviews,
    consents). What was planted is written to data/truth/ (see docs/synthetic-data.md).
    """
    from portraits.workspace.facade import Workspace

    with Workspace(path) as ws:
        summary = _generate(ws, customers, seed, end.date() if end else None)
    _print_generated(summary)


def _generate(ws: Any, customers: int, seed: int, end: date | None = None) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("generate", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        return ws.synth.generate(customers=customers, seed=seed, end=end, progress=progress)


def _print_generated(summary: Any) -> None:
    lang = _state["lang"]
    from portraits.cli.render import records_table

    rows = [{"file": name, "rows": count} for name, count in summary.files.items()]
    console.print(records_table(f"{text('generated', lang)}: {summary.out_dir} "
                                f"({summary.seconds:.1f} s)", rows, ["file", "rows"], lang))


@app.command()
@friendly
def load(
    path: WorkspaceDir = Path("."),
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Load only this source (repeatable).")] = None,
    force: Annotated[bool, typer.Option(
        help="Load again even if the same files were loaded before.")] = False,
) -> None:
    """Load sources: map, clean and merge them; print the quality report of each load.

    Loading the same files again changes nothing. Rejected rows and corrected values are
    kept with the reason; see them with 'portraits quality --rejects'.
    """
    from portraits.cli.render import print_reports
    from portraits.workspace.facade import Workspace

    with Workspace(path) as ws, console.status("loading") as status:
        reports = ws.ingest.load(source, force=force, progress=status.update)
    print_reports(console, reports, _state["lang"])


@app.command()
@friendly
def quality(
    path: WorkspaceDir = Path("."),
    load_id: Annotated[str | None, typer.Option(
        "--load", help="Show one load in detail (default: the latest of each source).")] = None,
    rejects: Annotated[bool, typer.Option(help="List the rejected and corrected rows.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rejects.")] = 50,
) -> None:
    """Show the quality history of the loads, and what the cleaning rules found."""
    from portraits.cli.quality import show_quality
    from portraits.workspace.facade import Workspace

    with Workspace(path) as ws:
        show_quality(console, ws, load_id, rejects, limit, _state["lang"])


@app.command()
@friendly
def demo(
    path: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "portraits-demo"),
    customers: Annotated[int, typer.Option(min=100, help="How many customers.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Create a fresh workspace, generate ~50k customers, load them, resolve identities
    (ID graph and probabilistic matching), build profiles, train and evaluate the
    prediction models (churn, propensity, CLV, next category, recommendations) and score
    everyone, run the standard tag library (RFM segments, value layers, lifecycle
    stages), count the example segments (two read predictions), show the purchase
    funnel, repurchase retention and top basket rules, write the monthly insight
    report of the last full month (HTML and PDF), and run the batch again with nothing new
    (`portraits run`: each stage's rows and seconds)."""
    from portraits.cli.identity import print_resolve
    from portraits.cli.profile import print_completeness
    from portraits.cli.render import print_reports, records_table
    from portraits.workspace.facade import Workspace

    started = time.perf_counter()
    lang = _state["lang"]
    import shutil

    for made in (".portraits", "models", "reports"):  # a fresh demo every time
        if (path / made).exists():
            shutil.rmtree(path / made)
    Workspace.init(path, force=True).close()
    with Workspace(path) as ws:
        _print_generated(_generate(ws, customers, seed))
        with console.status("loading") as status:
            reports = ws.ingest.load(progress=status.update, force=True)
        print_reports(console, reports, lang, details=True)
        with console.status("resolving identities"):
            resolved = ws.identity.resolve()
        print_resolve(console, resolved, lang)
        with console.status("scoring review sentiment"):
            ws.analytics.sentiment()  # stored scores become profile fields
        with console.status("building profiles"):
            count = ws.profiles.build(ws.identity.customer_ids())
            summary = ws.engine.to_arrow(ws.profiles.completeness()).to_pylist()
        print_completeness(console, count, summary, lang)
        _demo_predictions(ws, lang)  # before the tags: segments read the predictions
        _demo_tags(ws, lang)
        _demo_analytics(ws, lang)
        _demo_report(ws, lang)
        rows = [{"table": name, "rows": ws.engine.count(ws.table(name))} for name in ws.tables()]
        console.print(records_table(text("tables_title", lang), rows, ["table", "rows"], lang))
        _demo_rerun(ws, lang)
    console.print(text("demo_done", lang, seconds=time.perf_counter() - started, path=path))


def _demo_tags(ws: Any, lang: Lang) -> None:
    """Tags with the RFM table, then the example segments' sizes and one explanation."""
    from rich.table import Table

    from portraits.cli.tags import print_rfm, print_why

    with console.status("computing tags"):
        result = ws.tags.run()
    console.print(text("demo_tags", lang, tags=result.tags, customers=result.customers))
    print_rfm(console, result, lang)
    table = Table(title=text("segment_counts_title", lang), title_justify="left")
    for key in ("segment", "name", "customers"):
        table.add_column(text(key, lang), justify="right" if key == "customers" else "left")
    catalog = ws.segments.catalog()
    for segment_id, size in ws.segments.count_all(list(catalog.values())).items():
        table.add_row(segment_id, catalog[segment_id].spec.name.get(lang), f"{size:,}")
    console.print(table)
    champions = ws.tags.table().filter(lambda t: t.rfm_segment == "champions").limit(1)
    picked = ws.engine.to_arrow(champions.select("customer_id")).to_pylist()
    if picked:
        print_why(console, ws.tags.why(picked[0]["customer_id"], "vip"), lang)


def _demo_rerun(ws: Any, lang: Lang) -> None:
    """The nightly batch again with nothing new (``portraits run``): loads and identity
    find nothing to do; profiles, tags and segments are rebuilt."""
    from portraits.cli.run import print_stages

    console.print(text("demo_rerun", lang, path=ws.root))
    with console.status(text("run.title", lang)):
        done = ws.pipeline.run(("load", "identity", "profiles", "tags", "segments"))
    print_stages(console, done, lang)


def _demo_predictions(ws: Any, lang: Lang) -> None:
    """Train and evaluate every model, score everyone, one customer's recommendations."""
    from portraits.cli.predict import demo_predictions

    demo_predictions(console, ws, lang)


def _demo_report(ws: Any, lang: Lang) -> None:
    """The monthly insight report of the last full month, as HTML and PDF."""
    from portraits.cli.report import last_full_month
    from portraits.report.render import write_report

    month = last_full_month(ws.settings.current_time())
    with console.status(text("demo_report_writing", lang, month=f"{month:%Y-%m}")):
        paths = write_report(ws, month, lang)
    for written in paths:
        console.print(text("demo_report", lang, path=written))


def _demo_analytics(ws: Any, lang: Lang) -> None:
    """The purchase funnel, monthly repurchase retention and the top basket rules."""
    from portraits.cli.analyze import demo_analytics

    demo_analytics(console, ws, lang)


def main() -> None:
    """Entry point of the ``portraits`` command."""
    app()
