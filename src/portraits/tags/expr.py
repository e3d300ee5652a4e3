"""The condition language of tags and segments: parsed, checked, compiled to Ibis.

A condition reads like the sentence a marketer would say::

    orders(90) >= 3 and discount_share > 0.5
    city_tier in ['1', 'new1'] and not vip
    events('Product Added', 1) > 0 and events('Order Completed', 1) == 0

Python's own parser (:mod:`ast`) reads the text, because its grammar is the one people
already know and it reports the column of a syntax error; nothing is ever evaluated by
Python. The parse tree is translated node by node into the small tree below, and any
node that is not a field, a literal, an operator or one of :data:`FUNCTIONS` is refused
with the column where it starts. The tree then compiles to an Ibis expression, so the
values reach the engine as literals of a query Ibis builds, never as SQL text.

Missing values follow SQL: a comparison with an empty value is unknown, ``and``/``or``
follow three-valued logic, and a condition that ends unknown does not hold.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import ibis
import ibis.expr.types as ir

from portraits.errors import PortraitsError, did_you_mean
from portraits.profile.spine import days_between

Kind = Literal["number", "string", "boolean", "timestamp", "null", "list"]
Window = tuple[str, str | None, int]  # (function, event name, days)


class ExprError(PortraitsError):
    """A condition that cannot be used; ``column`` is 1-based within the text."""

    def __init__(self, message: str, column: int | None = None, hint: str | None = None):
        self.message, self.column, self.hint = message, column, hint
        where = f"column {column}: " if column else ""
        super().__init__(where + message + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class Node:
    """A node of a condition; ``column`` is where it starts (1-based)."""

    column: int


@dataclass(frozen=True)
class Constant(Node):
    value: float | int | str | bool | None


@dataclass(frozen=True)
class Field(Node):
    name: str


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Constant, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: Literal["not", "-"]
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # and, or, ==, !=, <, <=, >, >=, in, not in, +, -, *, /
    left: Node
    right: Node


@dataclass(frozen=True)
class Function:
    """A function conditions may call: argument kinds, result kind, and a doc line."""

    args: tuple[Kind, ...]
    result: Kind
    doc: str
    variadic: bool = False
    window: bool = False  # computed from events/orders over the last N days


FUNCTIONS: Final[dict[str, Function]] = {
    "orders": Function(("number",), "number", "orders(days): orders placed in the last N days "
                       "(cancelled and refunded ones do not count)", window=True),
    "spend": Function(("number",), "number", "spend(days): amount paid in the last N days (CNY)",
                      window=True),
    "events": Function(("string", "number"), "number", "events('Product Added', days): events "
                       "of that name in the last N days; events('*', days) counts every event",
                       window=True),
    "active_days": Function(("number",), "number", "active_days(days): days with an event "
                            "among the last N days", window=True),
    "affinity": Function(("string",), "number", "affinity('母婴'): interest affinity (0-1) "
                         "for a top-level category; 0 when none", window=False),
    "coalesce": Function(("number",), "number", "coalesce(a, b, …): the first value that "
                         "is not empty", variadic=True),
    "is_null": Function(("number",), "boolean", "is_null(x): x is empty"),
    "contains": Function(("string", "string"), "boolean", "contains(text, 'part'): text "
                         "holds part (case-sensitive)"),
    "lower": Function(("string",), "string", "lower(text): text in lower case"),
    "days_since": Function(("timestamp",), "number", "days_since(time): whole days from "
                           "that date to the reference date"),
    "min": Function(("number", "number"), "number", "min(a, b): the smaller"),
    "max": Function(("number", "number"), "number", "max(a, b): the larger"),
}
# Functions whose arguments may be of any kind (checked per call below).
_ANY_ARGS: Final = frozenset({"coalesce", "is_null"})
_COMPARE: Final[dict[type[ast.cmpop], str]] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in"}
_ARITH: Final[dict[type[ast.operator], str]] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
                                                ast.Div: "/"}
_NAMED_LITERALS: Final[dict[str, bool | None]] = {"true": True, "false": False, "null": None,
                                                  "True": True, "False": False, "None": None}
_ALLOWED = ("fields, literals (numbers, 'text', true, false, null, [lists]), the operators "
            "and or not == != < <= > >= in + - * / and the functions " + ", ".join(FUNCTIONS))


def parse(text: str) -> Node:
    """The tree of a condition, or :class:`ExprError` at the first thing not allowed.

    Example:
        >>> parse("orders(90) >= 3").op
        '>='
    """
    source = " ".join(text.splitlines()).strip()
    if not source:
        raise ExprError("the condition is empty", 1)
    _refuse_comments(source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        # Python gives offset 0 for an error at the end of the text ('orders >=').
        raise ExprError(f"cannot read the condition: {exc.msg}",
                        exc.offset or len(source) + 1) from None
    encoded = source.encode()
    for sub in ast.walk(tree):  # ast counts columns in UTF-8 bytes ('母婴' is 6): characters
        if isinstance(sub, ast.expr):
            sub.col_offset = len(encoded[:sub.col_offset].decode())
    return _node(tree.body)


def _refuse_comments(source: str) -> None:
    """A condition has no comments: Python would drop everything after ``#`` (the rest of a
    folded YAML condition too) and read SQL's ``a -- b`` as ``a - (-b)``."""
    previous: tokenize.TokenInfo | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                raise ExprError("'#' comments are not allowed in a condition",
                                token.start[1] + 1, "describe the tag in its description")
            if (token.string == "-" and previous is not None and previous.string == "-"
                    and previous.end == token.start):
                raise ExprError("'--' is not allowed in a condition (it starts no comment)",
                                previous.start[1] + 1, "describe the tag in its description")
            previous = token
    except (tokenize.TokenError, SyntaxError):
        return  # unreadable: ast.parse says where


