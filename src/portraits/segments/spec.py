"""Segment (audience) definitions: YAML files in ``segments/`` or objects from the API.

A segment's ``where`` is either one condition in the tag language
(:mod:`portraits.tags.expr`) or a tree of them, which builders and APIs find easier to
produce::

    where:
      all:
        - tag: vip                                   # a rule tag holds
        - tag: city_tier_group, is: [tier1, new_tier1] # a label tag has one of these labels
        - expr: "coalesce(days_since_last_order, 9999) > 60"
        - did: {event: Product Added, within_days: 1}
        - not: {did: {event: Order Completed, within_days: 1}}
        - list: cluster_young_parents                # saved members (segment_lists)
        - any: [...]

Conditions can read profile fields, RFM fields, tags and event aggregates; the tree is
turned into one condition and checked like a tag's. A ``list`` node holds for the members
of a saved list (a static audience, e.g. a cluster): it reads the column
:func:`list_field` that the segment's base gains from the table ``segment_lists``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from portraits.tags.spec import Names, checked_id

LIST_PREFIX: Final = "_list__"


def list_field(name: str) -> str:
    """The column a ``list`` node reads: true for the members of the saved list ``name``."""
    return f"{LIST_PREFIX}{name}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Did(_Strict):
    """The person did ``event`` at least ``at_least`` times in the last ``within_days``."""

    event: str = Field(min_length=1)
    within_days: int = Field(ge=1, le=3650)
    at_least: int = Field(1, ge=1)


class Condition(_Strict):
    """One node of a condition tree: exactly one of its settings is given."""

    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(None, alias="not")
    expr: str | None = None
    tag: str | None = None
    is_: tuple[str, ...] | None = Field(None, alias="is")
    did: Did | None = None
    list_: str | None = Field(None, alias="list")

    def text(self) -> str:
        """The condition in the tag language."""
        if self.all is not None:
            return " and ".join(f"({c.text()})" for c in self.all) or "true"
        if self.any is not None:
            return " or ".join(f"({c.text()})" for c in self.any) or "false"
        if self.not_ is not None:
            return f"not ({self.not_.text()})"
        if self.expr is not None:
            return self.expr
        if self.list_ is not None:
            return list_field(self.list_)
        if self.did is not None:
            event = json.dumps(self.did.event, ensure_ascii=False)
            return f"events({event}, {self.did.within_days}) >= {self.did.at_least}"
        assert self.tag is not None
        if self.is_ is None:
            return self.tag
        labels = ", ".join(json.dumps(v, ensure_ascii=False) for v in self.is_)
        return f"{self.tag} in [{labels}]"

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = [k.rstrip("_") for k in ("all", "any", "not_", "expr", "tag", "did", "list_")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a condition has exactly one of all, any, not, expr, tag, did, "
                             f"list (got {', '.join(given) or 'none'})")
        if self.list_ is not None:
            checked_id(self.list_, "list")
        if self.is_ is not None and self.tag is None:
            raise ValueError("'is' goes with 'tag'")
        return self


class SegmentSpec(_Strict):
    """A named audience.

    Example:
        >>> SegmentSpec(id="cart_vips", name={"en": "VIP cart abandoners",
        ...     "zh-CN": "加购未买的 VIP"}, where="vip and cart_abandoner").id
        'cart_vips'
    """

    id: str
    name: Names
    description: str = ""
    owner: str = "portraits"
    where: str | Condition

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return checked_id(value, "segment")

    def condition_text(self) -> str:
        """``where`` in the tag language."""
        return self.where if isinstance(self.where, str) else self.where.text()

    def lists(self) -> set[str]:
        """The saved lists ``where`` reads."""
        return set() if isinstance(self.where, str) else {
            c.list_ for c in _nodes(self.where) if c.list_ is not None}


def _nodes(condition: Condition) -> Iterator[Condition]:
    yield condition
    for child in (*(condition.all or ()), *(condition.any or ()),
                  *((condition.not_,) if condition.not_ is not None else ())):
        yield from _nodes(child)


class SegmentFile(_Strict):
    """One YAML file: a list of segments under ``segments:``."""

    segments: tuple[SegmentSpec, ...] = ()
