"""``portraits analyze describe|funnel|paths|retention|clusters|basket|sentiment``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from portraits.cli.common import console_lang as _console_lang
from portraits.cli.common import open_workspace as _open
from portraits.cli.common import run_friendly as _run
from portraits.i18n import Lang, text

if TYPE_CHECKING:
    import pandas as pd

    from portraits.analytics.funnel import Exclusion
    from portraits.analytics.result import Analysis
    from portraits.workspace.facade import Workspace

analyze_app = typer.Typer(
    name="analyze", no_args_is_help=True, rich_markup_mode="markdown",
    help="Behaviour analytics (洞察分析): describe a segment, funnels, paths, retention, "
         "clusters, basket rules, review sentiment. Every command prints Rich tables and can "
         "save its chart (--chart: .png/.svg/.pdf image, .json ECharts option) and its table "
         "(--out: .csv/.xlsx/.parquet).")
WorkspaceDir = Annotated[Path, typer.Option("--path", "-p",
                                            help="Workspace folder (holds portraits.yaml).")]
ChartFile = Annotated[Path | None, typer.Option(
    "--chart", help="Save the chart: .png, .svg or .pdf (image) or .json (ECharts option).")]
OutFile = Annotated[Path | None, typer.Option(
    "--out", help="Save the table: .csv (UTF-8 with BOM), .xlsx or .parquet.")]
Since = Annotated[datetime | None, typer.Option(help="From this date/time on.")]
Until = Annotated[datetime | None, typer.Option(help="Before this date/time.")]
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s|w)\s*$")
UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: str) -> timedelta:
    """``14d``, ``2h``, ``30m``, ``45s``, ``1w`` → a timedelta."""
    found = DURATION.match(value)
    if not found:
        raise typer.BadParameter(f"'{value}' is not a duration; write e.g. 14d, 12h, 30m, 1w")
    return timedelta(seconds=float(found.group(1)) * UNITS[found.group(2)])


def print_frame(console: Console, title: str, frame: pd.DataFrame, lang: Lang,
                percent: tuple[str, ...] = (), limit: int = 50) -> None:
    """A DataFrame as a Rich table: numbers right-aligned, shares as percentages."""
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iuf"
        # text() gives the column's own name back when it has no translation.
        table.add_column(text(f"an.{column}", lang), justify="right" if numeric else "left")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*(_cell(v, c in percent) for v, c in zip(row, frame.columns,
                                                                strict=True)))
    console.print(table)


def _cell(value: Any, percent: bool) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "✓" if value else ""
    if percent:
        return f"{float(value):.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def save_outputs(console: Console, result: Analysis, lang: Lang, chart: Path | None,
                 out: Path | None) -> None:
    """Write the chart and the table where asked, and say where."""
    if chart is not None:
        if chart.suffix.lower() == ".json":
            chart.parent.mkdir(parents=True, exist_ok=True)
            chart.write_text(result.chart(lang).to_json(), encoding="utf-8")
        else:
            try:
                result.save_chart(chart, lang)
            except ValueError as exc:
                from portraits.errors import PortraitsError

                raise PortraitsError(str(exc)) from None
        console.print(text("an.saved", lang, path=chart))
    if out is not None:
        write_table(result.to_pandas(), out)
        console.print(text("an.saved", lang, path=out))


def write_table(frame: pd.DataFrame, out: Path) -> None:
    """A table to CSV (UTF-8 with BOM, opens in Excel), Excel or Parquet."""
    from portraits.errors import PortraitsError

    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        frame.to_excel(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        raise PortraitsError(f"cannot write a table to '{out.name}': use .csv, .xlsx or "
                             ".parquet")


@analyze_app.command("funnel")
def funnel(
    steps: Annotated[list[str], typer.Argument(help="Event names of the steps, in order.")],
    path: WorkspaceDir = Path("."),
    window: Annotated[str, typer.Option(help="Conversion window from step 1: 14d, 2h …")] = "14d",
    order: Annotated[str, typer.Option(help="sequential, strict or any.")] = "sequential",
    exclude: Annotated[list[str] | None, typer.Option(
        help="EVENT:X-Y — leave out people who did EVENT between steps X and Y.")] = None,
    breakdown: Annotated[str | None, typer.Option(
        help="An event column of step 1 (platform, channel, utm_source …) or a profile "
             "field or tag (city_tier, value_layer …).")] = None,
    segment: Annotated[list[str] | None, typer.Option(
        help="Break down by these segments (repeat the option).")] = None,
    since: Since = None, until: Until = None, chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Funnel: people per step within a conversion window, conversion overall and from the
    previous step, drop-off and median time between steps (PostHog's definitions)."""
    if order not in ("sequential", "strict", "any"):
        raise typer.BadParameter("use sequential, strict or any", param_hint="--order")
    exclusions = [_exclusion(e) for e in exclude or []]
    span = parse_duration(window)

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            result = ws.analytics.funnel(steps, span, order, exclusions,  # type: ignore[arg-type]
                                         breakdown, segment or [], since, until)
        frame = _funnel_frame(result.to_pandas(), lang)
        print_frame(console, result.chart(lang).title, frame, lang,
                    percent=("conversion", "from_previous"))
        console.print(result.takeaway(lang))
        save_outputs(console, result, lang, chart, out)

    _run(action)


