"""The condition language: parsing, the canonical text, kinds, null semantics on DuckDB,
and refusing everything that is not a field, a literal, an operator or an allowed function
(Python and SQL injection attempts included), each with its message and column."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from portraits.tags.compute import tag_fields
from portraits.tags.expr import (
    FUNCTIONS,
    Binary,
    Call,
    Constant,
    ExprError,
    Field,
    Kind,
    ListOf,
    Unary,
    affinities_read,
    affinity_column,
    check,
    compile_to_ibis,
    fields_read,
    parse,
    text,
    window_column,
    windows_read,
)

AS_OF = datetime(2026, 11, 1, 12, 0, 0)
FIELDS: dict[str, Kind] = {**tag_fields(), "vip": "boolean"}


def error_of(condition: str, fields: dict[str, Kind] | None = None) -> ExprError:
    """The error of parsing (and, with ``fields``, checking) ``condition``."""
    def parse_and_check() -> None:
        node = parse(condition)
        if fields is not None:
            check(node, fields)

    with pytest.raises(ExprError) as caught:
        parse_and_check()
    return caught.value


# ---------------------------------------------------------------------------- parsing


def test_a_condition_parses_to_a_tree_with_1_based_columns() -> None:
    assert parse("orders(90) >= 3 and not vip") == Binary(
        1, "and",
        Binary(1, ">=", Call(1, "orders", (Constant(8, 90),)), Constant(15, 3)),
        Unary(21, "not", Field(25, "vip")))


def test_a_chained_comparison_is_an_and_of_its_steps() -> None:
    assert parse("1 < age <= 30") == Binary(
        1, "and", Binary(1, "<", Constant(1, 1), Field(5, "age")),
        Binary(1, "<=", Field(5, "age"), Constant(12, 30)))


def test_and_or_chains_nest_to_the_left() -> None:
    assert parse("a or b or c") == Binary(
        1, "or", Binary(1, "or", Field(1, "a"), Field(6, "b")), Field(11, "c"))


@pytest.mark.parametrize(("condition", "value"), [
    ("true", True), ("True", True), ("false", False), ("False", False), ("null", None),
    ("None", None), ("-3", -3), ("-2.5", -2.5), ("'北京'", "北京"), ('"new1"', "new1"),
    ("- -3", 3)])
def test_literals(condition: str, value: object) -> None:
    node = parse(condition)
    assert isinstance(node, Constant)
    assert node.value == value
    assert type(node.value) is type(value)


def test_lists_and_tuples_are_lists_of_literals() -> None:
    assert parse("['1', 'new1']") == ListOf(1, (Constant(2, "1"), Constant(7, "new1")))
    assert parse("(1, 2)") == ListOf(1, (Constant(2, 1), Constant(5, 2)))
    error = error_of("city_tier in ['1', city]")
    assert (error.message, error.column) == ("a list may hold literals only", 14)


def test_a_condition_over_several_lines_is_one_line() -> None:
    assert text(parse("orders >= 3\n  and vip\r\n")) == "(orders >= 3) and vip"


def test_columns_count_characters_not_bytes() -> None:
    # Python's ast counts UTF-8 bytes: '北京' would push every later column 4 to the right.
    node = parse("city == '北京' and ordrs > 1")
    assert isinstance(node, Binary)
    assert node.right == Binary(18, ">", Field(18, "ordrs"), Constant(26, 1))
    condition = "affinity('母婴') > 0.3 and ordrs > 1"
    error = error_of(condition, FIELDS)
    assert (error.message, error.column) == ("unknown field 'ordrs'", 26)
    assert condition[25:30] == "ordrs"


@pytest.mark.parametrize(("condition", "column"), [
    ("", 1), ("   ", 1), ("\n", 1)])
def test_an_empty_condition_is_refused(condition: str, column: int) -> None:
    error = error_of(condition)
    assert (error.message, error.column) == ("the condition is empty", column)


@pytest.mark.parametrize(("condition", "column"), [
    ("orders >=", 10),            # Python says offset 0 at the end of the text
    ("not", 4),
    ("(orders > 1", 1),
    ("orders > 1 vip", 12),
    ("'unterminated", 1)])
def test_a_syntax_error_has_a_column_within_the_text(condition: str, column: int) -> None:
    error = error_of(condition)
    assert error.message.startswith("cannot read the condition: ")
    assert error.column == column
    assert str(error).startswith(f"column {column}: cannot read the condition")


def test_what_a_condition_reads() -> None:
    node = parse("events('Product Added', 7) > 0 and orders(7) == 0 and orders(90) < 3 "
                 "and affinity('母婴') >= 0.3 and coalesce(age, 0) > 20 and not vip")
    assert fields_read(node) == {"age", "vip"}
    assert windows_read(node) == {("events", "Product Added", 7), ("orders", None, 7),
                                  ("orders", None, 90)}
    assert affinities_read(node) == {"母婴"}
    assert window_column(("events", "Product Added", 7)) == "_events_7d__Product Added"
    assert window_column(("orders", None, 90)) == "_orders_90d"
    assert affinity_column("母婴") == "_affinity__母婴"


# ---------------------------------------------------------------------------- canonical text


@pytest.mark.parametrize(("condition", "canonical"), [
    ("orders(90)>=3 and not vip", "(orders(90) >= 3) and not vip"),
    ("a or b and c", "a or (b and c)"),
    ("(a or b) and c", "(a or b) and c"),
    ("1 < age <= 30", "(1 < age) and (age <= 30)"),
    ("city_tier in ('1', \"new1\")", "city_tier in ['1', 'new1']"),
    ("city_tier not in ['3']", "city_tier not in ['3']"),
    ("has_phone == True or x != None", "(has_phone == true) or (x != null)"),
    ('events("Product Added", 7) > 0', "events('Product Added', 7) > 0"),
    ("min(active_days(30), 10) / 10", "min(active_days(30), 10) / 10"),
    ("a - -b", "a - -b"),
    ("- -x", "-(-x)"),
    ("-(a + b) * 2", "-(a + b) * 2"),
    ("not (a and b)", "not (a and b)"),
    ("city == \"it's\"", "city == \"it's\""),
    ("spend >= 1e3", "spend >= 1000.0"),
])
def test_canonical_text(condition: str, canonical: str) -> None:
    assert text(parse(condition)) == canonical
    assert text(parse(canonical)) == canonical   # the canonical text reads back the same


# ---------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(("condition", "kind"), [
    ("orders(90) >= 3", "boolean"), ("spend(30) / 2", "number"), ("lower(city)", "string"),
    ("first_order_at", "timestamp"), ("days_since(first_order_at)", "number"),
    ("coalesce(null, age)", "number"), ("coalesce(null)", "null"), ("is_null(city)", "boolean"),
    ("['a', null]", "list"), ("null", "null"), ("age == null", "boolean"),
    ("rfm_r >= 4 and vip", "boolean"), ("contains(city, '州')", "boolean"),
    ("max(age, 18) - min(rfm_f, 2)", "number"), ("events('*', 30)", "number"),
    ("affinity('数码')", "number")])
def test_kinds(condition: str, kind: Kind) -> None:
    assert check(parse(condition), FIELDS) == kind


@pytest.mark.parametrize(("condition", "message", "column"), [
    ("orders + 'a'", "'+' needs a number, got text", 10),
    ("city_tier == 1", "cannot compare string with number using '=='", 1),
    ("has_phone < true", "'<' does not order true and false", 1),
    ("not orders", "'not' needs a condition (true/false), got a number", 5),
    ("-city", "'-' needs a number, got text", 2),
    ("orders and vip", "'and' needs a condition (true/false), got a number", 1),
    ("city_tier in '1'", "'in' needs a list on its right: x in ['a', 'b']", 14),
    ("city_tier in [1, 2]", "'in' needs text, got a number", 14),
    ("city_tier in [1, '2']", "a list must hold values of one kind", 14),
    ("coalesce(orders, city)", "coalesce() needs values of one kind", 1),
    ("lower(orders) == 'a'", "lower() needs text, got a number", 7),
    ("days_since(orders) > 3", "days_since() needs a time, got a number", 12),
    ("contains(city, 1)", "contains() needs text, got a number", 16),
    ("orders(age) > 1", "orders() takes literal arguments", 8),
    ("orders(0) > 1", "orders(): the number of days must be a whole number from 1 to 3650", 8),
    ("orders(3651) > 1",
     "orders(): the number of days must be a whole number from 1 to 3650", 8),
    ("spend(1.5) > 1", "spend(): the number of days must be a whole number from 1 to 3650", 7),
    ("events(7, 7) > 0", "events(): the first argument must be a quoted name", 8),
    ("events(' ', 7) > 0", "events(): the first argument must be a quoted name", 8),
    ("orders(1, 2) > 0", "orders() takes 1 argument, not 2", 1),
    ("min(age) > 0", "min() takes 2 arguments, not 1", 1),
    ("affinity(city) > 0", "affinity() takes literal arguments", 10),
])
def test_kind_errors(condition: str, message: str, column: int) -> None:
    error = error_of(condition, FIELDS)
    assert (error.message, error.column) == (message, column)


def test_comparing_text_with_a_number_hints_at_quotes() -> None:
    assert error_of("city_tier == 1", FIELDS).hint == "quote text values: city_tier == '1'"


def test_a_window_function_error_shows_what_the_function_does() -> None:
    assert error_of("orders(0) > 1", FIELDS).hint == FUNCTIONS["orders"].doc


def test_an_unknown_field_gets_a_did_you_mean_hint() -> None:
    error = error_of("orders >= 3 and cty_tier == '1'", FIELDS)
    assert (error.message, error.column, error.hint) == (
        "unknown field 'cty_tier'", 17, "did you mean 'city_tier'?")
    assert str(error) == ("column 17: unknown field 'cty_tier' (did you mean "
                          "'city_tier'?)")
    assert error_of("zzzz > 1", FIELDS).hint is None


def test_an_unknown_function_gets_a_hint() -> None:
    error = error_of("order(90) > 1")
    assert (error.message, error.column) == ("'order' is not a function conditions may call", 1)
    assert error.hint == "did you mean 'orders'?"
    error = error_of("age > 1 and frobnicate(1)")
    assert (error.message, error.column) == (
        "'frobnicate' is not a function conditions may call", 13)
    assert error.hint == "use one of " + ", ".join(FUNCTIONS)


# ---------------------------------------------------------------------------- null semantics


@pytest.fixture(scope="module")
def table(con: BaseBackend) -> ir.Table:
    """Three rows: values, all empty, falsy values; plus window and affinity columns."""
    schema = pa.schema([
        ("id", pa.string()), ("a", pa.int64()), ("b", pa.bool_()), ("s", pa.string()),
        ("t", pa.timestamp("us")), ("_orders_90d", pa.int64()),
        ("_events_7d__Product Added", pa.int64()), ("_affinity__母婴", pa.float64())])
    rows = [
        {"id": "1", "a": 5, "b": True, "s": "Abc", "t": datetime(2026, 10, 2, 23, 59),
         "_orders_90d": 3, "_events_7d__Product Added": 1, "_affinity__母婴": 0.3},
        {"id": "2", "a": None, "b": None, "s": None, "t": None,
         "_orders_90d": 0, "_events_7d__Product Added": 0, "_affinity__母婴": 0.0},
        {"id": "3", "a": 0, "b": False, "s": "x", "t": datetime(2026, 11, 1, 0, 0),
         "_orders_90d": 2, "_events_7d__Product Added": 0, "_affinity__母婴": 0.29},
    ]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def evaluate(con: BaseBackend, table: ir.Table, condition: str) -> tuple[Any, ...]:
    """The condition's value on rows 1, 2 and 3 (None where it is unknown)."""
    fields: dict[str, Kind] = {"a": "number", "b": "boolean", "s": "string", "t": "timestamp"}
    node = parse(condition)
    check(node, fields)
    value = compile_to_ibis(node, table, AS_OF)
    out = con.to_pyarrow(table.select("id", value=value)).to_pylist()
    by_id = {r["id"]: r["value"] for r in out}
    return by_id["1"], by_id["2"], by_id["3"]


