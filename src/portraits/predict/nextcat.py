"""Next-category demand (R5.7): which leaf category each customer most likely buys next,
from browsing, cart adds, wishlists and purchase history, with its evaluation.

Every (customer, category) the customer touched up to a cutoff is a candidate
(:func:`~portraits.predict.nextcat_features.category_features`). A gradient-boosted
classifier scores "this category is in the customer's next order"; it learns from the
candidates of ``training_windows`` earlier windows (cutoffs at
``as_of − (k+1)·horizon``) and is evaluated on the latest window (cutoff ``as_of −
horizon``) beside three baselines. A customer's ranking is their candidates by score,
then the categories most popular in the last 30 days; customers with no candidates get
the popular ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa

from portraits.predict.inputs import PredictInputs, ToArrow, one_thread
from portraits.predict.nextcat_features import (
    FEATURES,
    active_customers,
    category_features,
    category_popularity,
    next_category_labels,
)
from portraits.profile.schema import CUSTOMER_ID

Rankings = dict[str, list[str]]
MODEL: Final = "model"
BASELINES: Final[tuple[str, ...]] = ("most_viewed_30d", "most_bought", "most_popular")
_MAIN_CATEGORIES: Final = 5
_LABELS: Final[dict[str, tuple[str, str]]] = {
    MODEL: ("Model", "模型"),
    "most_viewed_30d": ("Most viewed category (30 days)", "近 30 天最常浏览品类"),
    "most_bought": ("Most bought category", "最常购买品类"),
    "most_popular": ("Overall most popular", "整体最热门品类"),
    "window": ("Holdout window", "验证窗口"),
    "customers": ("Customers who bought in it", "窗口内下单客户"),
    "covered": ("Next category among their candidates", "下一品类在候选品类中"),
    "top1": ("top-1 accuracy", "首选命中率"),
    "topk": ("top-{k} hit rate", "前 {k} 命中率"),
    "mrr": ("mean reciprocal rank", "平均倒数排名"),
}


@dataclass(frozen=True)
class NextCategorySpec:
    """How the next-category model is trained.

    Attributes:
        horizon_days: The next order is looked for this many days after a cutoff.
        training_windows: Earlier windows of that length stacked to train on.
        seed: Seed of the estimator.
        top: Categories ranked per customer (1-3), and the k of the top-k hit rate.
    """

    horizon_days: int = 30
    training_windows: int = 3
    seed: int = 42
    top: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.top <= 3:
            raise ValueError(f"top must be 1, 2 or 3, not {self.top}")
        if self.horizon_days < 1 or self.training_windows < 1:
            raise ValueError("horizon_days and training_windows must be at least 1")


@dataclass(frozen=True)
class RankingScore:
    """How well one method ranked the holdout customers' next categories.

    Attributes:
        method: ``model`` or a baseline name.
        top1: Share whose first-ranked category was in their next order.
        topk: Share with one of the first ``k`` in it.
        mrr: Mean of 1 / rank of the first right category (0 when never ranked).
        categories: (category, customers who bought it, precision, recall) of the
            first-ranked category, for the categories bought most in the window.
    """

    method: str
    top1: float
    topk: float
    mrr: float
    categories: tuple[tuple[str, int, float, float], ...]


@dataclass(frozen=True)
class NextCategoryEvaluation:
    """The model beside its baselines on the holdout window.

    Attributes:
        cutoff: Start of the window (features read data up to here).
        horizon_days: Length of the window.
        k: The k of the top-k hit rate.
        customers: Customers with a counted order in the window.
        covered: Share of them whose next order held one of their candidate categories.
        scores: The model first, then each baseline.
    """

    cutoff: datetime
    horizon_days: int
    k: int
    customers: int
    covered: float
    scores: tuple[RankingScore, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable figures."""
        return {
            "cutoff": self.cutoff.isoformat(), "horizon_days": self.horizon_days,
            "k": self.k, "customers": self.customers, "covered": self.covered,
            "scores": [{"method": s.method, "top1": s.top1, "topk": s.topk, "mrr": s.mrr,
                        "categories": [{"category": c, "support": n, "precision": p,
                                        "recall": r} for c, n, p, r in s.categories]}
                       for s in self.scores],
        }

    def summary(self, lang: str = "en") -> list[tuple[str, str]]:
        """(label, formatted value) pairs for people, in English or ``zh-CN``."""
        def say(key: str) -> str:
            return _LABELS[key][1 if lang == "zh-CN" else 0].format(k=self.k)

        end = self.cutoff + timedelta(days=self.horizon_days)
        lines = [(say("window"), f"{self.cutoff:%Y-%m-%d} → {end:%Y-%m-%d}"),
                 (say("customers"), f"{self.customers:,}"),
                 (say("covered"), f"{self.covered:.1%}")]
        for s in self.scores:
            lines += [(f"{say(s.method)}: {say('top1')}", f"{s.top1:.1%}"),
                      (f"{say(s.method)}: {say('topk')}", f"{s.topk:.1%}"),
                      (f"{say(s.method)}: {say('mrr')}", f"{s.mrr:.3f}")]
        return lines

    def rows(self) -> list[dict[str, Any]]:
        """One row per method: method, top1, top-k hit rate, mrr, customers."""
        return [{"method": s.method, "top1": s.top1, f"top{self.k}": s.topk, "mrr": s.mrr,
                 "customers": self.customers} for s in self.scores]


