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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa

from portraits.predict.inputs import PredictInputs, ToArrow, model_threads
from portraits.predict.nextcat_features import (
    FEATURES,
    CandidateCodes,
    active_customers,
    category_features,
    category_popularity,
    first_hits,
    member,
    next_category_labels,
    normalised_best,
    ranked_rows,
    top_categories,
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
            One row per customer with any event or order up to ``as_of``, in id order:
            ``customer_id``, ``next_category``, ``probability`` (the model's score
            normalised over the customer's candidates; for customers without any, the
            category's share of the popular categories' buyers), ``second_category``
            and ``third_category`` (null beyond ``spec.top``).
        """
        frame = _frame(inputs, to_arrow, as_of)
        scores = _predict(self.estimator, frame, self.features)
        popular, shares = _popular(inputs, to_arrow, as_of)
        popular = popular or self.popular
        active = to_arrow(active_customers(inputs, as_of)).column(CUSTOMER_ID)
        codes = CandidateCodes.of((frame.column(CUSTOMER_ID), active),
                                  (frame.column("category"), pa.array(popular, pa.string())))
        customer, category = codes.rows(frame)
        ranked = top_categories(codes, ranked_rows(customer, category, scores),
                                codes.category(popular), self.spec.top)
        rows = np.sort(codes.customer(active))  # codes are in id order
        has, probability = normalised_best(customer, scores, len(codes.customers))
        fallback = shares[0] / sum(shares) if shares else np.nan
        probability = np.where(has[rows], probability[rows], fallback)
        none = np.full(len(rows), -1)
        first, second, third = (codes.name(ranked[rows, j] if j < self.spec.top else none)
                                for j in range(3))
        columns = [codes.customers.take(pa.array(rows)), first,
                   pa.array(probability, pa.float64(), mask=np.isnan(probability)),
                   second, third]
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


def _popular(inputs: PredictInputs, to_arrow: ToArrow,
             cutoff: datetime) -> tuple[tuple[str, ...], list[float]]:
    """Categories by share of last month's buyers (ties by name), and those shares."""
    table = to_arrow(category_popularity(inputs, cutoff)).sort_by(
        [("popularity", "descending"), ("category", "ascending")])
    return (tuple(table.column("category").to_pylist()),
            [float(v) for v in table.column("popularity").to_pylist()])


def training_cutoffs(as_of: datetime, spec: NextCategorySpec) -> list[datetime]:
    """Starts of the training windows, latest first: ``as_of − (k+1)·horizon``."""
    return [as_of - timedelta(days=(k + 1) * spec.horizon_days)
            for k in range(1, spec.training_windows + 1)]


def labelled_window(inputs: PredictInputs, to_arrow: ToArrow, cutoff: datetime,
                    horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows at a cutoff and their labels: 1 where the category is in the
    customer's first order of the ``horizon_days`` after it (customers who did not order
    are all 0).

    Returns:
        The feature matrix (:data:`FEATURES`) and the 0/1 targets, one row per candidate.
    """
    frame = _frame(inputs, to_arrow, cutoff)
    labels = to_arrow(next_category_labels(inputs, cutoff, horizon_days))
    codes = CandidateCodes.of((frame.column(CUSTOMER_ID), labels.column(CUSTOMER_ID)),
                              (frame.column("category"), labels.column("category")))
    customer, category = codes.rows(frame)
    positive = codes.pairs(*codes.rows(labels))
    rows = customer * len(codes.categories) + category
    return _matrix(frame), member(rows, positive).astype(np.int64)


def fit_next_category(matrix: np.ndarray, target: np.ndarray, seed: int) -> Any:
    """The seeded gradient-boosted classifier on stacked candidate rows (two threads)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(np.unique(target)) < 2:
        raise ValueError("next category: the training windows need orders both in and "
                         "outside the customers' candidate categories")
    estimator = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=100, max_leaf_nodes=7, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=seed)
    with model_threads():
        return estimator.fit(matrix, target)


def _predict(estimator: Any, frame: pa.Table,
             features: Sequence[str] = FEATURES) -> np.ndarray:
    if frame.num_rows == 0:
        return np.zeros(0)
    with model_threads():
        scores = estimator.predict_proba(_matrix(frame, features))[:, 1]
    return np.asarray(scores, dtype=np.float64)


