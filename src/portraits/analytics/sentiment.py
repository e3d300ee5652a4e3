"""Review sentiment (评价情感) in Chinese and English, and its pain points.

Scoring (:func:`score_reviews`) runs in Python at the edge of the core, with models that
ship inside their PyPI packages (nothing is downloaded): SnowNLP's naive Bayes model,
trained on Chinese shopping reviews, for Chinese; VADER's lexicon and rules for English.
Both give a score on one scale, -1 (most negative) to 1 (most positive):

* Chinese: ``2 × p − 1``, where ``p`` is SnowNLP's probability that the text is positive;
* English: VADER's ``compound`` score.

A score below :data:`NEGATIVE_BELOW` is *negative*, above :data:`POSITIVE_ABOVE`
*positive*, else *neutral* (thresholds measured on the planted reviews of the synthetic
shop; see ``docs/analytics/sentiment.md``). :func:`analyze_sentiment` joins the scores to
products and customers: sentiment per category, pain points per category and product,
sentiment per customer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal

import pyarrow as pa

from portraits.analytics.painpoints import CJK_CHAR, MIN_COUNT, keyword_sets, rank_pain_points
from portraits.analytics.result import Analysis
from portraits.errors import PortraitsError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from portraits.analytics.chart import Chart
    from portraits.i18n import Lang

ReviewLang = Literal["zh", "en"]
LANGS: Final[tuple[ReviewLang, ...]] = ("zh", "en")
LABELS: Final = ("positive", "neutral", "negative")
NEGATIVE_BELOW: Final = -0.1
POSITIVE_ABOVE: Final = 0.25
# Reasons a review gets no score.
EMPTY_TEXT: Final = "empty_text"
NO_WORDS: Final = "no_words"
# A category needs this many scored reviews to be named in the chart's takeaway.
MIN_REVIEWS: Final = 5
CHART_CATEGORIES: Final = 20

SCORED_SCHEMA: Final = pa.schema([("review_id", pa.string()), ("lang", pa.string()),
                                  ("sentiment", pa.float64()), ("label", pa.string()),
                                  ("reason", pa.string())])
REVIEW_COLUMNS: Final = ("review_id", "product_id", "customer_id", "rating", "text", "lang")

WORDS: Final[dict[str, tuple[str, str]]] = {
    "title": ("Review sentiment by category", "各类目评价情感分布"),
    "share_axis": ("Share of scored reviews (%)", "占已评分评价的比例（%）"),
    "category_axis": ("Category", "类目"),
    "positive": ("Positive", "正面"),
    "neutral": ("Neutral", "中性"),
    "negative": ("Negative", "负面"),
    "unknown": ("(no category)", "（无类目）"),
    "takeaway": ("{category} has the most negative reviews ({share:.0f}%)",
                 "{category} 的负面评价占比最高（{share:.0f}%）"),
    "complaint": ("; top complaint: {keyword}", "；主要问题：{keyword}"),
    "nothing": ("No review could be scored.", "没有可评分的评价。"),
    "no_negative": ("No category has negative reviews.", "各类目均无负面评价。"),
}

_LATIN_WORD: Final = re.compile(r"[A-Za-z]+")


def _say(key: str, lang: Lang, **values: object) -> str:
    en, zh = WORDS[key]
    return (zh if lang == "zh-CN" else en).format(**values)


def detect_language(text: str | None) -> ReviewLang | None:
    """``zh`` or ``en`` by the share of Chinese characters, or None without any words.

    Each Chinese character counts as one word, like each run of Latin letters; the text
    is Chinese when at least half of its words are Chinese characters.

    Example:
        >>> detect_language("AirPods 续航太差"), detect_language("Great 旗袍, love it")
        ('zh', 'en')
    """
    if not text:
        return None
    chinese = len(CJK_CHAR.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    if chinese + latin == 0:
        return None
    return "zh" if chinese >= latin else "en"


def review_language(text: str | None, lang: str | None) -> ReviewLang | None:
    """The given ``lang`` when it is valid for the text, else :func:`detect_language`.

    A given code is valid when its primary subtag is ``zh`` or ``en`` (``zh-CN``,
    ``en_US`` …) and the text contains that script (Chinese characters, Latin letters).
    """
    code = re.split(r"[-_]", lang.strip().lower())[0] if lang else ""
    if code == "zh" and text and CJK_CHAR.search(text):
        return "zh"
    if code == "en" and text and _LATIN_WORD.search(text):
        return "en"
    return detect_language(text)


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_score(text: str, lang: ReviewLang) -> float:
    """The score of one text in -1..1 (SnowNLP for ``zh``, VADER for ``en``)."""
    if lang == "zh":
        from snownlp import SnowNLP

        return 2.0 * float(SnowNLP(text).sentiments) - 1.0
    return float(_vader().polarity_scores(text)["compound"])


def sentiment_label(score: float) -> str:
    """``negative`` below :data:`NEGATIVE_BELOW`, ``positive`` above
    :data:`POSITIVE_ABOVE`, else ``neutral``."""
    if score < NEGATIVE_BELOW:
        return "negative"
    return "positive" if score > POSITIVE_ABOVE else "neutral"


def _require(columns: list[str] | tuple[str, ...], wanted: tuple[str, ...], table: str) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise PortraitsError(f"the {table} table lacks column(s) {', '.join(missing)}; it "
                             f"needs {', '.join(wanted)}")


def score_reviews(reviews: pa.Table) -> pa.Table:
    """Score each review's text: language, sentiment (-1..1) and label.

    Args:
        reviews: Columns ``review_id``, ``text`` and optionally ``lang`` (``zh``, ``en``
            or null; detected from the text when null or not valid for it).

    Returns:
        ``review_id``, ``lang`` (``zh``/``en``), ``sentiment``, ``label`` (positive,
        neutral, negative) and ``reason``: null for a scored review, else why it has no
        score (``empty_text``: null or blank; ``no_words``: neither Chinese characters
        nor Latin letters), with ``sentiment`` and ``label`` null. Identical texts in the
        same language are scored once.

    Raises:
        PortraitsError: ``review_id`` or ``text`` is missing.

    Example:
        >>> score_reviews(pa.table({"review_id": ["r1"], "text": ["物流很快，非常满意"],
        ...     "lang": [None]})).column("label").to_pylist()
        ['positive']
    """
    _require(reviews.column_names, ("review_id", "text"), "reviews")
    texts = reviews.column("text").to_pylist()
    given = (reviews.column("lang").to_pylist() if "lang" in reviews.column_names
             else [None] * len(texts))
    done: dict[tuple[str, str], float] = {}
    langs, scores, labels, reasons = [], [], [], []
    for text, code in zip(texts, given, strict=True):
        lang = review_language(text, code)
        score: float | None = None
        reason = None
        if text is None or not text.strip():
            reason = EMPTY_TEXT
        elif lang is None:
            reason = NO_WORDS
        else:
            key = (lang, text.strip())
            if key not in done:
                done[key] = sentiment_score(key[1], lang)
            score = done[key]
        langs.append(lang)
        scores.append(score)
        labels.append(None if score is None else sentiment_label(score))
        reasons.append(reason)
    return pa.table([reviews.column("review_id").cast(pa.string()), langs, scores, labels,
                     reasons], schema=SCORED_SCHEMA)


def _scores(table: pa.Table, scored: pa.Table | None) -> pa.Table:
    """Scores of every review of ``table``: reused from ``scored`` by review id, the rest
    scored now."""
    if scored is None:
        return score_reviews(table)
    _require(scored.column_names, ("review_id", "sentiment", "label"), "scored")
    import pyarrow.compute as pc

    known = scored.filter(pc.is_in(scored.column("review_id"),
                                   value_set=table.column("review_id")))
    ids = known.column("review_id")
    known = known.take(pc.index_in(pc.unique(ids), value_set=ids))  # one score per review
    known = pa.table({f.name: known.column(f.name).cast(f.type) if f.name in
                      known.column_names else pa.nulls(known.num_rows, f.type)
                      for f in SCORED_SCHEMA}, schema=SCORED_SCHEMA)
    fresh = table.filter(pc.invert(pc.is_in(table.column("review_id"),
                                            value_set=known.column("review_id"))))
    return pa.concat_tables([known, score_reviews(fresh)])


def _review_rows(reviews: ir.Table, products: ir.Table) -> ir.Table:
    """Reviews with their product's name and category (the leaf path when there is one)."""
    _require(reviews.columns, REVIEW_COLUMNS, "reviews")
    _require(products.columns, ("product_id",), "products")
    cols = products.columns
    category = next((c for c in ("category_path", "category") if c in cols), None)
    if category is None:
        raise PortraitsError("the products table needs a category_path or category column")
    import ibis

    info = products.select(
        _pid=products.product_id, category=products[category].cast("string"),
        product_name=products.name.cast("string") if "name" in cols
        else ibis.null("string")).distinct(on="_pid")
    joined = reviews.left_join(info, reviews.product_id == info._pid)
    return joined.select(*REVIEW_COLUMNS, "category", "product_name")