@dataclass(frozen=True)
class NextCategoryModel:
    """A trained next-category model (picklable).

    Attributes:
        estimator: The fitted ``HistGradientBoostingClassifier``.
        features: Its input columns, in order.
        spec: How it was trained.
        as_of: Reference time of the training data.
        trained_at: When it was trained (UTC).
        popular: Categories by popularity at ``as_of`` (the fallback ranking).
        evaluation: Its figures on the holdout window.
    """

    estimator: Any
    features: tuple[str, ...]
    spec: NextCategorySpec
    as_of: datetime
    trained_at: datetime
    popular: tuple[str, ...]
    evaluation: NextCategoryEvaluation

    def score(self, inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime) -> pa.Table:
        """Each active customer's most likely next categories.

        Args:
            inputs: Canonical tables.
            to_arrow: Runs an expression on the engine.
            as_of: Reference time (usually now).

        Returns:
            One row per customer with any event or order up to ``as_of``:
            ``customer_id``, ``next_category``, ``probability`` (the model's score
            normalised over the customer's candidates; for customers without any, the
            category's share of the popular categories' buyers), ``second_category``
            and ``third_category`` (null beyond ``spec.top``).
        """
        frame = _frame(inputs, to_arrow, as_of)
        scores = _predict(self.estimator, frame, self.features)
        popular, shares = _popular(inputs, to_arrow, as_of)
        popular = popular or self.popular
        ranked = _rank(frame, scores, popular)
        normalised = _normalised(frame, scores)
        fallback = shares[0] / sum(shares) if shares else None
        customers = sorted(to_arrow(active_customers(inputs, as_of))
                           .column(CUSTOMER_ID).to_pylist())
        columns: dict[str, list[Any]] = {name: [] for name in (
            CUSTOMER_ID, "next_category", "probability", "second_category", "third_category")}
        for customer in customers:
            top = ranked.get(customer, list(popular))[: self.spec.top]
            ranking: list[str | None] = [*top, None, None, None]
            columns[CUSTOMER_ID].append(customer)
            columns["next_category"].append(ranking[0])
            columns["probability"].append(normalised.get(customer, fallback))
            columns["second_category"].append(ranking[1])
            columns["third_category"].append(ranking[2])
        return pa.table(columns, schema=pa.schema([
            (CUSTOMER_ID, pa.string()), ("next_category", pa.string()),
            ("probability", pa.float64()), ("second_category", pa.string()),
            ("third_category", pa.string())]))


def _frame(inputs: PredictInputs, to_arrow: ToArrow, cutoff: datetime) -> pa.Table:
    """Candidate rows at a cutoff, sorted by customer and category (a stable fit)."""
    table = to_arrow(category_features(inputs, cutoff))
    return table.sort_by([(CUSTOMER_ID, "ascending"), ("category", "ascending")])


