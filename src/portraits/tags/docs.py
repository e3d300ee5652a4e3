"""``docs/tags.md``: the condition language, the tag kinds, RFM and the standard library.

Generated from the code (``python -m portraits.tags.docs > docs/tags.md``), so the list
of standard tags and functions cannot drift from what runs.
"""

from __future__ import annotations

import sys

from portraits.profile.rfm import RFM_FIELDS, RfmSpec
from portraits.tags.catalog import load_tags
from portraits.tags.compute import field_values, tag_fields
from portraits.tags.expr import FUNCTIONS
from portraits.tags.spec import CATEGORIES, BucketTag, RuleTag, ScoreTag, TopTag

HEADER = """# Tags, RFM and lifecycle (标签体系)

Tags are how marketers think about customers: *coupon lover*, *night owl*, *VIP*,
*churn warning*. Portraits computes every tag for every profile in one run
(`portraits tags run -p DIR`, `ws.tags.run()`), stores them in the `tags` table (one row
per customer: the RFM fields and one column per tag) and adds the run's assignments to
`tag_history` (`run_at, customer_id, tag, value`), so a tag's population can be shown
over time (`portraits tags history TAG`) and later work can react to customers entering
or leaving a tag (`ws.tags.changes(tag)`). A second run at the same time replaces that
run's history.

`portraits tags why CUSTOMER TAG` shows the rule and the customer's actual values, clause
by clause; `portraits tags list` lists every enabled tag and where it is defined.

## Defining tags

Standard tags ship with Portraits (below). A workspace adds its own in `tags/*.yaml`; a
tag there with the id of a standard tag replaces it, and `disable: [id, …]` switches
standard tags off. Every file is checked before anything runs, and every problem is
reported at once with file, line and a did-you-mean hint (unknown fields, misspelt
settings, a tag that reads a switched-off tag, tags that read each other in a cycle).

```yaml
tags:
  - id: big_weekend_spender                # becomes a column: a-z, 0-9, _
    name: {en: Big weekend spender, zh-CN: 周末大额消费}
    category: consumption                  # basic, behaviour, interest, consumption,
                                           # value, lifecycle, predicted
    description: Weekend shopper whose average order is 300 CNY or more.
    owner: marketing
    version: 2
    kind: rule
    when: weekend_shopper and average_order_value >= 300
disable: [night_owl]
```

Kinds:

| kind | value | settings |
|---|---|---|
| `rule` | true / false | `when`: a condition |
| `bucket` | a label | `of` (a field or expression) with `ranges` (`{label, min, max}`: min ≤ value < max) or `values` (`label: [values]`); or `cases` (`{label, when}`: the first that holds wins); `default` for the rest |
| `top` | the top-k categories, comma separated | `of: category`, `k`, `min_affinity` |
| `score` | a label | `terms` (`{of, weight}`: the weighted sum, an empty term counts 0) and `levels` (`{label, min}`, highest first); `default` |

Tags may read other tags; they are computed in dependency order.

## The condition language

Conditions read like Python (`and`, `or`, `not`, `==`, `!=`, `<`, `<=`, `>`, `>=`,
`in [...]`, `not in [...]`, `+ - * /`, parentheses; text in quotes; `true`, `false`,
`null`). They are parsed and compiled to the engine's query — never evaluated as Python
or pasted into SQL — and anything that is not a field, a literal, an operator or one of
the functions below is refused with its column. A comparison with an empty value is
unknown, `and`/`or` follow SQL's three-valued logic, and a condition that ends unknown
does not hold (use `coalesce(x, 0)` to treat empty as 0). Windows end at the reference
time: `orders(90)` counts the orders of the 90 days before it.

Names a condition can read: every field of [profiles](profiles.md), the RFM fields below,
and every tag.

| function | what it gives |
|---|---|
"""

