"""Read JSON lines into text columns: Arrow's C++ parser a block at a time, Python where
Arrow cannot.

Arrow parses a block of lines about twenty times faster than ``json.loads`` and a
flattening loop (the demo's 259,000 mini-program events: 15 s in Python), but it refuses
a whole block for one bad line, for a value whose type changes from line to line, or for
a key given twice. Such a block is halved until the halves parse; a piece of at most
:data:`PYTHON_LINES` lines that still fails is read line by line in Python, which names
each bad line. Both ways give the same text (see :func:`plain`), so where a block was cut
does not show in the result.

Nested objects are flattened to dotted names (``context.device.id``); an object is also
kept whole as JSON text under its own name when ``whole`` names it (or always, when
``whole`` is None), so a mapping can take ``properties`` as one value. Lists are JSON
text. Numbers are written plainly: an integral decimal as an integer (``12.0`` → ``12``,
as Excel cells are read), so a column mixing integers and decimals reads the same in
Arrow (which stores it as decimals) and in Python. A kept-whole object leaves out its
null members: Arrow cannot tell a missing member from a null one.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from portraits.errors import PortraitsError
from portraits.ingest.readers import RowProblem, TextRows, resolve_encoding, with_position

BLOCK_BYTES = 16 << 20
PYTHON_LINES = 256
_UTF8 = ("utf-8", "utf-8-sig", "ascii")

def read_jsonl(path: Path, encoding: str = "auto",
               whole: Collection[str] | None = None) -> TextRows:
    """Read a JSON-lines file; each row keeps its line number, each bad line becomes a
    ``malformed_json`` problem.

    Args:
        path: The file.
        encoding: A codec name, or ``auto`` to detect it.
        whole: Names of nested objects to keep whole as JSON text too (None: all).

    Returns:
        Text columns with ``_row`` (line number) and ``_file``, and the bad lines.
    """
    enc = resolve_encoding(path, encoding)
    data = path.read_bytes()
    if codecs.lookup(enc).name.startswith(("utf-16", "utf-32")):
        # A line break is not one byte in these: the file is read as UTF-8 instead.
        try:
            data, enc = data.decode(enc).encode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            raise PortraitsError(f"{path.name}: not valid {enc} text at byte "
                                 f"{exc.start + 1}") from None
    lines = data.split(b"\n")
    del data
    if lines[0].startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not JSON
        lines[0] = lines[0][3:]
    numbers = [n for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbers:
        raise PortraitsError(f"{path.name} has no records")
    kept = [lines[n - 1] for n in numbers]
    del lines
    reader = _Reader(path, enc, whole)
    per_block = max(PYTHON_LINES, BLOCK_BYTES * len(kept) // max(sum(map(len, kept)), 1))
    for start in range(0, len(kept), per_block):
        reader.block(kept[start:start + per_block], numbers[start:start + per_block])
    return reader.result()


class _Reader:
    """Collects the text columns, line numbers and problems of a file's blocks."""

    def __init__(self, path: Path, encoding: str, whole: Collection[str] | None) -> None:
        self.path, self.encoding, self.whole = path, encoding, whole
        self.pieces: list[tuple[dict[str, pa.Array], int]] = []
        self.numbers: list[int] = []
        self.problems: list[RowProblem] = []

    def block(self, lines: list[bytes], numbers: list[int]) -> None:
        """Parse ``lines`` with Arrow, halving on failure down to Python's pieces."""
        table = _arrow_table(lines) if self.encoding in _UTF8 else None
        if table is not None:
            self._add(_text_columns(table, self.whole), table.num_rows, numbers)
        elif len(lines) > PYTHON_LINES and self.encoding in _UTF8:
            half = len(lines) // 2
            self.block(lines[:half], numbers[:half])
            self.block(lines[half:], numbers[half:])
        else:
            self._python(lines, numbers)

    def _python(self, lines: list[bytes], numbers: list[int]) -> None:
        records: list[dict[str, str | None]] = []
        good: list[int] = []
        for raw, number in zip(lines, numbers, strict=True):
            record = self._record(raw, number)
            if record is not None:
                flat: dict[str, str | None] = {}
                flatten(record, self.whole, "", flat)
                records.append(flat)
                good.append(number)
        names = dict.fromkeys(name for record in records for name in record)
        columns = {name: pa.array([r.get(name) for r in records], pa.string())
                   for name in names}
        self._add(columns, len(records), good)

    def _record(self, raw: bytes, number: int) -> dict[str, Any] | None:
        try:
            line = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self.problems.append(RowProblem(
                self.path.name, number, "malformed_json",
                f"not valid {self.encoding} text at byte {exc.start + 1}",
                raw.decode(self.encoding, errors="replace").rstrip("\r")))
            return None
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON: {exc.msg} at column {exc.colno}"
        else:
            if isinstance(record, dict):
                return record
            reason = "the line is JSON but not an object"
        self.problems.append(RowProblem(self.path.name, number, "malformed_json", reason,
                                        line.rstrip("\r")))
        return None

    def _add(self, columns: dict[str, pa.Array], rows: int, numbers: list[int]) -> None:
        self.pieces.append((columns, rows))
        self.numbers.extend(numbers)

    def result(self) -> TextRows:
        names = dict.fromkeys(name for columns, _ in self.pieces for name in columns)
        if names:
            table = pa.table({name: pa.chunked_array(
                [columns.get(name, pa.nulls(rows, pa.string())) for columns, rows in self.pieces],
                pa.string()) for name in names})
        else:  # every line is an empty object, or none is readable
            table = pa.table({"_empty": pa.nulls(len(self.numbers), pa.string())})
        return TextRows(with_position(table, pa.array(self.numbers, pa.int64()), self.path),
                        self.problems, self.encoding)