def _ranking_score(method: str, codes: CandidateCodes, ordered: tuple[np.ndarray, ...],
                   popular: np.ndarray, truth: np.ndarray, k: int,
                   main: Sequence[int]) -> RankingScore:
    buyers = np.unique(codes.split(truth)[0])  # in id order, as the figures were summed
    rank = first_hits(codes, ordered, popular, truth)[buyers]
    first = top_categories(codes, ordered, popular, 1)[buyers, 0]
    reciprocal = np.where(rank > 0, 1.0 / np.maximum(rank, 1), 0.0)
    categories = []
    for category in main:
        predicted = buyers[first == category]
        right = int(member(predicted * len(codes.categories) + category, truth).sum())
        support = int((codes.split(truth)[1] == category).sum())
        categories.append((str(codes.categories[category]), support,
                           right / len(predicted) if len(predicted) else 0.0,
                           right / support if support else 0.0))
    return RankingScore(method, float(np.mean(rank == 1)),
                        float(np.mean((rank >= 1) & (rank <= k))),
                        float(np.mean(reciprocal)), tuple(categories))


def evaluate_next_category(inputs: PredictInputs, to_arrow: ToArrow, estimator: Any,
                           as_of: datetime, spec: NextCategorySpec) -> NextCategoryEvaluation:
    """The model beside its baselines on the window of ``spec.horizon_days`` before
    ``as_of`` (features as of its start).

    Raises:
        ValueError: When nobody ordered in the window.
    """
    cutoff = as_of - timedelta(days=spec.horizon_days)
    labels = to_arrow(next_category_labels(inputs, cutoff, spec.horizon_days))
    if labels.num_rows == 0:
        raise ValueError(f"next category: nobody ordered between {cutoff} and {as_of}")
    frame = _frame(inputs, to_arrow, cutoff)
    popular_names, _ = _popular(inputs, to_arrow, cutoff)
    codes = CandidateCodes.of((frame.column(CUSTOMER_ID), labels.column(CUSTOMER_ID)),
                              (frame.column("category"), labels.column("category"),
                               pa.array(popular_names, pa.string())))
    customer, category = codes.rows(frame)
    truth = codes.pairs(*codes.rows(labels))
    popular = codes.category(popular_names)
    views = frame.column("views_30d").to_numpy().astype(np.float64)
    bought = frame.column("purchases").to_numpy().astype(np.float64)
    model = _predict(estimator, frame)
    methods = {MODEL: (model, None), "most_viewed_30d": (views, views > 0),
               "most_bought": (bought, bought > 0),
               "most_popular": (model, np.zeros(len(model), dtype=bool))}
    counts = np.bincount(codes.split(truth)[1], minlength=len(codes.categories))
    main = [int(c) for c in np.lexsort((np.arange(len(counts)), -counts))[:_MAIN_CATEGORIES]
            if counts[c] > 0]
    scores = tuple(_ranking_score(name, codes, ranked_rows(customer, category, values, keep),
                                  popular, truth, spec.top, main)
                   for name, (values, keep) in methods.items())
    buyers = codes.split(truth)[0]
    held = member(truth, codes.pairs(customer, category))
    covered = len(np.unique(buyers[held])) / len(np.unique(buyers))
    return NextCategoryEvaluation(cutoff, spec.horizon_days, spec.top,
                                  len(np.unique(buyers)), covered, scores)


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
    windows = [labelled_window(inputs, to_arrow, cutoff, spec.horizon_days)
               for cutoff in training_cutoffs(as_of, spec)]
    estimator = fit_next_category(np.vstack([m for m, _ in windows]),
                                  np.concatenate([t for _, t in windows]), spec.seed)
    del windows
    evaluation = evaluate_next_category(inputs, to_arrow, estimator, as_of, spec)
    popular, _ = _popular(inputs, to_arrow, as_of)
    trained_at = trained_at or datetime.now(tz=UTC).replace(tzinfo=None)
    return NextCategoryModel(estimator, FEATURES, spec, as_of, trained_at, popular,
                             evaluation)
