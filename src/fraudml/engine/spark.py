"""Spark as the engine: a session, an Ibis backend over it, the validated tables handed over.

Validation stays on DuckDB (it reads CSV and Parquet files row by row, quarantines and
reconciles); its accepted tables are written as Parquet to a staging folder and read by
Spark, where every later step (profiles, rules, scoring's frames) runs as the same Ibis
expressions. The requirements (pyspark, Java) are checked before any file is read, so a
missing piece stops the command at start-up with its name, never half-way.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from fraudml.engine import compiled
from fraudml.errors import SettingError
from fraudml.settings import EngineSettings

log = logging.getLogger(__name__)

#: The Spark versions Ibis 12's PySpark backend takes (its ``pyspark`` extra).
PYSPARK_RANGE = ">=3.5,<4.1"
#: Debian's Java for Spark 4 (Java 17), installed by ``make setup`` when missing.
JAVA_PACKAGE = "openjdk-17-jre-headless"

#: Properties every session gets unless conf/engine/spark.yaml sets them: naive timestamps
#: stay naive (the contract's local times; no shift through a session zone), results come
#: back through Arrow, and small local runs do not spread over 200 shuffle partitions.
DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.ansi.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
#: Extra defaults for a local master only (a cluster's own settings are left alone).
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "2g",
}


def missing_requirements() -> list[str]:
    """What this machine lacks to run ``engine=spark``, each with how to get it."""
    missing = []
    try:
        import pyspark
    except ImportError:
        missing.append(f"pyspark is not installed (pip install 'pyspark{PYSPARK_RANGE}')")
    else:
        major_minor = tuple(int(p) for p in pyspark.__version__.split(".")[:2])
        if not (3, 5) <= major_minor < (4, 1):
            missing.append(
                f"pyspark {pyspark.__version__} is installed (Ibis 12 takes pyspark{PYSPARK_RANGE})"
            )
    if java_version() is None:
        missing.append(
            f"no Java runtime found (JAVA_HOME or java on PATH; on Debian: apt-get install "
            f"{JAVA_PACKAGE})"
        )
    return missing


def java_version() -> str | None:
    """The first line of ``java -version`` (``None``: no Java to run Spark)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def require_spark(settings: EngineSettings) -> None:
    """Stop at start-up, naming what is missing, when ``engine=spark`` cannot run here."""
    missing = missing_requirements()
    if missing:
        raise SettingError(
            f"engine=spark (master {settings.master}) cannot start: " + "; ".join(missing)
        )