@pytest.mark.parametrize(("condition", "values"), [
    ("a > 1", (True, None, False)),
    ("a > 1 or b", (True, None, False)),
    ("a > 1 or true", (True, True, True)),          # unknown or true is true
    ("a > 1 or false", (True, None, False)),        # unknown or false stays unknown
    ("a > 1 and false", (False, False, False)),     # unknown and false is false
    ("a > 1 and true", (True, None, False)),
    ("not (a > 1)", (False, None, True)),           # not unknown is unknown
    ("a != 5", (False, None, True)),
    ("a == null", (False, True, False)),            # == and != null test emptiness (Ibis) …
    ("a != null", (True, False, True)),
    ("a > null", (None, None, None)),               # … any other comparison is unknown
    ("is_null(a)", (False, True, False)),
    ("coalesce(a, 1) > 1", (True, False, False)),
    ("a in [5, 6]", (True, None, False)),
    ("a not in [5, 6]", (False, None, True)),
    ("0 <= a < 5", (False, None, True)),
    ("b", (True, None, False)),
    ("b == false", (False, None, True)),
    ("contains(s, 'b')", (True, None, False)),
    ("lower(s) == 'abc'", (True, None, False)),
    ("a + 1", (6, None, 1)),
    ("-a", (-5, None, 0)),
    ("a / 2", (2.5, None, 0.0)),
    ("a * 2 - 1", (9, None, -1)),
    ("max(a, 3)", (5, None, 3)),                    # empty in, empty out (LEAST would skip it)
    ("min(a, 3)", (3, None, 0)),
    ("min(coalesce(a, 0), 3)", (3, 0, 0)),
    ("days_since(t)", (30, None, 0)),               # calendar days to the reference date
    ("orders(90) >= 3", (True, False, False)),
    ("events('Product Added', 7) > 0", (True, False, False)),
    ("affinity('母婴') >= 0.3", (True, False, False)),
])
def test_values_follow_sql_three_valued_logic(con: BaseBackend, table: ir.Table,
                                              condition: str, values: tuple[Any, ...]) -> None:
    assert evaluate(con, table, condition) == values


