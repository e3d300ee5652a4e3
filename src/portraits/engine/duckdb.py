"""The embedded default engine: DuckDB through Ibis, over the workspace's Parquet lake."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot.expressions as sge

from portraits.engine.base import FILE, ROW, Engine, WriteMode, temporary_name
from portraits.engine.lake import Lake
from portraits.workspace.spec import DuckDBEngineSpec


class DuckDBEngine(Engine):
    """DuckDB adapter; ``spec.database`` and ``spec.lake`` are relative to the workspace.

    Tables are written as Parquet with one file per thread (DuckDB's own parallel
    writer), which on two cores is about twice as fast as inserting into DuckDB's native
    storage; each table is then a view in the database file.
    """

    name = "duckdb"
    windows_spill = False

    def __init__(self, spec: DuckDBEngineSpec, root: Path) -> None:
        in_memory = spec.database == ":memory:"
        database = None if in_memory else root / spec.database
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {"preserve_insertion_order": False}
        if spec.threads:
            config["threads"] = spec.threads
        if spec.memory_limit:
            config["memory_limit"] = spec.memory_limit
        self.con = ibis.duckdb.connect(str(database) if database else ":memory:", **config)
        self._sql("SET enable_progress_bar = false")
        self.lake = Lake((root / spec.lake).resolve())
        self.lake.clean_scratch()
        self._temporary: set[str] = set()
        self._staged: dict[str, Path] = {}
        for table in self.lake.tables():
            self._register(table)

    def _sql(self, statement: str) -> None:
        self.con.raw_sql(statement)

    def _register(self, name: str) -> None:
        pattern = str(self.lake.path(name) / "*.parquet")
        self._sql(
            f"CREATE OR REPLACE VIEW {_identifier(name)} AS SELECT * FROM "
            f"read_parquet({_literal(pattern)}, union_by_name = true)"
        )

    def has_table(self, name: str) -> bool:
        return self.lake.exists(name)

    def stored_names(self) -> list[str]:
        return self.lake.tables()

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def write(self, name: str, data: ir.Table, mode: WriteMode = "replace") -> None:
        scratch = self.lake.scratch()
        self._copy(data, scratch)
        if mode == "append" and self.has_table(name):
            self.lake.commit_append(name, scratch)
        else:
            self.lake.commit_replace(name, scratch)
        self._register(name)

    def stage(self, data: ir.Table) -> ir.Table:
        """Write ``data`` once as Parquet in the lake's scratch folder; read it from there.

        A first load, or an append of only new rows, then becomes the table by moving the
        files (:meth:`commit`), so the data is written once, as fast as DuckDB copies.
        """
        scratch = self.lake.scratch()
        self._copy(data, scratch)
        if not any(scratch.glob("*.parquet")):
            shutil.rmtree(scratch, ignore_errors=True)
            return self.empty_like(data.schema())
        name = temporary_name("staged")
        pattern = str(scratch / "*.parquet")
        self._sql(f"CREATE TEMP VIEW {_identifier(name)} AS SELECT * FROM "
                  f"read_parquet({_literal(pattern)})")
        self._staged[name] = scratch
        return self.con.table(name)

    def commit(self, name: str, staged: ir.Table, mode: WriteMode = "replace") -> None:
        scratch = self._staged.pop(staged.get_name(), None)
        if scratch is None:  # an empty stage: nothing to move
            super().commit(name, staged, mode)
            return
        self._sql(f"DROP VIEW IF EXISTS {_identifier(staged.get_name())}")
        if mode == "append" and self.has_table(name):
            self.lake.commit_append(name, scratch)
        else:
            self.lake.commit_replace(name, scratch)
        self._register(name)

    def discard(self, staged: ir.Table) -> None:
        scratch = self._staged.pop(staged.get_name(), None)
        if scratch is None:
            self.drop_temporary(staged)
            return
        self._sql(f"DROP VIEW IF EXISTS {_identifier(staged.get_name())}")
        shutil.rmtree(scratch, ignore_errors=True)

    def _copy(self, data: ir.Table, folder: Path) -> None:
        query = self.con.compile(data)
        self._sql(f"COPY ({_as_typed(query, data.schema())}) TO {_literal(str(folder))} "
                  "(FORMAT parquet, PER_THREAD_OUTPUT true, COMPRESSION zstd)")

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

    def splink_api(self) -> Any:
        from splink import DuckDBAPI

        return DuckDBAPI(self.con.con)

    def close(self) -> None:
        self.con.disconnect()


@contextmanager
def local_splink_api() -> Iterator[Any]:
    """A Splink backend on a fresh in-memory DuckDB of this process, closed on exit.

    Probabilistic matching trains its model here whatever the workspace's engine, so
    DuckDB and Spark workspaces score with the same parameters. One thread: Splink's
    expectation maximisation sums floating-point numbers, and only one thread sums them
    in the same order on every run and every machine.
    """
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:", config={"threads": 1})
    try:
        yield DuckDBAPI(con)
    finally:
        con.close()


def _as_typed(query: str, schema: ibis.Schema) -> str:
    """``query`` with its whole-number columns cast to BIGINT, as Ibis types them.

    DuckDB sums integers as HUGEINT (128 bits), which Parquet cannot hold: the file would
    get DOUBLE, and ``orders`` would read back as 2.0.
    """
    integers = [name for name, dtype in schema.items() if dtype.is_int64()]
    if not integers:
        return query
    replaced = ", ".join(f"CAST({_identifier(n)} AS BIGINT) AS {_identifier(n)}"
                         for n in integers)
    return f"SELECT * REPLACE ({replaced}) FROM ({query})"


def _identifier(name: str) -> str:
    return sge.to_identifier(name, quoted=True).sql("duckdb")


def _literal(value: str) -> str:
    return sge.convert(value).sql("duckdb")
