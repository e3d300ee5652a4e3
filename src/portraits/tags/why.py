"""Why a customer carries a tag (or does not): the rule and the actual values.

A condition is cut into its clauses (the parts joined by its outermost ``and``/``or``);
for each clause the explanation shows whether it held and the value of every field and
aggregate it reads. Bucket tags show each case in order up to the one that won; score
tags show each term's value and weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis.expr.types as ir

from portraits.tags import expr
from portraits.tags.catalog import Tag
from portraits.tags.compute import score_value
from portraits.tags.spec import BucketTag, RuleTag, ScoreTag, TopTag


@dataclass(frozen=True)
class Clause:
    """One part of a condition: its text, whether it held, and the values it read."""

    text: str
    held: bool | None
    values: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # the case's label, for bucket cases
    weight: float | None = None  # the term's weight, for score terms


@dataclass(frozen=True)
class TagExplanation:
    """What ``portraits tags why`` prints."""

    tag: Tag
    customer_id: str
    value: Any
    joiner: str  # how the clauses combine: and, or, cases, terms, ranges, values, top
    clauses: tuple[Clause, ...]
    score: float | None = None

    @property
    def holds(self) -> bool:
        """Whether the customer carries the tag (a rule is true, a label is given)."""
        return self.value not in (None, False)


def clauses_of(node: expr.Node) -> tuple[str, list[expr.Node]]:
    """The outermost ``and`` or ``or`` chain of ``node`` as a list (else ``node`` alone)."""
    if isinstance(node, expr.Binary) and node.op in ("and", "or"):
        parts: list[expr.Node] = []
        stack: list[expr.Node] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, expr.Binary) and item.op == node.op:
                stack += [item.right, item.left]
            else:
                parts.append(item)
        return node.op, parts
    return "and", [node]


def _read_nodes(node: expr.Node) -> list[expr.Node]:
    """Fields and aggregates whose values explain a clause, each once, in reading order."""
    found: dict[str, expr.Node] = {}

    def visit(n: expr.Node) -> None:
        if isinstance(n, expr.Field) or (isinstance(n, expr.Call) and (
                expr.FUNCTIONS[n.name].window or n.name == "affinity")):
            found.setdefault(expr.text(n), n)
            return
        for child in expr.children(n):
            visit(child)

    visit(node)
    return list(found.values())


@dataclass
class _Plan:
    """Columns to compute for one explanation, and how to read them back."""

    columns: dict[str, ir.Value] = field(default_factory=dict)
    clauses: list[tuple[str, str | None, list[tuple[str, str]], str | None, float | None]] = (
        field(default_factory=list))

    def add(self, value: ir.Value) -> str:
        name = f"_why{len(self.columns)}"
        self.columns[name] = value
        return name


def explanation_plan(tag: Tag, table: ir.Table, as_of: datetime) -> tuple[str, _Plan]:
    """The columns that explain ``tag`` over ``table`` (which already holds the tags)."""
    plan = _Plan()
    spec = tag.spec

    def clause(node: expr.Node, label: str | None = None, weight: float | None = None,
               boolean: bool = True) -> None:
        held = plan.add(expr.compile_to_ibis(node, table, as_of)) if boolean else None
        values = [(expr.text(n), plan.add(expr.compile_to_ibis(n, table, as_of)))
                  for n in _read_nodes(node)]
        plan.clauses.append((expr.text(node), held, values, label, weight))

    if isinstance(spec, RuleTag):
        joiner, parts = clauses_of(tag.conditions[("when",)])
        for part in parts:
            clause(part)
        return joiner, plan
    if isinstance(spec, ScoreTag):
        for i, term in enumerate(spec.terms):
            node = tag.conditions[("terms", i, "of")]
            values = [(expr.text(node), plan.add(expr.compile_to_ibis(node, table, as_of)))]
            plan.clauses.append((expr.text(node), None, values, None, term.weight))
        plan.add(score_value(tag, table, as_of))
        return "terms", plan
    if isinstance(spec, TopTag):
        return "top", plan
    assert isinstance(spec, BucketTag)
    if spec.cases is not None:
        for i, case in enumerate(spec.cases):
            clause(tag.conditions[("cases", i, "when")], label=case.label)
        return "cases", plan
    clause(tag.conditions[("of",)], boolean=False)
    return "ranges" if spec.ranges is not None else "values", plan


def explain_row(tag: Tag, customer: str, joiner: str, plan: _Plan,
                row: dict[str, Any]) -> TagExplanation:
    """The explanation from the one computed row of :func:`explanation_plan`'s columns."""
    clauses = tuple(
        Clause(text, None if held is None else row[held], {k: row[c] for k, c in values},
               label, weight)
        for text, held, values, label, weight in plan.clauses)
    score = row[list(plan.columns)[-1]] if joiner == "terms" else None
    return TagExplanation(tag, customer, row[tag.id], joiner, clauses, score)
