"""Event names of the Segment E-commerce Spec (v2) plus the common lifecycle events."""

from typing import Final

ECOMMERCE_EVENTS: Final[tuple[str, ...]] = (
    "Products Searched",
    "Product List Viewed",
    "Product List Filtered",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Updated",
    "Order Completed",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Cart Shared",
    "Product Reviewed",
)

LIFECYCLE_EVENTS: Final[tuple[str, ...]] = (
    "Page Viewed",
    "Screen Viewed",
    "Signed Up",
    "Signed In",
    "Signed Out",
    "Application Opened",
)

KNOWN_EVENTS: Final[frozenset[str]] = frozenset(ECOMMERCE_EVENTS + LIFECYCLE_EVENTS)

# What a person reads for each event name in zh-CN (analytics tables and charts).
EVENT_NAMES_ZH: Final[dict[str, str]] = {
    "Products Searched": "搜索商品", "Product List Viewed": "浏览商品列表",
    "Product List Filtered": "筛选商品列表", "Promotion Viewed": "浏览促销",
    "Promotion Clicked": "点击促销", "Product Clicked": "点击商品",
    "Product Viewed": "浏览商品", "Product Added": "加入购物车", "Product Removed": "移出购物车",
    "Cart Viewed": "查看购物车", "Checkout Started": "开始结算",
    "Checkout Step Viewed": "查看结算步骤", "Checkout Step Completed": "完成结算步骤",
    "Payment Info Entered": "填写支付信息", "Order Updated": "更新订单",
    "Order Completed": "完成订单", "Order Refunded": "订单退款", "Order Cancelled": "取消订单",
    "Coupon Entered": "输入优惠券", "Coupon Applied": "使用优惠券", "Coupon Denied": "优惠券被拒",
    "Coupon Removed": "移除优惠券", "Product Added to Wishlist": "加入收藏",
    "Product Removed from Wishlist": "移出收藏", "Wishlist Product Added to Cart": "收藏加购",
    "Product Shared": "分享商品", "Cart Shared": "分享购物车", "Product Reviewed": "评价商品",
    "Page Viewed": "浏览页面", "Screen Viewed": "浏览屏幕", "Signed Up": "注册",
    "Signed In": "登录", "Signed Out": "退出登录", "Application Opened": "打开应用",
}


def event_label(name: str, lang: str = "en") -> str:
    """An event's name as a person reads it: the Segment name, or its zh-CN translation."""
    return EVENT_NAMES_ZH.get(name, name) if lang == "zh-CN" else name
