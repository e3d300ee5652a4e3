"""Pain points (痛点): the words negative reviews use more often than the other reviews.

A review's *keywords* are its distinct content words: jieba's segmentation for text with
Chinese characters (words of two or more characters), simple word tokens for the rest
(three or more letters, lower-cased); stop words and generic opinion words ("太差",
"失望", "terrible" — they say *that* something is bad, not *what*) are dropped, so what is
left names a topic: 尺码, 续航, battery, delivery.

Within a group of reviews (a category or a product) each keyword gets the smoothed
log-odds ratio of appearing in a negative review versus in the group's other scored
reviews, and its z-score (the log-odds over its standard error)::

    log_odds = log((n + a) / (N - n + a)) - log((m + a) / (M - m + a)),   a = 0.5
    z = log_odds / sqrt(1/(n + a) + 1/(N - n + a) + 1/(m + a) + 1/(M - m + a))

where ``n`` of the ``N`` negative reviews and ``m`` of the ``M`` other reviews mention it.
Keywords rank by ``z``: a word two complaints happen to share does not outrank one that
half of the complaints name. Keywords mentioned by fewer than ``min_count`` negative
reviews, or not more typical of negative reviews than of the others (log-odds ≤ 0), are
left out.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pandas as pd

SMOOTHING: Final = 0.5
MIN_COUNT: Final = 3
CJK: Final = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR: Final = re.compile(f"[{CJK}]")
CJK_WORD: Final = re.compile(f"[{CJK}]{{2,}}")
LATIN_WORD: Final = re.compile(r"[a-z]{3,}(?:'[a-z]+)?")

# Function words, pronouns, numbers and intensifiers: never a topic.
_ZH_STOP: Final = """
    一个 一些 一下 一点 一直 一样 两个 两天 三天 几天 这个 那个 这些 那些 这样 那样 这么 那么
    什么 怎么 为什么 因为 所以 但是 可是 不过 而且 然后 还是 就是 只是 只能 已经 非常 特别
    比较 真的 实在 有点 有些 还有 没有 不是 不会 不能 可以 我们 你们 他们 自己 大家 这次 下次
    以后 之前 之后 时候 东西 感觉 觉得 收到 购买 买的 很多 很少 总之 其实 确实 一般般 之类
"""
ZH_STOP_WORDS: Final = frozenset(_ZH_STOP.split())
# Generic judgements: they carry the sentiment, not the topic.
_ZH_OPINION: Final = """
    太差 很差 较差 好差 差劲 极差 失望 很失望 满意 不满意 非常满意 好评 差评 中评 垃圾 不错
    很好 太好 还好 一般 还行 还可以 凑合 推荐 不推荐 喜欢 不喜欢 糟糕 后悔 坑人 恶心 无语
    完美 超级 好用 难用 值得 给力 中规中矩 差不多 严重
"""
ZH_OPINION_WORDS: Final = frozenset(_ZH_OPINION.split())
_EN_STOP: Final = """
    the and for are but not you your yours with this that these those have has had was were
    been being its it's they them their there here from into onto over under after before
    again about above below very too just only also than then what which who whom when where
    why how all any both each few more most other some such nor own same can will would should
    could did does doing don't doesn't didn't isn't wasn't aren't won't cannot one two three
    four five day days week weeks time times got get gets item product thing things really
    much many bit lot lots after ever even still yet our ours out off per via took take
    takes came come comes went made make makes use used using
"""
EN_STOP_WORDS: Final = frozenset(_EN_STOP.split())


def has_cjk(text: str) -> bool:
    """Whether ``text`` contains a Chinese (CJK) character."""
    return CJK_CHAR.search(text) is not None


@cache
def _segmenter() -> Any:
    """jieba, imported on first use (its dictionary loads in about half a second)."""
    with warnings.catch_warnings():  # jieba's sources have invalid escape sequences
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba
    jieba.setLogLevel(logging.WARNING)
    return jieba


@cache
def _english_opinion_words() -> frozenset[str]:
    """Words with a sentiment in VADER's lexicon (it ships inside vaderSentiment)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return frozenset(SentimentIntensityAnalyzer().lexicon)


