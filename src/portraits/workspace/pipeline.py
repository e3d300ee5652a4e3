"""The batch pipeline as named stages (``ws.pipeline``): load → identity → sentiment →
profiles → train → score → tags → segments → analytics, the same calls on DuckDB and on
Spark. ``portraits run`` runs it, ``portraits bench`` times it stage by stage and the
engine parity test compares what it writes on both engines."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from portraits.errors import PortraitsError, did_you_mean

if TYPE_CHECKING:
    from portraits.workspace.facade import Workspace

STAGES: Final = ("load", "identity", "sentiment", "profiles", "train", "score", "tags",
                 "segments", "analytics")
Train = Literal["missing", "always", "never"]
# What each stage reads, for rows per second: the tables it scans (counted before it runs).
INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "sentiment": ("reviews",),
    "profiles": ("customers", "events", "orders", "order_items", "reviews"),
    "train": ("events", "orders", "order_items"),
    "score": ("events", "orders", "order_items"),
    "tags": ("profiles",),
    "segments": ("profiles",),
    "analytics": ("events", "orders", "order_items"),
}
FUNNEL: Final = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


@dataclass(frozen=True)
class StageRun:
    """What one stage did.

    Attributes:
        stage: Its name (one of ``STAGES``).
        rows: Rows it read (records for load and identity; the input tables otherwise).
        output: What it made: rows accepted, people, profiles, customers scored, tagged…
        seconds: Wall time.
        detail: One line for a person (e.g. which models were trained).
    """

    stage: str
    rows: int
    output: int
    seconds: float
    detail: str = ""


def check_stages(names: Sequence[str]) -> list[str]:
    """``names`` in pipeline order; an unknown name is an error with a hint."""
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        hints = [f"'{n}'" + (f" ({h})" if (h := did_you_mean(n, STAGES)) else "")
                 for n in unknown]
        raise PortraitsError(f"no stage {', '.join(hints)}; stages: {', '.join(STAGES)}")
    return [s for s in STAGES if s in names]


class PipelineNamespace:
    """The batch pipeline (``ws.pipeline``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def input_rows(self, stage: str) -> int:
        """Rows of the tables ``stage`` reads (0 for load and identity: they report their
        own records)."""
        engine = self._ws.engine
        return sum(engine.count(engine.table(t)) for t in INPUTS.get(stage, ())
                   if engine.has_table(t))

    def run_stage(self, stage: str, train: Train = "missing", force: bool = False) -> StageRun:
        """Run one stage and time it (``force`` loads files loaded before again)."""
        check_stages([stage])
        rows = self.input_rows(stage)
        started = time.perf_counter()
        made, read, detail = _RUNNERS[stage](self._ws, train, force)
        return StageRun(stage, read if read is not None else rows, made,
                        time.perf_counter() - started, detail)

    def run(self, stages: Sequence[str] = STAGES, train: Train = "missing",
            force: bool = False, on_stage: Callable[[str], None] | None = None,
            ) -> list[StageRun]:
        """Run ``stages`` (all by default) in pipeline order.

        Args:
            stages: Which stages; unknown names are an error with a hint.
            train: Train the prediction models that have no saved version (``missing``),
                all of them (``always``) or none (``never``: score with the saved ones).
            force: Load files that were loaded before again.
            on_stage: Called with each stage's name as it starts.
        """
        done = []
        for stage in check_stages(stages):
            if on_stage:
                on_stage(stage)
            done.append(self.run_stage(stage, train, force))
        return done


Ran = tuple[int, int | None, str]  # (output, rows read when the stage counts them, detail)


def _load(ws: Workspace, _train: Train, force: bool) -> Ran:
    reports = ws.ingest.load(force=force)
    return (sum(r.accepted for r in reports), sum(r.rows_read for r in reports),
            f"{len(reports)} sources")


def _identity(ws: Workspace, _train: Train, _force: bool) -> Ran:
    report = ws.identity.resolve()
    return report.people, report.records, f"{report.merges:,} merges"


def _sentiment(ws: Workspace, _train: Train, _force: bool) -> Ran:
    report = ws.analytics.sentiment()
    return ws.engine.count(ws.table(ws.analytics.SENTIMENT)), None, \
        f"{len(report.to_pandas())} categories"


def _profiles(ws: Workspace, _train: Train, _force: bool) -> Ran:
    return ws.profiles.build(ws.identity.customer_ids()), None, ""


def _train(ws: Workspace, train: Train, _force: bool) -> Ran:
    from portraits.predict.store import MODELS, latest_version

    chosen = [m for m in MODELS if train == "always"
              or (train == "missing" and latest_version(ws.root, m) is None)]
    with ws.predict.shared_queries():
        for model in chosen:
            ws.predict.train(model)
    return len(chosen), None if chosen else 0, ", ".join(chosen)


def _score(ws: Workspace, _train: Train, _force: bool) -> Ran:
    done = ws.predict.score()
    return max((d.customers for d in done), default=0), None, ", ".join(
        f"{d.model} {d.version}" for d in done)


def _tags(ws: Workspace, _train: Train, _force: bool) -> Ran:
    result = ws.tags.run()
    return result.customers, None, f"{result.tags} tags"


def _segments(ws: Workspace, _train: Train, _force: bool) -> Ran:
    sizes = ws.segments.count_all()
    return sum(sizes.values()), None, f"{len(sizes)} segments"


def _analytics(ws: Workspace, _train: Train, _force: bool) -> Ran:
    entered = int(ws.analytics.funnel(FUNNEL).overall()["people"].iloc[0])
    ws.analytics.repurchase(periods=6)
    basket = ws.analytics.basket(substitutes=False)
    return entered, None, f"{len(basket.rules)} basket rules"


_RUNNERS: Final[dict[str, Callable[[Workspace, Train, bool], Ran]]] = {
    "load": _load, "identity": _identity, "sentiment": _sentiment, "profiles": _profiles,
    "train": _train, "score": _score, "tags": _tags, "segments": _segments,
    "analytics": _analytics,
}
