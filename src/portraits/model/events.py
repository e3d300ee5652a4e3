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