# ---------------------------------------------------------------------------- injection

NOT_ALLOWED = " is not allowed in a condition"


@pytest.mark.parametrize(("condition", "message", "column"), [
    ("__import__('os').system('x')", "this call" + NOT_ALLOWED, 1),
    ("().__class__", "an attribute ('.')" + NOT_ALLOWED, 1),
    ("().__class__.__bases__[0].__subclasses__()", "this call" + NOT_ALLOWED, 1),
    ("orders > 1 and city.upper() == 'X'", "this call" + NOT_ALLOWED, 16),
    ("orders > 1 and profiles.city == 'X'", "an attribute ('.')" + NOT_ALLOWED, 16),
    ("lambda: 1", "a lambda" + NOT_ALLOWED, 1),
    ("open('f')", "'open' is not a function conditions may call", 1),
    ("eval('1')", "'eval' is not a function conditions may call", 1),
    ("orders > 1 and exec('import os')", "'exec' is not a function conditions may call", 16),
    ("x if y else z", "'… if … else …'" + NOT_ALLOWED, 1),
    ("city[0] == 'x'", "indexing ('[…]')" + NOT_ALLOWED, 1),
    ("orders > 1 and city[0:2] == 'x'", "indexing ('[…]')" + NOT_ALLOWED, 16),
    ("f'{city}' == 'x'", "an f-string" + NOT_ALLOWED, 1),
    ("(x := 1) > 0", "':='" + NOT_ALLOWED, 2),
    ("{'a': 1}", "a mapping" + NOT_ALLOWED, 1),
    ("{1}", "a set" + NOT_ALLOWED, 1),
    ("[c for c in city]", "'ListComp'" + NOT_ALLOWED, 1),
    ("orders ** 99999999", "this operator" + NOT_ALLOWED, 1),
    ("orders // 2 > 1", "this operator" + NOT_ALLOWED, 1),
    ("age > 1 and orders(days=90) > 1", "this call" + NOT_ALLOWED, 13),
    ("city is None", "the operator 'Is' is not allowed", 1),
])
def test_python_is_refused(condition: str, message: str, column: int) -> None:
    error = error_of(condition)
    assert (error.message, error.column) == (message, column)
    assert error.hint   # says what is allowed instead


