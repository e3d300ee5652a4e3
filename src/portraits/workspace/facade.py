"""``Workspace``: the one entry point of the Python API, split into namespaces.

Example:
    >>> from portraits import Workspace
    >>> ws = Workspace.init("my-shop")                    # doctest: +SKIP
    >>> ws.synth.generate(customers=1000)                 # doctest: +SKIP
    >>> reports = ws.ingest.load()                        # doctest: +SKIP
    >>> ws.table("customers").to_pandas()                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from portraits.engine import Engine, connect
from portraits.errors import PortraitsError
from portraits.ingest.load import Loader, Progress
from portraits.ingest.quality import LoadReport
from portraits.settings import Settings, get_settings
from portraits.workspace.loader import SPEC_FILE, load_spec
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.spec import DuckDBEngineSpec, SparkEngineSpec, WorkspaceSpec

if TYPE_CHECKING:
    from portraits.synth import GenerationSummary


class Workspace:
    """A workspace folder: its spec, its engine and its namespaces.

    Args:
        path: The folder holding ``portraits.yaml``.
        settings: Process settings; read from the environment when omitted.
    """

    def __init__(self, path: str | Path, settings: Settings | None = None) -> None:
        self.root = Path(path).resolve()
        self.settings = settings or get_settings()
        self.spec: WorkspaceSpec = _with_overrides(load_spec(self.root / SPEC_FILE),
                                                   self.settings)
        self._engine: Engine | None = None
        self.ingest = IngestNamespace(self)
        self.synth = SynthNamespace(self)

    @classmethod
    def init(cls, path: str | Path, force: bool = False) -> Workspace:
        """Create a workspace from the retail template and open it."""
        create_workspace(Path(path), force=force)
        return cls(path)

    @property
    def engine(self) -> Engine:
        """The engine, connected on first use."""
        if self._engine is None:
            self._engine = connect(self.spec.engine, self.root)
        return self._engine

    def table(self, name: str) -> ir.Table:
        """A stored table as an Ibis expression (``.to_pandas()``, ``.to_pyarrow()``, …)."""
        if not self.engine.has_table(name):
            raise PortraitsError(f"the workspace has no table '{name}' yet; run 'portraits load'")
        return self.engine.table(name)

    def tables(self) -> list[str]:
        """Names of the stored tables."""
        return self.engine.tables()

    def close(self) -> None:
        """Close the engine connection."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _with_overrides(spec: WorkspaceSpec, settings: Settings) -> WorkspaceSpec:
    engine = spec.engine
    if settings.engine and settings.engine != engine.kind:
        engine = SparkEngineSpec() if settings.engine == "spark" else DuckDBEngineSpec()
    if settings.spark_master and isinstance(engine, SparkEngineSpec):
        engine = engine.model_copy(update={"master": settings.spark_master})
    return spec.model_copy(update={"engine": engine})


class IngestNamespace:
    """Loading sources, and what the loads found (``ws.ingest``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def load(self, sources: list[str] | None = None, force: bool = False,
             progress: Progress | None = None,
             on_report: Callable[[LoadReport], None] | None = None) -> list[LoadReport]:
        """Load the named sources (all when None) in the order of ``portraits.yaml``.

        Args:
            sources: Source names; unknown names are an error with a hint.
            force: Load again even if the same files were loaded before.
            progress: Called with a short message as each step starts.
            on_report: Called with each source's report as soon as it is done.
        """
        ws = self._ws
        chosen = _choose(ws.spec, sources)
        loader = Loader(ws.spec, ws.root, ws.engine, ws.settings.current_time(), progress)
        reports = []
        for source in chosen:
            report = loader.load(source, force=force)
            reports.append(report)
            if on_report:
                on_report(report)
        return reports

    def loads(self) -> ir.Table:
        """Every load so far, newest first (the quality history)."""
        loads = self._ws.table("loads")
        return loads.order_by(loads.started_at.desc())

    def rejects(self, load_id: str | None = None) -> ir.Table:
        """Findings of all loads, or of one load."""
        rejects = self._ws.table("rejects")
        if load_id is not None:
            rejects = rejects.filter(rejects.load_id == load_id)
        return rejects.order_by(["load_id", "file", "row"])

    def rules(self, load_id: str) -> ir.Table:
        """Rows per rule of one load."""
        rules = self._ws.table("quality_rules")
        return rules.filter(rules.load_id == load_id)

    def completeness(self, load_id: str) -> ir.Table:
        """Completeness per field of one load."""
        fields = self._ws.table("quality_fields")
        return fields.filter(fields.load_id == load_id)


def _choose(spec: WorkspaceSpec, names: list[str] | None) -> list:  # type: ignore[type-arg]
    from portraits.errors import did_you_mean

    if not names:
        return list(spec.sources)
    known = [s.name for s in spec.sources]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = [f"'{n}'" + (f" ({h})" if (h := did_you_mean(n, known)) else "") for n in unknown]
        raise PortraitsError(f"no source {', '.join(hints)} in {SPEC_FILE}; "
                             f"sources: {', '.join(known)}")
    return [spec.source(n) for n in names]


class SynthNamespace:
    """Synthetic retail data with planted truth (``ws.synth``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def generate(self, customers: int = 1000, seed: int = 42, end: date | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> GenerationSummary:
        """Write a synthetic data set into the workspace's ``data_dir``.

        Args:
            customers: Number of people.
            seed: Random seed; the same seed, size and end give the same files.
            end: The data stops before this day; today (or the pinned ``PORTRAITS_NOW``)
                when omitted.
            progress: Called with (stage, people done, people in all).
        """
        from portraits.synth import generate

        out = self._ws.root / self._ws.spec.data_dir
        end = end or self._ws.settings.current_time().date()
        return generate(out, customers=customers, seed=seed, end=end, progress=progress)
