"""``portraits predict train|evaluate|score|recommend|models``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table

from portraits.cli.common import console_lang as _console_lang
from portraits.cli.common import open_workspace as _open
from portraits.cli.common import run_friendly as _run
from portraits.i18n import Lang, text

if TYPE_CHECKING:
    from portraits.predict.models import Evaluation
    from portraits.workspace.facade import Workspace
    from portraits.workspace.predicting import TrainedModel

predict_app = typer.Typer(
    name="predict", no_args_is_help=True, rich_markup_mode="markdown",
    help="Predictions (预测): churn risk, purchase propensity, customer lifetime value "
         "(BG/NBD, Pareto/NBD, Gamma-Gamma), next category and product recommendations "
         "(implicit ALS). Train and evaluate on a held-out window, score every customer "
         "into the 'predictions' table (segments and tags read churn_risk, clv, "
         "next_category… like profile fields), recommend for one customer.")
WorkspaceDir = Annotated[Path, typer.Option("--path", "-p",
                                            help="Workspace folder (holds portraits.yaml).")]
Models = Annotated[list[str] | None, typer.Argument(
    help="churn, propensity, clv, next_category, recommend; all of them when omitted.",
    show_default=False)]
AsOf = Annotated[datetime | None, typer.Option(
    "--as-of", help="Use the data up to this date/time (default: now, or PORTRAITS_NOW).")]


@predict_app.command("train")
def train(models: Models = None, path: WorkspaceDir = Path("."), as_of: AsOf = None) -> None:
    """Train models on earlier windows, evaluate each on the latest held-out window, save
    the model (`models/MODEL-vN.joblib`) and its report (`reports/predictions/MODEL-vN.md`)."""
    from portraits.predict.store import MODELS

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws, ws.predict.shared_queries(as_of):
            for name in models or MODELS:
                with console.status(text("pr.training", lang, model=name)) as status:
                    trained = ws.predict.train(name, as_of, progress=status.update,
                                               lang=lang)
                print_trained(console, trained, lang)

    _run(action)


def print_trained(console: Console, trained: TrainedModel, lang: Lang) -> None:
    """A trained model's headline figures and where its report is."""
    print_summary(console, text("pr.evaluation_title", lang, model=text(
        f"pr.model.{trained.model}", lang), version=trained.version), trained.evaluation, lang)
    console.print(text("pr.report_saved", lang, path=trained.report))


def print_summary(console: Console, title: str, evaluation: Evaluation, lang: Lang) -> None:
    """An evaluation's summary as a two-column table."""
    table = Table(title=title, title_justify="left")
    table.add_column(text("pr.metric", lang))
    table.add_column(text("value", lang), justify="right")
    for label, value in evaluation.summary(lang):
        table.add_row(label, value)
    console.print(table)


def print_rows(console: Console, title: str, rows: list[dict[str, Any]], lang: Lang,
               limit: int = 30) -> None:
    """Rows of dicts as a Rich table; numbers right-aligned."""
    from portraits.predict.models import format_cell

    if not rows:
        return
    table = Table(title=title, title_justify="left")
    columns = list(rows[0])
    for column in columns:
        numeric = isinstance(rows[0][column], int | float)
        table.add_column(text(f"pr.{column}", lang), justify="right" if numeric else "left")
    for row in rows[:limit]:
        table.add_row(*(format_cell(row.get(c)) for c in columns))
    console.print(table)


@predict_app.command("evaluate")
def evaluate(model: Annotated[str, typer.Argument(
                 help="churn, propensity, clv, next_category or recommend.")],
             path: WorkspaceDir = Path("."),
             version: Annotated[str | None, typer.Option(
                 help="A saved version (v1, v2…); the latest when omitted.")] = None) -> None:
    """Print a trained model's whole evaluation (summary, calibration, lift, feature
    importances in plain words, baselines) and save it as `reports/predictions/MODEL-vN.md`."""
    from portraits.predict.models import detail_tables

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            chosen, evaluation = ws.predict.evaluation(model, version)
            name = text(f"pr.model.{model}", lang)
            print_summary(console, text("pr.evaluation_title", lang, model=name,
                                        version=chosen), evaluation, lang)
            for title, rows in detail_tables(model, evaluation, lang):
                print_rows(console, title, rows, lang)
            report = ws.predict.write_report(model, chosen, lang)
            console.print(text("pr.report_saved", lang, path=report))

    _run(action)