def test_dunder_names_are_unknown_fields() -> None:
    error = error_of("__builtins__ == 1", FIELDS)
    assert (error.message, error.column) == ("unknown field '__builtins__'", 1)


@pytest.mark.parametrize(("condition", "message", "column"), [
    ("orders; DROP TABLE profiles", "cannot read the condition: invalid syntax", 7),
    ("orders -- comment", "'--' is not allowed in a condition (it starts no comment)", 8),
    ("orders >= 3 -- 1", "'--' is not allowed in a condition (it starts no comment)", 13),
    ("orders >= 3 # and vip", "'#' comments are not allowed in a condition", 13),
    ("1 = 1", "cannot read the condition: invalid syntax", 3),
    ("city_tier = '1' OR 1 = 1", "cannot read the condition: invalid syntax", 11),
    ("orders > 1 /* x */", "cannot read the condition: invalid syntax", 13),
    ("city == 'a' || 'b'", "cannot read the condition: invalid syntax", 14),
])
def test_sql_is_refused(condition: str, message: str, column: int) -> None:
    error = error_of(condition, FIELDS)
    assert (error.message, error.column) == (message, column)


def test_double_equals_is_the_comparison(con: BaseBackend, table: ir.Table) -> None:
    assert parse("1 == 1") == Binary(1, "==", Constant(1, 1), Constant(6, 1))
    assert evaluate(con, table, "1 == 1") == (True, True, True)


