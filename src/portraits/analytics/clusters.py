"""Clustering: discover segments in the profile, choose their number, describe each one.

How the features enter the model (fitted on a seeded sample of at most ``sample`` rows,
scikit-learn's ``ColumnTransformer``), so that **every feature carries the same weight**
(a total variance of 1 in the squared distance k-means minimises):

* **Numbers**: ``log1p`` when they are non-negative and right-skewed (skewness > 1:
  counts, money), missing values imputed with the median, then standardised. A number
  missing for at least 5% of the sample also gets a standardised missing indicator,
  unless an earlier feature is missing for exactly the same people.
* **Categories** (text, true/false): one-hot, a missing value being its own level and
  levels under 1% of the sample pooled as ``(other)``; the indicator columns are centred
  and divided by √(1 − Σ pᵢ²), the square root of their total variance.
* **Lists** (``interests``): one standardised yes/no column per item held by at least 1%
  of the sample ("interested in 母婴"), each weighted like a feature of its own.

k-means (``MiniBatchKMeans`` above 50,000 sampled rows) runs with the seed for each k of
the range; **k is the one with the highest silhouette** (on at most 10,000 of the sampled
rows), among the k whose smallest cluster holds at least 2% of the sample. Every customer
is then assigned to the nearest centre; clusters are numbered by size, 1 the largest, and
each is described against the whole base like a segment (:mod:`describe`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from portraits.analytics.chart import Chart
from portraits.analytics.describe import (
    GROUP,
    SegmentDescription,
    describe_groups,
    description_fields,
    feature_rows,
    ranked_features,
)
from portraits.analytics.result import Analysis
from portraits.errors import PortraitsError, did_you_mean
from portraits.i18n import Lang
from portraits.profile.schema import CUSTOMER_ID

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

# What they like, who they are, how much and how they buy, when they shop.
DEFAULT_FEATURES: Final = ("interests", "top_interest", "gender", "age", "orders",
                           "coupon_use_rate", "night_share")
MIN_SHARE: Final = 0.02
SMALL: Final = 0.2  # effects below this (Cohen's "small") are not named in a summary
RARE: Final = 0.01
MATERIAL: Final = 0.05
SKEWED: Final = 1.0
SILHOUETTE_ROWS: Final = 10_000
MINI_BATCH_ROWS: Final = 50_000
PLOT_POINTS: Final = 2_000
OTHER, NONE = "(other)", "(missing)"
_WORDS: Final = {
    "cluster": ("Cluster {c}", "第 {c} 类"),
    "line": ("Cluster {c} ({share:.0%}): {features}", "第 {c} 类（{share:.0%}）：{features}"),
    "sep": (", ", "，"),
    "title": ("{k} customer clusters (PCA projection of a sample)",
              "{k} 个客户群（样本的主成分投影）"),
    "axis": ("Principal component {i} ({share:.0%} of the variance)",
             "主成分 {i}（解释 {share:.0%} 的方差）"),
    "takeaway": ("k = {k} has the highest silhouette ({score:.2f}) of k = {lo}–{hi}; the "
                 "largest cluster: {line}.",
                 "k = {k} 时轮廓系数最高（{score:.2f}，k = {lo}–{hi}）；最大的群：{line}。"),
    "given": ("k = {k} as asked (silhouette {score:.2f}); the largest cluster: {line}.",
              "按要求 k = {k}（轮廓系数 {score:.2f}）；最大的群：{line}。"),
}


def _word(key: str, lang: Lang, **values: object) -> str:
    en, zh = _WORDS[key]
    return (zh if lang == "zh-CN" else en).format(**values)


@dataclass(frozen=True)
class Encoding:
    """How one feature entered the model."""

    feature: str
    kind: str  # number, log number, category, list
    columns: tuple[str, ...]
    missing_indicator: bool = False


@dataclass(frozen=True)
class Clustering(Analysis):
    """Clusters of customers: assignments, how k was chosen, and each cluster described.

    ``assignments``: ``customer_id``, ``cluster`` (1 = the largest) for every customer of
    the base; ``scores``: per k tried, the silhouette, the smallest cluster's share of the
    sample, whether it was eligible and chosen.
    """

    k: int
    seed: int
    encodings: tuple[Encoding, ...]
    assignments: pa.Table
    scores: pd.DataFrame
    descriptions: tuple[SegmentDescription, ...]
    projection: pd.DataFrame = field(compare=False)
    explained: tuple[float, float] = (0.0, 0.0)
    asked: bool = False

    @property
    def sizes(self) -> tuple[int, ...]:
        """Customers per cluster, cluster 1 first."""
        return tuple(d.size for d in self.descriptions)

    def to_pandas(self) -> pd.DataFrame:
        """One row per cluster: size, share and the top distinguishing features."""
        total = sum(self.sizes) or 1
        return pd.DataFrame({
            "cluster": range(1, self.k + 1), "size": self.sizes,
            "share": [s / total for s in self.sizes],
            "features": [self._features(c, "en") for c in range(1, self.k + 1)],
            "features_zh": [self._features(c, "zh-CN") for c in range(1, self.k + 1)]})

    def selection(self) -> pd.DataFrame:
        """The k tried: silhouette, smallest cluster share, eligible, chosen."""
        return self.scores.copy()

    def encoding(self) -> pd.DataFrame:
        """Each feature's treatment and model columns."""
        return pd.DataFrame([{"feature": e.feature, "kind": e.kind, "columns": len(e.columns),
                              "missing_indicator": e.missing_indicator}
                             for e in self.encodings])

    def describe(self, cluster: int) -> SegmentDescription:
        """Cluster ``cluster`` (1-based) against the whole base."""
        if not 1 <= cluster <= self.k:
            raise PortraitsError(f"no cluster {cluster}: clusters are 1 to {self.k}")
        return self.descriptions[cluster - 1]

    def members(self, cluster: int) -> pa.Table:
        """The ``customer_id`` of the cluster's members (to save as a segment)."""
        self.describe(cluster)
        held = pc.equal(self.assignments["cluster"], cluster)
        return self.assignments.filter(held).select([CUSTOMER_ID])

    def _features(self, cluster: int, lang: Lang, n: int = 4) -> str:
        """The cluster's most distinguishing values of the features it was made from."""
        d = self.describe(cluster)
        used = [e.feature for e in self.encodings]
        rows = d.top_features(n, over_only=True, fields=used,
                              min_effect=SMALL).to_dict("records")
        return _word("sep", lang).join(d.phrase(r, lang, detail=False) for r in rows)

    def line(self, cluster: int, lang: Lang = "en", n: int = 4) -> str:
        """'Cluster 3 (12%): Interests: 母婴 ×2.2, Women ×1.5, …' (``n`` features)."""
        total = sum(self.sizes) or 1
        return _word("line", lang, c=cluster, share=self.sizes[cluster - 1] / total,
                     features=self._features(cluster, lang, n))

    def summary(self, lang: Lang = "en") -> list[str]:
        """One plain-words line per cluster, to name them."""
        return [self.line(c, lang) for c in range(1, self.k + 1)]

    def segment_texts(self, cluster: int) -> tuple[dict[str, str], str]:
        """A name ({en, zh-CN}) and a description (both summaries) to save it as a segment."""
        names = {"en": _word("cluster", "en", c=cluster),
                 "zh-CN": _word("cluster", "zh-CN", c=cluster)}
        return names, f"{self.line(cluster, 'en')}\n{self.line(cluster, 'zh-CN')}"

    def takeaway(self, lang: Lang = "en") -> str:
        """One sentence: how k was chosen, and the largest cluster."""
        chosen = self.scores[self.scores["chosen"]].iloc[0]
        if self.asked:
            return _word("given", lang, k=self.k, score=float(chosen["silhouette"]),
                         line=self.line(1, lang, 2))
        return _word("takeaway", lang, k=self.k, score=float(chosen["silhouette"]),
                     lo=int(self.scores["k"].min()), hi=int(self.scores["k"].max()),
                     line=self.line(1, lang, 2))

    def chart(self, lang: Lang = "en") -> Chart:
        """A scatter of a sample on its first two principal components, by cluster."""
        total = sum(self.sizes) or 1
        series = []
        for c in range(1, self.k + 1):
            points = self.projection[self.projection["cluster"] == c]
            name = _word("cluster", lang, c=c) + (f"（{self.sizes[c - 1] / total:.0%}）"
                                                   if lang == "zh-CN" else
                                                   f" ({self.sizes[c - 1] / total:.0%})")
            series.append({"type": "scatter", "name": name, "symbolSize": 5,
                           "data": points[["x", "y"]].round(3).values.tolist()})
        return Chart({
            "title": {"text": _word("title", lang, k=self.k), "subtext": self.takeaway(lang)},
            "tooltip": {"trigger": "item"}, "legend": {"top": "bottom"},
            "xAxis": {"type": "value", "name": _word("axis", lang, i=1, share=self.explained[0])},
            "yAxis": {"type": "value", "name": _word("axis", lang, i=2, share=self.explained[1])},
            "series": series})


