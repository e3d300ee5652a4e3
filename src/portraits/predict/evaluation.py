"""How good a churn or propensity model is on a holdout window (R5.7): ranking (ROC-AUC,
PR-AUC), probabilities (Brier score, calibration by bin), lift by decile, and which
features matter, said in plain words ("Days since the last order: the higher, the higher
the risk")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from portraits.predict.features import FEATURES

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["churn", "propensity"]
BINS = 10
IMPORTANCE_ROWS = 2_000
IMPORTANCE_REPEATS = 3
BATCH_ROWS = 24_000  # rows per prediction call of permutation importance
# What a score means, per task: (English, Chinese).
OUTCOME = {"churn": ("risk", "风险"), "propensity": ("likelihood", "购买可能性")}


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of predicted probability, ``[low, high)`` (the last one closed)."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class LiftRow:
    """One decile of customers ranked by score, highest first."""

    decile: int
    customers: int
    positives: int
    rate: float
    lift: float
    capture: float  # cumulative share of all positives in deciles 1..this one


@dataclass(frozen=True)
class Importance:
    """Drop in ROC-AUC when a feature is shuffled, and which way it pushes the score."""

    feature: str
    importance: float
    std: float
    direction: int  # +1: higher values, higher score; -1: lower score; 0: no clear sign
    en: str
    zh: str


def _value(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Evaluation:
    """Holdout figures of a model (see :func:`evaluate_scores`)."""

    task: Task
    roc_auc: float
    pr_auc: float
    brier: float
    base_rate: float
    mean_predicted: float
    holdout_rows: int
    calibration: tuple[CalibrationBin, ...]
    lift: tuple[LiftRow, ...]
    importances: tuple[Importance, ...]

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-serialisable (undefined figures are None)."""
        data = asdict(self)
        for key in ("roc_auc", "pr_auc", "brier", "base_rate", "mean_predicted"):
            data[key] = _value(data[key])
        for row in (*data["calibration"], *data["lift"], *data["importances"]):
            for key, value in row.items():
                if isinstance(value, float):
                    row[key] = _value(value)
        return data

    def summary(self, lang: str = "en") -> list[tuple[str, str]]:
        """(label, formatted value) of the headline figures, in English or Chinese."""
        zh = lang == "zh-CN"
        top = self.lift[0].lift if self.lift else float("nan")
        rows = [(("ROC-AUC", "ROC-AUC"), f"{self.roc_auc:.3f}"),
                (("PR-AUC (average precision)", "PR-AUC（平均精度）"), f"{self.pr_auc:.3f}"),
                (("Brier score", "Brier 分数"), f"{self.brier:.4f}"),
                (("Base rate", "基准比例"), f"{self.base_rate:.1%}"),
                (("Mean predicted", "平均预测值"), f"{self.mean_predicted:.1%}"),
                (("Lift of the top decile", "前10%提升度"), f"{top:.2f}×"),
                (("Holdout customers", "验证集客户数"), f"{self.holdout_rows:,}")]
        return [(label[1] if zh else label[0], value) for label, value in rows]

    def calibration_rows(self) -> list[dict[str, Any]]:
        """The calibration table, one dict per non-empty bin."""
        return [asdict(row) for row in self.calibration]

    def lift_rows(self) -> list[dict[str, Any]]:
        """The lift table, one dict per decile (1 = highest scores)."""
        return [asdict(row) for row in self.lift]

    def importance_rows(self, lang: str = "en") -> list[dict[str, Any]]:
        """Features by importance, most important first, each with its plain-words line."""
        zh = lang == "zh-CN"
        return [{"feature": row.feature, "importance": row.importance, "std": row.std,
                 "direction": row.direction, "explanation": row.zh if zh else row.en}
                for row in self.importances]


def calibration_table(y_true: np.ndarray, y_score: np.ndarray,
                      bins: int = BINS) -> tuple[CalibrationBin, ...]:
    """Count, mean predicted and observed rate per bin of equal width in 0..1."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, y_score, side="right") - 1, 0, bins - 1)
    rows = []
    for k in range(bins):
        inside = which == k
        if inside.any():
            rows.append(CalibrationBin(float(edges[k]), float(edges[k + 1]), int(inside.sum()),
                                       float(y_score[inside].mean()),
                                       float(y_true[inside].mean())))
    return tuple(rows)


def lift_table(y_true: np.ndarray, y_score: np.ndarray) -> tuple[LiftRow, ...]:
    """Deciles of customers by score (ties keep their row order), highest first."""
    if len(y_true) == 0:
        return ()
    order = np.argsort(-y_score, kind="stable")
    base = float(y_true.mean())
    total = max(int(y_true.sum()), 1)
    rows, captured = [], 0
    for decile, part in enumerate(np.array_split(order, min(10, len(order))), start=1):
        positives = int(y_true[part].sum())
        captured += positives
        rate = positives / len(part)
        rows.append(LiftRow(decile, len(part), positives, rate,
                            rate / base if base > 0 else float("nan"), captured / total))
    return tuple(rows)


def _direction(values: np.ndarray, y_score: np.ndarray) -> int:
    """Sign of the Spearman correlation of a feature with the score (0 if undefined)."""
    from scipy.stats import spearmanr

    known = ~np.isnan(values)
    if known.sum() < 3 or np.ptp(values[known]) == 0 or np.ptp(y_score[known]) == 0:
        return 0
    rho = float(spearmanr(values[known], y_score[known]).statistic)
    return 0 if math.isnan(rho) or abs(rho) < 0.01 else int(np.sign(rho))


def explain(feature: str, direction: int, task: Task) -> tuple[str, str]:
    """A feature's effect in plain words, in English and Chinese."""
    en, zh = FEATURES.get(feature, (feature.replace("_", " "), feature))
    outcome_en, outcome_zh = OUTCOME[task]
    if direction == 0:
        return (f"{en[:1].upper()}{en[1:]}: no clear direction", f"{zh}：方向不明显")
    word_en, word_zh = ("higher", "越高") if direction > 0 else ("lower", "越低")
    return (f"{en[:1].upper()}{en[1:]}: the higher, the {word_en} the {outcome_en}",
            f"{zh}：越高，{outcome_zh}{word_zh}")