def test_a_spaced_double_minus_is_arithmetic() -> None:
    assert parse("a - -1") == Binary(1, "-", Field(1, "a"), Constant(5, -1))
    assert parse("city == '--x #y'") == Binary(1, "==", Field(1, "city"),
                                              Constant(9, "--x #y"))


@pytest.mark.parametrize(("condition", "b_holds"), [
    ("city == \"'; DROP TABLE profiles; --\"", True),   # B's city is that very text
    ("city == \"x'; DROP TABLE profiles; --\"", False),
    ("city in ['x', \"'); DROP TABLE profiles; --\"]", False),
    ("contains(city, \"' OR '1'='1\")", False),
])
def test_sql_inside_a_string_is_plain_data(con: BaseBackend, condition: str,
                                           b_holds: bool) -> None:
    con.create_table("profiles", pa.table({
        "customer_id": ["A", "B"], "city": ["北京", "'; DROP TABLE profiles; --"]}),
        overwrite=True)
    profiles = con.table("profiles")
    node = parse(condition)
    assert check(node, {"city": "string"}) == "boolean"
    value = compile_to_ibis(node, profiles, AS_OF)
    sql = str(ibis.to_sql(profiles.select("customer_id", hit=value), dialect="duckdb"))
    assert "''" in sql   # the quote is escaped inside a SQL string literal
    hits = {r["customer_id"]: r["hit"] for r in con.to_pyarrow(
        profiles.select("customer_id", hit=value)).to_pylist()}
    assert hits == {"A": False, "B": b_holds}
    assert "profiles" in con.list_tables()
    assert con.to_pyarrow(profiles).num_rows == 2
