"""``portraits run``: the batch pipeline on the workspace's engine, stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from portraits.cli.common import console_lang, open_workspace, run_friendly

if TYPE_CHECKING:
    from rich.console import Console

    from portraits.i18n import Lang
    from portraits.workspace.pipeline import StageRun


def run_command(
    path: Annotated[Path, typer.Argument(
        help="Workspace folder (holds portraits.yaml).")] = Path("."),
    stage: Annotated[list[str] | None, typer.Option(
        "--stage", "-s", help="Run only this stage (repeatable): load, identity, sentiment, "
                              "profiles, train, score, tags, segments, analytics.")] = None,
    train: Annotated[str, typer.Option(
        help="missing: train the models never trained; always: train every model again; "
             "never: score with the saved models.")] = "missing",
    force: Annotated[bool, typer.Option(
        help="Load files that were loaded before again.")] = False,
) -> None:
    """Run the batch pipeline on the workspace's engine (DuckDB, or Spark when
    portraits.yaml says `engine: {kind: spark}`): load → identity → sentiment → profiles →
    train → score → tags → segments → analytics, and print what each stage read and made
    and how long it took. Every stage is incremental: a second run with no new files
    loads nothing and re-resolves nothing.

    Example: `portraits run shop`, or `portraits run shop -s profiles -s tags`.
    """

    def action() -> None:
        from portraits.errors import PortraitsError
        from portraits.workspace.pipeline import STAGES

        console, lang = console_lang()
        if train not in ("missing", "always", "never"):
            raise PortraitsError(f"--train must be missing, always or never, not '{train}'")
        with open_workspace(path) as ws, console.status("") as status:
            done = ws.pipeline.run(stage or STAGES, train=train,  # type: ignore[arg-type]
                                   force=force, on_stage=lambda s: status.update(
                                       f"{s} ({ws.engine.name})"))
        print_stages(console, done, lang)

    run_friendly(action)


def print_stages(console: Console, done: list[StageRun], lang: Lang) -> None:
    """One row per stage: rows read, what it made, seconds, rows per second."""
    from rich.table import Table

    from portraits.i18n import text

    table = Table(title=text("run.title", lang), title_justify="left")
    for key in ("run.stage", "run.rows", "run.output", "run.seconds", "run.rate",
                "run.detail"):
        table.add_column(text(key, lang), justify="left" if key in (
            "run.stage", "run.detail") else "right")
    for run in done:
        rate = f"{run.rows / run.seconds:,.0f}" if run.rows and run.seconds > 0 else "-"
        table.add_row(text(f"run.stage.{run.stage}", lang), f"{run.rows:,}",
                      f"{run.output:,} {text(f'run.unit.{run.stage}', lang)}",
                      f"{run.seconds:.2f}", rate, run.detail)
    console.print(table)
    console.print(text("run.total", lang, seconds=sum(r.seconds for r in done)))