def _arrow_table(lines: list[bytes]) -> pa.Table | None:
    """The block parsed by Arrow, or None where Arrow refuses it (or the bytes are not
    UTF-8). Strings Arrow would take for timestamps are read again as text: a reader does
    not type values."""
    import pyarrow.json as pajson

    data = b"\n".join(lines)
    try:
        data.decode("utf-8")  # Arrow's parser does not check the bytes
    except UnicodeDecodeError:
        return None
    options = pajson.ReadOptions(block_size=max(1 << 20, 2 * max(map(len, lines))))
    try:
        table = pajson.read_json(io.BytesIO(data), read_options=options)
        if _has_timestamp(table.schema):
            schema = pa.schema([f.with_type(_untimed(f.type)) for f in table.schema])
            table = pajson.read_json(io.BytesIO(data), read_options=options,
                                     parse_options=pajson.ParseOptions(explicit_schema=schema))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == len(lines) else None


def _has_timestamp(schema: pa.Schema) -> bool:
    return any(_untimed(f.type) != f.type for f in schema)


def _untimed(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_untimed(f.type)) for f in kind])
    if pa.types.is_list(kind):
        return pa.list_(_untimed(kind.value_type))
    return kind


def _text_columns(table: pa.Table, whole: Collection[str] | None) -> dict[str, pa.Array]:
    columns: dict[str, pa.Array] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        _add_text(column.combine_chunks(), name, whole, columns)
    return columns


def _add_text(array: pa.Array, name: str, whole: Collection[str] | None,
              out: dict[str, pa.Array]) -> None:
    """``array`` as text under ``name`` (its members under ``name.member`` when it is an
    object), as :func:`flatten` writes it."""
    kind = array.type
    if pa.types.is_struct(kind):
        if whole is None or name in whole:
            out[name] = _object_texts(array)
        for field, member in zip(kind, array.flatten(), strict=True):  # nulls of the parent
            _add_text(member, f"{name}.{field.name}", whole, out)
    elif pa.types.is_list(kind):
        out[name] = _python_json(array, sort_keys=False)
    elif pa.types.is_floating(kind):
        out[name] = _number_texts(array)
    elif pa.types.is_null(kind):
        out[name] = pa.nulls(len(array), pa.string())
    else:  # strings, integers and booleans ("true"/"false") cast as they are written
        out[name] = pc.cast(array, pa.string())


