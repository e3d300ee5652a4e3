"""The Parquet lake on a Hadoop file system, for Spark with a lake URI (``hdfs://…``).

Only the Spark engine uses it: it calls Hadoop's file system API in the Spark driver's
JVM, so it needs no import of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from portraits.engine.lake import SCRATCH


class HadoopLake:
    """The lake on a Hadoop file system (``hdfs://``, ``s3a://``, ``file://``, …).

    The layout and commit steps of :class:`~portraits.engine.lake.Lake`, through the
    file system API in the JVM of a Spark driver (``context`` is its ``SparkContext``).
    Renames are atomic on HDFS; on object stores (s3a) a replace copies, so readers may
    briefly see a table half swapped.

    Args:
        root: The lake's URI. Hadoop takes it as written: no %-escapes.
        context: The driver's ``SparkContext``.
    """

    def __init__(self, root: str, context: Any) -> None:
        self._path = context._jvm.org.apache.hadoop.fs.Path
        self.root = root.rstrip("/")
        self._fs = self._path(self.root).getFileSystem(context._jsc.hadoopConfiguration())
        self._fs.mkdirs(self._path(self.root))

    def path(self, name: str) -> str:
        """The folder of table ``name``."""
        return f"{self.root}/{name}"

    def _parquet_files(self, folder: str) -> list[Any]:
        return list(self._fs.globStatus(self._path(f"{folder}/*.parquet")) or [])

    def tables(self) -> list[str]:
        """Names of the tables that have at least one Parquet file."""
        names = [s.getPath().getName() for s in self._fs.listStatus(self._path(self.root))
                 if s.isDirectory()]
        return sorted(n for n in names if not n.startswith(".") and self.exists(n))

    def exists(self, name: str) -> bool:
        """Whether table ``name`` holds at least one file."""
        return bool(self._parquet_files(self.path(name)))

    def scratch(self) -> str:
        """A new folder name to write into before committing."""
        return f"{self.root}/{SCRATCH}/{uuid.uuid4().hex}"

    def commit_replace(self, name: str, written: str) -> None:
        """Make the files in ``written`` the whole of table ``name``."""
        target, old = self._path(self.path(name)), self._path(f"{self.scratch()}-old")
        if self._fs.exists(target):
            self._fs.rename(target, old)
        self._fs.rename(self._path(written), target)
        self._fs.delete(old, True)

    def commit_append(self, name: str, written: str) -> None:
        """Add the files in ``written`` to table ``name``."""
        batch = uuid.uuid4().hex[:12]
        for i, status in enumerate(self._parquet_files(written)):
            self._fs.rename(status.getPath(),
                            self._path(f"{self.path(name)}/part-{batch}-{i:05d}.parquet"))
        self._fs.delete(self._path(written), True)

    def clean_scratch(self) -> None:
        """Remove what an interrupted write left behind."""
        self._fs.delete(self._path(f"{self.root}/{SCRATCH}"), True)