def _node(tree: ast.expr) -> Node:
    col = getattr(tree, "col_offset", 0) + 1
    if isinstance(tree, ast.Constant) and (tree.value is None or isinstance(
            tree.value, (bool, int, float, str))):
        return Constant(col, tree.value)
    if isinstance(tree, ast.Name):
        if tree.id in _NAMED_LITERALS:
            return Constant(col, _NAMED_LITERALS[tree.id])
        return Field(col, tree.id)
    if isinstance(tree, ast.BoolOp):
        op = "and" if isinstance(tree.op, ast.And) else "or"
        items = [_node(v) for v in tree.values]
        out = items[0]
        for item in items[1:]:
            out = Binary(col, op, out, item)
        return out
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.Not, ast.USub)):
        operand = _node(tree.operand)
        if isinstance(tree.op, ast.USub) and isinstance(operand, Constant) and isinstance(
                operand.value, (int, float)) and not isinstance(operand.value, bool):
            return Constant(col, -operand.value)
        return Unary(col, "not" if isinstance(tree.op, ast.Not) else "-", operand)
    if isinstance(tree, ast.Compare):
        return _compare(tree, col)
    if isinstance(tree, ast.BinOp) and type(tree.op) in _ARITH:
        return Binary(col, _ARITH[type(tree.op)], _node(tree.left), _node(tree.right))
    if isinstance(tree, (ast.List, ast.Tuple)):
        elements = tuple(_node(e) for e in tree.elts)
        if not all(isinstance(i, Constant) for i in elements):
            raise ExprError("a list may hold literals only", col)
        return ListOf(col, tuple(i for i in elements if isinstance(i, Constant)))
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and not tree.keywords:
        name = tree.func.id
        if name not in FUNCTIONS:
            raise ExprError(f"'{name}' is not a function conditions may call", col,
                            did_you_mean(name, FUNCTIONS) or f"use one of {', '.join(FUNCTIONS)}")
        return Call(col, name, tuple(_node(a) for a in tree.args))
    raise ExprError(f"{_describe(tree)} is not allowed in a condition", col, f"use {_ALLOWED}")


