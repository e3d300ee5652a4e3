"""Value transforms on DuckDB: dates, numbers, phones, enumerations, e-mail."""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pandas as pd
import pytest

from portraits.ingest import transforms as tf
from portraits.ingest.mapping import BUILTIN_MAPS
from portraits.ingest.phones import normalise_phone, phone_lookup

SHANGHAI = 8 * 60


def run(values: list[str | None], expr_of: object) -> list[object]:
    table = ibis.memtable({"v": values}, schema={"v": "string"})
    expr = expr_of(tf.clean_text(table.v))  # type: ignore[operator]
    return list(ibis.duckdb.connect().execute(table.select(out=expr)).out)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-01", datetime(2026, 10, 1)),
    ("2026年10月1日", datetime(2026, 10, 1)),
    ("2026/10/01 08:00", datetime(2026, 10, 1, 8)),
    ("2026/1/5 8:05:09", datetime(2026, 1, 5, 8, 5, 9)),
    ("2026.10.01 23:59:59", datetime(2026, 10, 1, 23, 59, 59)),
    ("2026年10月1日 08:30", datetime(2026, 10, 1, 8, 30)),
    ("20261001", datetime(2026, 10, 1)),
    ("2026-10-01T08:00:00.250+08:00", datetime(2026, 10, 1, 8, 0, 0, 250000)),
    ("2026-10-01T00:00:00Z", datetime(2026, 10, 1, 8)),
    ("2026-09-30T20:00:00-04:00", datetime(2026, 10, 1, 8)),
    ("  2026-10-01  ", datetime(2026, 10, 1)),
])
def test_timestamps_in_iso_chinese_and_slash_formats(text: str, expected: datetime) -> None:
    (value,) = run([text], lambda v: tf.parse_timestamp(v, SHANGHAI))
    assert value == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "1990-13-45", "未知", "19900503x",
                                  "10/01/2026", "2026-10-01 25:00"])
def test_impossible_or_ambiguous_dates_are_unreadable(text: str) -> None:
    (value,) = run([text], lambda v: tf.parse_timestamp(v, SHANGHAI))
    assert pd.isna(value)  # NULL comes back as None or NaT


def test_plain_iso_shortcut_gives_what_the_general_pattern_gives() -> None:
    texts = ["2026-11-12T14:20:43", "2026-11-12 14:20:43.123456", "2026-11-12",
             "2026-11-12T14:20:43Z", "2026-11-12T14:20:43.5Z", "2026-02-30",
             "2026-02-30 10:00:00", "2026-13-01T00:00:00Z", "2026-11-12T24:00:00",
             "2026-11-12T14:20:43.1234567", "2026-11-12T14:20:43+08:00", "2026-1-2",
             "2026-11-12 25:61:00", "2026/11/12 08:00", "2026-11-12Z", None]
    table = ibis.memtable({"v": texts}, schema={"v": "string"})
    shortcut = tf.parse_timestamp(table.v, SHANGHAI)
    general = tf._parse_any_timestamp(table.v, SHANGHAI)
    out = ibis.duckdb.connect().to_pyarrow(table.select(a=shortcut, b=general)).to_pylist()
    assert [r["a"] for r in out] == [r["b"] for r in out]
    assert out[3]["a"] == datetime(2026, 11, 12, 22, 20, 43)  # Z: UTC to +08:00


def test_dates_drop_the_time() -> None:
    values = run(["1990年5月3日", "1990/5/3 10:00"], lambda v: tf.parse_date(v, SHANGHAI))
    assert [v.date() if isinstance(v, datetime) else v for v in values] == [date(1990, 5, 3)] * 2


@pytest.mark.parametrize(("text", "dtype", "expected"), [
    ("1,299.00", "float64", 1299.0), ("¥88", "float64", 88.0), ("￥ 3.5 元", "float64", 3.5),
    ("-5", "float64", -5.0), ("3", "int64", 3), ("3.0", "int64", 3),
])
def test_numbers_lose_currency_signs_and_separators(text: str, dtype: str,
                                                    expected: float) -> None:
    (value,) = run([text], lambda v: tf.parse_number(v, dtype))  # type: ignore[arg-type]
    assert value == expected


