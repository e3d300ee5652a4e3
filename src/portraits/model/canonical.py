"""Canonical entities: the typed shape every source is mapped onto.

Each entity lists its fields with type, PII flag, whether a value is required, which kind
of identifier it carries (for identity resolution and the integration rate), the allowed
values of enumerations, and the built-in outlier rules that cleaning applies by default.
``docs/model.md`` is generated from this module (``python -m portraits.model.docs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

DType = Literal["string", "int64", "float64", "boolean", "date", "timestamp"]
EntityMode = Literal["upsert", "append"]
OutlierKind = Literal["min", "greater_than", "max", "not_before", "not_future", "age_between"]
Action = Literal["reject", "null", "flag"]


class IdType(StrEnum):
    """Kinds of identifier that link records to one person."""

    PHONE = "phone"
    EMAIL = "email"
    MEMBER_ID = "member_id"
    DEVICE_ID = "device_id"
    WECHAT_OPENID = "wechat_openid"
    WECHAT_UNIONID = "wechat_unionid"
    ANONYMOUS_ID = "anonymous_id"
    USER_ID = "user_id"
    STORE_MEMBER_ID = "store_member_id"


@dataclass(frozen=True)
class OutlierRule:
    """A built-in plausibility rule on one field.

    Attributes:
        rule: Stable rule id shown in rejects and quality reports.
        kind: How ``value`` bounds the field.
        value: The bound: a number, an ISO date, or ``"low,high"`` years for ``age_between``.
        action: ``reject`` drops the row to the rejects table; ``null`` clears the value
            and keeps the row; ``flag`` keeps both and records the finding.
    """

    rule: str
    kind: OutlierKind
    value: str | float | None = None
    action: Action = "reject"


@dataclass(frozen=True)
class FieldDef:
    """One canonical field."""

    name: str
    dtype: DType
    en: str
    zh: str
    pii: bool = False
    required: bool = False
    identifier: IdType | None = None
    enum: tuple[str, ...] | None = None
    outliers: tuple[OutlierRule, ...] = ()


@dataclass(frozen=True)
class Entity:
    """A canonical table."""

    name: str
    en: str
    zh: str
    key: tuple[str, ...]
    mode: EntityMode
    fields: tuple[FieldDef, ...]
    time_field: str | None = None
    derived: bool = False
    source_scoped: bool = False
    _by_name: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def field(self, name: str) -> FieldDef:
        """The field called ``name`` (KeyError if unknown)."""
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        """Whether the entity has a field called ``name``."""
        return name in self._by_name

    @property
    def merge_key(self) -> tuple[str, ...]:
        """Columns that identify a stored row: the key, within its source if scoped."""
        return (*self.key, "_source") if self.source_scoped else self.key

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in canonical order."""
        return tuple(f.name for f in self.fields)

    @property
    def identifier_fields(self) -> tuple[FieldDef, ...]:
        """Fields that carry an identifier of a person."""
        return tuple(f for f in self.fields if f.identifier is not None)


NOT_NEGATIVE = OutlierRule("negative_amount", "min", 0.0)
NOT_FUTURE = OutlierRule("future_timestamp", "not_future")
NOT_BEFORE_2000 = OutlierRule("before_2000", "not_before", "2000-01-01")
EVENT_TIME_RULES = (NOT_FUTURE, NOT_BEFORE_2000)

GENDERS = ("male", "female", "unknown")
MARITAL = ("single", "married", "divorced", "widowed")
EDUCATION = ("primary", "secondary", "high_school", "college", "bachelor", "master", "doctorate")
PLATFORMS = ("web", "app", "mini_program", "store", "server")


def _f(name: str, dtype: DType, en: str, zh: str, **kw: object) -> FieldDef:
    return FieldDef(name, dtype, en, zh, **kw)  # type: ignore[arg-type]