def keywords(text: str | None) -> frozenset[str]:
    """The distinct keywords of one review (see the module docstring).

    Example:
        >>> sorted(keywords("尺码偏小，穿不上，退货又麻烦"))
        ['偏小', '尺码', '退货', '麻烦']
        >>> sorted(keywords("Battery life is awful, barely two hours."))
        ['barely', 'battery', 'hours', 'life']
    """
    if not text or not text.strip():
        return frozenset()
    words = (_segmenter().lcut(text) if has_cjk(text)
             else LATIN_WORD.findall(text.lower()))
    kept = set()
    for token in words:
        word = token.strip().lower()
        if CJK_WORD.fullmatch(word):
            if word not in ZH_STOP_WORDS and word not in ZH_OPINION_WORDS:
                kept.add(word)
        elif LATIN_WORD.fullmatch(word) and word not in EN_STOP_WORDS \
                and word not in _english_opinion_words():
            kept.add(word)
    return frozenset(kept)


def keyword_sets(texts: Iterable[str | None]) -> list[frozenset[str]]:
    """:func:`keywords` of each text; repeated texts are segmented once."""
    seen: dict[str | None, frozenset[str]] = {}
    out = []
    for text in texts:
        if text not in seen:
            seen[text] = keywords(text)
        out.append(seen[text])
    return out


def log_odds(n: float, negatives: float, m: float, others: float) -> tuple[float, float]:
    """Smoothed log-odds ratio of a keyword in ``n`` of ``negatives`` negative reviews
    versus ``m`` of ``others`` other reviews, and its z-score.

    Example:
        >>> [round(v, 2) for v in log_odds(20, 100, 10, 900)]
        [3.07, 7.74]
    """
    cells = (n + SMOOTHING, negatives - n + SMOOTHING, m + SMOOTHING,
             others - m + SMOOTHING)
    ratio = math.log(cells[0] / cells[1]) - math.log(cells[2] / cells[3])
    return ratio, ratio / math.sqrt(sum(1.0 / c for c in cells))


def rank_pain_points(reviews: pd.DataFrame, by: Sequence[str], top: int,
                     min_count: int = MIN_COUNT) -> pd.DataFrame:
    """The most negative keywords of each group of reviews.

    Args:
        reviews: One row per review with the ``by`` columns, ``label`` (positive,
            neutral, negative or null) and ``keywords`` (a set of words).
        by: Group columns (e.g. ``["category"]`` or ``["category", "product_id"]``).
        top: Keywords kept per group.
        min_count: Least number of negative reviews that must mention a keyword.

    Returns:
        The ``by`` columns, ``rank`` (1 = most negative), ``keyword``,
        ``negative_reviews`` (negative reviews mentioning it), ``other_reviews`` (other
        scored reviews mentioning it), ``negative_share`` (of the reviews mentioning it),
        ``log_odds`` and ``z``.
    """
    import pandas as pd

    by = list(by)
    columns = [*by, "rank", "keyword", "negative_reviews", "other_reviews",
               "negative_share", "log_odds", "z"]
    scored = reviews[reviews["label"].notna()].copy()
    if scored.empty:
        return pd.DataFrame(columns=columns)
    scored["negative"] = scored["label"] == "negative"
    sizes = scored.groupby(by, dropna=False).agg(
        negatives=("negative", "sum"), reviews=("negative", "size")).reset_index()
    words = scored[[*by, "negative", "keywords"]].explode("keywords").dropna(
        subset=["keywords"]).rename(columns={"keywords": "keyword"})
    counts = words.groupby([*by, "keyword"], dropna=False).agg(
        negative_reviews=("negative", "sum"), mentions=("negative", "size")).reset_index()
    counts = counts.merge(sizes, on=by, how="left")
    counts = counts[counts["negative_reviews"] >= min_count]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    counts["other_reviews"] = counts["mentions"] - counts["negative_reviews"]
    counts["negative_share"] = counts["negative_reviews"] / counts["mentions"]
    odds = [log_odds(n, big_n, m, total - big_n) for n, big_n, m, total in zip(
        counts["negative_reviews"], counts["negatives"], counts["other_reviews"],
        counts["reviews"], strict=True)]
    counts["log_odds"] = [ratio for ratio, _ in odds]
    counts["z"] = [z for _, z in odds]
    counts = counts[counts["log_odds"] > 0].sort_values(
        [*by, "z", "negative_reviews", "keyword"],
        ascending=[True] * len(by) + [False, False, True])
    counts["rank"] = counts.groupby(by, dropna=False).cumcount() + 1
    counts = counts[counts["rank"] <= top]
    return counts[columns].reset_index(drop=True)