def _compare(tree: ast.Compare, col: int) -> Node:
    """``a < b <= c`` is ``a < b and b <= c``, as in Python."""
    left, out = _node(tree.left), None
    for op, right_tree in zip(tree.ops, tree.comparators, strict=True):
        if type(op) not in _COMPARE:
            raise ExprError(f"the operator '{type(op).__name__}' is not allowed", col,
                            "use == != < <= > >= in or not in")
        right = _node(right_tree)
        step = Binary(col, _COMPARE[type(op)], left, right)
        out = step if out is None else Binary(col, "and", out, step)
        left = right
    assert out is not None
    return out


def _describe(tree: ast.AST) -> str:
    names = {ast.Attribute: "an attribute ('.')", ast.Subscript: "indexing ('[…]')",
             ast.Lambda: "a lambda", ast.Call: "this call", ast.IfExp: "'… if … else …'",
             ast.NamedExpr: "':='", ast.JoinedStr: "an f-string", ast.Dict: "a mapping",
             ast.Set: "a set", ast.Starred: "'*'", ast.BinOp: "this operator"}
    return names.get(type(tree), f"'{type(tree).__name__}'")


# ---------------------------------------------------------------------------- checking


def check(node: Node, fields: Mapping[str, Kind],
          values: Mapping[str, Sequence[str]] | None = None) -> Kind:
    """The kind of ``node``'s value; :class:`ExprError` on unknown names or wrong kinds.

    Args:
        node: A parsed condition.
        fields: Every name a condition may read and the kind of its values.
        values: For enumerated text fields (and label tags), every value they can hold:
            comparing them with any other text is an error with a hint.
    """
    if values:
        _check_values(node, values)
    if isinstance(node, Constant):
        return _literal_kind(node.value)
    if isinstance(node, Field):
        if node.name not in fields:
            raise ExprError(f"unknown field '{node.name}'", node.column,
                            did_you_mean(node.name, fields))
        return fields[node.name]
    if isinstance(node, ListOf):
        kinds = {_literal_kind(i.value) for i in node.items} - {"null"}
        if len(kinds) > 1:
            raise ExprError("a list must hold values of one kind", node.column)
        return "list"
    if isinstance(node, Unary):
        kind = check(node.operand, fields)
        want: Kind = "boolean" if node.op == "not" else "number"
        _expect(kind, want, node.operand, f"'{node.op}'")
        return want
    if isinstance(node, Call):
        return _check_call(node, fields)
    assert isinstance(node, Binary)
    return _check_binary(node, fields)


def _check_values(node: Node, values: Mapping[str, Sequence[str]]) -> None:
    for n in walk(node):
        if not (isinstance(n, Binary) and n.op in ("==", "!=", "in", "not in")):
            continue
        sides = [(n.left, n.right), (n.right, n.left)] if n.op in ("==", "!=") else [
            (n.left, n.right)]
        for field, other in sides:
            if not (isinstance(field, Field) and field.name in values):
                continue
            texts = ([other] if isinstance(other, Constant) else
                     list(other.items) if isinstance(other, ListOf) else [])
            for literal in texts:
                if isinstance(literal.value, str) and literal.value not in values[field.name]:
                    allowed = values[field.name]
                    raise ExprError(f"'{literal.value}' is not a value of {field.name}",
                                    literal.column, did_you_mean(literal.value, allowed)
                                    or "its values: " + ", ".join(allowed))


