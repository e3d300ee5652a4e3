"""The embedded default engine: DuckDB through Ibis, one database file per workspace."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portraits.engine.base import FILE, ROW, Engine, WriteMode, temporary_name
from portraits.workspace.spec import DuckDBEngineSpec


class DuckDBEngine(Engine):
    """DuckDB adapter; ``spec.database`` is relative to the workspace root."""

    name = "duckdb"

    def __init__(self, spec: DuckDBEngineSpec, root: Path) -> None:
        database = root / spec.database if spec.database != ":memory:" else None
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {}
        if spec.threads:
            config["threads"] = spec.threads
        if spec.memory_limit:
            config["memory_limit"] = spec.memory_limit
        self.con = ibis.duckdb.connect(str(database) if database else ":memory:", **config)
        self._temporary: set[str] = set()

    def has_table(self, name: str) -> bool:
        return name in self.con.list_tables()

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def write(self, name: str, data: ir.Table, mode: WriteMode = "replace") -> None:
        if mode == "append" and self.has_table(name):
            self.con.insert(name, data)
        else:
            # Ibis builds the new table under a temporary name and swaps it in, so ``data``
            # may read the table it replaces.
            self.con.create_table(name, data, overwrite=True)

    def read_parquet(self, paths: Sequence[Path]) -> ir.Table:
        raw = self.con.read_parquet([str(p) for p in paths], file_row_number=True, filename=True)
        return raw.mutate(**{ROW: raw.file_row_number + 1, FILE: raw.filename}).drop(
            "file_row_number", "filename"
        )

    def materialize(self, data: ir.Table | pa.Table) -> ir.Table:
        name = temporary_name()
        self._temporary.add(name)
        return self.con.create_table(name, data, temp=True)

    def drop_temporary(self, data: ir.Table) -> None:
        name = data.get_name()
        if name in self._temporary:
            self.con.drop_table(name, force=True)
            self._temporary.discard(name)

    def close(self) -> None:
        self.con.disconnect()
