"""Tag definitions: typed, backend-free specs read from YAML (``tags/*.yaml``).

A tag has an id, names in English and zh-CN, a category, an owner, a version and a kind:

- ``rule``: a condition (:mod:`portraits.tags.expr`); the tag is true or false.
- ``bucket``: ``ranges`` of a number, a ``values`` map, or ``cases`` (the first true
  condition wins) to one label.
- ``top``: the top-k categories of a person's interest affinities, comma separated.
- ``score``: a weighted sum of terms, then ``levels`` (the first level whose ``min`` the
  score reaches).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Category = Literal["basic", "behaviour", "interest", "consumption", "value", "lifecycle",
                   "predicted"]
CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "basic": ("Basic", "基础属性"), "behaviour": ("Behaviour", "行为特征"),
    "interest": ("Interest", "兴趣偏好"), "consumption": ("Consumption", "消费特征"),
    "value": ("Value", "价值分层"), "lifecycle": ("Lifecycle", "生命周期"),
    "predicted": ("Predicted", "预测标签"),
}
TAG_ID: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def checked_id(value: str, what: str) -> str:
    """``value`` if it can name a column, else a ValueError saying what an id may hold."""
    if not TAG_ID.match(value):
        raise ValueError(f"a {what} id is lower-case letters, digits and _, starting with a "
                         "letter (it becomes a column name)")
    return value


class Names(_Strict):
    """What people read: the tag's name in English and in Chinese."""

    en: str = Field(min_length=1)
    zh: str = Field(alias="zh-CN", min_length=1)

    def get(self, lang: str) -> str:
        """The name in ``lang`` (``en`` or ``zh-CN``)."""
        return self.zh if lang == "zh-CN" else self.en


class _Tag(_Strict):
    id: str
    name: Names
    category: Category
    description: str = ""
    owner: str = "portraits"
    version: int = Field(1, ge=1)
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return checked_id(value, "tag")

    def conditions(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every condition text of the tag with where it sits in the spec."""
        return []


class RuleTag(_Tag):
    """True where the condition holds."""

    kind: Literal["rule"]
    when: str

    def conditions(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("when",), self.when)]


class Range(_Strict):
    """A label for ``min <= value < max`` (either end may be open)."""

    label: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"range '{self.label}': min ({self.min}) must be below max "
                             f"({self.max})")
        return self


class Case(_Strict):
    """A label for the rows where a condition holds."""

    label: str
    when: str


class BucketTag(_Tag):
    """One label per person from ranges, a value map or ordered cases."""

    kind: Literal["bucket"]
    of: str | None = None
    ranges: tuple[Range, ...] | None = None
    values: dict[str, tuple[str | int | float | bool, ...]] | None = None
    cases: tuple[Case, ...] | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> BucketTag:
        ways = [w for w in ("ranges", "values", "cases") if getattr(self, w) is not None]
        if len(ways) != 1:
            raise ValueError("a bucket tag has exactly one of ranges, values or cases")
        if ways[0] != "cases" and self.of is None:
            raise ValueError(f"a bucket tag with {ways[0]} needs 'of': the field or "
                             "expression to bucket")
        if ways[0] == "cases" and self.of is not None:
            raise ValueError("a bucket tag with cases has no 'of' (each case has its own "
                             "condition)")
        return self

    def conditions(self) -> list[tuple[tuple[str | int, ...], str]]:
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.of is not None:
            found.append((("of",), self.of))
        found += [(("cases", i, "when"), case.when) for i, case in enumerate(self.cases or ())]
        return found

    def labels(self) -> list[str]:
        """Every label the tag can give, in order."""
        names = ([r.label for r in self.ranges or ()] + list(self.values or {})
                 + [c.label for c in self.cases or ()])
        return names + ([self.default] if self.default is not None else [])


class TopTag(_Tag):
    """The ``k`` categories with the highest interest affinity (at least ``min_affinity``)."""

    kind: Literal["top"]
    of: Literal["category"] = "category"
    k: int = Field(3, ge=1, le=10)
    min_affinity: float = Field(0.0, ge=0, le=1)


class Term(_Strict):
    """One weighted part of a score."""

    of: str
    weight: float


class Level(_Strict):
    """A score label for scores at or above ``min``."""

    label: str
    min: float


class ScoreTag(_Tag):
    """A weighted sum of terms (an empty term counts 0), labelled by levels."""

    kind: Literal["score"]
    terms: tuple[Term, ...] = Field(min_length=1)
    levels: tuple[Level, ...] = Field(min_length=1)
    default: str | None = None

    @model_validator(mode="after")
    def _descending(self) -> ScoreTag:
        mins = [level.min for level in self.levels]
        if mins != sorted(mins, reverse=True):
            raise ValueError("levels go from the highest min to the lowest")
        return self

    def conditions(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("terms", i, "of"), term.of) for i, term in enumerate(self.terms)]


TagSpec = Annotated[RuleTag | BucketTag | TopTag | ScoreTag, Field(discriminator="kind")]


class TagFile(_Strict):
    """One YAML file of tags: new or changed tags, and standard tags to switch off."""

    tags: tuple[TagSpec, ...] = ()
    disable: tuple[str, ...] = ()
