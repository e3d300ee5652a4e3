"""The narrow interface every engine adapter implements."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from portraits.errors import PortraitsError

WriteMode = Literal["replace", "append"]
ROW = "_row"
FILE = "_file"


class Engine(ABC):
    """An Ibis backend plus the few operations whose best form differs per engine."""

    name: str
    con: BaseBackend
    # Whether a window over more rows than memory holds spills to disk. DuckDB's does not
    # (a visit window over 25.7M events failed under a 5 GB memory limit), so per-customer
    # windows over large tables run in customer buckets there; Spark's sort spills.
    windows_spill: bool = True

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the workspace holds a table called ``name``."""

    @abstractmethod
    def table(self, name: str) -> ir.Table:
        """The stored table ``name`` as an Ibis expression bound to this engine."""

    @abstractmethod
    def write(self, name: str, data: ir.Table, mode: WriteMode = "replace") -> None:
        """Store ``data`` as table ``name``; ``data`` may read ``name`` itself."""

    @abstractmethod
    def read_parquet(self, paths: Sequence[Path]) -> ir.Table:
        """Parquet files as one table, with ``_file`` and the 1-based ``_row`` in that file."""

    @abstractmethod
    def materialize(self, data: ir.Table | pa.Table) -> ir.Table:
        """Compute ``data`` once into a temporary table, so later steps scan it cheaply."""

    @abstractmethod
    def drop_temporary(self, data: ir.Table) -> None:
        """Forget a table made by :meth:`materialize`."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def reusable(self, data: ir.Table) -> ir.Table:
        """``data`` as several queries will read it; hand it back with :meth:`release`.

        By default it stays an expression that each query recomputes, which costs less
        than holding rows as large as the input. An engine whose planning is costly (Spark
        plans a long mapping again for every query) computes it once instead.
        """
        return data

    def release(self, data: ir.Table) -> None:
        """Forget a table from :meth:`reusable` (by default there is nothing to forget)."""
        del data

    def stage(self, data: ir.Table) -> ir.Table:
        """Compute ``data`` once into scratch storage the lake can adopt (see :meth:`commit`).

        The default keeps it as a temporary table; an engine over files writes them once,
        so a table that is kept whole becomes part of the lake without another copy.
        """
        return self.materialize(data)

    def commit(self, name: str, staged: ir.Table, mode: WriteMode = "replace") -> None:
        """Make a table from :meth:`stage` table ``name`` (or append it), then forget it."""
        self.write(name, staged, mode)
        self.discard(staged)

    def discard(self, staged: ir.Table) -> None:
        """Forget a table from :meth:`stage` that is not kept."""
        self.drop_temporary(staged)

    def tables(self) -> list[str]:
        """Names of the stored tables: not temporary ones, not the engine's own views, not
        hidden ones (a name starting with ``_``, such as identity's kept customer maps)."""
        return sorted(n for n in self.stored_names() if not n.startswith(("_", "ibis_")))

    def stored_names(self) -> list[str]:
        """Every table name the engine holds, hidden ones included."""
        return list(self.con.list_tables())

    def to_arrow(self, data: ir.Table) -> pa.Table:
        """Execute ``data`` and return it as Arrow."""
        return self.con.to_pyarrow(data)

    def count(self, data: ir.Table) -> int:
        """Number of rows of ``data``."""
        return int(self.con.execute(data.count()))

    def splink_api(self) -> Any:
        """Splink's database API over this engine's connection (probabilistic matching)."""
        raise PortraitsError(f"probabilistic matching does not run on the {self.name} engine")

    def empty_like(self, schema: ibis.Schema) -> ir.Table:
        """An empty table with ``schema``."""
        return self.materialize(pa.Table.from_pylist([], schema=schema.to_pyarrow()))


def temporary_name(prefix: str = "tmp") -> str:
    """A fresh name for a temporary table or view."""
    return f"_portraits_{prefix}_{uuid.uuid4().hex[:12]}"
