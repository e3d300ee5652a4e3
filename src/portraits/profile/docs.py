"""Render the profile schema as Markdown.

``python -m portraits.profile.docs > docs/profiles.md``
"""

from __future__ import annotations

import sys

from portraits.profile.completeness import COMPLETENESS_RULES, TARGET
from portraits.profile.schema import DIMENSIONS, INTEREST_FIELDS, PROFILE_FIELDS, ProfileField
from portraits.profile.spec import ProfileSpec

HEADER = """\
# Customer profiles / 用户画像

`profiles` holds one row per customer (`customer_id` from identity resolution) with the
four dimensions of the portrait plus social (REQUIREMENTS R3), and its completeness.
Generated from `src/portraits/profile/schema.py`; do not edit by hand
(`python -m portraits.profile.docs > docs/profiles.md`).

Build it with `ws.profiles.build()`; the Python core is `portraits.profile.build_profiles`,
pure Ibis expressions that run unchanged on DuckDB and Spark.

**Reference time.** Every profile is computed *as of* one moment: the workspace's
current time (`PORTRAITS_NOW` if pinned) unless given. Rows after it are ignored; ages,
"days since" and interest decay are measured at it; it is stored in `as_of`.

**Several records, one person.** Attributes from customer records are taken field by
field from the most recent record that knows them (latest `_loaded_at`, then latest
`registered_at`, then source and record key): a store card that has only a city does not
erase the occupation from the CRM. `gender = unknown` is not a value and never wins over
male or female.

**Visits.** Events of all of a person's devices and anonymous ids are cut into visits
together: a visit ends after more than {gap} idle minutes (an event exactly {gap} minutes
after the previous one continues the visit). Hours, weekdays, devices, platforms,
channels and sources are favourites *by visit*: the value most visits started with;
ties go to the smallest value.

**Counts are zero, not empty.** A person with no events has 0 visits; with no orders,
0 orders and 0 spend. Values that cannot be computed (average order value with no
orders, favourite hour with no visits) are empty.
"""


def _row(f: ProfileField) -> str:
    return f"| `{f.name}` | {f.dtype} | {f.en} | {f.zh} | {f.how} |"


def _table(fields: tuple[ProfileField, ...]) -> list[str]:
    return ["| Field | Type | Description | 说明 | How it is computed |",
            "|---|---|---|---|---|", *(_row(f) for f in fields)]


def _spec_section(spec: ProfileSpec) -> list[str]:
    i, s, p = spec.interests, spec.spending, spec.price_sensitivity
    return [
        "## Definitions and their defaults / 口径与默认值", "",
        "Set in `portraits.profile.ProfileSpec` (the values below are the defaults).", "",
        "| Setting | Default | Meaning |", "|---|---|---|",
        f"| `session_gap_minutes` | {spec.session_gap_minutes} | idle minutes that end a visit |",
        f"| `excluded_order_statuses` | {', '.join(spec.excluded_order_statuses)} | orders "
        "that are not purchases (counted in `returned_orders`) |",
        f"| `night_hours` | {', '.join(map(str, spec.night_hours))} | hours of `night_share` |",
        f"| `search_keywords` | {spec.search_keywords} | keywords in `top_search_keywords` |",
        f"| `interests.view_weight` / `add_weight` / `order_weight` | {i.view_weight:g} / "
        f"{i.add_weight:g} / {i.order_weight:g} | weight of a view, an add to cart, a bought "
        "order line |",
        f"| `interests.half_life_days` | {i.half_life_days:g} | a signal this old counts half |",
        f"| `spending.high` / `spending.mid` | {s.high:g} / {s.mid:g} CNY | spend of the last "
        "365 days for `high` / `mid` spending level; below: `mass` |",
        f"| `price_sensitivity.cheap` / `dear` | {p.cheap:g} / {p.dear:g} | price index "
        "bounds |",
        f"| `price_sensitivity.coupon_high` / `coupon_low` | {p.coupon_high:g} / "
        f"{p.coupon_low:g} | coupon use rate bounds |",
        "",
        "**Interest affinity.** Each view, add to cart and bought order line of a product "
        "with a top-level category adds its weight × 0.5 ^ (age in days / half-life) to "
        "that category; a person's affinity for a category is its share of their total, so "
        "affinities sum to 1 per person. The long table `profile_interests` has every "
        "category of every person:", "",
        *_table(INTEREST_FIELDS), "",
    ]


def _completeness_section() -> list[str]:
    rows = [f"| `{name}` | {en} | {zh} |" for name, (en, zh) in COMPLETENESS_RULES.items()]
    return [
        "## Completeness / 画像完整度 (R3.6)", "",
        f"`completeness` is the percentage of these {len(COMPLETENESS_RULES)} fields that are "
        "known in a profile — the facts needed to reach and address a person in each "
        "dimension. Counts are not among them (a zero is known but says nothing). Overall "
        "completeness is the mean over profiles; `ws.profiles.completeness()` also gives each "
        f"field's share of profiles where it is known and the share of profiles at or above "
        f"{TARGET:g} %, separately for *customers* (profiles with at least one customer "
        "record: people who registered), *visitors* (profiles assembled from events alone — "
        "devices and cookies that never logged in) and all profiles. The target is read on "
        "customers: little can be known about a visitor, and mixing them in would measure "
        "how much anonymous traffic the site has rather than how complete the portraits "
        "are.", "",
        "| Field | Known when | 说明 |", "|---|---|---|", *rows, "",
    ]


def profiles_markdown() -> str:
    """The whole profile document."""
    spec = ProfileSpec()
    lines = [HEADER.format(gap=spec.session_gap_minutes)]
    for dimension, (en, zh) in DIMENSIONS.items():
        fields = tuple(f for f in PROFILE_FIELDS if f.dimension == dimension)
        lines += [f"## {en} / {zh}", "", *_table(fields), ""]
    lines += _spec_section(spec) + _completeness_section()
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(profiles_markdown())
