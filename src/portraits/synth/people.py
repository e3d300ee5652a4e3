"""Synthetic people: demographics, identifiers, persona, how they buy, churn and the value
layer that follows from them; one block at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist
from typing import Final

import numpy as np

from portraits.model.geography import CITIES
from portraits.synth.personas import PERSONAS

SURNAMES: Final = (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
                   ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
                   ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
                   ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"),
                   ("欧阳", "ouyang"), ("司马", "sima"))
GIVEN_FEMALE: Final = "芳娜敏静丽艳娟霞秀玲婷雪慧佳琳欣怡梦晶颖"
GIVEN_MALE: Final = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波宇浩凯"
# Characters that are easily typed for one another (same pinyin or similar shape).
TYPOS: Final[dict[str, str]] = dict(zip(GIVEN_FEMALE + GIVEN_MALE,
                                        "方那民敬莉燕涓夏琇铃亭雷惠嘉林心宜孟菁莹"
                                        "玮蔷垒君永洁滔铭朝钢萍晖朋化非新博雨皓恺", strict=True))
PHONE_PREFIXES: Final = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                         "151", "152", "155", "157", "158", "159", "166", "177", "180", "181",
                         "182", "185", "186", "187", "188", "189", "191", "198", "199")
EMAIL_DOMAINS: Final = ("qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com")
OCCUPATIONS: Final = ("白领", "教师", "医生", "工程师", "学生", "自由职业", "公务员", "销售",
                      "个体经营", "退休")
INCOME_BANDS: Final = ("<5000", "5000-10000", "10000-20000", "20000-50000", ">50000")
MARITAL: Final = ("未婚", "已婚", "离异")
EDUCATION: Final = ("高中", "大专", "本科", "硕士", "博士")
LEVELS: Final = ("普通会员", "银卡会员", "金卡会员", "钻石会员")
ROADS: Final = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "世纪大道")
DISTRICTS: Final = ("东城区", "西城区", "高新区", "滨江区", "天河区", "南山区", "武侯区", "江北区")
DECIMAL_MODULUS: Final = 10**8
ACTIVITY_SIGMA: Final = 0.45       # spread of the log-normal activity multiplier
CHURN_SHARE: Final = 0.35          # of regular buyers (who registered early enough)
LAPSED_SHARE: Final = 0.45         # of churners: those who stopped long ago
CHURN_DAYS: Final = (150, 240)     # recent churners stop this many days before the end
LAPSED_DAYS: Final = (300, 480)    # lapsed churners stop this many days before the end
MIN_LIFE: Final = 60               # days from registration to churn, at least
NEW_CYCLES: Final = 2              # a regular buyer is new for this many cycles
ONCE_NEW_DAYS: Final = 45          # a one-time buyer's purchase is recent this many days
ONCE_WARNING_DAYS: Final = 150     # … and no longer lost until this many days


def permuted(counter: np.ndarray, salt: int, modulus: int = DECIMAL_MODULUS) -> np.ndarray:
    """A bijection of ``[0, modulus)``: distinct counters give distinct, random-looking ids."""
    multiplier = 48_271 * 2 + 1  # odd and not a multiple of 5: invertible modulo 10**k
    return (counter.astype(np.int64) * multiplier + salt * 7_919) % modulus


@dataclass(frozen=True)
class People:
    """One block of people as parallel arrays; index 0 is person number ``first``."""

    first: int
    number: np.ndarray
    persona: np.ndarray
    female: np.ndarray
    name: list[str]
    birthday: list[date]
    city: np.ndarray
    address: list[str]
    phone: list[str]           # E.164
    email: list[str | None]
    member_id: list[str]
    registered_at: np.ndarray  # datetime64[s]
    churned_at: np.ndarray     # datetime64[D]; NaT when the person did not churn
    activity: np.ndarray       # personal multiplier of the persona's visit rate
    regular: np.ndarray        # bool: a regular buyer (orders every persona.cycle days)
    buys_once: np.ndarray      # bool: buys once, on the day they register
    store_member: np.ndarray   # bool: also an offline store member
    openid: list[str]
    unionid: list[str | None]
    occupation: np.ndarray
    income: np.ndarray
    marital: np.ndarray
    education: np.ndarray
    level: np.ndarray

    @property
    def size(self) -> int:
        """People in the block."""
        return len(self.number)


def make_people(rng: np.random.Generator, first: int, count: int, start: date,
                end: date, churn_share: float = CHURN_SHARE) -> People:
    """``count`` people numbered from ``first``; the window of activity is start..end."""
    number = np.arange(first, first + count)
    persona = rng.choice(len(PERSONAS), size=count, p=[p.share for p in PERSONAS])
    female_share = np.array([p.female for p in PERSONAS])[persona]
    female = rng.random(count) < female_share
    mean_age = np.array([p.age[0] for p in PERSONAS])[persona]
    spread = np.array([p.age[1] for p in PERSONAS])[persona]
    age_days = (np.clip(rng.normal(mean_age, spread), 16, 80) * 365.25).astype(int)
    birthday = [end - timedelta(days=int(d)) for d in age_days]
    weights = np.array([c.weight for c in CITIES])
    city = rng.choice(len(CITIES), size=count, p=weights / weights.sum())
    window = (end - start).days
    registered_days = rng.integers(-2 * 365, window - 7, count)
    registered = (np.datetime64(start, "s") + registered_days.astype("timedelta64[D]")
                  + rng.integers(8 * 3600, 23 * 3600, count).astype("timedelta64[s]"))
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, count)
    regular = activity >= _activity_above(np.array([p.regular for p in PERSONAS]))[persona]
    buys_once = ~regular & (activity >= _activity_above(
        np.array([p.regular + p.once for p in PERSONAS]))[persona])
    lapsed = rng.random(count) < LAPSED_SHARE
    churn_days = np.where(lapsed, rng.integers(*LAPSED_DAYS, count),
                          rng.integers(*CHURN_DAYS, count))
    churner = (regular & (rng.random(count) < churn_share)
               & (window - registered_days - churn_days >= MIN_LIFE))
    churned_at = np.where(churner, np.datetime64(end, "D") - churn_days.astype("timedelta64[D]"),
                          np.datetime64("NaT", "D"))
    loyal = np.array([p.name == "loyalist" for p in PERSONAS])[persona]
    level = np.where(loyal, rng.choice([2, 3], size=count, p=[0.6, 0.4]),
                     rng.choice(4, size=count, p=[0.55, 0.3, 0.12, 0.03]))
    married = np.array([p.name == "mother_baby" for p in PERSONAS])[persona]
    marital = np.where(married, 1, rng.choice(3, size=count, p=[0.45, 0.48, 0.07]))
    return People(
        first=first, number=number, persona=persona, female=female,
        name=_names(rng, female),
        birthday=birthday, city=city, address=_addresses(rng, city),
        phone=_phones(number), email=_emails(rng, number),
        member_id=[f"M{10_000_001 + int(n)}" for n in number],
        registered_at=registered, churned_at=churned_at,
        activity=activity, regular=regular, buys_once=buys_once,
        store_member=rng.random(count) < 0.15,
        openid=[f"oX{int(v):08d}{int(w):08d}abcdEFGH" for v, w in
                zip(permuted(number, 11), permuted(number, 12), strict=True)],
        unionid=[f"uY{int(v):08d}{int(w):08d}ijklMNOP" if keep else None for v, w, keep in
                 zip(permuted(number, 13), permuted(number, 14), rng.random(count) < 0.7,
                     strict=True)],
        occupation=rng.integers(0, len(OCCUPATIONS), count),
        income=np.clip(rng.integers(0, 4, count) + loyal.astype(int), 0, len(INCOME_BANDS) - 1),
        marital=marital, education=rng.choice(len(EDUCATION), size=count,
                                               p=[0.1, 0.25, 0.45, 0.16, 0.04]),
        level=level,
    )


def _activity_above(share: np.ndarray) -> np.ndarray:
    """The activity that a ``share`` of people reach or exceed (log-normal, median 1)."""
    normal = NormalDist()
    return np.array([np.inf if s <= 0 else 0.0 if s >= 1
                     else np.exp(ACTIVITY_SIGMA * normal.inv_cdf(1.0 - s)) for s in share])


def value_layers(people: People, start: date, end: date) -> np.ndarray:
    """The value layer (价值分层) planted for each person: high_value, potential,
    churn_warning or lost, or None for people with no purchase between ``start`` and
    ``end``. It follows from the parameters that drive their buying (persona, activity,
    registration, churn), never from the orders generated:

    - a regular buyer (``Persona.regular``: the most active share of the persona, who
      orders on the day they register, again within half a cycle, then every cycle
      ±25 %) who churned: ``churn_warning`` if they stopped recently (``CHURN_DAYS``
      before the end), ``lost`` if long ago (``LAPSED_DAYS``);
    - a regular buyer still active: ``potential`` for their first ``NEW_CYCLES`` cycles
      after registering (a few orders so far), then ``high_value``;
    - a one-time buyer (``Persona.once``), whose only purchase is on the day they
      register: ``potential`` if that was less than ``ONCE_NEW_DAYS`` days before the
      end, ``churn_warning`` if less than ``ONCE_WARNING_DAYS``, else ``lost``; None if
      they registered before ``start`` (the purchase predates the data);
    - everyone else only browses: None.

    The day counts are where the standard RFM scores (``portraits.profile.rfm``, the
    ``value_layer`` tag) put these people: active regular buyers, about half of all
    buyers, order at least every ~75 days (cycles of 45–60 days ± 25 %), so the recency
    quintiles fall near 45 days (R 4–5) and 150–170 days (R ≥ 3); recent churners stopped
    150–240 days ago with most of a year of orders behind them (at risk, can't lose
    them), lapsed ones 300–480 days ago with few orders in the last year (hibernating,
    lost); a one-time buyer has one order (F 1), so recency alone decides.
    """
    end_day = np.datetime64(end, "D")
    tenure = (end_day - people.registered_at.astype("datetime64[D]")).astype(np.int64)
    gone = (end_day - people.churned_at).astype(np.int64)
    churned = ~np.isnat(people.churned_at)
    cycle = np.array([p.cycle for p in PERSONAS])[people.persona]
    once = people.buys_once & (people.registered_at >= np.datetime64(start, "s"))
    choices = [
        (people.regular & churned & (gone < LAPSED_DAYS[0]), "churn_warning"),
        (people.regular & churned, "lost"),
        (people.regular & (tenure < NEW_CYCLES * cycle), "potential"),
        (people.regular, "high_value"),
        (once & (tenure < ONCE_NEW_DAYS), "potential"),
        (once & (tenure < ONCE_WARNING_DAYS), "churn_warning"),
        (once, "lost"),
    ]
    layers = np.full(people.size, None, dtype=object)
    for chosen, layer in reversed(choices):
        layers[chosen] = layer
    return layers


def _names(rng: np.random.Generator, female: np.ndarray) -> list[str]:
    surnames = rng.integers(0, len(SURNAMES), len(female))
    lengths = rng.integers(1, 3, len(female))
    names = []
    for surname, is_female, length in zip(surnames, female, lengths, strict=True):
        pool = GIVEN_FEMALE if is_female else GIVEN_MALE
        given = "".join(pool[int(i)] for i in rng.integers(0, len(pool), int(length)))
        names.append(SURNAMES[int(surname)][0] + given)
    return names


def _addresses(rng: np.random.Generator, city: np.ndarray) -> list[str]:
    parts = rng.integers(0, 1000, (len(city), 4))
    return [f"{CITIES[int(c)].name}市{DISTRICTS[p[0] % len(DISTRICTS)]}{ROADS[p[1] % len(ROADS)]}"
            f"{p[2] % 300 + 1}号{p[3] % 30 + 1}栋{p[0] % 20 + 1}0{p[1] % 4 + 1}室"
            for c, p in zip(city, parts, strict=True)]


def _phones(number: np.ndarray) -> list[str]:
    digits = permuted(number, 3)
    return [f"+86{PHONE_PREFIXES[int(n) % len(PHONE_PREFIXES)]}{int(d):08d}"
            for n, d in zip(permuted(number, 5, 10_007), digits, strict=True)]


def _emails(rng: np.random.Generator, number: np.ndarray) -> list[str | None]:
    has = rng.random(len(number)) < 0.6
    handles = permuted(number, 9, 10**7)
    return [f"{SURNAMES[int(n) % len(SURNAMES)][1]}{int(h):07d}@"
            f"{EMAIL_DOMAINS[int(n) % len(EMAIL_DOMAINS)]}" if keep else None
            for n, h, keep in zip(number, handles, has, strict=True)]


def typo_name(name: str, rng: np.random.Generator) -> str:
    """The same name as another clerk might type it: one given-name character replaced by
    one that sounds or looks alike."""
    given = [i for i, char in enumerate(name) if i > 0 and char in TYPOS]
    i = given[int(rng.integers(len(given)))]
    return name[:i] + TYPOS[name[i]] + name[i + 1:]


def typo_phone(phone: str, rng: np.random.Generator) -> str:
    """One digit of the subscriber number changed."""
    position = int(rng.integers(6, len(phone)))
    digit = str((int(phone[position]) + int(rng.integers(1, 9))) % 10)
    return phone[:position] + digit + phone[position + 1:]


def variant_address(address: str) -> str:
    """The same address written differently: no city prefix, traditional 號, no room."""
    short = address.split("市", 1)[-1].replace("号", "號")
    return short.split("栋")[0] + "栋"
