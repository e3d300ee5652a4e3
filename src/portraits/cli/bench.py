"""``portraits bench``: every stage of the batch pipeline timed at a chosen size, on DuckDB
and on Spark, beside the hand-written SQL floor and pandas."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from portraits.cli.common import console_lang, run_friendly

if TYPE_CHECKING:
    from rich.console import Console

    from portraits.bench.run import BenchResult
    from portraits.i18n import Lang

# Targets of issue 8 on 2 cores (docs/performance.md).
BATCH_TARGET_S: Final = 15.0  # the whole batch at 1M customers / 20M events
LARGE_TARGET_S: Final = 90.0  # … at 100M events
LARGE_TARGET_MB: Final = 8 * 1024
FLOOR_TARGET: Final = 1.3  # Portraits' shared query over the hand-written SQL
PANDAS_TARGET: Final = 3.0  # pandas over Portraits
SIZED_FOR: Final = 15_000_000  # the batch targets are for 20M (and 100M) events


def bench_command(
    customers: Annotated[str | None, typer.Option(
        help="People to generate, e.g. 1M, 200k (default: events ÷ 20).")] = None,
    events: Annotated[str, typer.Option(
        help="Events to generate (about 20 per person), e.g. 20M, or 100M for the large "
             "run.")] = "20M",
    engine: Annotated[list[str] | None, typer.Option(
        "--engine", "-e", help="duckdb and/or spark (repeatable; default both).")] = None,
    baselines: Annotated[bool, typer.Option(
        help="Also run the shared profile + RFM query as hand-written DuckDB SQL and in "
             "pandas.")] = True,
    train: Annotated[bool, typer.Option(
        help="Train the prediction models (timed, outside the batch) and score with them; "
             "--no-train leaves both stages out.")] = True,
    folder: Annotated[Path, typer.Option(
        help="Where the generated data (kept and reused for the same size and seed) and "
             "the benchmark workspaces go.")] = Path("bench-data"),
    out: Annotated[Path, typer.Option(
        help="JSON file (or folder) for the results, to compare runs.")] = Path(
        "bench-results"),
    seed: Annotated[int, typer.Option(help="The generator's random seed.")] = 7,
    spark_memory: Annotated[str, typer.Option(
        help="spark.driver.memory of the Spark run.")] = "8g",
    memory_limit: Annotated[str | None, typer.Option(
        help="DuckDB's memory limit in the DuckDB run, e.g. 5GB: operators spill to disk "
             "beyond it (default: DuckDB's, 80% of the machine's memory).")] = None,
) -> None:
    """Time every stage of the batch pipeline (load, identity, sentiment, profiles, train,
    score, tags with RFM and lifecycle, segments, analytics) on generated data, each step
    in a process of its own, on DuckDB and on Spark local mode, beside the shared profile
    + RFM query as Portraits runs it, as hand-written DuckDB SQL (the floor) and in plain
    pandas. Prints one table (wall s, rows/s, peak RSS per stage and engine), checks the
    three queries agree, and writes the figures as JSON.

    Sizes: 1M customers / 20M events by default; `--events 100M` for the large run;
    `--events 200k` for a quick look. Data is generated once per size and seed.
    """
    from portraits.bench.run import ENGINES

    def action() -> None:
        from datetime import datetime

        from portraits.bench.run import (
            EVENTS_PER_CUSTOMER,
            BenchPlan,
            parse_size,
            run_bench,
            write_result,
        )
        from portraits.settings import get_settings

        console, lang = console_lang()
        people = (parse_size(customers) if customers
                  else max(parse_size(events) // EVENTS_PER_CUSTOMER, 100))
        plan = BenchPlan(customers=people, folder=folder, seed=seed,
                         engines=tuple(engine or ENGINES), baselines=baselines, train=train,
                         spark_memory=spark_memory, memory_limit=memory_limit)
        now: datetime = get_settings().current_time()
        with console.status("") as status:
            def on_step(label: str, row: dict[str, Any] | None) -> None:
                if row is None:
                    status.update(f"{label} …")
                else:
                    console.print(f"  {label}: {row['seconds']:.2f} s, "
                                  f"{row['peak_rss_mb']:,} MB")

            result = run_bench(plan, now, on_step)
        print_bench(console, result, lang)
        console.print(str(write_result(result, out)))

    run_friendly(action)


def _cells(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["", "", ""]
    rate = f"{row['rows'] / row['seconds']:,.0f}" if row["rows"] and row["seconds"] else "-"
    return [f"{row['seconds']:.2f}", rate, f"{row['peak_rss_mb']:,}"]


def print_bench(console: Console, result: BenchResult, lang: Lang) -> None:
    """One row per stage, DuckDB and Spark side by side; the baselines; the targets."""
    from rich.table import Table

    from portraits.i18n import text
    from portraits.workspace.pipeline import STAGES

    engines = [e for e in ("duckdb", "spark") if result.step("load", e)]
    table = Table(title=text("bench.title", lang, customers=result.customers,
                             events=result.events), title_justify="left")
    table.add_column(text("run.stage", lang))
    for engine in engines:
        for key in ("run.seconds", "run.rate", "bench.peak"):
            table.add_column(f"{engine} {text(key, lang)}", justify="right")
    generated = result.step("generate", "python")
    if generated:
        table.add_row(text("bench.generate", lang), *_cells(generated),
                      *[""] * 3 * (len(engines) - 1))
    for stage in STAGES:
        label = text(f"run.stage.{stage}", lang) + (
            f" ({text('bench.outside', lang)})" if stage == "train" else "")
        table.add_row(label, *(c for e in engines for c in _cells(result.step(stage, e))))
    table.add_section()
    table.add_row(text("bench.batch", lang), *(
        c for e in engines for c in (f"{result.batch_seconds(e):.2f}", "",
                                     f"{result.batch_peak_mb(e):,.0f}")))
    table.add_section()
    table.add_row(text("bench.query", lang), *(
        c for e in engines for c in _cells(result.step("query", e))))
    for name, engine in (("floor", "duckdb"), ("pandas", "pandas")):
        row = result.step(name, engine)
        if row:
            table.add_row(text(f"bench.{name}", lang), *_cells(row),
                          *[""] * 3 * (len(engines) - 1))
    console.print(table)
    _print_targets(console, result, lang)


def _print_targets(console: Console, result: BenchResult, lang: Lang) -> None:
    from portraits.i18n import text

    def verdict(ok: bool) -> str:
        return f"[green]{text('bench.met', lang)}[/]" if ok else \
            f"[red]{text('bench.missed', lang)}[/]"

    if result.events < SIZED_FOR:
        console.print(text("bench.small", lang))
    elif result.step("load", "duckdb"):
        batch = result.batch_seconds("duckdb")
        large = result.events >= 50_000_000
        limit = LARGE_TARGET_S if large else BATCH_TARGET_S
        line = text("bench.target_batch", lang, seconds=batch, limit=limit)
        if large:
            peak = result.batch_peak_mb("duckdb")
            line += " " + text("bench.target_memory", lang, mb=peak, limit=LARGE_TARGET_MB)
            ok = batch <= limit and peak <= LARGE_TARGET_MB
        else:
            ok = batch <= limit
        console.print(f"{line}: {verdict(ok)}")
    floor = result.ratio(("query", "duckdb"), ("floor", "duckdb"))
    if floor is not None:
        console.print(text("bench.target_floor", lang, ratio=floor, limit=FLOOR_TARGET)
                      + f": {verdict(floor <= FLOOR_TARGET)}")
    pandas = result.ratio(("pandas", "pandas"), ("query", "duckdb"))
    if pandas is not None:
        console.print(text("bench.target_pandas", lang, ratio=pandas, limit=PANDAS_TARGET)
                      + f": {verdict(pandas >= PANDAS_TARGET)}")
    if result.differences:
        console.print(f"[red]{text('bench.differ', lang)}[/] " + "; ".join(result.differences))
    else:
        console.print(text("bench.agree", lang))