def feature_importances(features: pd.DataFrame, y_true: np.ndarray, y_score: np.ndarray,
                        model: Any, task: Task, seed: int) -> tuple[Importance, ...]:
    """Permutation importance (drop in ROC-AUC) on at most 2,000 holdout rows, seeded."""
    if len(np.unique(y_true)) < 2:
        return ()
    rows = np.arange(len(y_true))
    if len(rows) > IMPORTANCE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, IMPORTANCE_ROWS, replace=False))
    x = features.to_numpy(dtype=np.float64)[rows]
    drops = permutation_drops(model, x, y_true[rows], used_columns(model, x.shape[1]), seed)
    found = []
    for k, name in enumerate(features.columns):
        direction = _direction(x[:, k], y_score[rows])
        en, zh = explain(str(name), direction, task)
        found.append(Importance(str(name), float(drops[k].mean()), float(drops[k].std()),
                                direction, en, zh))
    return tuple(sorted(found, key=lambda row: (-row.importance, row.feature)))


def permutation_drops(model: Any, x: np.ndarray, y_true: np.ndarray, columns: Sequence[int],
                      seed: int, repeats: int = IMPORTANCE_REPEATS) -> np.ndarray:
    """ROC-AUC lost when each of ``columns`` is shuffled, ``repeats`` times each (a row per
    column of ``x``; zeros for the columns left out).

    Written here rather than with scikit-learn's ``permutation_importance`` because that
    one shuffles every column, and a column no tree splits on cannot change a prediction:
    of the 45 features a booster reads some never, and each shuffle costs a prediction of
    every tree of every calibration fold.
    """
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    baseline = roc_auc_score(y_true, model.predict_proba(x)[:, 1])
    drops = np.zeros((x.shape[1], repeats))
    # The shuffled copies are scored a few columns at a time, in one call each: a call
    # of 2,000 rows costs as much as 3,000 rows more (the boosters' set-up per call), so
    # the same predictions come 40 % sooner on the demo's models.
    per_call = max(1, BATCH_ROWS // (len(x) * repeats))
    for start in range(0, len(columns), per_call):
        group = columns[start:start + per_call]
        copies = np.tile(x, (len(group) * repeats, 1))
        for g, k in enumerate(group):
            for r in range(repeats):
                block = (g * repeats + r) * len(x)
                copies[block:block + len(x), k] = x[rng.permutation(len(x)), k]
        scores = model.predict_proba(copies)[:, 1].reshape(len(group), repeats, len(x))
        for g, k in enumerate(group):
            drops[k] = [baseline - roc_auc_score(y_true, scores[g, r]) for r in range(repeats)]
    return drops


def used_columns(model: Any, width: int) -> list[int]:
    """Columns some tree of a (calibrated) histogram gradient boosting model splits on; every
    column when the model is of another kind."""
    folds = getattr(model, "calibrated_classifiers_", None)
    boosters = [f.estimator for f in folds] if folds is not None else [model]
    used: set[int] = set()
    for booster in boosters:
        predictors = getattr(booster, "_predictors", None)
        if predictors is None:
            return list(range(width))
        for iteration in predictors:
            for tree in iteration:
                nodes = tree.nodes
                used.update(int(i) for i in np.unique(nodes["feature_idx"][nodes["is_leaf"] == 0]))
    return sorted(used)


def evaluate_scores(y_true: np.ndarray, y_score: np.ndarray, features: pd.DataFrame,
                    model: Any, task: Task = "churn", seed: int = 42) -> Evaluation:
    """Holdout figures of scores against what happened.

    Args:
        y_true: 1 where the outcome happened (churned, or purchased), else 0.
        y_score: The model's calibrated probabilities for the same rows.
        features: The rows' features (columns named as in :data:`FEATURES`).
        model: The fitted estimator (``predict_proba``), for permutation importance.
        task: ``churn`` or ``propensity`` (the words of the explanations).
        seed: Seeds the rows and permutations of the importance.

    Returns:
        ROC-AUC, PR-AUC, Brier score, base rate, calibration, lift and importances; the
        ranking figures are NaN when the holdout holds one class only.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y_true = np.asarray(y_true, dtype=np.int8)
    y_score = np.asarray(y_score, dtype=np.float64)
    both = len(np.unique(y_true)) == 2
    nan = float("nan")
    return Evaluation(
        task=task,
        roc_auc=float(roc_auc_score(y_true, y_score)) if both else nan,
        pr_auc=float(average_precision_score(y_true, y_score)) if both else nan,
        brier=float(brier_score_loss(y_true, y_score)) if len(y_true) else nan,
        base_rate=float(y_true.mean()) if len(y_true) else nan,
        mean_predicted=float(y_score.mean()) if len(y_score) else nan,
        holdout_rows=len(y_true),
        calibration=calibration_table(y_true, y_score),
        lift=lift_table(y_true, y_score),
        importances=feature_importances(features, y_true, y_score, model, task, seed),
    )