def _matrix(frame: pa.Table, features: Sequence[str] = FEATURES) -> np.ndarray:
    return np.column_stack([frame.column(name).to_numpy(zero_copy_only=False)
                            .astype(np.float64) for name in features])


def _pairs(table: pa.Table) -> set[tuple[str, str]]:
    return set(zip(table.column(CUSTOMER_ID).to_pylist(),
                   table.column("category").to_pylist(), strict=True))


def _truth(labels: pa.Table) -> dict[str, set[str]]:
    truth: dict[str, set[str]] = {}
    for customer, category in sorted(_pairs(labels)):  # sorted: sums in a fixed order
        truth.setdefault(customer, set()).add(category)
    return truth


def _popular(inputs: PredictInputs, to_arrow: ToArrow,
             cutoff: datetime) -> tuple[tuple[str, ...], list[float]]:
    """Categories by share of last month's buyers (ties by name), and those shares."""
    table = to_arrow(category_popularity(inputs, cutoff)).sort_by(
        [("popularity", "descending"), ("category", "ascending")])
    return (tuple(table.column("category").to_pylist()),
            [float(v) for v in table.column("popularity").to_pylist()])


def _training_set(inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
                  spec: NextCategorySpec) -> tuple[np.ndarray, np.ndarray]:
    """Stacked candidate rows of the training windows; 1 where the category is in the
    customer's first order of the window (customers who did not order are all 0)."""
    matrices, targets = [], []
    for k in range(1, spec.training_windows + 1):
        cutoff = as_of - timedelta(days=(k + 1) * spec.horizon_days)
        frame = _frame(inputs, to_arrow, cutoff)
        positive = _pairs(to_arrow(next_category_labels(inputs, cutoff, spec.horizon_days)))
        rows = zip(frame.column(CUSTOMER_ID).to_pylist(), frame.column("category").to_pylist(),
                   strict=True)
        matrices.append(_matrix(frame))
        targets.append(np.array([row in positive for row in rows], dtype=np.int64))
    return np.vstack(matrices), np.concatenate(targets)


def _fit(matrix: np.ndarray, target: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(np.unique(target)) < 2:
        raise ValueError("next category: the training windows need orders both in and "
                         "outside the customers' candidate categories")
    estimator = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=100, max_leaf_nodes=7, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=seed)
    with one_thread():
        return estimator.fit(matrix, target)



def _predict(estimator: Any, frame: pa.Table,
             features: Sequence[str] = FEATURES) -> np.ndarray:
    if frame.num_rows == 0:
        return np.zeros(0)
    with one_thread():
        scores = estimator.predict_proba(_matrix(frame, features))[:, 1]
    return np.asarray(scores, dtype=np.float64)


def _rank(frame: pa.Table, scores: np.ndarray, popular: Sequence[str],
          keep: np.ndarray | None = None) -> Rankings:
    """Each customer's candidates by score (ties by name), then the popular categories."""
    customers = np.asarray(frame.column(CUSTOMER_ID).to_pylist(), dtype=object)
    categories = np.asarray(frame.column("category").to_pylist(), dtype=object)
    if keep is not None:
        customers, categories, scores = customers[keep], categories[keep], scores[keep]
    order = np.lexsort((categories.astype(str), -scores, customers.astype(str)))
    ranked: Rankings = {}
    for i in order:
        ranked.setdefault(str(customers[i]), []).append(str(categories[i]))
    for ranking in ranked.values():
        ranking.extend(c for c in popular if c not in ranking)
    return ranked


def _normalised(frame: pa.Table, scores: np.ndarray) -> dict[str, float]:
    """Each customer's best score divided by the sum of their candidates' scores."""
    best: dict[str, float] = {}
    total: dict[str, float] = {}
    count: Counter[str] = Counter()
    for customer, value in zip(frame.column(CUSTOMER_ID).to_pylist(), scores, strict=True):
        best[customer] = max(best.get(customer, 0.0), float(value))
        total[customer] = total.get(customer, 0.0) + float(value)
        count[customer] += 1
    return {c: best[c] / total[c] if total[c] > 0 else 1.0 / count[c] for c in best}