CUSTOMERS = Entity(
    "customers", "Customer records from CRM, membership and point-of-sale files",
    "客户档案（CRM、会员、门店导出）", key=("source_id",), mode="upsert",
    time_field="registered_at", source_scoped=True,
    fields=(
        _f("source_id", "string", "The record's key in its source system", "来源系统中的记录编号",
           required=True),
        _f("member_id", "string", "Membership number", "会员号", identifier=IdType.MEMBER_ID),
        _f("store_member_id", "string", "Offline store membership number", "门店会员号",
           identifier=IdType.STORE_MEMBER_ID),
        _f("name", "string", "Full name", "姓名", pii=True),
        _f("phone", "string", "Mobile phone, E.164 (+8613812345678)", "手机号（E.164 格式）",
           pii=True, identifier=IdType.PHONE),
        _f("email", "string", "E-mail address, lower case", "电子邮箱", pii=True,
           identifier=IdType.EMAIL),
        _f("wechat_openid", "string", "WeChat openid (per official account / mini-program)",
           "微信 openid", identifier=IdType.WECHAT_OPENID),
        _f("wechat_unionid", "string", "WeChat unionid (per developer account)", "微信 unionid",
           identifier=IdType.WECHAT_UNIONID),
        _f("gender", "string", "Gender", "性别", enum=GENDERS),
        _f("birthday", "date", "Date of birth", "出生日期", pii=True,
           outliers=(OutlierRule("age_out_of_range", "age_between", "0,120", "null"),)),
        _f("province", "string", "Province", "省份"),
        _f("city", "string", "City", "城市"),
        _f("address", "string", "Street address", "详细地址", pii=True),
        _f("city_tier", "string", "City tier (1, new1, 2-5); filled from the city if not given",
           "城市等级（一线、新一线、二至五线）"),
        _f("occupation", "string", "Occupation", "职业"),
        _f("income_band", "string", "Income band as given by the source", "收入等级"),
        _f("marital_status", "string", "Marital status", "婚姻状况", enum=MARITAL),
        _f("education", "string", "Highest education", "学历", enum=EDUCATION),
        _f("member_level", "string", "Membership level", "会员等级"),
        _f("registered_at", "timestamp", "When the person registered", "注册时间",
           outliers=(OutlierRule("future_timestamp", "not_future", None, "null"),)),
        _f("channel_preferences", "string", "Preferred contact channels, comma separated",
           "偏好触达渠道（逗号分隔）"),
    ),
)

EVENTS = Entity(
    "events", "Behaviour events (web, app, mini-program, server), Segment E-commerce Spec names",
    "行为事件（网站、App、小程序、服务端），遵循 Segment 电商事件规范", key=("message_id",),
    mode="append", time_field="timestamp",
    fields=(
        _f("message_id", "string", "Unique message id; repeated ids are duplicates",
           "消息唯一编号（用于去重）", required=True),
        _f("anonymous_id", "string", "Anonymous visitor id (cookie / app install)", "匿名访客编号",
           identifier=IdType.ANONYMOUS_ID),
        _f("user_id", "string", "Logged-in user id (member id)", "登录用户编号",
           identifier=IdType.USER_ID),
        _f("device_id", "string", "Device id", "设备编号", identifier=IdType.DEVICE_ID),
        _f("wechat_openid", "string", "WeChat openid of a mini-program user", "微信 openid",
           identifier=IdType.WECHAT_OPENID),
        _f("wechat_unionid", "string", "WeChat unionid of a mini-program user", "微信 unionid",
           identifier=IdType.WECHAT_UNIONID),
        _f("event", "string", "Event name (Segment E-commerce Spec)", "事件名称", required=True),
        _f("timestamp", "timestamp", "When it happened, workspace local time",
           "发生时间（本地时间）", required=True, outliers=EVENT_TIME_RULES),
        _f("platform", "string", "web, app, mini_program, store or server", "平台",
           enum=PLATFORMS),
        _f("device_type", "string", "mobile, tablet or desktop", "设备类型"),
        _f("os", "string", "Operating system", "操作系统"),
        _f("channel", "string", "Acquisition channel", "渠道"),
        _f("utm_source", "string", "Campaign source (utm_source)", "来源（utm_source）"),
        _f("utm_medium", "string", "Campaign medium (utm_medium)", "媒介（utm_medium）"),
        _f("utm_campaign", "string", "Campaign name (utm_campaign)", "活动（utm_campaign）"),
        _f("ip", "string", "Client IP address", "IP 地址", pii=True),
        _f("city", "string", "City of the event", "城市"),
        _f("product_id", "string", "Product the event is about", "商品编号"),
        _f("category", "string", "Product category", "商品类目"),
        _f("order_id", "string", "Order the event is about", "订单编号"),
        _f("revenue", "float64", "Revenue of an Order Completed event (CNY)", "订单金额（元）",
           outliers=(NOT_NEGATIVE,)),
        _f("query", "string", "Search keywords of Products Searched", "搜索关键词"),
        _f("properties", "string", "Other event properties as a JSON object", "其他属性（JSON）"),
    ),
)