def _object_texts(array: pa.StructArray) -> pa.Array:
    """Each object as ``json.dumps(plain(value), ensure_ascii=False, sort_keys=True)``,
    built by Arrow when its members are text, numbers, booleans or objects of those."""
    texts = _json_values(array)
    return _python_json(array, sort_keys=True) if texts is None else texts


def _json_values(array: pa.Array) -> pa.Array | None:
    """JSON text of each value (null for a null), or None where Python must write it."""
    kind = array.type
    if pa.types.is_struct(kind):
        members = sorted(zip((f.name for f in kind), array.flatten(), strict=True))
        # ', "key": value' for each member not null, then the first ', ' cut off. (Arrow
        # 26's null_handling="skip" loses the rows where every member is null.)
        pieces = [pa.array([""] * len(array), pa.string())]
        for key, member in members:
            value = _json_values(member)
            if value is None:
                return None
            pieces.append(pc.fill_null(pc.binary_join_element_wise(
                ", " + json.dumps(key, ensure_ascii=False), value, ": "), ""))
        inner = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*pieces, ""), 2)
        text = pc.binary_join_element_wise("{", inner, "}", "")
        return pc.if_else(array.is_valid(), text, pa.scalar(None, pa.string()))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _json_strings(pc.cast(array, pa.string()))
    if pa.types.is_floating(kind):
        return _number_texts(array)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    return None


_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
            ("\t", "\\t"))


def _json_strings(array: pa.Array) -> pa.Array | None:
    """Quoted and escaped as json.dumps writes them; None when a rarer control character
    (written ``\\u00XX`` or ``\\b``) is in there."""
    if pc.any(pc.match_substring_regex(array, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]")).as_py():
        return None
    for plain_text, escaped in _ESCAPES:
        array = pc.replace_substring(array, plain_text, escaped)
    return pc.binary_join_element_wise('"', array, '"', "")


def _number_texts(array: pa.Array) -> pa.Array:
    """Each decimal as :func:`number_text` writes it: Arrow's cast does so from 0.0001 up
    to 10**16 (integral ones without ``.0``); Python writes the others."""
    texts = pc.cast(array, pa.string())
    size = pc.abs(array)
    odd = pc.and_(pc.not_equal(size, 0.0), pc.or_(pc.less(size, 1e-4),
                                                   pc.greater_equal(size, 1e16)))
    if not pc.any(odd).as_py():
        return texts
    values = array.to_pylist()
    fixed = [number_text(v) if wrong else text for v, text, wrong in
             zip(values, texts.to_pylist(), odd.to_pylist(), strict=True)]
    return pa.array(fixed, pa.string())


def _python_json(array: pa.Array, sort_keys: bool) -> pa.Array:
    return pa.array([None if v is None else json.dumps(plain(v), ensure_ascii=False,
                                                       sort_keys=sort_keys)
                     for v in array.to_pylist()], pa.string())


def _integral(value: float) -> bool:
    """Written as an integer: integral and below 10**16, where floats still count units."""
    return value.is_integer() and abs(value) < 1e16


def number_text(value: float) -> str:
    """A decimal as text; an integral one as an integer (``12.0`` → ``12``)."""
    return str(int(value)) if _integral(value) else str(value)


def plain(value: Any) -> Any:
    """A parsed JSON value with its objects' null members left out and integral decimals
    as integers: what Arrow's parse and Python's agree on."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and _integral(value):
        return int(value)
    return value


def flatten(record: dict[str, Any], whole: Collection[str] | None, prefix: str,
            flat: dict[str, str | None]) -> None:
    """Add ``record``'s values to ``flat`` as text under dotted names (nested objects also
    whole, as JSON text, when ``whole`` names them)."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        kind = type(value)
        if kind is str:
            flat[name] = value
        elif kind is dict:
            if whole is None or name in whole:
                flat[name] = json.dumps(plain(value), ensure_ascii=False, sort_keys=True)
            flatten(value, whole, f"{name}.", flat)
        elif kind is list:
            flat[name] = json.dumps(plain(value), ensure_ascii=False)
        elif value is None:
            flat[name] = None
        elif kind is bool:
            flat[name] = "true" if value else "false"
        elif kind is float:
            flat[name] = number_text(value)
        else:
            flat[name] = str(value)