def _centre_and_weigh(x: Any, centre: Any, weight: Any) -> Any:
    """One-hot columns centred, each scaled by its variable's 1/√(total variance)."""
    return (np.asarray(x, dtype="float64") - centre) * weight


@dataclass
class _Design:
    """The model matrix: how the pulled columns become numbers (fitted on the sample)."""

    kinds: Mapping[str, str]
    levels: dict[str, list[str]] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)
    encodings: list[Encoding] = field(default_factory=list)
    transformer: ColumnTransformer | None = None

    def frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Numbers as floats, categories folded to the fitted levels, lists as items."""
        out: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            column = data[name]
            if kind == "number":
                out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
            elif kind == "category":
                text = column.astype("string").fillna(NONE).astype(object)
                kept = self.levels.get(name)
                out[name] = text.where(text.isin(kept), OTHER) if kept is not None else text
            else:
                sets = column.fillna("").astype(str).str.split(",").map(
                    lambda items: {i.strip() for i in items})
                for item in self.items.get(name, []):
                    out[f"{name}={item}"] = sets.map(lambda held, i=item: float(i in held))
        return pd.DataFrame(out, index=data.index)

    def fit(self, sample: pd.DataFrame) -> np.ndarray:
        """Learn levels, items and scalings from the sample; its model matrix."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import MissingIndicator, SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        self._learn_levels(sample)
        x = self.frame(sample)
        columns, categories, centre, weight = self._plan(x)

        def impute() -> Any:
            return SimpleImputer(strategy="median", keep_empty_features=True)

        steps = {"numbers": lambda: make_pipeline(impute(), StandardScaler()),
                 "log_numbers": lambda: make_pipeline(FunctionTransformer(np.log1p), impute(),
                                                      StandardScaler()),
                 "missing": lambda: make_pipeline(MissingIndicator(features="all"),
                                                  StandardScaler()),
                 "list_items": StandardScaler,
                 "categories": lambda: make_pipeline(
                     OneHotEncoder(categories=categories, handle_unknown="ignore",
                                   sparse_output=False),
                     FunctionTransformer(_centre_and_weigh, kw_args={
                         "centre": np.array(centre), "weight": np.array(weight)}))}
        parts = [(part, steps[part](), names) for part, names in columns.items() if names]
        if not parts:
            raise PortraitsError("no feature left to cluster on")
        self.transformer = ColumnTransformer(parts, sparse_threshold=0.0)
        return np.asarray(self.transformer.fit_transform(x), dtype="float64")

    def _plan(self, x: pd.DataFrame) -> tuple[dict[str, list[str]], list[list[str]],
                                              list[float], list[float]]:
        """Which transformer each column goes to; the categories' levels and scalings."""
        columns: dict[str, list[str]] = {p: [] for p in (
            "numbers", "log_numbers", "missing", "list_items", "categories")}
        categories: list[list[str]] = []
        centre: list[float] = []
        weight: list[float] = []
        seen: set[bytes] = set()
        for name, kind in self.kinds.items():
            if kind == "number":
                values = x[name]
                skewed = bool(float(values.min()) >= 0
                              and float(values.skew()) > SKEWED)  # type: ignore[arg-type]
                columns["log_numbers" if skewed else "numbers"].append(name)
                pattern = values.isna().to_numpy().tobytes()
                flag = bool(values.isna().mean() >= MATERIAL and pattern not in seen)
                if flag:
                    columns["missing"].append(name)
                seen.add(pattern)
                self.encodings.append(Encoding(name, "log number" if skewed else "number",
                                               (name,), flag))
            elif kind == "category":
                kept = sorted(set(x[name]))
                shares = x[name].value_counts(normalize=True).reindex(kept).to_numpy()
                columns["categories"].append(name)
                categories.append(kept)
                centre += [float(v) for v in shares]
                total = max(1 - float((shares ** 2).sum()), 1e-12)
                weight += [1 / math.sqrt(total)] * len(kept)
                self.encodings.append(Encoding(name, "category",
                                               tuple(f"{name}={v}" for v in kept)))
            else:
                items = [f"{name}={i}" for i in self.items[name]]
                columns["list_items"] += items
                self.encodings.append(Encoding(name, "list", tuple(items)))
        return columns, categories, centre, weight

    def _learn_levels(self, sample: pd.DataFrame) -> None:
        for name, kind in self.kinds.items():
            if kind == "category":
                text = sample[name].astype("string").fillna(NONE)
                shares = text.value_counts(normalize=True)
                self.levels[name] = sorted(str(v) for v in shares[shares >= RARE].index)
            elif kind == "list":
                items = sample[name].dropna().astype(str).str.split(",").explode().str.strip()
                held = items[items != ""].groupby(level=0).unique().explode()
                shares = held.value_counts() / len(sample)
                self.items[name] = sorted(str(i) for i in shares[shares >= RARE].index)

    def transform(self, data: pd.DataFrame) -> np.ndarray:
        assert self.transformer is not None
        return np.asarray(self.transformer.transform(self.frame(data)), dtype="float64")