ORDERS = Entity(
    "orders", "Orders from e-commerce and point of sale", "订单（电商与门店）", key=("order_id",),
    mode="upsert", time_field="ordered_at",
    fields=(
        _f("order_id", "string", "Order number", "订单编号", required=True),
        _f("member_id", "string", "Buyer's membership number", "会员号",
           identifier=IdType.MEMBER_ID),
        _f("user_id", "string", "Buyer's online user id", "用户编号", identifier=IdType.USER_ID),
        _f("phone", "string", "Buyer's phone, E.164", "手机号", pii=True,
           identifier=IdType.PHONE),
        _f("ordered_at", "timestamp", "When the order was placed", "下单时间", required=True,
           outliers=EVENT_TIME_RULES),
        _f("status", "string", "paid, refunded, cancelled, …", "订单状态"),
        _f("channel", "string", "app, web, mini_program or store", "下单渠道"),
        _f("store_city", "string", "City of the store for offline orders", "门店城市"),
        _f("total_amount", "float64", "Amount paid after discounts (CNY)", "实付金额（元）",
           outliers=(NOT_NEGATIVE,)),
        _f("discount_amount", "float64", "Discount granted (CNY)", "优惠金额（元）",
           outliers=(NOT_NEGATIVE,)),
        _f("coupon_code", "string", "Coupon used", "优惠券编号"),
        _f("payment_method", "string", "Payment method", "支付方式"),
    ),
)

ORDER_ITEMS = Entity(
    "order_items", "Lines of orders", "订单明细", key=("order_id", "line_no"), mode="upsert",
    fields=(
        _f("order_id", "string", "Order number", "订单编号", required=True),
        _f("line_no", "int64", "Line number within the order", "行号", required=True),
        _f("product_id", "string", "Product", "商品编号", required=True),
        _f("quantity", "int64", "Quantity", "数量",
           outliers=(OutlierRule("zero_or_negative_quantity", "greater_than", 0.0),)),
        _f("unit_price", "float64", "Unit price (CNY)", "单价（元）", outliers=(NOT_NEGATIVE,)),
        _f("amount", "float64", "Line amount (CNY)", "金额（元）", outliers=(NOT_NEGATIVE,)),
    ),
)

PRODUCTS = Entity(
    "products", "Product catalogue", "商品目录", key=("product_id",), mode="upsert",
    fields=(
        _f("product_id", "string", "Product id (SKU/SPU)", "商品编号", required=True),
        _f("name", "string", "Product name", "商品名称"),
        _f("category_path", "string", "Category path, '/' separated", "类目路径（/ 分隔）"),
        _f("category", "string", "Top-level category (first part of the path if not given)",
           "一级类目"),
        _f("brand", "string", "Brand", "品牌"),
        _f("price", "float64", "List price (CNY)", "价格（元）", outliers=(NOT_NEGATIVE,)),
        _f("launched_at", "date", "Launch date", "上市日期"),
        _f("attributes", "string", "Other attributes as a JSON object", "其他属性（JSON）"),
    ),
)

