"""Review sentiment: hand examples in both languages, language detection, bad input, the
planted truth of the synthetic shop (labels, pain-point categories and their topics),
per-customer figures and the profile fields built from the stored scores."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend

from portraits.analytics.painpoints import keywords, log_odds
from portraits.analytics.sentiment import (
    NEGATIVE_BELOW,
    POSITIVE_ABOVE,
    SentimentReport,
    analyze_sentiment,
    detect_language,
    review_language,
    score_reviews,
)
from portraits.errors import PortraitsError
from portraits.profile import ProfileInputs, build_profiles
from tests.analytics.conftest import Shop
from tests.conftest import NOW

POSITIVE = ["物流很快，非常满意", "宝贝收到了，很喜欢，颜色也好看", "性价比很高，值得购买",
            "孩子很喜欢，下次还来买", "Love it, works perfectly.",
            "Great product, fast shipping!", "Very comfortable and stylish.",
            "The sound quality is amazing.", "Would definitely recommend to friends."]
NEGATIVE = ["质量太差了，很失望", "收到就是坏的，退货还要自己出运费", "客服态度很差，不理人",
            "味道很难闻，不敢给孩子用", "假货，千万别买",
            "Terrible, it stopped working after a week.", "Waste of money.",
            "The zipper broke on the first day.", "Customer service was rude and unhelpful.",
            "Cheap material, looks nothing like the picture."]
# What each planted topic is called in the reviews' own words.
TOPIC_WORDS = {"size": {"尺码", "size"}, "battery": {"续航", "电池", "battery"}}


def _one(text: str | None, lang: str | None = None) -> dict[str, Any]:
    table = score_reviews(pa.table({"review_id": ["r1"], "text": pa.array([text], pa.string()),
                                    "lang": pa.array([lang], pa.string())}))
    row: dict[str, Any] = table.to_pylist()[0]
    return row


@pytest.mark.parametrize("text", POSITIVE)
def test_clearly_positive_reviews_are_positive(text: str) -> None:
    row = _one(text)
    assert row["label"] == "positive", row
    assert isinstance(row["sentiment"], float) and row["sentiment"] > POSITIVE_ABOVE


@pytest.mark.parametrize("text", NEGATIVE)
def test_clearly_negative_reviews_are_negative(text: str) -> None:
    row = _one(text)
    assert row["label"] == "negative", row
    assert isinstance(row["sentiment"], float) and row["sentiment"] < NEGATIVE_BELOW


@pytest.mark.xfail(strict=True, reason="SnowNLP scores this praise of customer service "
                   "at -0.22: its naive Bayes model reads 态度 (attitude) as a complaint word")
def test_praise_of_customer_service_is_positive() -> None:
    assert _one("客服态度很好，耐心解答")["label"] == "positive"


@pytest.mark.parametrize(("text", "lang"), [("一般般，和描述差不多", "zh"), ("普通", "zh"),
                                            ("It is okay.", "en"),
                                            ("Arrived on Tuesday.", "en")])
def test_plain_statements_are_neutral(text: str, lang: str) -> None:
    row = _one(text)
    assert (row["label"], row["lang"]) == ("neutral", lang)


@pytest.mark.parametrize(("text", "given", "expected"), [
    ("质量很好", None, "zh"),
    ("Great quality", None, "en"),
    ("AirPods 续航太差", None, "zh"),          # a brand name in a Chinese review
    ("Great 旗袍, love it", None, "en"),       # a Chinese word in an English review
    ("质量很好", "zh-CN", "zh"),
    ("Great quality", "EN_us", "en"),
    ("Great quality", "zh", "en"),            # the given code does not fit the text
    ("质量很好", "fr", "zh"),                  # an unknown code is ignored
    ("👍👍 123", "zh", None),
])
def test_language_is_the_given_code_when_it_fits_else_detected(text: str, given: str | None,
                                                               expected: str | None) -> None:
    assert review_language(text, given) == expected


def test_detection_counts_a_chinese_character_like_a_word() -> None:
    assert detect_language("iPhone 15 的壳很好") == "zh"
    assert detect_language("The size runs small 尺码") == "en"
    assert detect_language("") is None


@pytest.mark.parametrize(("text", "reason"), [(None, "empty_text"), ("", "empty_text"),
                                              ("   \n", "empty_text"), ("👍👍!", "no_words")])
def test_reviews_without_words_get_no_label_and_a_reason(text: str | None, reason: str) -> None:
    row = _one(text, "zh")
    assert (row["sentiment"], row["label"], row["reason"]) == (None, None, reason)


def test_missing_columns_are_refused() -> None:
    with pytest.raises(PortraitsError, match="lacks column"):
        score_reviews(pa.table({"review_id": ["r1"]}))


def test_scoring_is_deterministic_and_needs_no_lang_column() -> None:
    texts = ["质量很好，非常满意", "Poor quality, broke after two days.", "质量很好，非常满意", ""]
    table = pa.table({"review_id": ["a", "b", "c", "d"], "text": texts})
    first, second = score_reviews(table), score_reviews(table)
    assert first.equals(second)
    assert first.column_names == ["review_id", "lang", "sentiment", "label", "reason"]
    rows = first.to_pylist()
    assert rows[0]["sentiment"] == rows[2]["sentiment"]
    assert [r["lang"] for r in rows] == ["zh", "en", "zh", None]


def test_keywords_are_topics_not_opinions() -> None:
    assert keywords("质量太差了，很失望") == {"质量"}
    assert keywords("Terrible delivery, took a week and the box was damaged.") == {
        "delivery", "box"}
    assert keywords("  ") == frozenset()
    ratio, z = log_odds(5, 10, 0, 90)
    assert ratio > 0 and 0 < z < ratio


# A small shop: four products in two categories, six reviewers.
REVIEWS = [
    ("r1", "p1", "c1", 1, "尺码偏小，穿不上", "zh"),
    ("r2", "p1", "c2", 2, "尺码不准，退货麻烦", None),
    ("r3", "p2", "c3", 1, "尺码太小了，很失望", "zh"),
    ("r4", "p2", "c1", 5, "质量很好，非常满意", "zh"),
    ("r5", "p3", "c4", 5, "Great sound, fast delivery.", "en"),
    ("r6", "p4", "c5", 1, "Battery life is awful, barely two hours.", "en"),
    ("r7", "p3", None, 4, "   ", "zh"),
    ("r8", "p9", "c6", 5, "Excellent value for money.", "en"),   # a product not in products
]
PRODUCTS = [("p1", "连衣裙", "服饰/女装"), ("p2", "衬衫", "服饰/女装"),
            ("p3", "耳机 Pro", "数码/耳机"), ("p4", "耳机 Lite", "数码/耳机")]


@pytest.fixture
def small(con: BaseBackend) -> tuple[ibis.Table, ibis.Table]:
    reviews = pd.DataFrame(REVIEWS, columns=["review_id", "product_id", "customer_id",
                                             "rating", "text", "lang"])
    reviews["order_id"] = "o"
    reviews["member_id"] = "m"
    reviews["created_at"] = pd.Timestamp("2026-10-01")
    products = pd.DataFrame(PRODUCTS, columns=["product_id", "name", "category_path"])
    products["category"] = products["category_path"].str.split("/").str[0]
    return con.create_table("reviews", reviews), con.create_table("products", products)


def _report(tables: tuple[ibis.Table, ibis.Table], **kwargs: object) -> SentimentReport:
    reviews, products = tables
    return analyze_sentiment(reviews, products, lambda t: t.to_pyarrow(), **kwargs)  # type: ignore[arg-type]


def test_category_table_shares_and_ratings(small: tuple[ibis.Table, ibis.Table]) -> None:
    table = _report(small, min_count=2).to_pandas().set_index("category")
    women = table.loc["服饰/女装"]
    assert (women["reviews"], women["scored"]) == (4, 4)
    assert women["negative_share"] == pytest.approx(0.75)
    assert women["mean_rating"] == pytest.approx(2.25)
    assert women["top_complaint"] == "尺码"
    earphones = table.loc["数码/耳机"]
    assert (earphones["reviews"], earphones["scored"]) == (3, 2)   # r7 has no words
    shares = table[["positive_share", "neutral_share", "negative_share"]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx([1.0] * len(table))
    assert table.index[0] == "服饰/女装"                              # most negative first
    assert sum(pd.isna(c) for c in table.index) == 1                 # r8's unknown product


def test_pain_points_per_category_and_product(small: tuple[ibis.Table, ibis.Table]) -> None:
    points = _report(small).pain_points(min_count=2)
    first = points[points["rank"] == 1].set_index(["level", "category"])
    assert first.loc[("category", "服饰/女装"), "keyword"] == "尺码"
    product = points[(points["level"] == "product") & (points["product_id"] == "p1")]
    assert product.iloc[0][["keyword", "product_name", "negative_reviews"]].tolist() == [
        "尺码", "连衣裙", 2]
    assert _report(small).pain_points("product", min_count=3).empty


def test_per_customer_is_the_hand_computation(small: tuple[ibis.Table, ibis.Table]) -> None:
    report = _report(small)
    scores = {r["review_id"]: r["sentiment"] for r in report.scored.to_pylist()}
    per = report.per_customer().set_index("customer_id")
    assert per.loc["c1", "reviews"] == 2
    assert per.loc["c1", "mean_sentiment"] == pytest.approx((scores["r1"] + scores["r4"]) / 2)
    assert per.loc["c1", "negative_reviews"] == 1
    assert list(per.index) == ["c1", "c2", "c3", "c4", "c5", "c6"]    # r7 has no customer
    assert per["negative_reviews"].sum() == 4


def test_stored_scores_are_reused(small: tuple[ibis.Table, ibis.Table]) -> None:
    stored = pa.table({"review_id": ["r4", "r404", "r4"], "sentiment": [-0.9, 0.5, -0.9],
                       "label": ["negative", "positive", "negative"]})
    report = _report(small, scored=stored)
    rows = {r["review_id"]: r for r in report.scored.to_pylist()}
    assert len(rows) == len(REVIEWS)                       # r404 is not a review here
    assert (rows["r4"]["sentiment"], rows["r4"]["label"]) == (-0.9, "negative")
    assert rows["r1"]["label"] == "negative"               # scored now
    with pytest.raises(PortraitsError, match="scored table lacks"):
        _report(small, scored=pa.table({"review_id": ["r1"]}))


def test_takeaway_without_negative_reviews(small: tuple[ibis.Table, ibis.Table]) -> None:
    reviews, products = small
    happy = reviews.filter(reviews.review_id.isin(["r4", "r5", "r8"]))
    report = analyze_sentiment(happy, products, lambda t: t.to_pyarrow())
    assert report.chart("zh-CN").option["title"]["subtext"] == "各类目均无负面评价。"
    nothing = analyze_sentiment(reviews.filter(reviews.review_id == "r7"), products,
                                lambda t: t.to_pyarrow())
    assert nothing.chart().option["title"]["subtext"] == "No review could be scored."
    assert nothing.pain_points().empty


def test_bad_input_tables_are_refused(small: tuple[ibis.Table, ibis.Table]) -> None:
    reviews, products = small
    with pytest.raises(PortraitsError, match="reviews table lacks column"):
        analyze_sentiment(reviews.drop("customer_id"), products, lambda t: t.to_pyarrow())
    with pytest.raises(PortraitsError, match="category"):
        analyze_sentiment(reviews, products.drop("category", "category_path"),
                          lambda t: t.to_pyarrow())


def test_chart_in_both_languages_and_as_png(small: tuple[ibis.Table, ibis.Table],
                                            tmp_path: Path) -> None:
    report = _report(small, min_count=2)
    chart = report.chart("zh-CN")
    assert chart.kind == "bar"
    assert chart.title == "各类目评价情感分布"
    assert chart.option["xAxis"]["name"] == "占已评分评价的比例（%）"
    assert chart.option["title"]["subtext"] == "服饰/女装 的负面评价占比最高（75%）；主要问题：尺码"
    english = report.chart("en").option
    assert english["title"]["subtext"] == (
        "服饰/女装 has the most negative reviews (75%); top complaint: 尺码")
    assert [s["name"] for s in english["series"]] == ["Negative", "Neutral", "Positive"]
    assert "%" in english["xAxis"]["name"]
    for lang, name in (("en", "en.png"), ("zh-CN", "zh.png")):
        path = report.save_chart(tmp_path / name, lang)  # type: ignore[arg-type]
        assert path.stat().st_size > 10_000


# The planted truth of the synthetic shop.


@pytest.fixture(scope="module")
def shop_report(shop: Shop) -> SentimentReport:
    with shop.open() as ws:
        return analyze_sentiment(ws.table("reviews"), ws.table("products"), ws.engine.to_arrow)


def _confusion(shop: Shop, report: SentimentReport) -> Counter[tuple[str, str | None]]:
    """(planted, measured) label → reviews."""
    truth = pq.read_table(shop.root / "data" / "truth" / "reviews.parquet").to_pylist()
    measured = {r["review_id"]: r["label"] for r in report.scored.to_pylist()}
    return Counter((r["sentiment"], measured[r["review_id"]]) for r in truth
                   if r["review_id"] in measured)   # the loader rejects a few defective rows


def test_labels_agree_with_the_planted_sentiment(shop: Shop,
                                                 shop_report: SentimentReport) -> None:
    """Measured on seed 11 (376 reviews): negative 75/75, positive 259/259, neutral 18/42
    (24 planted neutral reviews read as positive: SnowNLP scores 还行吧，中规中矩 at 0.99);
    93.6 % overall. Positive and negative are never confused."""
    matrix = _confusion(shop, shop_report)
    labels = ("positive", "neutral", "negative")
    assert sum(matrix[(label, label)] for label in labels) / sum(matrix.values()) >= 0.92
    recall = {label: matrix[(label, label)] / sum(n for (planted, _), n in matrix.items()
                                                  if planted == label) for label in labels}
    assert recall["positive"] >= 0.97
    assert recall["negative"] >= 0.97
    assert recall["neutral"] >= 0.4
    assert matrix[("positive", "negative")] == matrix[("negative", "positive")] == 0


def test_planted_pain_points_are_the_most_negative_categories(
        shop: Shop, shop_report: SentimentReport) -> None:
    planted = shop.truth["pain_points"]
    table = shop_report.to_pandas()
    ranked = table[table["scored"] >= 5]["category"].tolist()
    assert set(ranked[:len(planted)]) == set(planted)
    # The planted topic is the top keyword of each (服饰/男装 has three negative reviews,
    # so a keyword needs only two mentions there).
    points = shop_report.pain_points("category", min_count=2)
    first = points[points["rank"] == 1].set_index("category")["keyword"]
    for category, planted_point in planted.items():
        assert first[category] in TOPIC_WORDS[planted_point["topic"]], category
    subtext = shop_report.chart("en").option["title"]["subtext"]
    assert subtext.startswith(ranked[0]) and "top complaint: 尺码" in subtext


def test_profile_fields_equal_the_per_customer_figures(
        shop: Shop, shop_report: SentimentReport) -> None:
    with shop.open() as ws:
        reviews = ws.table("reviews")
        scores = ws.engine.materialize(shop_report.scored)
        profiles = build_profiles(ProfileInputs(reviews=reviews, review_sentiment=scores),
                                  NOW).to_pandas().set_index("customer_id")
        unscored = build_profiles(ProfileInputs(reviews=reviews), NOW).to_pandas()
    per = shop_report.per_customer().set_index("customer_id")
    mine = profiles.loc[per.index]
    assert mine["reviews_written"].tolist() == per["reviews"].tolist()
    assert mine["negative_reviews"].tolist() == per["negative_reviews"].tolist()
    assert mine["review_sentiment"].to_numpy() == pytest.approx(
        per["mean_sentiment"].to_numpy())
    assert unscored["review_sentiment"].isna().all()
    assert unscored["negative_reviews"].isna().all()


def test_profile_refuses_scores_without_their_columns(con: BaseBackend) -> None:
    reviews = ibis.memtable({"review_id": ["r1"], "customer_id": ["c1"], "rating": [5]})
    with pytest.raises(PortraitsError, match="review_sentiment lacks label"):
        build_profiles(ProfileInputs(reviews=reviews, review_sentiment=ibis.memtable(
            {"review_id": ["r1"], "sentiment": [0.5]})), NOW)