def analyze_sentiment(reviews: ir.Table, products: ir.Table,
                      to_arrow: Callable[[ir.Table], pa.Table], scored: pa.Table | None = None,
                      top: int = 10, *, min_count: int = MIN_COUNT) -> SentimentReport:
    """Score the reviews and aggregate them per category, product and customer.

    Args:
        reviews: Canonical reviews with ``customer_id``.
        products: Canonical products (``product_id``, ``category_path`` or ``category``,
            optionally ``name``).
        to_arrow: Executes an Ibis expression (the engine's ``to_arrow``).
        scored: Stored scores (``review_id``, ``sentiment``, ``label``, …); reviews with
            a score there are not scored again.
        top: Pain-point keywords kept per category and per product.
        min_count: Least number of negative reviews that must mention a keyword.

    Returns:
        A :class:`SentimentReport`.

    Example:
        >>> report = analyze_sentiment(ws.table("reviews"), ws.table("products"),
        ...                            ws.engine.to_arrow)  # doctest: +SKIP
        >>> report.pain_points("category").head()  # doctest: +SKIP
    """
    table = to_arrow(_review_rows(reviews, products))
    scores = _scores(table.select(["review_id", "text", "lang"]), scored)
    frame = table.drop_columns(["lang"]).to_pandas().merge(
        scores.to_pandas(), on="review_id", how="left")
    frame["keywords"] = keyword_sets(frame["text"])
    return SentimentReport(frame, scores, top, min_count)


