"""``ws.predict``: train, evaluate and score the prediction models, and recommend.

Trained models are saved in the workspace (``models/<model>-v<N>.joblib``) with their
evaluation (``reports/predictions/<model>-v<N>.md`` and ``.json``); scores go to the
``predictions`` table, recommendations to ``recommendations``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pyarrow as pa

from portraits.errors import PortraitsError, did_you_mean
from portraits.predict.store import (
    MODELS,
    PREDICTIONS,
    PREDICTIONS_SCHEMA,
    RECOMMENDATIONS,
    REPORTS_DIR,
    ModelName,
)
from portraits.profile.schema import CUSTOMER_ID

if TYPE_CHECKING:
    from portraits.i18n import Lang
    from portraits.predict.inputs import PredictInputs, SharedQueries, ToArrow
    from portraits.predict.models import Evaluation
    from portraits.workspace.facade import Workspace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainedModel:
    """A model trained and saved: where, when, and how it did on the held-out window."""

    model: ModelName
    version: str
    path: Path
    report: Path
    trained_at: datetime
    as_of: datetime
    evaluation: Evaluation


@dataclass(frozen=True)
class Scored:
    """What one model's scoring wrote."""

    model: ModelName
    version: str
    customers: int
    scored_at: datetime


class PredictNamespace:
    """Prediction models over the workspace (``ws.predict``).

    Example:
        >>> ws.predict.train("churn").evaluation.summary("en")       # doctest: +SKIP
        >>> ws.predict.score()                                       # doctest: +SKIP
        >>> ws.segments.count(SegmentSpec(id="at_risk", where={"field": "churn_risk",
        ...                   "op": ">=", "value": 0.7}))          # doctest: +SKIP
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._shared: SharedQueries | None = None
        self._now: datetime | None = None

    @contextlib.contextmanager
    def shared_queries(self, as_of: datetime | None = None) -> Iterator[SharedQueries]:
        """Within the block, a query two models run alike runs once (churn and propensity
        read the same feature frames), and "now" is one moment: trainings and scorings
        that take no ``as_of`` of their own are as of ``as_of`` (the workspace's current
        time when the block starts), so their point-in-time queries are the same. Only for
        blocks that train or score: the data must not change inside.

        Example:
            >>> with ws.predict.shared_queries():                     # doctest: +SKIP
            ...     for model in ("churn", "propensity"):
            ...         ws.predict.train(model)
        """
        from portraits.predict.inputs import SharedQueries

        if self._shared is not None:  # nested: the outer block's results and time serve
            yield self._shared
            return
        self._shared = SharedQueries(self._ws.engine.to_arrow)
        self._now = as_of or self._ws.settings.current_time()
        try:
            yield self._shared
        finally:
            self._shared, self._now = None, None

    def _as_of(self, as_of: datetime | None) -> datetime:
        """The given time, else the shared block's moment, else the current time."""
        return as_of or self._now or self._ws.settings.current_time()

    def _to_arrow(self) -> ToArrow:
        return self._shared or self._ws.engine.to_arrow

    def inputs(self) -> PredictInputs:
        """The canonical tables with each record's ``customer_id``."""
        from portraits.predict.inputs import EVENT_COLUMNS, PredictInputs

        ws = self._ws
        for name in ("orders", "order_items", "products"):
            if not ws.engine.has_table(name):
                raise PortraitsError(f"predictions need the '{name}' table; load it with "
                                     "'portraits load' first")
        has = ws.engine.has_table
        return PredictInputs(
            orders=ws.analytics.table("orders"), order_items=ws.table("order_items"),
            products=ws.table("products"),
            events=ws.analytics.table("events", EVENT_COLUMNS) if has("events") else None,
            profiles=ws.profiles.table() if has("profiles") else None,
            interests=ws.profiles.interests() if has("profile_interests") else None)

    def train(self, model: str, as_of: datetime | None = None,
              progress: Progress | None = None, lang: Lang | None = None) -> TrainedModel:
        """Train a model, evaluate it on the latest held-out window, save both.

        Args:
            model: ``churn``, ``propensity``, ``clv``, ``next_category`` or ``recommend``.
            as_of: Train with the data up to here; by default the workspace's current
                time (inside :meth:`shared_queries`, the block's moment).
            progress: Called with a short message as each step starts.
            lang: Language of the saved report; the settings' when omitted.
        """
        from portraits.predict.models import train_model
        from portraits.predict.store import next_version, save_model

        ws = self._ws
        name = check_model(model)
        as_of = self._as_of(as_of)
        spec = ws.spec.predict
        trained = train_model(name, self.inputs(), self._to_arrow(), as_of, spec, progress)
        version = next_version(ws.root, name)
        trained_at = datetime.now().replace(microsecond=0)
        meta = {"model": name, "version": version, "trained_at": trained_at.isoformat(),
                "as_of": as_of.isoformat(), "engine": ws.engine.name,
                "settings": spec.model_dump(), **trained.details,
                "evaluation": trained.evaluation.to_dict()}
        path = save_model(ws.root, name, version, trained.fitted, meta)
        report = self._write_report(name, version, meta, trained.evaluation, lang)
        return TrainedModel(name, version, path, report, trained_at, as_of,
                            trained.evaluation)

    def _write_report(self, name: ModelName, version: str, meta: dict[str, Any],
                      evaluation: Evaluation, lang: Lang | None) -> Path:
        from portraits.predict.models import report_markdown

        folder = self._ws.root / REPORTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        lang = lang or self._ws.settings.lang
        out = folder / f"{name}-{version}.md"
        out.write_text(report_markdown(name, version, meta, evaluation, lang),
                       encoding="utf-8")
        return out

    def write_report(self, model: str, version: str | None = None,
                     lang: Lang | None = None) -> Path:
        """Write a saved model's evaluation report again (in ``lang``; the settings'
        language when omitted)."""
        from portraits.predict.store import load_meta

        name = check_model(model)
        chosen, evaluation = self.evaluation(name, version)
        return self._write_report(name, chosen, load_meta(self._ws.root, name, chosen),
                                  evaluation, lang)

    def evaluation(self, model: str, version: str | None = None) -> tuple[str, Evaluation]:
        """The evaluation saved with a trained model (the latest version by default)."""
        from portraits.predict.store import load_model

        name = check_model(model)
        chosen = self._version(name, version)
        fitted = load_model(self._ws.root, name, chosen)
        return chosen, fitted.evaluation

    def _version(self, name: ModelName, version: str | None) -> str:
        from portraits.predict.store import latest_version, model_path

        root = self._ws.root
        if version is not None:
            if not model_path(root, name, version).exists():
                raise PortraitsError(f"no saved {name} model {version}; list them with "
                                     "'portraits predict models'")
            return version
        latest = latest_version(root, name)
        if latest is None:
            raise PortraitsError(f"no {name} model trained yet; run 'portraits predict "
                                 f"train {name}'")
        return latest

    def models(self) -> list[dict[str, Any]]:
        """Every saved model version with when and on what it was trained."""
        from portraits.predict.store import MODELS_DIR, load_meta

        found = []
        for path in sorted((self._ws.root / MODELS_DIR).glob("*-v*.json")):
            name, _, version = path.stem.rpartition("-")
            if name in MODELS:
                meta = load_meta(self._ws.root, check_model(name), version)
                found.append({k: meta.get(k) for k in ("model", "version", "trained_at",
                                                       "as_of", "engine")})
        return sorted(found, key=lambda m: (MODELS.index(m["model"]),
                                            int(str(m["version"])[1:])))

    def score(self, models: Sequence[str] = (), as_of: datetime | None = None,
              progress: Progress | None = None) -> list[Scored]:
        """Score every customer with the latest version of each model (all trained ones
        when ``models`` is empty) and store the scores; a model scored again replaces its
        own rows in ``predictions`` (or ``recommendations``). Features are as of ``as_of``:
        by default the workspace's current time (inside :meth:`shared_queries`, the
        block's moment)."""
        from portraits.predict.store import latest_version

        ws = self._ws
        names = [check_model(m) for m in models] or [
            m for m in MODELS if latest_version(ws.root, m) is not None]
        if not names:
            raise PortraitsError("no model trained yet; run 'portraits predict train MODEL'")
        as_of = self._as_of(as_of)
        with self.shared_queries(as_of):  # churn and propensity read the same features
            return self._score(names, as_of, progress)

    def _score(self, names: Sequence[ModelName], as_of: datetime,
               progress: Progress | None) -> list[Scored]:
        from portraits.predict.models import score_model
        from portraits.predict.store import load_model, prediction_rows

        ws = self._ws
        inputs = self.inputs()
        done = []
        for name in names:
            version = self._version(name, None)
            if progress:
                progress(f"{name} {version}")
            fitted = load_model(ws.root, name, version)
            scores = score_model(name, fitted, inputs, self._to_arrow(), as_of,
                                 ws.spec.predict)
            scored_at = ws.settings.current_time()
            if name == "recommend":
                self._store_recommendations(scores, version, scored_at)
            else:
                self._store(name, prediction_rows(scores, name, version, scored_at))
            customers = (len(scores[CUSTOMER_ID].unique()) if name == "recommend"
                         else scores.num_rows)
            done.append(Scored(name, version, customers, scored_at))
        return done

    def _store(self, name: ModelName, rows: pa.Table) -> None:
        engine = self._ws.engine
        staged = engine.materialize(rows)
        new = staged.cast(PREDICTIONS_SCHEMA)
        if engine.has_table(PREDICTIONS):
            kept = engine.table(PREDICTIONS)
            kept = kept.filter(kept.model != name).cast(PREDICTIONS_SCHEMA)
            engine.write(PREDICTIONS, kept.union(new))
        else:
            engine.write(PREDICTIONS, new)
        engine.drop_temporary(staged)

    def _store_recommendations(self, recs: pa.Table, version: str,
                               scored_at: datetime) -> None:
        engine = self._ws.engine
        count = recs.num_rows
        rows = recs.append_column("version", pa.array([version] * count, pa.string())) \
                   .append_column("scored_at", pa.array([scored_at] * count,
                                                        pa.timestamp("us")))
        new = engine.materialize(rows)
        engine.write(RECOMMENDATIONS, new)
        engine.drop_temporary(new)

    def table(self) -> ir.Table:
        """The stored scores, one row per customer, model and field."""
        return self._scored(PREDICTIONS)

    def _scored(self, name: str) -> ir.Table:
        if not self._ws.engine.has_table(name):
            raise PortraitsError(f"no {name} yet; run 'portraits predict train' and "
                                 "'portraits predict score'")
        return self._ws.table(name)

    def columns(self) -> ir.Table:
        """One row per scored customer with a column per prediction field."""
        from portraits.predict.store import prediction_columns

        wide = prediction_columns(self.table())
        assert wide is not None
        return wide

    def recommendations(self, customer: str | None = None) -> ir.Table:
        """Stored recommendations with product name, category, brand and price (one
        customer's when a customer id is given)."""
        ws = self._ws
        recs = self._scored(RECOMMENDATIONS)
        if customer is not None:
            recs = recs.filter(recs[CUSTOMER_ID] == customer)
        products = ws.table("products").select("product_id", "name", "category_path",
                                               "brand", "price")
        joined = recs.left_join(products, "product_id").drop("product_id_right")
        return joined.order_by([CUSTOMER_ID, "rank"])

    def recommend(self, identifier: str, k: int | None = None) -> pa.Table:
        """Recommendations for one customer found by any identifier (as ``portraits
        profile show`` finds them), computed now with the latest recommendation model."""
        from portraits.predict.models import score_model
        from portraits.predict.store import load_model

        ws = self._ws
        customer = self._customer(identifier)
        version = self._version("recommend", None)
        fitted = load_model(ws.root, "recommend", version)
        spec = ws.spec.predict
        if k is not None:
            spec = spec.model_copy(update={"recommendations": k})
        recs = score_model("recommend", fitted, self.inputs(), ws.engine.to_arrow,
                           ws.settings.current_time(), spec, customers=[customer])
        products = ws.table("products").select("product_id", "name", "category_path",
                                               "brand", "price")
        mine = ws.engine.materialize(recs)
        table = mine.left_join(products, "product_id").drop("product_id_right")
        found = ws.engine.to_arrow(table.order_by("rank"))
        ws.engine.drop_temporary(mine)
        return found


    def _customer(self, identifier: str) -> str:
        """The customer id of ``identifier``: a profiled customer id as it is, anything
        else through identity resolution (as ``portraits profile show`` finds people)."""
        ws = self._ws
        if ws.engine.has_table("profiles"):
            profiles = ws.profiles.table()
            if ws.engine.count(profiles.filter(profiles[CUSTOMER_ID] == identifier)):
                return identifier
        return ws.profiles.get(identifier, events=0).customer_id


def check_model(model: str) -> ModelName:
    """``model`` if it names a model, else an error with a hint."""
    if model in MODELS:
        return model  # type: ignore[return-value]
    hint = did_you_mean(model, MODELS)
    raise PortraitsError(f"no model '{model}'" + (f" ({hint})" if hint else "")
                         + f"; models: {', '.join(MODELS)}")