REVIEWS = Entity(
    "reviews", "Product reviews and comments", "商品评价", key=("review_id",), mode="upsert",
    time_field="created_at",
    fields=(
        _f("review_id", "string", "Review id", "评价编号", required=True),
        _f("order_id", "string", "Order reviewed", "订单编号"),
        _f("product_id", "string", "Product reviewed", "商品编号"),
        _f("member_id", "string", "Reviewer's membership number", "会员号",
           identifier=IdType.MEMBER_ID),
        _f("rating", "int64", "Rating 1-5", "评分（1-5）",
           outliers=(OutlierRule("rating_out_of_range", "min", 1.0),
                     OutlierRule("rating_out_of_range", "max", 5.0))),
        _f("text", "string", "Review text", "评价内容"),
        _f("lang", "string", "Language (zh, en)", "语言"),
        _f("created_at", "timestamp", "When it was written", "评价时间", outliers=EVENT_TIME_RULES),
    ),
)

CONSENTS = Entity(
    "consents", "Consent ledger: purpose and channel, granted or withdrawn",
    "授权记录：用途、渠道、同意或撤回", key=("member_id", "purpose", "channel", "recorded_at"),
    mode="upsert", time_field="recorded_at",
    fields=(
        _f("member_id", "string", "Membership number", "会员号", required=True,
           identifier=IdType.MEMBER_ID),
        _f("purpose", "string", "Purpose (marketing, analytics, …)", "用途", required=True),
        _f("channel", "string", "Channel (sms, email, push, wechat, …)", "渠道", required=True),
        _f("status", "string", "granted or withdrawn", "状态", required=True,
           enum=("granted", "withdrawn")),
        _f("recorded_at", "timestamp", "When it was given or withdrawn", "记录时间",
           required=True, outliers=(NOT_FUTURE,)),
        _f("source", "string", "Where it was collected", "采集来源"),
    ),
)

IDENTITIES = Entity(
    "identities", "Every identifier seen in accepted records, per entity and source, with its "
    "first record and whether it is used to merge (derived by identity resolution)",
    "标识符出现记录（身份识别时生成）", key=("entity", "source", "id_type", "id_value"),
    mode="upsert", derived=True,
    fields=(
        _f("id_type", "string", "Kind of identifier", "标识符类型", required=True),
        _f("id_value", "string", "Identifier value, normalised", "标识符值（已标准化）",
           required=True, pii=True),
        _f("entity", "string", "Entity of the records it was seen in", "所在实体", required=True),
        _f("source", "string", "Source that loaded the records", "数据源", required=True),
        _f("record_key", "string", "Key of the first record it was seen in", "首次出现的记录主键",
           required=True),
        _f("order_key", "string", "Sort key of that record (time, entity, source, key)",
           "首条记录排序键"),
        _f("seen_at", "timestamp", "Time of the first record (its load time if it has none)",
           "首次出现时间"),
        _f("last_seen_at", "timestamp", "Time of the last record", "最近出现时间"),
        _f("records", "int64", "Records it was seen in", "出现记录数"),
        _f("status", "string", "used, junk, shared or blocked", "状态（使用/无效/共用/屏蔽）",
           enum=("used", "junk", "shared", "blocked")),
        _f("reason", "string", "Why it is not used to merge", "未用于合并的原因"),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (CUSTOMERS, EVENTS, ORDERS, ORDER_ITEMS, PRODUCTS, REVIEWS, CONSENTS, IDENTITIES)
}
LOADABLE: tuple[str, ...] = tuple(name for name, e in ENTITIES.items() if not e.derived)


def entity(name: str) -> Entity:
    """The canonical entity called ``name`` (KeyError if unknown)."""
    return ENTITIES[name]
