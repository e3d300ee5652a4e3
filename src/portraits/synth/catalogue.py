"""The synthetic product catalogue: categories, brands, prices, and planted product pairs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np

# Leaf categories: (top/leaf path, brands, median price in CNY, English name).
LEAVES: Final[tuple[tuple[str, tuple[str, ...], float, str], ...]] = (
    ("数码/手机", ("华为", "小米", "Apple", "OPPO", "vivo"), 3200.0, "phones"),
    ("数码/耳机", ("华为", "小米", "Apple", "索尼", "漫步者"), 450.0, "earphones"),
    ("数码/笔记本电脑", ("联想", "华为", "Apple", "戴尔"), 6500.0, "laptops"),
    ("数码/手机壳", ("倍思", "绿联", "Apple"), 59.0, "phone cases"),
    ("数码/充电器", ("倍思", "绿联", "Anker", "小米"), 99.0, "chargers"),
    ("母婴/纸尿裤", ("帮宝适", "花王", "好奇", "大王"), 139.0, "diapers"),
    ("母婴/湿巾", ("帮宝适", "好奇", "全棉时代"), 39.0, "baby wipes"),
    ("母婴/奶粉", ("飞鹤", "美赞臣", "爱他美", "君乐宝"), 299.0, "infant formula"),
    ("母婴/玩具", ("乐高", "费雪", "Babycare"), 169.0, "toys"),
    ("美妆/护肤", ("兰蔻", "雅诗兰黛", "珀莱雅", "薇诺娜", "SK-II"), 480.0, "skin care"),
    ("美妆/彩妆", ("完美日记", "花西子", "MAC", "YSL"), 220.0, "make-up"),
    ("服饰/女装", ("优衣库", "ZARA", "太平鸟", "欧时力"), 259.0, "womenswear"),
    ("服饰/男装", ("优衣库", "海澜之家", "GXG", "七匹狼"), 239.0, "menswear"),
    ("服饰/运动鞋", ("李宁", "安踏", "耐克", "阿迪达斯"), 499.0, "sneakers"),
    ("食品/零食", ("三只松鼠", "良品铺子", "百草味", "卫龙"), 35.0, "snacks"),
    ("食品/饮料", ("农夫山泉", "元气森林", "可口可乐", "东方树叶"), 29.0, "drinks"),
    ("食品/生鲜", ("盒马", "百果园", "每日优鲜"), 68.0, "fresh food"),
    ("家居/日用品", ("维达", "清风", "蓝月亮", "立白"), 45.0, "household"),
    ("家居/厨具", ("苏泊尔", "美的", "九阳", "双立人"), 299.0, "kitchenware"),
    ("运动/健身", ("Keep", "迪卡侬", "李宁"), 189.0, "fitness"),
)
TOP_CATEGORIES: Final[tuple[str, ...]] = tuple(dict.fromkeys(p.split("/")[0] for p, *_ in LEAVES))
MODELS: Final[tuple[str, ...]] = ("经典款", "Pro", "Max", "轻薄款", "青春版", "旗舰款", "Plus",
                                  "mini", "尊享装", "家庭装", "便携款", "2026 新款")

# Planted bought-together pairs (leaf of A, leaf of B): when an order holds the anchor
# product of A, the partner product of B is added with PAIR_PROBABILITY.
PAIR_LEAVES: Final[tuple[tuple[str, str], ...]] = (
    ("数码/手机", "数码/手机壳"),
    ("母婴/纸尿裤", "母婴/湿巾"),
    ("美妆/护肤", "美妆/彩妆"),
    ("家居/厨具", "食品/生鲜"),
)
PAIR_PROBABILITY: Final = 0.7


@dataclass(frozen=True)
class Catalogue:
    """Products as parallel arrays (index = product number)."""

    product_id: np.ndarray
    name: np.ndarray
    leaf: np.ndarray  # index into LEAVES
    brand: np.ndarray
    price: np.ndarray
    launched_at: list[date]
    pairs: tuple[tuple[int, int], ...]  # planted bought-together (anchor, partner)

    @property
    def size(self) -> int:
        """Number of products."""
        return len(self.product_id)

    def category_path(self, index: np.ndarray) -> np.ndarray:
        """Category paths of products."""
        paths = np.array([p for p, *_ in LEAVES], dtype=object)
        return paths[self.leaf[index]]

    def top_category(self, index: np.ndarray) -> np.ndarray:
        """Top-level categories of products."""
        tops = np.array([p.split("/")[0] for p, *_ in LEAVES], dtype=object)
        return tops[self.leaf[index]]

    def by_leaf(self) -> list[np.ndarray]:
        """Product numbers of each leaf, cheapest first."""
        groups = []
        for leaf in range(len(LEAVES)):
            members = np.flatnonzero(self.leaf == leaf)
            groups.append(members[np.argsort(self.price[members], kind="stable")])
        return groups


def build_catalogue(rng: np.random.Generator, per_leaf: int, end: date) -> Catalogue:
    """A catalogue with ``per_leaf`` products in every leaf category."""
    leaf = np.repeat(np.arange(len(LEAVES)), per_leaf)
    brands, names, prices = [], [], []
    for index in leaf:
        path, leaf_brands, median, _ = LEAVES[index]
        brand = leaf_brands[int(rng.integers(len(leaf_brands)))]
        model = MODELS[int(rng.integers(len(MODELS)))]
        brands.append(brand)
        names.append(f"{brand} {path.split('/')[1]} {model}")
        prices.append(round(float(median * rng.lognormal(0.0, 0.45)), 1) + 0.9)
    count = len(leaf)
    product_id = np.array([f"SKU{100001 + i}" for i in range(count)], dtype=object)
    launched = [end - timedelta(days=int(d)) for d in rng.integers(30, 1500, count)]
    # A few products are new: launched within the last 60 days (new-product hit rate).
    for i in rng.choice(count, size=max(1, count // 25), replace=False):
        launched[int(i)] = end - timedelta(days=int(rng.integers(1, 60)))
    catalogue = Catalogue(product_id, np.array(names, dtype=object), leaf,
                          np.array(brands, dtype=object), np.array(prices), launched, ())
    leaves = [p for p, *_ in LEAVES]
    groups = catalogue.by_leaf()
    pairs = tuple((int(groups[leaves.index(a)][per_leaf // 2]),
                   int(groups[leaves.index(b)][per_leaf // 3])) for a, b in PAIR_LEAVES)
    return Catalogue(product_id, catalogue.name, leaf, catalogue.brand, catalogue.price,
                     launched, pairs)