@predict_app.command("score")
def score(models: Models = None, path: WorkspaceDir = Path("."), as_of: AsOf = None) -> None:
    """Score every customer with the latest trained version of each model into the
    'predictions' table (recommendations into 'recommendations')."""

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws, console.status(text("pr.scoring", lang)) as status:
            done = ws.predict.score(models or (), as_of, progress=status.update)
        rows = [{"model": text(f"pr.model.{d.model}", lang), "version": d.version,
                 "customers": d.customers} for d in done]
        print_rows(console, text("pr.scored_title", lang), rows, lang)

    _run(action)


@predict_app.command("recommend")
def recommend(customer: Annotated[str, typer.Argument(
                  help="Any identifier: phone as typed, e-mail, member id, WeChat id or "
                       "customer id.")],
              path: WorkspaceDir = Path("."),
              k: Annotated[int | None, typer.Option("-k", min=1, max=100,
                                                    help="How many products.")] = None
              ) -> None:
    """Recommend products for one customer with the latest recommendation model, with
    the reason of each (collaborative filtering, bought together, content, popular)."""

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            recs = ws.predict.recommend(customer, k)
        rows = [{"rank": r["rank"], "product_id": r["product_id"], "name": r["name"],
                 "category_path": r["category_path"], "price": f"{r['price']:,.2f}",
                 "reason": text(f"pr.reason.{r['reason']}", lang),
                 "score": r["score"]} for r in recs.to_pylist()]
        print_rows(console, text("pr.recs_title", lang, customer=customer), rows, lang)

    _run(action)


@predict_app.command("models")
def models_(path: WorkspaceDir = Path(".")) -> None:
    """List the saved model versions with when and on what data they were trained."""

    def action() -> None:
        console, lang = _console_lang()
        with _open(path) as ws:
            found = ws.predict.models()
        if not found:
            console.print(text("pr.no_models", lang))
        print_rows(console, text("pr.models_title", lang), found, lang)

    _run(action)


def demo_predictions(console: Console, ws: Workspace, lang: Lang) -> None:
    """The demo's predictions: train every model (headline figures of each evaluation on
    its held-out window), score everyone, show one customer's recommendations."""
    from portraits.predict.store import MODELS

    table = Table(title=text("pr.demo_title", lang), title_justify="left")
    for key in ("pr.model", "pr.metric", "value"):
        table.add_column(text(key, lang), justify="right" if key == "value" else "left")
    with ws.predict.shared_queries():  # the models' common queries run once
        for name in MODELS:
            with console.status(text("pr.training", lang, model=name)):
                trained = ws.predict.train(name, lang=lang)
            summary = trained.evaluation.summary(lang)
            for i, line in enumerate(HEADLINES[name]):
                label, value = summary[line]
                table.add_row(text(f"pr.model.{name}", lang) if i == 0 else "", label, value)
            table.add_section()
        console.print(table)
        with console.status(text("pr.scoring", lang)):
            done = ws.predict.score()
    print_rows(console, text("pr.scored_title", lang),
               [{"model": text(f"pr.model.{d.model}", lang), "version": d.version,
                 "customers": d.customers} for d in done], lang)
    wide = ws.predict.columns()
    picked = ws.engine.to_arrow(wide.filter(wide.churn_risk.notnull()).order_by(
        wide.clv.desc()).select("customer_id").limit(1)).to_pylist()
    if picked:
        customer = picked[0]["customer_id"]
        recs = ws.engine.to_arrow(ws.predict.recommendations(customer).limit(5)).to_pylist()
        print_rows(console, text("pr.recs_title", lang, customer=customer),
                   [{"rank": r["rank"], "name": r["name"], "category_path": r["category_path"],
                     "price": f"{r['price']:,.2f}",
                     "reason": text(f"pr.reason.{r['reason']}", lang)}
                    for r in recs], lang)


# Which lines of each model's evaluation summary the demo shows: ROC-AUC, PR-AUC and
# lift of the classifiers; CLV's correlation, totals and their error; next category's
# top-1, top-3 and MRR with the best baseline's top-3; the blend's precision, recall,
# NDCG and hit rate.
HEADLINES: Final = {"churn": (0, 1, 5), "propensity": (0, 1, 5), "clv": (4, 5, 6, 7, 11),
                    "next_category": (3, 4, 5, 10), "recommend": (0, 1, 2, 3)}