RFM_TEXT = """
## RFM (R5.3)

Who is scored: every customer with a counted order up to the reference date. Recency is
the days since their last counted order; frequency and monetary are the counted orders
and the amount paid in the window before the reference date. Set in `portraits.yaml`:

```yaml
rfm:
  window_days: {window}            # frequency and monetary window
  reference_date: 2026-10-31       # optional; the current time when empty
  recency: quintiles               # or four ascending day counts: [30, 90, 180, 365]
  frequency: [2, 3, 4, 6]          # or quintiles
  monetary: quintiles              # or four ascending amounts in CNY
```

Quintiles: a score is 1 + ⌊5 × percent rank⌋ (capped at 5), the percent rank being
(rank − 1) / (n − 1) with ties sharing the lowest rank — equal values get equal scores on
every engine. Recency ranks the other way round (the most recent buyers score 5).
Thresholds: four ascending cut points; a frequency or monetary value at or above the
i-th scores i + 1; a recency at or below the i-th scores 6 − i. Frequency uses the
thresholds 2, 3, 4, 6 orders by default because most customers buy once or twice, and
quintiles of so many ties would score a one-time buyer like a regular.

| field | meaning |
|---|---|
{fields}

**Named segments** (`rfm_segment`) read R and FM, the mean of F and M rounded half up.
The precedence is the order below — the first that holds wins — and every one of the 25
(R, FM) pairs lands in exactly one segment (tested over all 125 R, F, M combinations).
The **value layer** (`value_layer`, R5.3) groups them: high value = champions and loyal;
potential = potential loyalist, new, promising, need attention; churn warning = about to
sleep, at risk, can't lose them; lost = hibernating and lost.

## Lifecycle stages (R6.2)

`lifecycle_stage` is a standard tag of kind `bucket` with `cases`; change it like any tag.
The defaults are listed below under *Value* and *Lifecycle*. Each run's stage goes into
`tag_history`, so stage transitions are recorded like any tag.

## The standard library ({count} tags)
"""


def tags_markdown() -> str:
    """The whole document."""
    lines = [HEADER.rstrip("\n")]
    lines += [f"| `{name}` | {fn.doc} |" for name, fn in FUNCTIONS.items()]
    fields = "\n".join(f"| `{name}` | {en} / {zh} |"
                       for name, (_, en, zh) in RFM_FIELDS.items())
    tagset = load_tags(tag_fields(), standard=None, values=field_values())
    lines.append(RFM_TEXT.format(window=RfmSpec().window_days, fields=fields,
                                 count=len(tagset)).rstrip("\n"))
    for category, (en, zh) in CATEGORIES.items():
        mine = [t for t in tagset if t.spec.category == category]
        if not mine:
            continue
        lines += ["", f"### {en} / {zh}", "", "| id | English | 中文 | kind | definition |",
                  "|---|---|---|---|---|"]
        for tag in mine:
            spec = tag.spec
            lines.append(f"| `{tag.id}` | {spec.name.en} | {spec.name.zh} | {spec.kind} | "
                         f"{_definition(spec)} |")
    return "\n".join(lines) + "\n"


def _definition(spec: RuleTag | BucketTag | TopTag | ScoreTag) -> str:
    if isinstance(spec, RuleTag):
        return f"`{_one_line(spec.when)}`"
    if isinstance(spec, TopTag):
        return f"top {spec.k} categories by affinity (≥ {spec.min_affinity:g})"
    if isinstance(spec, ScoreTag):
        terms = " + ".join(f"{t.weight:g} × `{_one_line(t.of)}`" for t in spec.terms)
        levels = ", ".join(f"{lv.label} ≥ {lv.min:g}" for lv in spec.levels)
        return f"{terms}; {levels}"
    parts: list[str] = []
    if spec.ranges is not None:
        parts = [f"{r.label}: " + _range(r.min, r.max) for r in spec.ranges]
    elif spec.values is not None:
        parts = [f"{label}: {', '.join(map(str, v))}" for label, v in spec.values.items()]
    elif spec.cases is not None:
        parts = [f"{c.label}: `{_one_line(c.when)}`" for c in spec.cases]
    of = f"of `{spec.of}` — " if spec.of else ""
    default = f"; else {spec.default}" if spec.default else ""
    return of + "; ".join(parts) + default


def _range(low: float | None, high: float | None) -> str:
    if low is None:
        return f"< {high:g}"
    return f"≥ {low:g}" if high is None else f"{low:g} – < {high:g}"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(tags_markdown())
