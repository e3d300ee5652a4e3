"""Map a source's columns onto a canonical entity: typed values plus what could not be read.

``map_source`` is a pure function of Ibis tables: for every mapped field it yields the
typed value, the raw text (``__raw_<field>``) and whether the text could not be read
(``__bad_<field>``). Checks and cleaning build on these columns (see ``cleaning``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from portraits.engine.base import FILE, ROW
from portraits.errors import PortraitsError, did_you_mean
from portraits.ingest import transforms as tf
from portraits.ingest.phones import E164, RAW
from portraits.model.canonical import Entity, FieldDef
from portraits.workspace.spec import ColumnMap, SourceSpec

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"

# Spellings of enumeration values seen in Chinese and English exports.
BUILTIN_MAPS: dict[str, dict[str, str]] = {
    "gender": {"男": "male", "女": "female", "m": "male", "f": "female", "1": "male",
               "0": "female", "男性": "male", "女性": "female", "未知": "unknown",
               "保密": "unknown", "u": "unknown"},
    "marital_status": {"未婚": "single", "单身": "single", "已婚": "married",
                       "离异": "divorced", "离婚": "divorced", "丧偶": "widowed"},
    "education": {"小学": "primary", "初中": "secondary", "高中": "high_school",
                  "中专": "high_school", "大专": "college", "专科": "college",
                  "本科": "bachelor", "学士": "bachelor", "硕士": "master",
                  "研究生": "master", "博士": "doctorate"},
    "platform": {"h5": "web", "pc": "web", "ios": "app", "android": "app",
                 "miniprogram": "mini_program", "小程序": "mini_program", "门店": "store"},
    "status": {"同意": "granted", "授权": "granted", "撤回": "withdrawn", "拒绝": "withdrawn"},
}


def raw_name(field: str) -> str:
    """Column holding the raw text of ``field``."""
    return f"__raw_{field}"


def bad_name(field: str) -> str:
    """Column that is true where the raw text of ``field`` could not be read."""
    return f"__bad_{field}"


@dataclass(frozen=True)
class MappingContext:
    """What mapping needs besides the source table: lookups and settings."""

    tz_offset_minutes: int
    phone_lookup: ir.Table | None = None
    root: str = ""


def missing_columns(source: SourceSpec, columns: Sequence[str], file: str) -> list[str]:
    """Messages for mapped source columns that the file does not have, with hints."""
    messages = []
    for field, mapping in source.columns.items():
        if mapping.column is not None and mapping.column not in columns:
            hint = did_you_mean(mapping.column, [c for c in columns if not c.startswith("_")])
            messages.append(
                f"source '{source.name}', field '{field}': column '{mapping.column}' "
                f"is not in {file}" + (f" ({hint})" if hint else "")
            )
    return messages


def check_columns(source: SourceSpec, columns: Sequence[str], file: str) -> None:
    """Raise one error listing every mapped column missing from the file."""
    messages = missing_columns(source, columns, file)
    if messages:
        available = ", ".join(c for c in columns if not c.startswith("_"))
        raise PortraitsError("\n".join(messages) + f"\n  columns in the file: {available}")


def phone_fields(source: SourceSpec, ent: Entity) -> list[str]:
    """Mapped fields normalised as phone numbers (``phone`` fields and the phone transform)."""
    return [f for f, m in source.columns.items()
            if ent.has_field(f) and ("phone" in m.transform or f == "phone")]


def phone_raw_text(raw: ir.Table, source: SourceSpec, field: str) -> ir.StringValue:
    """The text that goes into phone normalisation for ``field``."""
    mapping = source.columns[field]
    return _source_text(raw, mapping)


def map_source(raw: ir.Table, source: SourceSpec, ent: Entity,
               ctx: MappingContext) -> ir.Table:
    """Typed canonical fields, raw text and unreadable flags, one row per source row.

    The cleaned text of each column, and the result, are computed in their own projection
    (``view()``): otherwise Ibis inlines the text expression into every parser that reads
    it (a date reads it 15 times) and the cleaning rules inline the parsers again, and
    DuckDB spends most of a small file's load planning the query (0.9 s for 1,000 rows).
    """
    texts = {_text_name(m.column): tf.clean_text(raw[m.column])
             for m in source.columns.values()
             if m.column is not None and raw[m.column].type().is_string()}
    raw = raw.mutate(**texts).view()
    if ctx.phone_lookup is not None:
        for field in phone_fields(source, ent):
            text = phone_raw_text(raw, source, field)
            raw = raw.mutate(**{f"__key_{field}": text})
            lookup = ctx.phone_lookup.rename({f"__e164_{field}": E164,
                                              f"__lk_{field}": RAW})
            raw = raw.left_join(lookup, raw[f"__key_{field}"] == lookup[f"__lk_{field}"])
            raw = raw.drop(f"__lk_{field}")
    columns: dict[str, ir.Value] = {
        ROW: raw[ROW],
        FILE: raw[FILE].replace(ctx.root, "") if ctx.root else raw[FILE],
    }
    for field, mapping in source.columns.items():
        typed, text, bad = _map_field(raw, field, mapping, ent.field(field), ctx)
        columns[field] = typed
        if bad is not None:  # only values parsed from text can be unreadable
            columns[raw_name(field)] = text
            columns[bad_name(field)] = bad
    return raw.select(**columns).view()


def _text_name(column: str) -> str:
    return f"__text_{column}"


def _source_text(raw: ir.Table, mapping: ColumnMap) -> ir.StringValue:
    if mapping.value is not None:
        return ibis.literal(mapping.value, "string")
    assert mapping.column is not None
    if _text_name(mapping.column) in raw.columns:
        return raw[_text_name(mapping.column)]
    return tf.clean_text(raw[mapping.column])


def _map_field(raw: ir.Table, field: str, mapping: ColumnMap, fdef: FieldDef,
               ctx: MappingContext) -> tuple[ir.Value, ir.Value, ir.BooleanValue | None]:
    """The typed value, the text it came from, and where that text was unreadable.

    Values that need no parsing (already typed in Parquet, or plain text) cannot be
    unreadable: they come back with ``None`` for the last two, so no copy is kept.
    """
    source_col = raw[mapping.column] if mapping.column is not None else None
    if source_col is not None and not source_col.type().is_string() and fdef.dtype != "string":
        return tf.cast_typed(source_col, fdef.dtype), source_col, None
    text = _source_text(raw, mapping)
    text = tf.apply_transforms(text, [t for t in mapping.transform if t not in ("phone", "email")])
    typed = _typed(raw, text, field, mapping, fdef, ctx)
    if typed is text:
        return text, text, None
    return typed, text, text.notnull() & typed.isnull()


def _typed(raw: ir.Table, text: ir.StringValue, field: str, mapping: ColumnMap,
           fdef: FieldDef, ctx: MappingContext) -> ir.Value:
    if fdef.dtype in ("int64", "float64"):
        return tf.parse_number(text, fdef.dtype)
    if fdef.dtype == "boolean":
        return tf.parse_boolean(text)
    if fdef.dtype == "timestamp":
        return tf.parse_timestamp(text, ctx.tz_offset_minutes)
    if fdef.dtype == "date":
        return tf.parse_date(text, ctx.tz_offset_minutes)
    if f"__e164_{field}" in raw.columns:
        return raw[f"__e164_{field}"]
    if "email" in mapping.transform or field == "email":
        low = text.lower()
        return ibis.ifelse(low.re_search(EMAIL_PATTERN), low, ibis.null("string"))
    if mapping.map is not None or fdef.enum is not None:
        return _enumeration(text, field, mapping, fdef)
    return text


def _enumeration(text: ir.StringValue, field: str, mapping: ColumnMap,
                 fdef: FieldDef) -> ir.StringValue:
    values: Mapping[str, str] = {**BUILTIN_MAPS.get(field, {}), **(mapping.map or {})}
    if fdef.enum is None:
        values = mapping.map or {}
    return tf.map_values(text, values, fdef.enum, mapping.map_default)


def tz_offset_minutes(offset: str) -> int:
    """'+08:00' as minutes east of UTC."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))
