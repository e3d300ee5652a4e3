"""One way in for every model: train (with its held-out evaluation), score, report.

``ws.predict`` and the CLI call :func:`train_model` and :func:`score_model` by model name;
each model module keeps its own types. The fitted object saved for a model always has an
``evaluation`` with ``to_dict()`` and ``summary(lang)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from portraits.i18n import Lang, text
from portraits.predict.inputs import PredictInputs, ToArrow
from portraits.predict.spec import PredictSpec
from portraits.predict.store import ModelName
from portraits.profile.schema import CUSTOMER_ID

Progress = Callable[[str], None]


class Evaluation(Protocol):
    """What every model's evaluation offers."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""

    def summary(self, lang: Any = "en") -> list[tuple[str, str]]:
        """Headline figures as (label, formatted value), in ``lang`` (en or zh-CN)."""


@dataclass(frozen=True)
class Trained:
    """A fitted model (picklable) and its evaluation on the held-out window."""

    fitted: Any
    evaluation: Evaluation
    details: dict[str, Any] = field(default_factory=dict)


def train_model(name: ModelName, inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
                spec: PredictSpec, progress: Progress | None = None) -> Trained:
    """Train model ``name`` on the data up to ``as_of`` and evaluate it on the latest
    window the training did not see."""
    say = progress or (lambda _message: None)
    trained_at = datetime.now().replace(microsecond=0)
    if name in ("churn", "propensity"):
        from portraits.predict.classify import ClassifierSpec, train_classifier

        say(f"{name}: features, training windows, holdout")
        classifier = train_classifier(inputs, to_arrow, as_of, ClassifierSpec(
            task=name, horizon_days=spec.horizon_days,
            training_windows=spec.training_windows, seed=spec.seed), trained_at)
        return Trained(classifier, classifier.evaluation)
    if name == "next_category":
        from portraits.predict.nextcat import NextCategorySpec, train_next_category

        say("next category: candidates, training windows, holdout")
        model = train_next_category(inputs, to_arrow, as_of, NextCategorySpec(
            horizon_days=spec.horizon_days, training_windows=spec.training_windows,
            seed=spec.seed), trained_at)
        return Trained(model, model.evaluation)
    if name == "clv":
        from portraits.predict.lifetime import parameters, train_clv

        say("CLV: calibration fit, holdout, final fit")
        clv = train_clv(inputs, to_arrow, as_of, spec)
        return Trained(clv, clv.evaluation, {"parameters": parameters(clv)})
    from portraits.predict.recommend import RecommendSpec, fit_recommender
    from portraits.predict.recs_eval import evaluate_recommender

    recs = RecommendSpec(seed=spec.seed)
    say("recommendations: time-split evaluation")
    evaluation = evaluate_recommender(inputs, to_arrow, as_of - timedelta(
        days=spec.horizon_days), recs, horizon_days=spec.horizon_days,
        k=spec.recommendations)
    say("recommendations: fit on all data")
    return Trained(FittedRecommender(fit_recommender(inputs, to_arrow, as_of, recs),
                                     evaluation), evaluation)


@dataclass(frozen=True)
class FittedRecommender:
    """The recommender fitted on all data, with the evaluation of its time split."""

    recommender: Any
    evaluation: Any


def score_model(name: ModelName, fitted: Any, inputs: PredictInputs, to_arrow: ToArrow,
                as_of: datetime, spec: PredictSpec,
                customers: Sequence[str] | None = None) -> pa.Table:
    """Scores of every customer (or of ``customers``, for recommendations) as of
    ``as_of``: ``customer_id`` and the model's prediction fields
    (:data:`~portraits.predict.store.PREDICTION_FIELDS`); recommendations are
    ``customer_id, rank, product_id, score, reason``."""
    if name in ("churn", "propensity"):
        scores = fitted.score(inputs, to_arrow, as_of)
        column = "churn_risk" if name == "churn" else "purchase_propensity"
        return pa.table({CUSTOMER_ID: scores[CUSTOMER_ID], column: scores["score"]})
    if name == "next_category":
        scores = fitted.score(inputs, to_arrow, as_of)
        return pa.table({CUSTOMER_ID: scores[CUSTOMER_ID],
                         "next_category": scores["next_category"],
                         "next_category_probability": scores["probability"]})
    if name == "clv":
        scored: pa.Table = fitted.score(inputs, to_arrow, as_of, spec)
        return scored
    recommender = fitted.recommender
    return recommender.recommend(list(customers) if customers is not None else None,
                                 k=spec.recommendations)  # type: ignore[no-any-return]


def detail_tables(name: str, evaluation: Any, lang: Lang) -> list[tuple[str, list[dict[str,
                                                                                         Any]]]]:
    """The evaluation's tables beyond the summary, each with a title in ``lang``."""
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    if name in ("churn", "propensity"):
        tables += [(text("pr.importances_title", lang), evaluation.importance_rows(lang)),
                   (text("pr.lift_title", lang), evaluation.lift_rows()),
                   (text("pr.calibration_title", lang), evaluation.calibration_rows())]
    elif name in ("recommend", "next_category"):
        rows = [{**row, **{key: text(f"pr.method.{row[key]}", lang)
                           for key in ("model", "method") if key in row}}
                for row in evaluation.rows()]
        tables.append((text("pr.baselines_title", lang), rows))
    elif name == "clv":
        tables.append((text("pr.clv_frequency_title", lang), evaluation.rows()))
    return tables


def report_markdown(name: ModelName, version: str, meta: dict[str, Any], evaluation: Any,
                    lang: Lang) -> str:
    """The evaluation report of a trained model as Markdown."""
    title = text("pr.evaluation_title", lang, model=text(f"pr.model.{name}", lang),
                 version=version)
    lines = [f"# {title}", "",
             f"- {text('pr.trained_at', lang)}: {meta.get('trained_at')}",
             f"- {text('pr.as_of', lang)}: {meta.get('as_of')}",
             f"- {text('pr.engine', lang)}: {meta.get('engine')}", "",
             f"| {text('pr.metric', lang)} | {text('value', lang)} |", "|---|---:|"]
    lines += [f"| {label} | {value} |" for label, value in evaluation.summary(lang)]
    for heading, rows in detail_tables(name, evaluation, lang):
        if not rows:
            continue
        columns = list(rows[0])
        lines += ["", f"## {heading}", "",
                  "| " + " | ".join(text(f"pr.{c}", lang) for c in columns) + " |",
                  "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(format_cell(r.get(c)).replace("|", "\\|")
                                    for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def format_cell(value: Any) -> str:
    """A table cell as people read it: "–" for nothing, thousands separators, three
    decimals for small numbers."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
