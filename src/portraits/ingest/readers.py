"""Read CSV, Excel and JSON-lines files into Arrow tables of text, row numbers kept.

Every cell is read as text; typing happens in the mapping step, so a bad value becomes a
precise reject instead of a failed file. Rows the reader cannot split into fields are
returned as :class:`RowProblem` with their row number and raw text. Row numbers are what a
person sees: in CSV and Excel the header is row 1; in JSON lines the line number
(:mod:`portraits.ingest.jsonlines`).
Parquet is typed already and is read by the engine (``Engine.read_parquet``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from portraits.engine.base import FILE, ROW
from portraits.errors import PortraitsError
from portraits.ingest.encoding import canonical_encoding, check_encoding, detect_encoding
from portraits.workspace.spec import SourceFormat, SourceSpec

NULL_TEXT = ["", "\\N", "NULL", "null"]
FORMATS: dict[str, SourceFormat] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class RowProblem:
    """A row the reader could not turn into fields."""

    file: str
    row: int
    rule: str
    reason: str
    text: str


@dataclass
class TextRows:
    """What a reader produced: text columns plus ``_row`` and ``_file``."""

    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str | None = None

    @property
    def rows_read(self) -> int:
        """Rows in the file, the unreadable ones included."""
        return int(self.table.num_rows) + len(self.problems)


def source_format(source: SourceSpec, path: Path) -> SourceFormat:
    """The declared format, or the one the file extension implies."""
    if source.format:
        return source.format
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PortraitsError(f"source '{source.name}': cannot tell the format of {path.name} "
                             "from its extension; set 'format:' (csv, excel, jsonl, parquet)")
    return fmt


def read_text_file(path: Path, source: SourceSpec, fmt: SourceFormat) -> TextRows:
    """Read one CSV, Excel or JSON-lines file."""
    if path.stat().st_size == 0:
        raise PortraitsError(f"{path.name} is empty (0 bytes)")
    if fmt == "csv":
        return read_csv(path, source.encoding, source.delimiter)
    if fmt == "excel":
        return read_excel(path, source.sheet)
    if fmt == "jsonl":
        from portraits.ingest.jsonlines import read_jsonl

        mapped = {m.column for m in source.columns.values() if m.column is not None}
        return read_jsonl(path, source.encoding, mapped)
    raise ValueError(f"{fmt} is read by the engine")


def resolve_encoding(path: Path, declared: str) -> str:
    """The file's encoding: detected for ``auto``, else the declared one checked."""
    if declared == "auto":
        return detect_encoding(path)
    encoding = canonical_encoding(declared)
    if encoding == "utf-8":
        with path.open("rb") as handle:
            if handle.read(3) == b"\xef\xbb\xbf":
                encoding = "utf-8-sig"
    check_encoding(path, encoding)
    return encoding


def read_csv(path: Path, encoding: str = "auto", delimiter: str = ",") -> TextRows:
    """Read a delimited text file; rows with the wrong number of fields become problems."""
    enc = resolve_encoding(path, encoding)
    header = _csv_header(path, enc, delimiter)
    problems: list[RowProblem] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = int(row.number) if row.number is not None else -1
        problems.append(RowProblem(
            path.name, number, "wrong_field_count",
            f"expected {row.expected_columns} fields, found {row.actual_columns}", row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # Single-threaded parsing is what gives invalid rows their row numbers.
            read_options=pacsv.ReadOptions(encoding=enc, use_threads=False,
                                           block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), null_values=NULL_TEXT,
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if "Empty CSV file" in str(exc):  # a header and no rows
            table = pa.table({h: pa.array([], pa.string()) for h in header})
        else:
            raise PortraitsError(f"{path.name}: cannot read as {enc} CSV: {exc}") from None
    bad_rows = {p.row for p in problems}
    rows = _row_numbers(table.num_rows, bad_rows)
    return TextRows(with_position(table, rows, path), problems, enc)


def _csv_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    with path.open(encoding=encoding, newline="") as handle:
        first = next(csv.reader(handle, delimiter=delimiter), None)
    if not first or all(not c.strip() for c in first):
        raise PortraitsError(f"{path.name} has no header row (the first line is empty)")
    header = [c.strip() for c in first]
    _check_header(path, header)
    return header


def _check_header(path: Path, header: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if not name:
            raise PortraitsError(f"{path.name}: header column {i} has no name")
        if name in seen:
            raise PortraitsError(f"{path.name}: header column '{name}' appears twice")
        seen.add(name)


def _row_numbers(count: int, skipped: set[int], first: int = 2) -> pa.Array:
    """Row numbers of the kept rows: consecutive from ``first``, jumping the skipped ones."""
    numbers: list[int] = []
    current = first
    while len(numbers) < count:
        if current not in skipped:
            numbers.append(current)
        current += 1
    return pa.array(numbers, pa.int64())


def with_position(table: pa.Table, rows: pa.Array, path: Path) -> pa.Table:
    """``table`` with each row's number (``_row``) and the file's path (``_file``)."""
    table = table.append_column(ROW, rows)
    return table.append_column(FILE, pa.array([str(path)] * table.num_rows, pa.string()))


def read_excel(path: Path, sheet: str | int | None = None) -> TextRows:
    """Read one sheet of an .xlsx workbook; dates become ISO text, integral numbers plain."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise PortraitsError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    try:
        ws = _sheet(book, sheet, path)
        rows = ws.iter_rows(values_only=True)
        header_row, header = _excel_header(rows, path)
        columns: dict[str, list[str | None]] = {h: [] for h in header}
        numbers: list[int] = []
        for offset, values in enumerate(rows, start=header_row + 1):
            cells = [_excel_text(v) for v in values[: len(header)]]
            if all(c is None for c in cells):
                continue
            cells += [None] * (len(header) - len(cells))
            for name, cell in zip(header, cells, strict=True):
                columns[name].append(cell)
            numbers.append(offset)
    finally:
        book.close()
    table = pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()})
    return TextRows(with_position(table, pa.array(numbers, pa.int64()), path))


def _sheet(book: Any, sheet: str | int | None, path: Path) -> Any:
    if sheet is None:
        return book.worksheets[0]
    if isinstance(sheet, int):
        if sheet >= len(book.worksheets):
            raise PortraitsError(f"{path.name} has {len(book.worksheets)} sheets, no #{sheet}")
        return book.worksheets[sheet]
    if sheet not in book.sheetnames:
        raise PortraitsError(f"{path.name} has no sheet '{sheet}' "
                             f"(sheets: {', '.join(book.sheetnames)})")
    return book[sheet]


def _excel_header(rows: Iterator[tuple[Any, ...]], path: Path) -> tuple[int, list[str]]:
    for number, values in enumerate(rows, start=1):
        cells = [_excel_text(v) for v in values]
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            header = [c.strip() if c else "" for c in cells]
            _check_header(path, header)
            return number, header
    raise PortraitsError(f"{path.name} is empty (no header row in the sheet)")


def _excel_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None
