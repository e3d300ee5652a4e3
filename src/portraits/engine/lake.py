"""The Parquet lake on a local file system: one folder of Parquet files per table.

Writes land in a scratch folder first; a replace then swaps folders, an append moves the
new files in. Readers never see half a table.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

SCRATCH = ".scratch"


class Lake:
    """Table folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        """The folder of table ``name``."""
        return self.root / name

    def tables(self) -> list[str]:
        """Names of the tables that have at least one Parquet file."""
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.parquet")))

    def exists(self, name: str) -> bool:
        """Whether table ``name`` holds at least one file."""
        folder = self.path(name)
        return folder.is_dir() and any(folder.glob("*.parquet"))

    def scratch(self) -> Path:
        """A new empty folder to write into before committing."""
        folder = self.root / SCRATCH / uuid.uuid4().hex
        folder.parent.mkdir(parents=True, exist_ok=True)
        return folder

    def commit_replace(self, name: str, written: Path) -> None:
        """Make the files in ``written`` the whole of table ``name``."""
        target = self.path(name)
        old = self.root / SCRATCH / f"old-{uuid.uuid4().hex}"
        if target.exists():
            target.rename(old)
        written.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def commit_append(self, name: str, written: Path) -> None:
        """Add the files in ``written`` to table ``name``."""
        target = self.path(name)
        target.mkdir(parents=True, exist_ok=True)
        batch = uuid.uuid4().hex[:12]
        for i, part in enumerate(sorted(written.glob("*.parquet"))):
            part.rename(target / f"part-{batch}-{i:05d}.parquet")
        shutil.rmtree(written, ignore_errors=True)

    def clean_scratch(self) -> None:
        """Remove what an interrupted write left behind."""
        shutil.rmtree(self.root / SCRATCH, ignore_errors=True)