def _check_binary(node: Binary, fields: Mapping[str, Kind]) -> Kind:
    left, right = check(node.left, fields), check(node.right, fields)
    if node.op in ("and", "or"):
        _expect(left, "boolean", node.left, f"'{node.op}'")
        _expect(right, "boolean", node.right, f"'{node.op}'")
        return "boolean"
    if node.op in ("+", "-", "*", "/"):
        _expect(left, "number", node.left, f"'{node.op}'")
        _expect(right, "number", node.right, f"'{node.op}'")
        return "number"
    if node.op in ("in", "not in"):
        if not isinstance(node.right, ListOf):
            raise ExprError(f"'{node.op}' needs a list on its right: x in ['a', 'b']",
                            node.right.column)
        kinds = {_literal_kind(i.value) for i in node.right.items} - {"null"}
        for kind in kinds:
            _expect(kind, left, node.right, f"'{node.op}'")
        return "boolean"
    if left != right and "null" not in (left, right):
        raise ExprError(f"cannot compare {left} with {right} using '{node.op}'", node.column,
                        "quote text values: city_tier == '1'" if "string" in (left, right)
                        else None)
    if node.op not in ("==", "!=") and left == "boolean":
        raise ExprError(f"'{node.op}' does not order true and false", node.column)
    return "boolean"


def _check_call(node: Call, fields: Mapping[str, Kind]) -> Kind:
    fn = FUNCTIONS[node.name]
    kinds = [check(a, fields) for a in node.args]
    count_ok = len(kinds) >= 1 if fn.variadic else len(kinds) == len(fn.args)
    if not count_ok:
        raise ExprError(f"{node.name}() takes {len(fn.args)} argument"
                        f"{'s' if len(fn.args) != 1 else ''}, not {len(kinds)}", node.column,
                        fn.doc)
    if fn.window or node.name == "affinity":
        for arg, want in zip(node.args, fn.args, strict=True):
            _window_argument(arg, want, node.name, fn.doc)
        return fn.result
    if node.name in _ANY_ARGS:
        known = {k for k in kinds if k != "null"}
        if len(known) > 1:
            raise ExprError(f"{node.name}() needs values of one kind", node.column)
        return "boolean" if node.name == "is_null" else (next(iter(known), "null"))
    for arg, kind, want in zip(node.args, kinds, fn.args, strict=True):
        _expect(kind, want, arg, f"{node.name}()")
    return fn.result


def _window_argument(arg: Node, want: Kind, name: str, doc: str) -> None:
    """Window sizes and event names are literals: each one is a column computed once."""
    if not isinstance(arg, Constant):
        raise ExprError(f"{name}() takes literal arguments", arg.column, doc)
    if want == "number" and not (isinstance(arg.value, int) and not isinstance(arg.value, bool)
                                 and 1 <= arg.value <= 3650):
        raise ExprError(f"{name}(): the number of days must be a whole number from 1 to 3650",
                        arg.column, doc)
    if want == "string" and not (isinstance(arg.value, str) and arg.value.strip()):
        raise ExprError(f"{name}(): the first argument must be a quoted name", arg.column, doc)


def _expect(kind: Kind, want: Kind, node: Node, where: str) -> None:
    if kind not in (want, "null"):
        raise ExprError(f"{where} needs {_article(want)}, got {_article(kind)}", node.column)


def _article(kind: Kind) -> str:
    return {"number": "a number", "string": "text", "boolean": "a condition (true/false)",
            "timestamp": "a time", "null": "null", "list": "a list"}[kind]


def _literal_kind(value: object) -> Kind:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "string"


# ---------------------------------------------------------------------------- reading


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly below ``node``."""
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ListOf):
        return node.items
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it."""
    yield node
    for child in children(node):
        yield from walk(child)


def fields_read(node: Node) -> set[str]:
    """Names of the fields (and tags) a condition reads."""
    return {n.name for n in walk(node) if isinstance(n, Field)}


def windows_read(node: Node) -> set[Window]:
    """The windowed aggregates a condition reads: ``('events', 'Product Added', 7)`` …"""
    return {_window_of(n) for n in walk(node) if isinstance(n, Call) and FUNCTIONS[n.name].window}


def affinities_read(node: Node) -> set[str]:
    """Categories whose affinity a condition reads."""
    return {str(n.args[0].value) for n in walk(node) if isinstance(n, Call)
            and n.name == "affinity" and isinstance(n.args[0], Constant)}


def window_column(window: Window) -> str:
    """The column holding a windowed aggregate in the tag inputs."""
    name, event, days = window
    return f"_{name}_{days}d" + ("" if event is None else f"__{event}")