@dataclass(frozen=True, eq=False)
class SentimentReport(Analysis):
    """Review sentiment per category, product and customer, with pain points.

    Attributes:
        reviews: One row per review: ids, category, product name, rating, text, ``lang``,
            ``sentiment``, ``label``, ``reason`` and ``keywords``.
        scored: The scores (``review_id``, ``lang``, ``sentiment``, ``label``,
            ``reason``), ready to store as ``review_sentiment`` for the profiles.
        top: Pain-point keywords per group.
        min_count: Least negative reviews mentioning a pain-point keyword.
    """

    reviews: pd.DataFrame
    scored: pa.Table
    top: int = 10
    min_count: int = MIN_COUNT

    def to_pandas(self) -> pd.DataFrame:
        """Per category, most negative first: ``reviews``, ``scored``,
        ``positive_share`` / ``neutral_share`` / ``negative_share`` (of scored reviews,
        0-1), ``mean_sentiment``, ``mean_rating`` and ``top_complaint`` (the first pain
        point, or null)."""
        frame = self.reviews.assign(**{f"_{label}": self.reviews["label"] == label
                                       for label in LABELS})
        table = frame.groupby("category", dropna=False).agg(
            reviews=("review_id", "size"), scored=("label", "count"),
            positive=("_positive", "sum"), neutral=("_neutral", "sum"),
            negative=("_negative", "sum"), mean_sentiment=("sentiment", "mean"),
            mean_rating=("rating", "mean")).reset_index()
        for label in LABELS:
            table[f"{label}_share"] = (table[label] / table["scored"]).where(
                table["scored"] > 0)
        worst = self.pain_points("category", top=1)
        table["top_complaint"] = table["category"].map(
            dict(zip(worst["category"], worst["keyword"], strict=True)))
        table = table.sort_values(["negative_share", "reviews", "category"],
                                  ascending=[False, False, True], na_position="last")
        return table[["category", "reviews", "scored", "positive_share", "neutral_share",
                      "negative_share", "mean_sentiment", "mean_rating",
                      "top_complaint"]].reset_index(drop=True)

    def pain_points(self, level: Literal["category", "product"] | None = None,
                    top: int | None = None, min_count: int | None = None) -> pd.DataFrame:
        """The most negative keywords per category and per product.

        Args:
            level: ``category``, ``product`` or both (None).
            top: Keywords per group (the report's ``top`` when omitted).
            min_count: Least negative reviews mentioning a keyword (the report's).

        Returns:
            ``level``, ``category``, ``product_id`` and ``product_name`` (null on the
            category level), ``rank``, ``keyword``, ``negative_reviews``,
            ``other_reviews``, ``negative_share``, ``log_odds`` and ``z`` (see
            :mod:`portraits.analytics.painpoints`).
        """
        import pandas as pd

        top = self.top if top is None else top
        least = self.min_count if min_count is None else min_count
        parts = []
        if level in (None, "category"):
            part = rank_pain_points(self.reviews, ["category"], top, least)
            parts.append(part.assign(level="category", product_id=None, product_name=None))
        if level in (None, "product"):
            names = self.reviews.drop_duplicates("product_id").set_index("product_id")
            part = rank_pain_points(self.reviews, ["category", "product_id"], top, least)
            parts.append(part.assign(level="product", product_name=part["product_id"].map(
                names["product_name"])))
        columns = ["level", "category", "product_id", "product_name", "rank", "keyword",
                   "negative_reviews", "other_reviews", "negative_share", "log_odds", "z"]
        return pd.concat([p[columns] for p in parts], ignore_index=True)

    def per_customer(self) -> pd.DataFrame:
        """Per customer with reviews: ``reviews`` (written), ``mean_sentiment`` (of the
        scored ones) and ``negative_reviews``."""
        mine = self.reviews[self.reviews["customer_id"].notna()]
        table = mine.assign(_negative=mine["label"] == "negative").groupby(
            "customer_id").agg(reviews=("review_id", "size"),
                               mean_sentiment=("sentiment", "mean"),
                               negative_reviews=("_negative", "sum")).reset_index()
        return table.sort_values("customer_id").reset_index(drop=True)

    def chart(self, lang: Lang = "en") -> Chart:
        """Stacked horizontal bars: positive / neutral / negative share per category,
        most negative on top (categories with at least :data:`MIN_REVIEWS` scored
        reviews, at most :data:`CHART_CATEGORIES`)."""
        from portraits.analytics.chart import Chart

        table = self.to_pandas()
        table = table[table["scored"] > 0]
        shown = table[table["scored"] >= MIN_REVIEWS]
        shown = (shown if not shown.empty else table).head(CHART_CATEGORIES)
        names = [str(c) if isinstance(c, str) else _say("unknown", lang)
                 for c in shown["category"]]
        colours = {"positive": "#91cc75", "neutral": "#c8c8c8", "negative": "#ee6666"}
        series = [{"name": _say(label, lang), "type": "bar", "stack": "share",
                   "itemStyle": {"color": colours[label]},
                   "data": [round(float(v) * 100, 1) for v in shown[f"{label}_share"]]}
                  for label in reversed(LABELS)]  # negative first: the bars sorted by it
        return Chart({
            "title": {"text": _say("title", lang), "subtext": _takeaway(shown, lang)},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "legend": {"data": [s["name"] for s in series], "bottom": 0},
            "xAxis": {"type": "value", "name": _say("share_axis", lang), "max": 100},
            "yAxis": {"type": "category", "name": _say("category_axis", lang),
                      "data": names, "inverse": True},
            "series": series,
        })


def _takeaway(shown: pd.DataFrame, lang: Lang) -> str:
    if shown.empty:
        return _say("nothing", lang)
    worst = shown.iloc[0]
    if not worst["negative_share"] > 0:
        return _say("no_negative", lang)
    category = worst["category"] if isinstance(worst["category"], str) else _say("unknown",
                                                                                 lang)
    text = _say("takeaway", lang, category=category, share=worst["negative_share"] * 100)
    if isinstance(worst["top_complaint"], str):
        text += _say("complaint", lang, keyword=worst["top_complaint"])
    return text
