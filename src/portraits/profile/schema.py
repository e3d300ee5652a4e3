"""The documented schema of the ``profiles`` table: every field, its type and its recipe.

``build_profiles`` casts its output to exactly these columns in this order, and
``docs/profiles.md`` is generated from this list (``python -m portraits.profile.docs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from portraits.model.canonical import EDUCATION, GENDERS, MARITAL, PLATFORMS

ProfileDType = Literal["string", "int64", "float64", "boolean", "timestamp"]
Dimension = Literal["id", "basic", "behaviour", "consumption", "interest", "social", "quality"]

CUSTOMER_ID: Final = "customer_id"

DIMENSIONS: Final[dict[Dimension, tuple[str, str]]] = {
    "id": ("Identity", "身份"),
    "basic": ("Demographic / basic (R3.1)", "人口属性 / 基础属性"),
    "behaviour": ("Behaviour (R3.2)", "行为特征"),
    "consumption": ("Consumption habits (R3.4)", "消费习惯"),
    "interest": ("Interests (R3.3)", "兴趣偏好"),
    "social": ("Social (R3.5)", "社交属性"),
    "quality": ("Profile quality (R3.6)", "画像质量"),
}


@dataclass(frozen=True)
class ProfileField:
    """One column of ``profiles``."""

    name: str
    dtype: ProfileDType
    dimension: Dimension
    en: str
    zh: str
    how: str


def _f(name: str, dtype: ProfileDType, dimension: Dimension, en: str, zh: str,
       how: str) -> ProfileField:
    return ProfileField(name, dtype, dimension, en, zh, how)


_BASIC = (
    _f("gender", "string", "basic", "Gender: male, female or unknown", "性别", "most recent known "
       "value of the person's customer records; `unknown` when none says male or female"),
    _f("age", "int64", "basic", "Age in whole years on the reference date", "年龄",
       "from the most recent known birthday"),
    _f("age_band", "string", "basic", "Age band", "年龄段",
       "`<18`, `18-24`, `25-29`, `30-34`, `35-39`, `40-49`, `50-59`, `60+`"),
    _f("life_stage", "string", "basic", "Life stage", "人生阶段",
       "age ≥ 60 `senior`; married: `young_family` (< 40) or `mature_family`; single, "
       "divorced or widowed: `young_single` (< 35) or `single_adult`; marital status "
       "unknown: `young_adult` (< 35) or `adult`"),
    _f("province", "string", "basic", "Province", "省份",
       "the province of the profile's city when the city is known, else the most recent "
       "known province"),
    _f("city", "string", "basic", "City", "城市", "most recent known value"),
    _f("city_tier", "string", "basic", "City tier (1, new1, 2-5)", "城市等级",
       "most recent known value, else from the city"),
    _f("occupation", "string", "basic", "Occupation", "职业", "most recent known value"),
    _f("income_band", "string", "basic", "Income band", "收入等级", "most recent known value"),
    _f("marital_status", "string", "basic", "Marital status", "婚姻状况",
       "most recent known value"),
    _f("education", "string", "basic", "Education", "学历", "most recent known value"),
    _f("member_level", "string", "basic", "Membership level", "会员等级",
       "most recent known value"),
    _f("registered_at", "timestamp", "basic", "First registration", "首次注册时间",
       "earliest `registered_at` of the person's records"),
    _f("customer_records", "int64", "basic", "Customer records merged into this profile",
       "合并的客户档案数", "count of `customers` rows with this customer id"),
    _f("has_phone", "boolean", "basic", "A phone number is known", "有手机号",
       "any record has a phone"),
    _f("has_email", "boolean", "basic", "An e-mail address is known", "有邮箱",
       "any record has an e-mail"),
    _f("has_wechat", "boolean", "basic", "A WeChat openid or unionid is known", "有微信",
       "any record has a WeChat openid or unionid"),
)

_BEHAVIOUR = (
    _f("events", "int64", "behaviour", "Events", "行为事件数", "events up to the reference time"),
    _f("sessions", "int64", "behaviour", "Visits (sessions)", "访问次数",
       "a visit ends after more than 30 idle minutes; visits are cut per person across all "
       "of their devices and anonymous ids, so two devices used together make one visit"),
    _f("active_days", "int64", "behaviour", "Days with at least one event", "活跃天数",
       "distinct dates of events"),
    _f("first_seen_at", "timestamp", "behaviour", "First event", "首次访问时间", "min timestamp"),
    _f("last_seen_at", "timestamp", "behaviour", "Last event", "最近访问时间", "max timestamp"),
    _f("days_since_last_seen", "int64", "behaviour", "Days since the last event", "距最近访问天数",
       "reference date − date of the last event"),
    _f("product_views", "int64", "behaviour", "Product Viewed events", "商品浏览次数", "count"),
    _f("searches", "int64", "behaviour", "Products Searched events", "搜索次数", "count"),
    _f("product_adds", "int64", "behaviour", "Product Added events (add to cart)", "加购次数",
       "count"),
    _f("cart_views", "int64", "behaviour", "Cart Viewed events", "查看购物车次数", "count"),
    _f("checkouts", "int64", "behaviour", "Checkout Started events", "发起结算次数", "count"),
    _f("order_events", "int64", "behaviour", "Order Completed events", "下单事件数", "count"),
    _f("coupons_applied", "int64", "behaviour", "Coupon Applied events", "用券次数（事件）",
       "count"),
    _f("wishlist_adds", "int64", "behaviour", "Product Added to Wishlist events", "收藏次数",
       "count"),
    _f("funnel_stage", "string", "behaviour", "Furthest funnel stage reached", "最远漏斗阶段",
       "`order` (Order Completed) › `checkout` (Checkout Started) › `add` (Product Added) › "
       "`view` (Product Viewed) › `none`"),
    _f("favourite_hour", "int64", "behaviour", "Hour of day most visits start (0-23)",
       "最常访问时段", "mode over visits; ties go to the earliest hour"),
    _f("favourite_weekday", "int64", "behaviour", "Weekday most visits start (0 = Monday)",
       "最常访问星期", "mode over visits; ties go to the earliest day"),
    _f("weekend_share", "float64", "behaviour", "Share of visits on Saturday or Sunday",
       "周末访问占比", "weekend visits / visits"),
    _f("night_share", "float64", "behaviour", "Share of visits starting 22:00-05:59",
       "夜间访问占比", "night visits / visits"),
    _f("devices", "int64", "behaviour", "Distinct devices and browsers", "设备数",
       "distinct device id, or the anonymous id where there is no device id"),
    _f("main_device_type", "string", "behaviour", "Device type of most visits", "主要设备类型",
       "mode over visits (mobile, tablet, desktop)"),
    _f("main_platform", "string", "behaviour", "Platform of most visits", "主要平台",
       "mode over visits (app, web, mini_program, store, server)"),
    _f("platforms", "int64", "behaviour", "Distinct platforms visited on", "使用平台数",
       "distinct platforms of visits"),
    _f("main_channel", "string", "behaviour", "Acquisition channel of most visits",
       "主要来源渠道", "mode over visits"),
    _f("channels", "int64", "behaviour", "Distinct channels", "来源渠道数", "distinct channels "
       "of visits"),
    _f("main_utm_source", "string", "behaviour", "utm_source of most visits", "主要投放来源",
       "mode over visits"),
    _f("utm_sources", "int64", "behaviour", "Distinct utm_source values", "投放来源数",
       "distinct utm_source of visits"),
    _f("top_search_keywords", "string", "behaviour", "Most searched keywords, comma separated",
       "高频搜索词", "up to 3 trimmed, lower-cased queries, most searched first"),
)

_CONSUMPTION = (
    _f("orders", "int64", "consumption", "Orders (not cancelled or refunded)", "订单数",
       "orders up to the reference time; orders without a status count"),
    _f("spend", "float64", "consumption", "Amount paid (CNY)", "消费金额",
       "sum of `total_amount` of counted orders"),
    _f("average_order_value", "float64", "consumption", "Average order value (CNY)", "客单价",
       "spend / orders"),
    _f("first_order_at", "timestamp", "consumption", "First order", "首单时间", "min ordered_at"),
    _f("last_order_at", "timestamp", "consumption", "Last order", "最近下单时间",
       "max ordered_at"),
    _f("days_since_last_order", "int64", "consumption", "Days since the last order",
       "距最近下单天数", "reference date − date of the last order"),
    _f("mean_days_between_orders", "float64", "consumption", "Mean days between orders",
       "平均复购间隔（天）", "(last order − first order) / (orders − 1); empty for one order"),
    _f("orders_365d", "int64", "consumption", "Orders in the last 365 days", "近一年订单数",
       "count"),
    _f("spend_365d", "float64", "consumption", "Spend in the last 365 days (CNY)",
       "近一年消费金额", "sum"),
    _f("returned_orders", "int64", "consumption", "Cancelled or refunded orders", "取消/退款订单数",
       "orders with an excluded status"),
    _f("discount_share", "float64", "consumption", "Share of the list value paid by discounts",
       "优惠占比", "sum of discounts / (spend + sum of discounts)"),
    _f("coupon_use_rate", "float64", "consumption", "Share of orders with a coupon",
       "用券率", "orders with a coupon code / orders"),
    _f("favourite_category", "string", "consumption", "Top-level category with most spend",
       "最常购买类目", "order lines joined to products; ties go to the first name"),
    _f("favourite_brand", "string", "consumption", "Brand with most spend", "最常购买品牌",
       "order lines joined to products; ties go to the first name"),
    _f("brands", "int64", "consumption", "Distinct brands bought", "购买品牌数",
       "distinct brands of counted order lines"),
    _f("favourite_brand_share", "float64", "consumption",
       "Share of spend on the favourite brand (0-1)", "最常购买品牌消费占比",
       "spend on `favourite_brand` / spend on lines with a brand"),
    _f("price_index", "float64", "consumption",
       "Price level: unit price / the category's median unit price, quantity-weighted mean",
       "价格水平指数", "1 = pays the median price of what they buy; medians per category path "
       "over all counted order lines"),
    _f("price_sensitivity", "string", "consumption", "Price sensitivity: high, medium or low",
       "价格敏感度", "high: price index < 0.85 or coupon use rate ≥ 0.5; low: price index > "
       "1.15 and coupon use rate < 0.25; else medium"),
    _f("spending_level", "string", "consumption", "Spending level: high, mid or mass",
       "消费层级", "by spend of the last 365 days: high ≥ 5000 CNY, mid ≥ 1000 CNY, else mass"),
)

_INTEREST = (
    _f("top_interest", "string", "interest", "Category of the highest interest affinity",
       "首要兴趣类目", "see `profile_interests`"),
    _f("top_interest_affinity", "float64", "interest", "Its affinity (0-1)", "首要兴趣强度",
       "share of the person's decayed interest weight"),
    _f("interests", "string", "interest", "Top 3 interest categories, comma separated",
       "兴趣类目", "highest affinity first"),
)

_SOCIAL = (
    _f("shares", "int64", "social", "Product Shared and Cart Shared events", "分享次数", "count"),
    _f("referrals", "int64", "social", "People this person referred", "推荐人数",
       "distinct other people whose events carry `\"referrer\": \"<this person's member or "
       "user id>\"` in `properties`"),
    _f("referred", "boolean", "social", "This person came through a referral", "被推荐",
       "any of their events carries a `referrer` property"),
    _f("reviews_written", "int64", "social", "Reviews written", "评价数", "reviews up to the "
       "reference time"),
    _f("mean_rating", "float64", "social", "Mean rating given (1-5)", "平均评分",
       "mean of `rating`"),
    _f("review_sentiment", "float64", "social",
       "Mean sentiment of the reviews written (-1 negative to 1 positive)", "评价情感均值",
       "mean `sentiment` of the person's reviews scored in the `review_sentiment` table "
       "(docs/analytics/sentiment.md); empty when none is scored"),
    _f("negative_reviews", "int64", "social", "Reviews with negative sentiment", "负面评价数",
       "reviews labelled `negative` in the `review_sentiment` table (0 without any); empty "
       "when that table is not given"),
)

# The values an enumerated text field can hold, so conditions comparing it with anything
# else are refused with a hint (``marital_status == '已婚'``: the stored value is married).
FIELD_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "gender": GENDERS, "marital_status": MARITAL, "education": EDUCATION,
    "main_platform": PLATFORMS, "main_device_type": ("mobile", "tablet", "desktop"),
    "age_band": ("<18", "18-24", "25-29", "30-34", "35-39", "40-49", "50-59", "60+"),
    "life_stage": ("senior", "young_family", "mature_family", "young_single", "single_adult",
                   "young_adult", "adult"),
    "funnel_stage": ("order", "checkout", "add", "view", "none"),
    "spending_level": ("high", "mid", "mass"),
    "price_sensitivity": ("high", "medium", "low"),
    "city_tier": ("1", "new1", "2", "3", "4", "5"),
}

PROFILE_FIELDS: Final[tuple[ProfileField, ...]] = (
    _f(CUSTOMER_ID, "string", "id", "Customer id from identity resolution", "客户编号",
       "one row per customer id found in any input"),
    *_BASIC, *_BEHAVIOUR, *_CONSUMPTION, *_INTEREST, *_SOCIAL,
    _f("completeness", "float64", "quality", "Profile completeness in percent (0-100)",
       "画像完整度（%）", "share of the completeness fields that are known; see below"),
    _f("as_of", "timestamp", "quality", "Reference time of the build", "画像计算基准时间",
       "the workspace's current time unless given"),
)

INTEREST_FIELDS: Final[tuple[ProfileField, ...]] = (
    _f(CUSTOMER_ID, "string", "id", "Customer id", "客户编号", ""),
    _f("category", "string", "interest", "Top-level category", "一级类目",
       "of the viewed, added or bought product"),
    _f("affinity", "float64", "interest", "Interest affinity (0-1; a person's rows sum to 1)",
       "兴趣强度", "decayed weight / the person's total decayed weight"),
    _f("rank", "int64", "interest", "Rank within the person (1 = strongest)", "排名",
       "ties go to the first category name"),
)


def field_names() -> tuple[str, ...]:
    """Column names of ``profiles`` in order."""
    return tuple(f.name for f in PROFILE_FIELDS)
