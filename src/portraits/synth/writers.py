"""Files written block by block, so memory stays bounded whatever the size."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class CsvSink:
    """A CSV file in ``encoding``, appended one Arrow table at a time.

    Attributes:
        rows: Data rows written so far (the header not counted).
    """

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.path, self.encoding, self.rows = path, encoding, 0
        self._handle = path.open("wb")
        self._header = True

    @property
    def next_row(self) -> int:
        """The file row (header = 1) the next data row will have."""
        return self.rows + 2

    def write(self, table: pa.Table) -> None:
        """Append the rows of ``table``."""
        buffer = io.BytesIO()
        options = pacsv.WriteOptions(include_header=self._header)
        pacsv.write_csv(table, buffer, options)
        self._header = False
        self._put(buffer.getvalue().decode("utf-8"))
        self.rows += table.num_rows

    def write_raw(self, line: str) -> None:
        """Append one line as it is (for planting a broken row)."""
        self._put(line + "\n")
        self.rows += 1

    def _put(self, text: str) -> None:
        self._handle.write(text.encode(self.encoding))

    def close(self) -> None:
        """Flush and close."""
        self._handle.close()


class ExcelSink:
    """An .xlsx workbook with one sheet, written in streaming (write-only) mode."""

    def __init__(self, path: Path, sheet: str, header: tuple[str, ...]) -> None:
        from openpyxl import Workbook

        self.path, self.rows = path, 0
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(sheet)
        self._sheet.append(list(header))

    def write(self, rows: list[list[Any]]) -> None:
        """Append rows of cell values."""
        for row in rows:
            self._sheet.append(row)
        self.rows += len(rows)

    def close(self) -> None:
        """Save the workbook."""
        self._book.save(self.path)


class JsonLinesSink:
    """A JSON-lines file; each line is one object."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, 0
        self._handle = path.open("w", encoding="utf-8")

    def write_lines(self, lines: pa.Array) -> None:
        """Append lines that are JSON text already."""
        self._handle.write("\n".join(lines.to_pylist()) + "\n" if len(lines) else "")
        self.rows += len(lines)

    def write_raw(self, line: str) -> None:
        """Append one line as it is (for planting a broken one)."""
        self._handle.write(line + "\n")
        self.rows += 1

    def close(self) -> None:
        """Flush and close."""
        self._handle.close()


def write_parquet(table: pa.Table, path: Path) -> None:
    """One Parquet file, zstd-compressed."""
    pq.write_table(table, path, compression="zstd")


def json_objects(fields: dict[str, pa.Array | tuple[str, pa.Array]]) -> pa.Array:
    """JSON objects, one per row, from columns (a nested object is a (name, text) pair
    whose text is an object already); NULL values are left out.

    Generated values hold no quotes, backslashes or control characters, so joining text
    gives valid JSON without escaping; tests parse every line to keep that true.
    """
    parts = []
    for key, value in fields.items():
        if isinstance(value, tuple):
            piece = pc.binary_join_element_wise(f'"{key}": ', value[1], ", ", "")
        elif pa.types.is_string(value.type):
            piece = pc.binary_join_element_wise(f'"{key}": "', value, '", ', "")
        else:
            piece = pc.binary_join_element_wise(f'"{key}": ', value.cast(pa.string()), ", ", "")
        parts.append(pc.fill_null(piece, ""))
    members = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*parts, ""), 0, -2)
    return pc.binary_join_element_wise("{", members, "}", "")
