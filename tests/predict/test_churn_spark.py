"""A churn model trained on Spark gives the same scores as one trained on DuckDB (the
shop; Spark reads the lake DuckDB wrote): the features agree to the last bit, so the
seeded, sorted training does too."""

from __future__ import annotations

import pyarrow as pa
import pytest

from portraits.predict.classify import ClassifierSpec, train_classifier
from portraits.predict.features import customer_features
from portraits.predict.inputs import PredictInputs
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.shop import Shop

SPEC = ClassifierSpec(task="churn", training_windows=1)


def _run(shop: Shop, engine: str) -> tuple[pa.Table, pa.Table, float]:
    """Features as of NOW, the scores of a model trained there, its holdout ROC-AUC."""
    with Workspace(shop.root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
        assert ws.engine.name == engine
        inputs = PredictInputs(orders=ws.table("orders"), order_items=ws.table("order_items"),
                               products=ws.table("products"),
                               events=ws.analytics.table("events"))
        features = ws.engine.to_arrow(customer_features(inputs, NOW)).sort_by("customer_id")
        model = train_classifier(inputs, ws.engine.to_arrow, NOW, SPEC, trained_at=NOW)
        return features, model.score(inputs, ws.engine.to_arrow), model.evaluation.roc_auc


@pytest.mark.spark
@pytest.mark.slow
def test_churn_scores_agree_on_spark_and_duckdb(shop: Shop) -> None:
    duck_features, duck_scores, duck_auc = _run(shop, "duckdb")
    spark_features, spark_scores, spark_auc = _run(shop, "spark")
    assert duck_features.num_rows > 1000
    assert spark_features.cast(duck_features.schema).equals(duck_features)
    assert duck_scores.num_rows > 400
    assert spark_scores.equals(duck_scores)
    assert spark_auc == duck_auc


def _model_scores(shop: Shop, engine: str) -> dict[str, pa.Table]:
    """CLV, next-category and recommendation scores of models trained on ``engine`` (not
    saved)."""
    from portraits.predict.models import score_model, train_model
    from portraits.predict.spec import PredictSpec

    spec = PredictSpec(training_windows=1)
    with Workspace(shop.root, settings=Settings(now=NOW, lang="en", engine=engine)) as ws:  # type: ignore[arg-type]
        inputs = ws.predict.inputs()
        found = {}
        for name in ("clv", "next_category", "recommend"):
            trained = train_model(name, inputs, ws.engine.to_arrow, NOW, spec)
            found[name] = score_model(name, trained.fitted, inputs, ws.engine.to_arrow, NOW,
                                      spec).sort_by([("customer_id", "ascending")]
                                                    + ([("rank", "ascending")]
                                                       if name == "recommend" else []))
        return found


@pytest.mark.spark
@pytest.mark.slow
def test_clv_next_category_and_recommendations_agree_on_spark_and_duckdb(shop: Shop) -> None:
    duck, spark = _model_scores(shop, "duckdb"), _model_scores(shop, "spark")
    assert duck["recommend"].num_rows >= 10_000
    assert spark["recommend"].select(["customer_id", "rank", "product_id", "reason"]).equals(
        duck["recommend"].select(["customer_id", "rank", "product_id", "reason"]))
    assert duck["clv"].num_rows > 400 and duck["next_category"].num_rows > 1000
    assert spark["next_category"].equals(duck["next_category"])
    assert spark["clv"]["customer_id"].equals(duck["clv"]["customer_id"])
    for column in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert spark["clv"][column].to_numpy() == pytest.approx(
            duck["clv"][column].to_numpy(), rel=1e-9), column