def _kmeans(k: int, seed: int, rows: int) -> Any:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if rows > MINI_BATCH_ROWS:
        return MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096)
    return KMeans(k, random_state=seed, n_init=10)


def _chosen_features(base: ir.Table, features: Sequence[str] | None) -> dict[str, str]:
    kinds = description_fields(base.schema())
    if features is None:
        picked: dict[str, str] = {f: kinds[f] for f in DEFAULT_FEATURES if f in kinds}
        if not picked:
            raise PortraitsError("none of the default features is in the base "
                                 f"({', '.join(DEFAULT_FEATURES)}); name the features")
        return picked
    for name in features:
        if name not in kinds:
            hint = did_you_mean(name, kinds)
            why = ("a timestamp or id cannot be a feature" if name in base.columns
                   else "not a column of the base")
            raise PortraitsError(f"cannot cluster on '{name}': {why}"
                                 + (f" ({hint})" if hint else ""))
    return {f: kinds[f] for f in dict.fromkeys(features)}


def analyze_clusters(base: ir.Table, to_arrow: Callable[[ir.Table], pa.Table],
                     k: int | None = None, k_range: tuple[int, int] = (2, 8),
                     features: Sequence[str] | None = None, seed: int = 42,
                     sample: int = 10_000,
                     names: Mapping[str, tuple[str, str]] | None = None) -> Clustering:
    """Discover clusters of customers and describe each one.

    Args:
        base: One row per customer (profiles joined with tags).
        to_arrow: Executes an expression (the engine's ``to_arrow``).
        k: The number of clusters; chosen by silhouette within ``k_range`` when omitted.
        k_range: The smallest and largest k to try.
        features: Columns of ``base`` to cluster on; :data:`DEFAULT_FEATURES` when omitted.
        seed: Seeds the sample, k-means and the silhouette: the same seed, the same result.
        sample: Rows the model is fitted on (every customer is assigned).
        names: (English, Chinese) names of fields beyond the profile and standard tags.

    Example:
        >>> result = analyze_clusters(base, ws.engine.to_arrow)             # doctest: +SKIP
        >>> result.summary("zh-CN")                                         # doctest: +SKIP
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    kinds = _chosen_features(base, features)
    data = to_arrow(base.select(CUSTOMER_ID, *kinds).order_by(CUSTOMER_ID)).to_pandas()
    rng = np.random.default_rng(seed)
    fit_rows = (np.sort(rng.choice(len(data), sample, replace=False)) if len(data) > sample
                else np.arange(len(data)))
    lo, hi = (k, k) if k is not None else k_range
    if lo < 2 or hi < lo or hi >= len(fit_rows):
        raise PortraitsError(f"cannot make {lo}–{hi} clusters of {len(fit_rows):,} customers "
                             "(k is at least 2 and below the number of customers)")
    # One thread: the same result on every machine, and no OpenMP contention on busy ones
    # (k-means on 1,500 rows took 2.8 s with 2 threads of a loaded machine, 0.1 s with 1).
    with threadpool_limits(1):
        return _fit(base, to_arrow, data, fit_rows, kinds, (lo, hi), k is not None, seed,
                    rng, names or {})


def _fit(base: ir.Table, to_arrow: Callable[[ir.Table], pa.Table], data: pd.DataFrame,
         fit_rows: np.ndarray, kinds: dict[str, str], k_range: tuple[int, int], asked: bool,
         seed: int, rng: np.random.Generator,
         names: Mapping[str, tuple[str, str]]) -> Clustering:
    from sklearn.decomposition import PCA

    design = _Design(kinds)
    x = design.fit(data.iloc[fit_rows])
    scores, model = _choose_k(x, k_range, asked, seed)
    k = int(scores[scores["chosen"]]["k"].iloc[0])
    labels = np.concatenate([model.predict(design.transform(data.iloc[i:i + 100_000]))
                             for i in range(0, len(data), 100_000)])
    number = np.empty(k, dtype="int64")  # cluster 1 is the largest
    number[np.argsort(-np.bincount(labels, minlength=k), kind="stable")] = np.arange(1, k + 1)
    clusters = number[labels]
    assignments = pa.table({CUSTOMER_ID: pa.array(data[CUSTOMER_ID].astype(str)),
                            "cluster": pa.array(clusters, pa.int64())})
    pca = PCA(2, random_state=seed).fit(x)
    shown = np.sort(rng.choice(len(x), min(PLOT_POINTS, len(x)), replace=False))
    points = pca.transform(x[shown])
    projection = pd.DataFrame({"x": points[:, 0], "y": points[:, 1],
                               "cluster": clusters[fit_rows[shown]]})
    explained = [float(v) for v in pca.explained_variance_ratio_[:2]]
    return Clustering(k, seed, tuple(design.encodings), assignments, scores,
                      _descriptions(assignments, base, to_arrow, k, names),
                      projection, (explained[0], explained[1]), asked)


def _choose_k(x: np.ndarray, k_range: tuple[int, int], asked: bool,
              seed: int) -> tuple[pd.DataFrame, Any]:
    """k-means for each k; the scores, and the model of the k with the highest silhouette
    among those whose smallest cluster holds at least :data:`MIN_SHARE` of the sample."""
    from sklearn.metrics import silhouette_score

    scores, models = [], {}
    for k in range(k_range[0], k_range[1] + 1):
        model = _kmeans(k, seed, len(x)).fit(x)
        smallest = np.bincount(model.labels_, minlength=k).min() / len(x)
        score = (silhouette_score(x, model.labels_, sample_size=min(SILHOUETTE_ROWS, len(x)),
                                  random_state=seed) if len(set(model.labels_)) > 1 else -1.0)
        scores.append({"k": k, "silhouette": float(score), "smallest_share": float(smallest),
                       "eligible": bool(smallest >= MIN_SHARE or asked)})
        models[k] = model
    table = pd.DataFrame(scores)
    pool = table[table["eligible"]] if table["eligible"].any() else table
    chosen = int(pool["k"].to_numpy()[int(np.argmax(pool["silhouette"].to_numpy()))])
    table["chosen"] = table["k"] == chosen
    return table, models[chosen]


def _descriptions(assignments: pa.Table, base: ir.Table,
                  to_arrow: Callable[[ir.Table], pa.Table], k: int,
                  names: Mapping[str, tuple[str, str]]) -> tuple[SegmentDescription, ...]:
    """Every cluster against the base, in one pass of the description queries."""
    groups = ibis.memtable(pa.table({
        CUSTOMER_ID: assignments[CUSTOMER_ID],
        GROUP: pc.cast(assignments["cluster"], pa.string())}))
    sizes, ranked, skipped = feature_rows(describe_groups(groups, base), to_arrow)
    out = []
    for c in range(1, k + 1):
        label = (_word("cluster", "en", c=c), _word("cluster", "zh-CN", c=c))
        out.append(SegmentDescription(label[0], sizes.get(str(c), 0), sizes.get(None, 0),
                                      ranked.get(str(c), ranked_features([])), 20,
                                      tuple(skipped), dict(names), label[1]))
    return tuple(out)