@pytest.mark.parametrize(("text", "dtype"), [("abc", "float64"), ("3.5", "int64"),
                                             ("1e", "float64")])
def test_non_numbers_are_unreadable(text: str, dtype: str) -> None:
    (value,) = run([text], lambda v: tf.parse_number(v, dtype))  # type: ignore[arg-type]
    assert pd.isna(value)


def test_gender_spellings_map_to_the_enumeration() -> None:
    values = run(["男", "女", "M", "f", "1", "0", "保密", "X", None],
                 lambda v: tf.map_values(v, BUILTIN_MAPS["gender"], ("male", "female",
                                                                     "unknown"), None))
    assert values[:7] == ["male", "female", "male", "female", "male", "female", "unknown"]
    assert values[7] is None and values[8] is None


def test_text_transforms_and_blank_is_null() -> None:
    values = run(["  Ab-1 ", "   ", None], lambda v: tf.apply_transforms(v, ["lower", "digits"]))
    assert values == ["1", None, None]


@pytest.mark.parametrize(("raw", "e164"), [
    ("13812345678", "+8613812345678"), ("+86 138 1234 5678", "+8613812345678"),
    ("138-1234-5678", "+8613812345678"), ("86-13812345678", "+8613812345678"),
    ("008613812345678", "+8613812345678"), ("(010) 6552 9988", "+861065529988"),
    ("+1 650-253-0000", "+16502530000"),
])
def test_phones_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw, "CN") == e164


@pytest.mark.parametrize("raw", ["12345", "1380013800", "phone", "+86 138"])
def test_invalid_phones_are_none(raw: str) -> None:
    assert normalise_phone(raw, "CN") is None


def test_plain_chinese_mobiles_get_the_answer_parsing_gives() -> None:
    """The shortcut for plain 11-digit mobiles agrees with phonenumbers' own parse for a
    number under every 1xxxx prefix, written bare, with +86, spaces and dashes."""
    import random

    import phonenumbers

    def parsed(text: str) -> str | None:
        try:
            number = phonenumbers.parse(text, "CN")
        except phonenumbers.NumberParseException:  # e.g. 12593… read as a carrier code
            return None
        return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_valid_number(number) else None)

    rng = random.Random(3)
    for prefix in range(10000, 20000):
        digits = f"{prefix}{rng.randrange(10**6):06d}"
        written = rng.choice([digits, f"+86 {digits}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"])
        assert normalise_phone(written, "CN") == parsed(digits), written
    assert normalise_phone("13812345678", "US") is None  # not a US number
    assert normalise_phone("+86 13812345678", "US") == "+8613812345678"


def test_the_default_region_is_configurable() -> None:
    assert normalise_phone("020 7946 0018", "GB") == "+442079460018"


def test_the_phone_lookup_holds_each_distinct_value_once() -> None:
    table = phone_lookup(["138-1234-5678", "13812345678", "138-1234-5678", "1"], "CN")
    assert table.num_rows == 3
    assert dict(zip(*table.to_pydict().values(), strict=True))["1"] is None


@pytest.mark.parametrize(("text", "expected"), [
    ("  abc  ", "abc"), ("\tabc", "abc"), ("abc\r\n", "abc"), ("abc", "abc"),
    ("张三 ", "张三"), (" 张三", "张三"), ("张三", "张三"), ("!x!", "!x!"), ("a b", "a b"),
    ("", None), ("   ", None), (None, None), ("~é", "~é"),
])
def test_clean_text_trims_blanks_at_either_end_and_empties_to_null(
        text: str | None, expected: str | None) -> None:
    (value,) = run([text], lambda v: v)
    assert value == expected