def _ranking_score(method: str, rankings: Mapping[str, Sequence[str]],
                   truth: Mapping[str, set[str]], k: int,
                   main: Sequence[str]) -> RankingScore:
    hits1, hitsk, reciprocal = [], [], []
    for customer, bought in truth.items():
        ranking = rankings[customer]
        hits1.append(ranking[0] in bought)
        hitsk.append(any(c in bought for c in ranking[:k]))
        rank = next((i + 1 for i, c in enumerate(ranking) if c in bought), None)
        reciprocal.append(1.0 / rank if rank else 0.0)
    categories = []
    for category in main:
        predicted = [c for c, r in rankings.items() if c in truth and r[0] == category]
        right = sum(category in truth[c] for c in predicted)
        support = sum(category in bought for bought in truth.values())
        categories.append((category, support, right / len(predicted) if predicted else 0.0,
                           right / support if support else 0.0))
    return RankingScore(method, float(np.mean(hits1)), float(np.mean(hitsk)),
                        float(np.mean(reciprocal)), tuple(categories))


def _evaluate(inputs: PredictInputs, to_arrow: ToArrow, estimator: Any, as_of: datetime,
              spec: NextCategorySpec) -> NextCategoryEvaluation:
    cutoff = as_of - timedelta(days=spec.horizon_days)
    truth = _truth(to_arrow(next_category_labels(inputs, cutoff, spec.horizon_days)))
    if not truth:
        raise ValueError(f"next category: nobody ordered between {cutoff} and {as_of}")
    frame = _frame(inputs, to_arrow, cutoff)
    popular, _ = _popular(inputs, to_arrow, cutoff)
    views = frame.column("views_30d").to_numpy().astype(np.float64)
    bought = frame.column("purchases").to_numpy().astype(np.float64)
    methods: dict[str, Rankings] = {
        MODEL: _rank(frame, _predict(estimator, frame), popular),
        "most_viewed_30d": _rank(frame, views, popular, views > 0),
        "most_bought": _rank(frame, bought, popular, bought > 0),
        "most_popular": {},
    }
    candidates = _pairs(frame)
    counts = Counter(category for bought_now in truth.values() for category in bought_now)
    main = sorted(counts, key=lambda c: (-counts[c], c))[:_MAIN_CATEGORIES]
    scores = tuple(
        _ranking_score(name, {c: ranked.get(c, list(popular)) for c in truth}, truth,
                       spec.top, main)
        for name, ranked in methods.items())
    covered = sum(any((c, b) in candidates for b in bought_now)
                  for c, bought_now in truth.items()) / len(truth)
    return NextCategoryEvaluation(cutoff, spec.horizon_days, spec.top, len(truth), covered,
                                  scores)


def train_next_category(inputs: PredictInputs, to_arrow: ToArrow, as_of: datetime,
                        spec: NextCategorySpec | None = None,
                        trained_at: datetime | None = None) -> NextCategoryModel:
    """Train the next-category model and evaluate it on the latest window.

    Args:
        inputs: Canonical tables (events make it much better; optional).
        to_arrow: Runs an expression on the engine.
        as_of: Reference time: the holdout window ends here, training windows before it.
        spec: Horizon, windows, seed and k; the defaults when None.
        trained_at: Recorded as the training time (the clock's time, UTC, if None).

    Returns:
        The fitted model with its evaluation (model beside the baselines).

    Raises:
        ValueError: When a window has no orders to learn from or to evaluate on.

    Example:
        >>> model = train_next_category(inputs, ws.engine.to_arrow, now)  # doctest: +SKIP
        >>> model.score(inputs, ws.engine.to_arrow, now)                   # doctest: +SKIP
    """
    spec = spec or NextCategorySpec()
    matrix, target = _training_set(inputs, to_arrow, as_of, spec)
    estimator = _fit(matrix, target, spec.seed)
    evaluation = _evaluate(inputs, to_arrow, estimator, as_of, spec)
    popular, _ = _popular(inputs, to_arrow, as_of)
    trained_at = trained_at or datetime.now(tz=UTC).replace(tzinfo=None)
    return NextCategoryModel(estimator, FEATURES, spec, as_of, trained_at, popular,
                             evaluation)
