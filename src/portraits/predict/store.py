"""Where predictions live: the ``predictions`` table and the saved models.

``predictions`` holds one row per customer, model and output field (``customer_id,
model, version, scored_at, field, value, label``): a model scored again replaces its own
rows and leaves the others. :func:`prediction_columns` turns it into one row per customer
with a column per field (``churn_risk``, ``clv``, ``next_category``…), which the profile
base of tags, segments and exports joins, so predictions read like any profile field.

Models are saved under ``models/`` of the workspace as ``<model>-v<N>.joblib`` with a
``.json`` beside it (when and on what it was trained, its evaluation); the evaluation is
also written for people as ``reports/predictions/<model>-v<N>.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portraits.profile.schema import CUSTOMER_ID

PREDICTIONS: Final = "predictions"
RECOMMENDATIONS: Final = "recommendations"
MODELS_DIR: Final = "models"
REPORTS_DIR: Final = "reports/predictions"

ModelName = Literal["churn", "propensity", "clv", "next_category", "recommend"]
MODELS: Final[tuple[ModelName, ...]] = ("churn", "propensity", "clv", "next_category",
                                        "recommend")
FieldKind = Literal["number", "string"]


@dataclass(frozen=True)
class PredictionField:
    """One column predictions add to the profile base."""

    name: str
    model: ModelName
    kind: FieldKind
    en: str
    zh: str


PREDICTION_FIELDS: Final[tuple[PredictionField, ...]] = (
    PredictionField("churn_risk", "churn", "number",
                    "probability of no purchase in the next horizon (buyers)",
                    "流失风险：下一周期内不再购买的概率（已购客户）"),
    PredictionField("purchase_propensity", "propensity", "number",
                    "probability of a purchase in the next horizon", "下一周期内购买的概率"),
    PredictionField("p_alive", "clv", "number", "probability the customer is still active",
                    "仍为活跃客户的概率"),
    PredictionField("expected_purchases", "clv", "number",
                    "expected purchases over the CLV horizon", "CLV 周期内的预期购买次数"),
    PredictionField("expected_spend", "clv", "number", "expected spend per purchase (CNY)",
                    "预期客单价（元）"),
    PredictionField("clv", "clv", "number",
                    "expected lifetime value over the horizon, discounted (CNY)",
                    "预期客户终身价值（折现，元）"),
    PredictionField("next_category", "next_category", "string",
                    "category most likely bought next", "最可能购买的下一个品类"),
    PredictionField("next_category_probability", "next_category", "number",
                    "probability of that category among the customer's candidates",
                    "该品类的预测概率"),
)
FIELDS_BY_NAME: Final = {f.name: f for f in PREDICTION_FIELDS}

PREDICTIONS_SCHEMA: Final = ibis.schema({
    CUSTOMER_ID: "string", "model": "string", "version": "string",
    "scored_at": "timestamp", "field": "string", "value": "float64", "label": "string"})


def prediction_rows(scores: pa.Table, model: ModelName, version: str,
                    scored_at: datetime) -> pa.Table:
    """Long rows of ``predictions`` from one model's scores (one row per customer and
    each of the model's fields present in ``scores``)."""
    parts = []
    for spec in PREDICTION_FIELDS:
        if spec.model != model or spec.name not in scores.column_names:
            continue
        column = scores.column(spec.name)
        count = scores.num_rows
        numeric = spec.kind == "number"
        parts.append(pa.table({
            CUSTOMER_ID: scores.column(CUSTOMER_ID).cast(pa.string()),
            "model": pa.array([model] * count, pa.string()),
            "version": pa.array([version] * count, pa.string()),
            "scored_at": pa.array([scored_at] * count, pa.timestamp("us")),
            "field": pa.array([spec.name] * count, pa.string()),
            "value": column.cast(pa.float64()) if numeric else pa.nulls(count, pa.float64()),
            "label": pa.nulls(count, pa.string()) if numeric else column.cast(pa.string()),
        }))
    if not parts:
        raise ValueError(f"scores of model '{model}' hold none of its fields")
    return pa.concat_tables(parts)


def prediction_columns(predictions: ir.Table | None) -> ir.Table | None:
    """One row per customer with a column per prediction field (null where a model did
    not score the customer); None when nothing was scored yet."""
    if predictions is None:
        return None
    t = predictions
    columns: dict[str, ir.Value] = {}
    for spec in PREDICTION_FIELDS:
        mine = t.field == spec.name
        columns[spec.name] = (t.value.max(where=mine) if spec.kind == "number"
                              else t.label.max(where=mine))
    return t.group_by(CUSTOMER_ID).aggregate(**columns)


def null_columns() -> dict[str, ir.Value]:
    """Every prediction field as a typed null (the base before anything is scored)."""
    return {f.name: ibis.null("float64" if f.kind == "number" else "string")
            for f in PREDICTION_FIELDS}


# --- saved models -------------------------------------------------------------------

_VERSION = re.compile(r"^(?P<model>[a-z_]+)-v(?P<n>\d+)\.joblib$")


def next_version(root: Path, model: ModelName) -> str:
    """``v1`` for a model never trained in this workspace, then ``v2``, …"""
    found = [int(m["n"]) for p in (root / MODELS_DIR).glob(f"{model}-v*.joblib")
             if (m := _VERSION.match(p.name)) and m["model"] == model]
    return f"v{max(found, default=0) + 1}"


def latest_version(root: Path, model: ModelName) -> str | None:
    """The newest saved version of ``model``; None if it was never trained."""
    found = [int(m["n"]) for p in (root / MODELS_DIR).glob(f"{model}-v*.joblib")
             if (m := _VERSION.match(p.name)) and m["model"] == model]
    return f"v{max(found)}" if found else None


def model_path(root: Path, model: ModelName, version: str) -> Path:
    """Where a version of a model is saved."""
    return root / MODELS_DIR / f"{model}-{version}.joblib"


def save_model(root: Path, model: ModelName, version: str, fitted: object,
               meta: dict[str, Any]) -> Path:
    """Save a fitted model and its metadata (JSON beside it); returns the model file.

    The model is pickled with joblib: load it only from a workspace you trust, as any
    pickle.
    """
    import joblib  # type: ignore[import-untyped]

    path = model_path(root, model, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(fitted, path, compress=3)
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=2,
                                                    default=str), encoding="utf-8")
    return path


def load_model(root: Path, model: ModelName, version: str) -> Any:
    """A saved model."""
    import joblib

    return joblib.load(model_path(root, model, version))


def load_meta(root: Path, model: ModelName, version: str) -> dict[str, Any]:
    """The metadata saved with a model."""
    text = model_path(root, model, version).with_suffix(".json").read_text(encoding="utf-8")
    return dict(json.loads(text))
