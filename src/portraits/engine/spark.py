"""Apache Spark through Ibis' PySpark backend, over the same Parquet lake as DuckDB.

Each table is a folder of Parquet files under ``spec.lake`` (a path relative to the
workspace, or a URI such as ``hdfs://…`` or ``s3a://…``), registered as a temporary view.
Every engine has its own Spark session (its own views and SQL settings) on the process's
one Spark context, so several workspaces can be open at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyspark
from ibis.backends.sql.compilers.pyspark import PySparkCompiler
from pyspark import SparkContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.types import TimestampNTZType, TimestampType

from portraits.engine.base import FILE, ROW, Engine, WriteMode, temporary_name
from portraits.engine.hadoop import HadoopLake
from portraits.engine.lake import Lake
from portraits.errors import PortraitsError
from portraits.workspace.spec import SparkEngineSpec

# Settings for a laptop or CI runner; the spec's ``config`` entries override them.
DEFAULTS = {
    "spark.app.name": "portraits",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    # Naive timestamps stay as written: Spark computes in this zone, Ibis assumes UTC.
    "spark.sql.session.timeZone": "UTC",
    # Ibis' PySpark backend targets Spark's non-ANSI semantics (Spark 4 turned ANSI on).
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_PYSPARK_4 = int(pyspark.__version__.split(".")[0]) >= 4
_BLANK = r"[ \t\n\r\x0b\x0c]"  # Python's string.whitespace: what Ibis' strip() removes


class _Compiler(PySparkCompiler):  # type: ignore[misc]
    """Ibis' PySpark compiler, with ``strip`` that removes blanks and nothing else.

    Ibis 12 writes the blanks ``strip()`` removes as escapes in a Spark SQL string, and
    Spark reads the vertical tab and form feed escapes as the letters v and f: 'vivo'
    came back as 'ivo'. ``lstrip``/``rstrip`` removed spaces only, DuckDB every blank.
    """

    __slots__ = ()
    SIMPLE_OPS: ClassVar[dict[type, str]] = {
        op: name for op, name in PySparkCompiler.SIMPLE_OPS.items()
        if op not in (ops.LStrip, ops.RStrip)}

    # Ibis finds the rules by these names.
    def visit_Strip(self, op: ops.Strip, *, arg: Any) -> Any:  # noqa: N802
        return self.f.regexp_replace(arg, f"^{_BLANK}+|{_BLANK}+$", "")

    def visit_LStrip(self, op: ops.LStrip, *, arg: Any) -> Any:  # noqa: N802
        return self.f.regexp_replace(arg, f"^{_BLANK}+", "")

    def visit_RStrip(self, op: ops.RStrip, *, arg: Any) -> Any:  # noqa: N802
        return self.f.regexp_replace(arg, f"{_BLANK}+$", "")


class SparkEngine(Engine):
    """Spark adapter; ``spec.lake`` is relative to the workspace unless it is a URI.

    Args:
        spec: The ``engine:`` section of ``portraits.yaml``.
        root: The workspace folder.
    """

    name = "spark"

    def __init__(self, spec: SparkEngineSpec, root: Path) -> None:
        self.session: SparkSession | None = SharedContext.open(spec)
        self._temporary: dict[str, DataFrame] = {}
        try:
            self.con = ibis.pyspark.connect(self.session)
            self.con.compiler = _Compiler()
            self.lake: Lake | HadoopLake = (
                HadoopLake(spec.lake, self.session.sparkContext) if "://" in spec.lake
                else Lake((root / spec.lake).resolve()))
            self.lake.clean_scratch()
            for table in self.lake.tables():
                self._register(table)
        except BaseException:
            SharedContext.release()
            raise

    @property
    def _spark(self) -> SparkSession:
        if self.session is None:
            raise PortraitsError("the Spark engine is closed")
        return self.session

    def _register(self, name: str) -> None:
        # Like DuckDB's union_by_name: files written at different times may differ.
        reader = self._spark.read.option("mergeSchema", "true")
        reader.parquet(str(self.lake.path(name))).createOrReplaceTempView(name)

    def _frame(self, data: ir.Table) -> DataFrame:
        """``data`` as a Spark DataFrame, analysed once."""
        self.con._run_pre_execute_hooks(data)  # registers the memtables ``data`` reads
        return self._spark.sql(self.con.compile(data))

    def has_table(self, name: str) -> bool:
        return self.lake.exists(name)

    def stored_names(self) -> list[str]:
        return self.lake.tables()

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def write(self, name: str, data: ir.Table, mode: WriteMode = "replace") -> None:
        scratch = str(self.lake.scratch())
        # Written in full before the swap, so ``data`` may read the table it replaces.
        _naive_timestamps(self._frame(data)).write.parquet(scratch, compression="zstd")
        append = mode == "append" and self.has_table(name)
        if isinstance(self.lake, Lake):
            commit = self.lake.commit_append if append else self.lake.commit_replace
            commit(name, Path(scratch))
        else:
            (self.lake.commit_append if append else self.lake.commit_replace)(name, scratch)
        self._register(name)

    def read_parquet(self, paths: Sequence[Path]) -> ir.Table:
        raw = self._spark.read.option("mergeSchema", "true").parquet(*map(str, paths))
        meta = sf.col("_metadata")  # Spark ≥ 3.4: the file, and the row's index in it
        framed = raw.select("*", (meta.getField("row_index") + 1).alias(ROW),
                            _local_path(meta.getField("file_path")).alias(FILE))
        return self._temporary_view(framed)

    def materialize(self, data: ir.Table | pa.Table) -> ir.Table:
        if isinstance(data, pa.Table):
            frame = (self._spark.createDataFrame(data) if _PYSPARK_4
                     else self._frame(ibis.memtable(data)))
        else:
            frame = self._frame(data)
        # Computed now and kept on the executors; later plans start from these rows rather
        # than from the whole lineage, which Spark would analyse again for every query.
        return self._temporary_view(frame.localCheckpoint(eager=True))

    def reusable(self, data: ir.Table) -> ir.Table:
        # Several passes read the mapped rows; planning the mapping in each of them (and in
        # each branch of the findings) takes far more time and driver memory than this.
        return self.materialize(data)

    def release(self, data: ir.Table) -> None:
        self.drop_temporary(data)

    def _temporary_view(self, frame: DataFrame) -> ir.Table:
        name = temporary_name()
        frame.createOrReplaceTempView(name)
        self._temporary[name] = frame
        return self.con.table(name)

    def drop_temporary(self, data: ir.Table) -> None:
        name = data.get_name()
        if self._temporary.pop(name, None) is not None:
            self._spark.catalog.dropTempView(name)

    def splink_api(self) -> Any:
        from splink import SparkAPI

        # Splink's UDFs (Jaro-Winkler and friends) ship as a jar inside the wheel and are
        # registered in the session; Spark's own levenshtein serves the rest.
        return SparkAPI(spark_session=self._spark,  # type: ignore[no-untyped-call]
                        break_lineage_method="persist")

    def close(self) -> None:
        if self.session is None:
            return
        for name in self._temporary:
            self.session.catalog.dropTempView(name)
        self._temporary.clear()
        self.session = None
        SharedContext.release()


class SharedContext:
    """The process's one Spark context, shared by the engines' sessions.

    Started by the first engine if the process has none, and then stopped with the last
    one; a context that the caller started is used as it is and left running.
    """

    started_here = False
    engines = 0

    @classmethod
    def open(cls, spec: SparkEngineSpec) -> SparkSession:
        """A new session on the context, with :data:`DEFAULTS` and ``spec.config``.

        Settings that only take effect when a context starts (``spark.master``,
        ``spark.driver.memory``) are ignored if the process already runs one.
        """
        settings = {**DEFAULTS, **_splink_jars(spec.config), **spec.config}
        if SparkContext._active_spark_context is None:
            builder = SparkSession.builder.master(spec.master)
            for key, value in settings.items():
                builder = builder.config(key, value)
            try:
                base = builder.getOrCreate()
            except Exception as exc:  # the JVM did not start: no Java, or a bad master URL
                raise PortraitsError(f"Spark did not start (master {spec.master}): {exc}\n"
                                     "Spark needs Java 17 or newer (JAVA_HOME).") from exc
            base.sparkContext.setLogLevel("ERROR")
            _quiet_codegen_fallback(base)
            cls.started_here = True
        else:
            base = SparkSession.builder.getOrCreate()
        session = base.newSession()
        for key, value in settings.items():
            if session.conf.isModifiable(key):
                session.conf.set(key, value)
        cls.engines += 1
        return session

    @classmethod
    def release(cls) -> None:
        """One engine fewer; the last one stops a context that portraits started."""
        cls.engines -= 1
        context = SparkContext._active_spark_context
        if cls.engines == 0 and cls.started_here and context is not None:
            context.stop()
            cls.started_here = False


def _splink_jars(config: dict[str, str]) -> dict[str, str]:
    """``spark.jars`` with Splink's string-similarity functions (Jaro-Winkler and others,
    used by probabilistic matching), which a context can only load when it starts."""
    from splink.backends.spark import similarity_jar_location

    jars = [j for j in config.get("spark.jars", "").split(",") if j]
    return {"spark.jars": ",".join([*jars, similarity_jar_location()])}


def _quiet_codegen_fallback(session: SparkSession) -> None:
    """Silence the stack trace Spark logs when a wide mapping's generated code exceeds the
    JVM's 64 KB method limit: it then evaluates without code generation, same results."""
    jvm: Any = session.sparkContext._jvm
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator", log4j.Level.OFF)


def _local_path(uri: Column) -> Column:
    """Spark's file URI (``file:/a%20b/x.parquet``) as the path DuckDB gives (``/a b/x.parquet``).

    Spark escapes a path as a URI does (``%`` and spaces, not ``+``); ``url_decode`` reads
    ``+`` as a space, so ``+`` is escaped first.
    """
    decoded = sf.url_decode(sf.replace(uri, sf.lit("+"), sf.lit("%2B")))
    return sf.regexp_replace(decoded, r"^file:(//)?", "")


def _naive_timestamps(frame: DataFrame) -> DataFrame:
    """Store timestamps without a zone (as DuckDB does), so either engine reads the lake."""
    return frame.select(*[
        _column(f.name).cast(TimestampNTZType()).alias(f.name)
        if isinstance(f.dataType, TimestampType) else _column(f.name)
        for f in frame.schema.fields
    ])


def _column(name: str) -> Column:
    return sf.col("`" + name.replace("`", "``") + "`")
