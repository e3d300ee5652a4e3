"""Chinese cities with their province and city tier (城市等级).

Tiers follow the commonly used business ranking (一线, 新一线, 二线 … 五线): ``1``,
``new1``, ``2``, ``3``, ``4``, ``5``. Loading fills ``customers.city_tier`` from this table
when a source gives a city but no tier; the synthetic data draws cities from it with
``weight`` (a rough share of online shoppers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class City:
    """A city, its province and its tier."""

    name: str
    province: str
    tier: str
    weight: float


def _cities(tier: str, weight: float, rows: str) -> tuple[City, ...]:
    pairs = [item.split(":") for item in rows.split()]
    return tuple(City(city, province, tier, weight) for city, province in pairs)


CITIES: Final[tuple[City, ...]] = (
    *_cities("1", 6.0, "北京:北京 上海:上海 广州:广东 深圳:广东"),
    *_cities("new1", 3.0, "成都:四川 重庆:重庆 杭州:浙江 武汉:湖北 苏州:江苏 西安:陕西 "
                          "南京:江苏 长沙:湖南 天津:天津 郑州:河南 东莞:广东 青岛:山东 "
                          "昆明:云南 宁波:浙江 合肥:安徽"),
    *_cities("2", 1.6, "佛山:广东 沈阳:辽宁 无锡:江苏 济南:山东 厦门:福建 福州:福建 "
                       "温州:浙江 哈尔滨:黑龙江 石家庄:河北 大连:辽宁 南宁:广西 泉州:福建 "
                       "贵阳:贵州 长春:吉林 南昌:江西 太原:山西 珠海:广东 烟台:山东"),
    *_cities("3", 0.9, "兰州:甘肃 扬州:江苏 海口:海南 乌鲁木齐:新疆 呼和浩特:内蒙古 "
                       "洛阳:河南 芜湖:安徽 银川:宁夏 桂林:广西 赣州:江西 湛江:广东 "
                       "绵阳:四川"),
    *_cities("4", 0.5, "丽江:云南 北海:广西 九江:江西 宜昌:湖北 岳阳:湖南 曲靖:云南 "
                       "汉中:陕西 日照:山东"),
    *_cities("5", 0.3, "张家界:湖南 黄山:安徽 延安:陕西 鹤岗:黑龙江 吐鲁番:新疆 林芝:西藏"),
)

CITY_TIERS: Final[dict[str, str]] = {c.name: c.tier for c in CITIES}
TIER_NAMES: Final[dict[str, tuple[str, str]]] = {
    "1": ("Tier 1", "一线"), "new1": ("New tier 1", "新一线"), "2": ("Tier 2", "二线"),
    "3": ("Tier 3", "三线"), "4": ("Tier 4", "四线"), "5": ("Tier 5", "五线"),
}