def _exclusion(value: str) -> Exclusion:
    from portraits.analytics.funnel import Exclusion

    found = re.match(r"^(.+):(\d+)-(\d+)$", value)
    if not found:
        raise typer.BadParameter(f"'{value}': write EVENT:X-Y, e.g. 'Order Cancelled:1-3'",
                                 param_hint="--exclude")
    return Exclusion(event=found.group(1), after=int(found.group(2)),
                     before=int(found.group(3)))


def _funnel_frame(frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    import pandas as pd

    from portraits.analytics.result import duration_text
    from portraits.model.events import event_label

    shown = frame.copy()
    if set(shown["group"]) == {"all"}:
        shown = shown.drop(columns="group")
    shown["event"] = [event_label(e, lang) for e in shown["event"]]
    shown["median_time"] = [None if pd.isna(v) else duration_text(v, lang)
                            for v in shown.pop("median_seconds")]
    return shown


@analyze_app.command("paths")
def paths(
    path: WorkspaceDir = Path("."),
    start: Annotated[str | None, typer.Option(help="Follow paths from this event.")] = None,
    end: Annotated[str | None, typer.Option(help="Follow paths that lead to this event.")] = None,
    steps: Annotated[int, typer.Option(min=2, max=20, help="Steps per path.")] = 5,
    session_gap: Annotated[str, typer.Option(help="Idle time that ends a session.")] = "30m",
    keep_repeats: Annotated[bool, typer.Option(
        help="Keep consecutive repeats of one event as separate steps.")] = False,
    since: Since = None, until: Until = None, top: Annotated[int, typer.Option(
        help="Transitions to print.")] = 20, chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Paths: the commonest transitions from or to an event in sessions (split at 30
    minutes idle), and where people leave. The chart is a Sankey."""
    gap = parse_duration(session_gap)

    def action() -> None:
        from portraits.model.events import event_label

        console, lang = _console_lang()
        with _open(path) as ws:
            result = ws.analytics.paths(start, end, steps, gap, not keep_repeats, (), since,
                                        until)
        frame = result.top(top)
        for column in ("source", "target"):
            frame[column] = [text("an.exit", lang) if v == "(exit)" else event_label(v, lang)
                             for v in frame[column]]
        print_frame(console, result.chart(lang).title, frame, lang, percent=("share",))
        exits = result.exits().head(10)
        exits["event"] = [event_label(v, lang) for v in exits["event"]]
        print_frame(console, text("an.exits_title", lang), exits, lang, percent=("share",))
        console.print(result.takeaway(lang))
        save_outputs(console, result, lang, chart, out)

    _run(action)


@analyze_app.command("retention")
def retention(
    path: WorkspaceDir = Path("."),
    start_event: Annotated[str | None, typer.Option(
        help="Cohort event (any event when omitted).")] = None,
    return_event: Annotated[str | None, typer.Option(
        help="Return event (any event when omitted).")] = None,
    recurring: Annotated[bool, typer.Option(
        help="Cohorts by every start event, not only the first-ever one.")] = False,
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    periods: Annotated[int, typer.Option(min=1, max=120, help="Periods after 0.")] = 8,
    on_or_after: Annotated[bool, typer.Option(
        help="Retained in period N = came back in N or later.")] = False,
    repurchase: Annotated[bool, typer.Option(
        help="Repurchase rate from the orders table (first order → ordered again, on or "
             "after; by month unless --period).")] = False,
    since: Since = None, until: Until = None, chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Retention: of the people who started in a period, the share who came back in each
    later period (day/week/month, "on" or "on or after"); --repurchase for repurchase."""
    if period not in ("day", "week", "month"):
        raise typer.BadParameter("use day, week or month", param_hint="--period")

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            if repurchase:
                result = ws.analytics.repurchase(period, periods, since,  # type: ignore[arg-type]
                                                 until)
            else:
                result = ws.analytics.retention(
                    start_event, return_event, "recurring" if recurring else "first_time",
                    period, periods, "on_or_after" if on_or_after else "on",  # type: ignore[arg-type]
                    since, until)
        frame = result.to_pandas()
        frame["cohort"] = frame["cohort"].astype(str)
        rates = tuple(c for c in frame.columns if c not in ("cohort", "size"))
        print_frame(console, result.chart(lang).title, frame, lang, percent=rates, limit=60)
        console.print(result.takeaway(lang))
        save_outputs(console, result, lang, chart, out)

    _run(action)



@analyze_app.command("describe")
def describe(
    segment: Annotated[str, typer.Argument(help="A segment id (segments/*.yaml).")],
    path: WorkspaceDir = Path("."),
    top: Annotated[int, typer.Option(min=1, help="Features to print and chart.")] = 15,
    chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Describe a segment against the whole base: every profile field and tag, over- and
    under-indexing ("Tier-1 cities ×1.8"), sorted by what distinguishes it most."""

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            result = ws.analytics.describe(segment, top)
        frame = result.top_features(top).copy()
        frame.insert(0, "feature", [result.phrase(row, lang, detail=False)
                                    for row in frame.to_dict("records")])
        for side in ("segment", "base"):  # shares as percentages, means as numbers
            frame[side] = [_cell(v, m == "share") for v, m in zip(frame[side], frame["measure"],
                                                                  strict=True)]
        print_frame(console, result.chart(lang).title, frame[
            ["feature", "segment", "base", "index", "effect"]], lang)
        for line in result.sentences(lang, 5):
            console.print(f"• {line}")
        save_outputs(console, result, lang, chart, out)

    _run(action)


@analyze_app.command("clusters")
def clusters(
    path: WorkspaceDir = Path("."),
    k: Annotated[int | None, typer.Option(
        help="Number of clusters; chosen by silhouette when omitted.")] = None,
    min_k: Annotated[int, typer.Option(min=2, help="Smallest k to try.")] = 2,
    max_k: Annotated[int, typer.Option(min=2, help="Largest k to try.")] = 8,
    features: Annotated[str | None, typer.Option(
        help="Comma-separated profile fields and tags to cluster on.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same clusters).")] = 42,
    save: Annotated[int | None, typer.Option(
        help="Save this cluster as a segment (with --segment-id).")] = None,
    segment_id: Annotated[str | None, typer.Option(help="Id of the saved segment.")] = None,
    replace: Annotated[bool, typer.Option(help="Replace a segment of that id.")] = False,
    chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Discover segments: k-means over profile features (numbers and categories weighted
    alike), k chosen by silhouette, each cluster described in plain words; --save N
    --segment-id ID keeps a cluster as a segment."""
    if save is not None and not segment_id:
        raise typer.BadParameter("--save needs --segment-id", param_hint="--segment-id")
    chosen = [f.strip() for f in features.split(",") if f.strip()] if features else None

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws, console.status("clustering"):
            result = ws.analytics.clusters(k, (min_k, max_k), chosen, seed)
            saved = (ws.analytics.save_cluster(result, save, segment_id or "", replace)
                     if save is not None else None)
        frame = result.selection()
        print_frame(console, text("an.k_selection", lang), frame, lang)
        for line in result.summary(lang):
            console.print(f"• {line}")
        console.print(result.takeaway(lang))
        if saved is not None:
            console.print(text("an.saved", lang, path=saved))
        save_outputs(console, result, lang, chart, out)

    _run(action)


@analyze_app.command("basket")
def basket(
    path: WorkspaceDir = Path("."),
    level: Annotated[str, typer.Option(
        help="product, category or category_path.")] = "product",
    min_support: Annotated[float, typer.Option(
        help="Least share of baskets holding an itemset.")] = 0.001,
    min_confidence: Annotated[float, typer.Option(help="Least confidence of a rule.")] = 0.0,
    min_lift: Annotated[float, typer.Option(help="Least lift of a rule.")] = 1.0,
    max_len: Annotated[int, typer.Option(min=2, help="Largest itemset.")] = 3,
    top: Annotated[int, typer.Option(min=1, help="Rules to print and chart.")] = 10,
    method: Annotated[str, typer.Option(
        help="auto (sparse matrices on one machine, relational on Spark), matrix or "
             "relational.")] = "auto",
    substitutes: Annotated[bool, typer.Option(
        help="Also find substitutes (viewed together, rarely bought together).")] = True,
    chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Basket rules: bought together (support, confidence, lift) from paid orders, and
    substitutes from product views."""
    from portraits.analytics.basket import BasketSpec

    def action() -> None:
        console, lang = _console_lang()
        spec = BasketSpec(level=level, min_support=min_support,  # type: ignore[arg-type]
                          min_confidence=min_confidence, min_lift=min_lift, max_len=max_len,
                          top=top, method=method)  # type: ignore[arg-type]
        with _open(path) as ws, console.status("mining baskets"):
            result = ws.analytics.basket(spec, substitutes)
        print_basket(console, result, lang, top)
        if substitutes:
            pairs = result.substitutes().head(top)[
                ["name_a", "name_b", "category_a", "co_views", "co_purchases",
                 "bought_together_share", "substitute_score"]]
            print_frame(console, text("an.substitutes_title", lang), pairs, lang,
                        percent=("bought_together_share",))
        save_outputs(console, result, lang, chart, out)

    _run(action)


def print_basket(console: Console, result: Any, lang: Lang, top: int) -> None:
    """The top rules by lift, and the takeaway."""
    rules = result.to_pandas().head(top)
    frame = rules.assign(antecedent=rules["antecedent_names"],
                         consequent=rules["consequent_names"])[
        ["antecedent", "consequent", "support", "confidence", "lift", "count"]]
    print_frame(console, result.chart(lang).title, frame, lang,
                percent=("support", "confidence"))
    console.print(result.takeaway(lang))


DEMO_FUNNEL = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


def demo_analytics(console: Console, ws: Workspace, lang: Lang) -> None:
    """The demo's analytics: the purchase funnel, monthly repurchase, review sentiment
    with the top complaint per category, top basket rules."""
    with console.status("analysing"):
        funnel_result = ws.analytics.funnel(DEMO_FUNNEL)
        repurchase = ws.analytics.repurchase(periods=6)
    print_frame(console, funnel_result.chart(lang).title,
                _funnel_frame(funnel_result.to_pandas(), lang), lang,
                percent=("conversion", "from_previous"))
    console.print(funnel_result.takeaway(lang))
    frame = repurchase.to_pandas().tail(12)
    frame["cohort"] = frame["cohort"].astype(str)
    print_frame(console, repurchase.chart(lang).title, frame, lang,
                percent=tuple(c for c in frame.columns if c not in ("cohort", "size")))
    console.print(repurchase.takeaway(lang))
    print_basket(console, ws.analytics.basket(substitutes=False), lang, 10)
    voice = ws.analytics.sentiment(top=1)  # scores stored before the profiles: reused
    print_frame(console, voice.chart(lang).title, voice.to_pandas()[
        ["category", "reviews", "negative_share", "mean_rating", "top_complaint"]], lang,
        percent=("negative_share",), limit=8)


@analyze_app.command("sentiment")
def sentiment(
    path: WorkspaceDir = Path("."),
    top: Annotated[int, typer.Option(min=1, help="Pain-point keywords per group.")] = 5,
    min_count: Annotated[int, typer.Option(
        min=1, help="Least negative reviews mentioning a keyword.")] = 3,
    products: Annotated[bool, typer.Option(
        help="Also print pain points per product.")] = False,
    chart: ChartFile = None, out: OutFile = None,
) -> None:
    """Review sentiment (Chinese and English; models ship inside their packages): scores
    new reviews, stores them for the profile (review_sentiment, negative_reviews), prints
    sentiment per category and the pain points (most negative keywords)."""

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws, console.status("scoring reviews"):
            result = ws.analytics.sentiment(top, min_count)
        print_frame(console, result.chart(lang).title, result.to_pandas(), lang,
                    percent=("positive_share", "neutral_share", "negative_share"))
        points = result.pain_points("category")
        print_frame(console, text("an.pain_points", lang), points[
            ["category", "rank", "keyword", "negative_reviews", "negative_share"]], lang,
            percent=("negative_share",))
        if products:
            points = result.pain_points("product")
            print_frame(console, text("an.pain_points_products", lang), points[
                ["category", "product_name", "rank", "keyword", "negative_reviews"]], lang)
        console.print(result.chart(lang).option["title"]["subtext"])
        save_outputs(console, result, lang, chart, out)

    _run(action)