def affinity_column(category: str) -> str:
    """The column holding a category's affinity in the tag inputs."""
    return f"_affinity__{category}"


def text(node: Node) -> str:
    """The condition written back in its canonical form (for explanations)."""
    if isinstance(node, Constant):
        return _literal_text(node.value)
    if isinstance(node, Field):
        return node.name
    if isinstance(node, ListOf):
        return "[" + ", ".join(_literal_text(i.value) for i in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(text(a) for a in node.args) + ")"
    if isinstance(node, Unary):
        operand = _wrapped(node.operand)
        if node.op == "not":
            return f"not {operand}"
        return f"-({operand})" if operand.startswith("-") else f"-{operand}"  # not '--'
    assert isinstance(node, Binary)
    return f"{_wrapped(node.left)} {node.op} {_wrapped(node.right)}"


def _wrapped(node: Node) -> str:
    return f"({text(node)})" if isinstance(node, Binary) else text(node)


def _literal_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# ---------------------------------------------------------------------------- compiling


def compile_to_ibis(node: Node, table: ir.Table, as_of: datetime) -> ir.Value:
    """``node`` as an Ibis expression over ``table``, which holds every field it reads
    (windowed aggregates and affinities under :func:`window_column`/:func:`affinity_column`).
    """
    if isinstance(node, Constant):
        return ibis.literal(node.value)
    if isinstance(node, Field):
        return table[node.name]
    if isinstance(node, Unary):
        operand = compile_to_ibis(node.operand, table, as_of)
        return ~operand if node.op == "not" else -operand  # type: ignore[operator]
    if isinstance(node, Call):
        return _compile_call(node, table, as_of)
    assert isinstance(node, Binary)
    left = compile_to_ibis(node.left, table, as_of)
    if node.op in ("in", "not in"):
        assert isinstance(node.right, ListOf)
        values = [i.value for i in node.right.items]
        found = left.isin(values)  # type: ignore[attr-defined]
        return ~found if node.op == "not in" else found
    right = compile_to_ibis(node.right, table, as_of)
    return _BINARY[node.op](left, right)


_BINARY: Final[dict[str, Callable[[ir.Value, ir.Value], ir.Value]]] = {
    "and": lambda a, b: a & b, "or": lambda a, b: a | b,  # type: ignore[operator]
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "+": lambda a, b: a + b, "-": lambda a, b: a - b,  # type: ignore[operator]
    "*": lambda a, b: a * b,  # type: ignore[operator]
    "/": lambda a, b: a.cast("float64") / b,  # type: ignore[attr-defined]
}


def _compile_call(node: Call, table: ir.Table, as_of: datetime) -> ir.Value:
    if FUNCTIONS[node.name].window:
        return table[window_column(_window_of(node))]
    if node.name == "affinity":
        assert isinstance(node.args[0], Constant)
        return table[affinity_column(str(node.args[0].value))]
    args = [compile_to_ibis(a, table, as_of) for a in node.args]
    if node.name == "coalesce":
        return ibis.coalesce(*args)
    if node.name == "is_null":
        return args[0].isnull()
    if node.name == "contains":
        return args[0].contains(args[1])  # type: ignore[attr-defined]
    if node.name == "lower":
        return args[0].lower()  # type: ignore[attr-defined]
    if node.name == "days_since":
        return days_between(as_of, args[0])  # type: ignore[arg-type]
    pick = ibis.least if node.name == "min" else ibis.greatest
    # DuckDB's and Spark's LEAST/GREATEST skip an empty value (min(null, 5) would be 5, so an
    # empty score term would count in full): empty in, empty out, as for + - * /.
    value = pick(*args)
    return ibis.ifelse(args[0].isnull() | args[1].isnull(), ibis.null(value.type()), value)


def _window_of(node: Call) -> Window:
    values = [a.value for a in node.args if isinstance(a, Constant)]
    days = values[-1]
    assert isinstance(days, int)
    return (node.name, str(values[0]) if node.name == "events" else None, days)
