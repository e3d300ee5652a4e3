"""``portraits bench``: generate a data set of a chosen size, run every stage of the batch
pipeline on DuckDB and on Spark, and the shared profile + RFM query three ways (Portraits,
hand-written DuckDB SQL — the floor —, pandas); each step in a process of its own
(:mod:`portraits.bench.steps`), results as rows and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from portraits.errors import PortraitsError
from portraits.workspace.pipeline import STAGES

EVENTS_PER_CUSTOMER: Final = 20  # what the generator writes on average (~20 per person)
OUTSIDE_BATCH: Final = frozenset({"generate", "train"})  # timed, but not a nightly cost
SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMbB]?)\s*$")
UNITS: Final = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
ENGINES: Final = ("duckdb", "spark")


def parse_size(text: str) -> int:
    """``20M`` → 20,000,000; ``500k`` → 500,000; ``1500`` → 1,500."""
    match = SIZE.match(text)
    if not match:
        raise PortraitsError(f"'{text}' is not a size: write a number, optionally with k, M "
                             "or B (e.g. 20M, 500k)")
    return int(float(match[1]) * UNITS[match[2].lower()])


@dataclass(frozen=True)
class BenchPlan:
    """What to run.

    Attributes:
        customers: People generated (events are about 20 per person).
        folder: Where the generated data (cached per size and seed) and the benchmark
            workspaces live.
        engines: Engines the pipeline runs on, side by side.
        baselines: Also run the shared query as hand-written SQL and in pandas.
        seed: The generator's seed.
        train: Train the prediction models (outside the batch) and score with them;
            without, the train and score stages are left out.
        spark_memory: ``spark.driver.memory`` of the Spark run (local mode: the executors
            live in the driver).
        memory_limit: DuckDB's ``memory_limit`` in the DuckDB workspace (e.g. ``5GB``):
            what its operators hold before they spill to disk; DuckDB's own default
            (80 % of the machine's memory) when None.
    """

    customers: int
    folder: Path
    engines: tuple[str, ...] = ENGINES
    baselines: bool = True
    seed: int = 7
    train: bool = True
    spark_memory: str = "8g"
    memory_limit: str | None = None

    def stages(self) -> tuple[str, ...]:
        return STAGES if self.train else tuple(
            s for s in STAGES if s not in ("train", "score"))

    def data(self) -> Path:
        return self.folder / f"data-{self.customers}-{self.seed}"

    def workspace(self, engine: str) -> Path:
        return self.folder / f"ws-{engine}-{self.customers}"


@dataclass
class BenchResult:
    """Every measured step, and what the comparison of the shared queries found."""

    customers: int
    events: int = 0
    as_of: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    def step(self, name: str, engine: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["step"] == name and s["engine"] == engine),
                    None)

    def batch_seconds(self, engine: str) -> float:
        """The batch pipeline's wall time on ``engine``: its stages, training aside."""
        return float(sum(s["seconds"] for s in self.steps if s["engine"] == engine
                         and s["step"] in STAGES and s["step"] not in OUTSIDE_BATCH))

    def batch_peak_mb(self, engine: str) -> float:
        """The batch stages' largest peak RSS on ``engine`` (each ran in its own process)."""
        return float(max((s["peak_rss_mb"] for s in self.steps if s["engine"] == engine
                          and s["step"] in STAGES and s["step"] not in OUTSIDE_BATCH),
                         default=0))

    def ratio(self, slow: tuple[str, str], fast: tuple[str, str]) -> float | None:
        """Seconds of step ``slow`` over step ``fast``, each (step, engine)."""
        a, b = self.step(*slow), self.step(*fast)
        return a["seconds"] / b["seconds"] if a and b and b["seconds"] > 0 else None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["batch"] = {e: {"seconds": round(self.batch_seconds(e), 2),
                             "peak_rss_mb": self.batch_peak_mb(e)}
                         for e in ENGINES if self.step("load", e)}
        body["ratios"] = {
            "portraits_over_floor": self.ratio(("query", "duckdb"), ("floor", "duckdb")),
            "pandas_over_portraits": self.ratio(("pandas", "pandas"), ("query", "duckdb")),
            "spark_over_duckdb": self.ratio(("query", "spark"), ("query", "duckdb")),
        }
        return body


def machine() -> dict[str, Any]:
    """The facts that explain a figure: cores, memory, versions."""
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    facts: dict[str, Any] = {
        "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version()}
    for package in ("duckdb", "pyspark", "pandas", "ibis-framework"):
        try:
            facts[package] = version(package)
        except PackageNotFoundError:
            facts[package] = None
    return facts


def _child(args: Sequence[str]) -> dict[str, Any]:
    """Run one step in a new process; its last line of output is the measured row."""
    done = subprocess.run([sys.executable, "-m", "portraits.bench.steps", *args],
                          capture_output=True, text=True, encoding="utf-8", check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PortraitsError(f"benchmark step {' '.join(args[1:2])} failed:\n{tail}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _as_of(data: Path) -> datetime:
    truth = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(truth["end"])


def _fresh_workspace(plan: BenchPlan, engine: str) -> Path:
    """A new retail workspace reading the cached data, on ``engine``."""
    from ruamel.yaml import YAML

    from portraits.workspace.scaffold import create_workspace

    root = plan.workspace(engine)
    shutil.rmtree(root, ignore_errors=True)
    create_workspace(root)
    (root / "data").rmdir()
    (root / "data").symlink_to(plan.data().resolve(), target_is_directory=True)
    if engine == "spark" or plan.memory_limit:
        yaml = YAML(typ="rt")
        path = root / "portraits.yaml"
        spec = yaml.load(path.read_text(encoding="utf-8"))
        if engine == "spark":
            spec["engine"] = {"kind": "spark", "master": f"local[{os.cpu_count() or 2}]",
                              "config": {"spark.driver.memory": plan.spark_memory}}
        else:
            spec["engine"]["memory_limit"] = plan.memory_limit
        with path.open("w", encoding="utf-8") as out:
            yaml.dump(spec, out)
    return root


def run_bench(plan: BenchPlan, now: datetime,
              on_step: Callable[[str, dict[str, Any] | None], None] | None = None,
              ) -> BenchResult:
    """Run the plan; ``on_step`` hears each step's name as it starts (row None) and its
    measured row when it ends.

    Args:
        plan: Sizes, engines and where the data lives.
        now: The end of generated data when it is generated now (cached data keeps its
            own end, and that end is the pipeline's "now").
    """
    unknown = [e for e in plan.engines if e not in ENGINES]
    if unknown or not plan.engines:
        raise PortraitsError(f"engines are duckdb and spark, not {', '.join(unknown) or '-'}")
    result = BenchResult(plan.customers, machine=machine())

    def step(label: str, args: list[str]) -> None:
        if on_step:
            on_step(label, None)
        row = _child(args)
        result.steps.append(row)
        if on_step:
            on_step(label, row)
    data = plan.data()
    if not (data / "truth" / "truth.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        step("generate", [str(data), "generate", "--now", now.isoformat(),
                          "--customers", str(plan.customers), "--seed", str(plan.seed)])
    as_of = _as_of(data)
    result.as_of = as_of.isoformat()
    common = ["--now", as_of.isoformat()]
    trained: Path | None = None
    for engine in plan.engines:
        root = _fresh_workspace(plan, engine)
        if trained is not None and plan.train:  # one training: Spark scores with its models
            shutil.copytree(trained / "models", root / "models")
        for stage in plan.stages():
            step(f"{stage} ({engine})", [str(root), stage, *common, "--engine", engine])
        trained = trained or root
        step(f"query ({engine})", [str(root), "query", *common, "--engine", engine])
        if not result.events:
            from portraits.bench.steps import lake_rows

            result.events = lake_rows(root, ("events",))
    first = plan.workspace(plan.engines[0])
    if plan.baselines:
        for baseline in ("floor", "pandas"):
            step(baseline, [str(first), baseline, *common])
    result.differences = compare_queries(plan)
    return result


def compare_queries(plan: BenchPlan) -> list[str]:
    """Where the shared query's results differ from Portraits' on the first engine."""
    import pandas as pd

    from portraits.bench.shared import differences
    from portraits.bench.steps import OUT

    first, *others = plan.engines
    out = plan.workspace(first) / OUT
    folders = {"portraits": out / f"query-{first}",
               **{f"portraits ({e})": plan.workspace(e) / OUT / f"query-{e}" for e in others},
               "floor": out / "floor", "pandas": out / "pandas"}
    return differences({name: pd.read_parquet(folder) for name, folder in folders.items()
                        if folder.exists()})


def write_result(result: BenchResult, path: Path) -> Path:
    """The result as JSON (``path`` may be a folder: a name with the size and time)."""
    if path.is_dir() or not path.suffix:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = path / f"bench-{result.customers}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path