def session(settings: EngineSettings) -> Any:
    """The Spark session of ``settings.master`` (one per process: Spark's own rule).

    An active session with another master is refused rather than silently reused.
    """
    require_spark(settings)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # a notebook's or a platform's session, or this process's own from an earlier call
        master = active.sparkContext.master
        if settings.master is not None and master != settings.master:
            raise SettingError(
                f"engine.master={settings.master} but this process already runs a Spark "
                f"session on {master} (one session per process; engine.master=null takes "
                "the running one)"
            )
        for key, value in {**DEFAULTS, **settings.spark}.items():
            if key.startswith("spark.sql."):  # only these change on a running session
                active.conf.set(key, value)
            elif key in settings.spark and active.conf.get(key, None) != value:
                log.warning("%s=%s is not applied: the running session has it fixed", key, value)
        return active
    conf = dict(DEFAULTS)
    if (settings.master or "").startswith("local"):
        conf.update(LOCAL_DEFAULTS)
    conf.update(settings.spark)
    builder = SparkSession.builder.appName("fraudml")
    if settings.master is not None:  # None: spark-submit's --master or spark-defaults.conf
        builder = builder.master(settings.master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    log.info("Spark %s session on %s", spark.version, spark.sparkContext.master)
    return spark


def backend(settings: EngineSettings, scratch: str | Path) -> Any:
    """An Ibis PySpark backend (:data:`SparkBackend`) over the session, its own tables in
    ``scratch``."""
    return _spark_backend_class().over(session(settings), scratch)


@functools.cache
def _spark_backend_class() -> type:
    from ibis.backends.pyspark import Backend

    class _Backend(Backend):
        """Ibis's PySpark backend with what fraudml's pipelines ask of an engine.

        * ``create_table`` (with ``temp=True`` too, which Ibis's PySpark backend refuses)
          writes the rows as Parquet in the scratch folder and names a view over them;
          ``insert`` appends to such a table and ``drop_table`` removes it. The view's
          name carries this backend's tag, so two datasets open on the one session (a
          process has one) never see each other's tables; ``table(name)`` finds them by
          the name the pipeline gave.
        * ``to_parquet`` to a ``.parquet`` path writes one file, as DuckDB does (Spark
          alone writes a folder of parts), so outputs are the same files on both engines.
        * ``disconnect`` drops this backend's tables but leaves the session running: the
          session is the process's, and starting one costs seconds.
        """

        @classmethod
        def over(cls, spark: Any, scratch: str | Path) -> Any:
            import ibis

            if getattr(ibis.options, cls.name, None) is None:
                cls.register_options()  # what ibis.pyspark.connect would do first
            con = cls()
            con.do_connect(spark)
            con._fraudml_scratch = str(scratch)
            con._fraudml_tag = uuid.uuid4().hex[:8]
            con._fraudml_staging = None
            #: the pipeline's name of each table → (its view, its Parquet folder or None)
            con._fraudml_own: dict[str, tuple[str, str | None]] = {}
            return compiled.install(con)

        def _fraudml_view(self, name: str) -> str | None:
            """The view of a table of ours, by the pipeline's name or the view's own."""
            if name in self._fraudml_own:
                return self._fraudml_own[name][0]
            views = {view for view, _ in self._fraudml_own.values()}
            return name if name in views else None

        def _fraudml_register(self, name: str, frame: Any, path: str | None) -> ir.Table:
            view = f"{name}_{self._fraudml_tag}"
            frame.createOrReplaceTempView(view)
            self._fraudml_own[name] = (view, path)
            return super().table(view)

        def table(self, name: str, /, *, database: Any = None) -> ir.Table:
            view = self._fraudml_view(name) if database is None else None
            return super().table(view or name, database=database)

        def create_table(
            self,
            name: str,
            /,
            obj: Any = None,
            *,
            temp: bool | None = None,
            overwrite: bool = False,
            **kwargs: Any,
        ) -> ir.Table:
            if obj is None or kwargs:
                return super().create_table(name, obj, temp=temp, overwrite=overwrite, **kwargs)
            if name in self._fraudml_own and not overwrite:
                raise ValueError(f"table {name!r} already exists")
            path = f"{self._fraudml_scratch.rstrip('/')}/{name}-{uuid.uuid4().hex[:8]}"
            self._fraudml_frame(_narrow_kept(obj)).write.mode("error").parquet(path)
            if name in self._fraudml_own:
                self.drop_table(name, force=True)
            return self._fraudml_register(name, self._session.read.parquet(path), path)

        def _fraudml_frame(self, obj: Any) -> Any:
            import ibis

            expr = obj if isinstance(obj, ir.Expr) else ibis.memtable(obj)
            self._run_pre_execute_hooks(expr)
            return self._session.sql(self.compile(expr))

        def insert(self, name: str, /, obj: Any, *, overwrite: bool = False, **kwargs: Any) -> None:
            own = self._fraudml_own.get(name)
            if own is None or own[1] is None or kwargs:
                return super().insert(name, obj, overwrite=overwrite, **kwargs)
            import ibis

            view, path = own
            schema = super().table(view).schema()
            expr = obj if isinstance(obj, ir.Expr) else ibis.memtable(obj)
            # as an INSERT does: the table's columns, in its order, of its types
            expr = expr.select(*[expr[c].cast(t) for c, t in schema.items()])
            self._fraudml_frame(expr).write.mode("overwrite" if overwrite else "append").parquet(
                path
            )
            # a fresh read: the view's file listing is fixed when it is made
            self._fraudml_register(name, self._session.read.parquet(path), path)
            return None

        def drop_table(self, name: str, /, *, force: bool = False, **kwargs: Any) -> None:
            view = self._fraudml_view(name)
            if view is None or kwargs:
                return super().drop_table(name, force=force, **kwargs)
            for key, (v, path) in list(self._fraudml_own.items()):
                if v == view:
                    del self._fraudml_own[key]
                    self._session.catalog.dropTempView(v)
                    if path is not None and "://" not in path:
                        shutil.rmtree(path, ignore_errors=True)
            return None

        def to_parquet(self, expr: ir.Table, /, path: str | Path, **kwargs: Any) -> None:
            if not str(path).endswith(".parquet") or "://" in str(path):
                return super().to_parquet(expr, path, **kwargs)
            import pyarrow as pa
            import pyarrow.parquet as pq

            # Spark types small integers as int; the file keeps the expression's own types
            schema = expr.schema().to_pyarrow()
            if "://" in self._fraudml_scratch:
                pq.write_table(self.to_pyarrow(expr).cast(schema), str(path))
                return None
            # Spark writes its parts, and they are copied into the one file a batch at a
            # time. Collecting the result in the driver first (to_pyarrow) is bounded by
            # spark.driver.maxResultSize: a 10M-line city's visit profile passed its 1 GiB.
            # A sorted frame's part files follow its order (part-00000 holds the first
            # range), so the file keeps the expression's order.
            parts = Path(self._fraudml_scratch) / f"_out-{uuid.uuid4().hex[:8]}"
            self._fraudml_frame(expr).write.mode("error").parquet(str(parts))
            try:
                with pq.ParquetWriter(str(path), schema) as writer:
                    for part in sorted(parts.glob("part-*.parquet")):
                        for batch in pq.ParquetFile(part).iter_batches():
                            writer.write_table(pa.Table.from_batches([batch]).cast(schema))
            finally:
                shutil.rmtree(parts, ignore_errors=True)
            return None

        def disconnect(self) -> None:
            for view, _ in self._fraudml_own.values():
                self._session.catalog.dropTempView(view)
            self._fraudml_own.clear()
            if self._fraudml_staging is not None:  # a temporary staging goes with tmp_dir
                shutil.rmtree(self._fraudml_staging, ignore_errors=True)

    return _Backend


def _narrow_kept(obj: Any) -> Any:
    """``obj`` with its small integers cast to their own width (Spark types a literal 1
    as int): a table read back keeps the expression's types, as on DuckDB."""
    if not isinstance(obj, ir.Table):
        return obj
    schema = obj.schema()
    narrow = {c for c, t in schema.items() if t.is_integer() and t.nbytes < 4}
    if not narrow:
        return obj
    return obj.mutate(**{c: obj[c].cast(schema[c]) for c in narrow})


def __getattr__(name: str) -> Any:
    # the class needs pyspark and Ibis's backend: made on first use, not at import
    if name == "SparkBackend":
        cls = _spark_backend_class()
        globals()["SparkBackend"] = cls
        return cls
    raise AttributeError(name)


def staging_folder(settings: EngineSettings, tmp_dir: Path) -> Path:
    """Where the validated tables go for Spark: ``engine.staging`` or a new temporary one."""
    if settings.staging is None:
        return Path(tempfile.mkdtemp(prefix="spark-", dir=tmp_dir))
    folder = Path(settings.staging) / f"fraudml-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def on_spark(ds: Any, settings: EngineSettings) -> Any:
    """``ds`` (validated, on DuckDB) with its accepted tables handed over to Spark.

    Each accepted table is written once as Parquet to the staging folder (DuckDB's
    writer: the same types and values), the DuckDB connection is closed, and the tables
    become Spark views over those files. The reconciliation, warnings and fingerprint
    are the validation's own, unchanged.
    """
    tmp_dir = ds._tmp_dir or Path(tempfile.mkdtemp(prefix="fraudml-"))
    ds._tmp_dir = tmp_dir
    try:
        folder = staging_folder(settings, tmp_dir)
        files = {}
        for name, table in ds.tables.items():
            files[name] = folder / "tables" / f"{name}.parquet"
            files[name].parent.mkdir(parents=True, exist_ok=True)
            ds.con.to_parquet(table, files[name])
        ds.con.disconnect()
        con = backend(settings, folder / "scratch")
        con._fraudml_staging = None if settings.staging is None else folder
        tables = {
            name: con._fraudml_register(name, con._session.read.parquet(str(file)), None)
            for name, file in files.items()
        }
    except BaseException:
        ds.close()
        raise
    ds.con = con
    ds.tables = tables
    return ds
