"""SparkSession with Delta Lake, the same way on a laptop (``local[*]``) and under spark-submit on a cluster:
spark-submit's flags win over the job's config, which wins over the defaults; on a cluster the driver checks,
before any work, that executors start and can import the project.

The jars (``pipelines.jars``) are named through ``spark.jars``, so no later JVM runs Ivy or prints its
resolution report. Under spark-submit the JVM is already running when Python starts, so the jars must be named
on the command line or in ``spark-defaults.conf``: ``python -m jobs.spark_setup`` writes the latter into the
pip-installed Spark, which ``make`` does.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.jars import (
    ON_WORKERS,
    conf_dir,
    copy_jars,
    default_ivy_dir,
    delta_package,
    jars_on_workers,
    packages,
    resolve_jars,
    resolved_jars,
)
from sora_model.lake import object_store

logger = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


@dataclass(frozen=True, kw_only=True)
class SparkConfig:
    master: str | None = None
    """Spark master when spark-submit's --master does not name one. None: spark-submit's own choice, or local[*]
    for a job started with plain python. spark-submit's --master and --conf always win over this file."""
    app_name: str = "sora_model"
    """Application name shown in the Spark UI."""
    ivy_dir: str | None = None
    """Ivy cache for the Delta jars (default ~/.cache/sora_model/ivy) so they are downloaded once."""
    log_level: str = "WARN"
    """Spark's own log level (the JVM side)."""
    conf: dict[str, str] = field(default_factory=dict)
    """Extra Spark settings, e.g. {spark.driver.memory: 4g, spark.sql.shuffle.partitions: '8'}."""

    def __post_init__(self) -> None:
        if self.log_level.upper() not in ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF", "TRACE"):
            raise ValueError(f"log_level must be a log4j level, got {self.log_level!r}")


def _jar_conf(cfg: SparkConfig) -> dict[str, str]:
    if jars_on_workers():
        # On every node's class path already (spark.{driver,executor}.extraClassPath): nothing to ship. Named as
        # spark.jars, even local: ones, each executor would copy them into its work folder for every application.
        return {}
    ivy_dir = cfg.ivy_dir or default_ivy_dir()
    jars = resolved_jars(ivy_dir)
    if jars is None:
        try:
            jars = resolve_jars(ivy_dir, verbose=cfg.log_level.upper() in ("INFO", "DEBUG", "ALL", "TRACE"))
        except RuntimeError as e:
            logger.warning("%s; letting Spark resolve them itself", e)
            return {"spark.jars.packages": ",".join(packages()), "spark.jars.ivy": ivy_dir}
    return {"spark.jars": ",".join(jars)}


def _base_conf(cfg: SparkConfig) -> dict[str, str]:
    return {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        **_jar_conf(cfg),
        # Our partitions are few rows of heavy work (one video each); AQE would merge them into one task.
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "16",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.ui.showConsoleProgress": "true",
    }


# spark-submit's flags and the Spark settings they stand for.
_SUBMIT_FLAGS = {
    "--master": "spark.master", "--deploy-mode": "spark.submit.deployMode", "--name": "spark.app.name",
    "--jars": "spark.jars", "--packages": "spark.jars.packages", "--py-files": "spark.submit.pyFiles",
    "--files": "spark.files", "--archives": "spark.archives", "--driver-memory": "spark.driver.memory",
    "--driver-cores": "spark.driver.cores", "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores", "--num-executors": "spark.executor.instances",
    "--total-executor-cores": "spark.cores.max", "--queue": "spark.yarn.queue",
}
_SUBMIT_SWITCHES = ("--verbose", "-v", "--supervise")


def submitted_settings(argv: list[str]) -> dict[str, str]:
    """The Spark settings spark-submit's command line gave (``--master``, ``--conf k=v``, ``--driver-memory`` ...),
    from its arguments up to the application file; what follows that file is the application's own."""
    out: dict[str, str] = {}
    it = iter(argv)
    for arg in it:
        flag, eq, inline = arg.partition("=")
        if flag in ("--conf", "-c"):
            key, _, value = (inline if eq else next(it, "")).partition("=")
            out[key] = value
        elif flag in _SUBMIT_FLAGS:
            out[_SUBMIT_FLAGS[flag]] = inline if eq else next(it, "")
        elif arg.startswith("--") and arg not in _SUBMIT_SWITCHES:
            next(it, None)  # another spark-submit option with a value (--class, --properties-file, ...)
        elif not arg.startswith("-"):
            break  # the application file
    return out


def _launched_by_spark_submit() -> dict[str, str] | None:
    """What spark-submit's command line set, or None when this Python process was not started by spark-submit."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return None
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # noqa: SLF001 - attaches to spark-submit's JVM, starts nothing
    command = SparkContext._jvm.System.getProperty("sun.java.command") or ""  # noqa: SLF001
    words = command.split()
    if not words or not words[0].endswith("SparkSubmit"):
        # A driver inside the cluster (YARN or Kubernetes cluster mode): its launcher decided everything.
        return dict(SparkConf().getAll())
    return submitted_settings(words[1:])


def _s3a_conf() -> dict[str, str]:
    """Hadoop s3a settings from the object-store settings in force (credentials: Hadoop's default chain, which
    reads the same AWS environment variables and instance roles)."""
    s = object_store.current()
    conf = {"spark.hadoop.fs.s3a.path.style.access": "true" if s.path_style else "false",
            "spark.hadoop.fs.s3a.endpoint.region": s.region,
            # object_store.retry_s for s3a: its own retries (pauses from retry.interval, doubling on average) over
            # an SDK that gives up at once, so an unreachable store fails a task after about retry_s, not after
            # the many minutes of s3a's defaults.
            "spark.hadoop.fs.s3a.attempts.maximum": "1",
            "spark.hadoop.fs.s3a.retry.interval": "500ms",
            "spark.hadoop.fs.s3a.retry.limit": str(max(1, math.ceil(math.log2(s.retry_s / 0.5))))}
    if s.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = s.endpoint_url
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "true" if s.endpoint_url.startswith("https") \
            else "false"
    return conf


def session_settings(cfg: SparkConfig, submitted: dict[str, str] | None) -> tuple[str | None, dict[str, str]]:
    """(master to set, settings to set) for the session: spark-submit's flags > this config > defaults.

    ``submitted`` is None for a job started with plain python (nothing was decided yet: the config's master or
    local[*]); under spark-submit a setting its command line gave is left alone, and so is the master unless
    neither --master nor this config names one.
    """
    conf = {**_base_conf(cfg), **_s3a_conf(), **object_store.executor_env(), **cfg.conf}
    if submitted is None:
        return cfg.master or "local[*]", conf
    master = None if "spark.master" in submitted else cfg.master
    conf = {k: v for k, v in conf.items() if k not in submitted}
    shipped = [f for f in submitted.get("spark.submit.pyFiles", "").split(",") if f]
    if shipped and "spark.executorEnv.PYTHONPATH" not in submitted:
        # Spark puts --py-files on its own Python workers' sys.path, not in their environment, so processes they
        # start (TorchDistributor's torchrun ranks) could not import the project. Each file lands in the
        # executor's working directory, which is where those processes start.
        conf["spark.executorEnv.PYTHONPATH"] = os.pathsep.join(os.path.basename(f) for f in shipped)
    return master, conf


def build_session(cfg: SparkConfig):  # noqa: ANN201 - pyspark imported lazily
    """Get or create the session; raises RuntimeError with the fix when Delta's jars are missing."""
    from pyspark.sql import SparkSession

    master, conf = session_settings(cfg, _launched_by_spark_submit())
    builder = SparkSession.builder.appName(cfg.app_name)
    if master:
        builder = builder.master(master)
    if (master or "").startswith("local"):
        # Local workers must run this interpreter (the venv with decord/av), not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level.upper())
    logger.info("Spark master %s, %d cores", spark.sparkContext.master, spark.sparkContext.defaultParallelism)
    try:
        # Spark puts --packages jars on the thread's context class loader, not the system one.
        jvm = spark._jvm  # noqa: SLF001
        jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass("io.delta.tables.DeltaTable")
    except Exception as e:  # py4j raises a generic Py4JJavaError
        raise RuntimeError(
            "Delta Lake classes are not on Spark's classpath. Under spark-submit pass "
            f"--packages {delta_package()} (or run `make setup` once, which writes spark-defaults.conf into the "
            "venv's Spark)."
        ) from e
    if not spark.sparkContext.master.startswith("local"):
        _check_executors_import_the_project(spark)
    return spark


EXECUTOR_WAIT_LINE_S = 30.0
"""Seconds without an executor after which the driver says what it is waiting for (again at 4x, 16x ...)."""


def _executors(spark) -> int:  # noqa: ANN001
    """Executors registered with the driver (the driver itself is listed too)."""
    return len(spark.sparkContext.statusTracker().getExecutorInfos()) - 1


def waiting_for_executors(settings: list[tuple[str, str]], waited_s: float) -> str:
    """The line a driver without executors logs: what each executor asks a worker for, and what to do."""
    conf = dict(settings)
    asks = [f"spark.executor.memory={conf.get('spark.executor.memory', '1g')}",
            f"spark.executor.cores={conf.get('spark.executor.cores', '(all a worker has)')}"]
    asks += [f"{k}={v}" for k, v in sorted(conf.items()) if k.startswith("spark.executor.resource.")
             or k == "spark.cores.max"]
    return (f"no executor has started in {waited_s:.0f} s: each asks a worker for {', '.join(asks)}. A cluster "
            "whose workers cannot offer that (see the master's web UI: each worker's cores and memory) never "
            "starts one, and this job waits: lower them with --conf (e.g. --conf spark.executor.memory=2g), or "
            "free the cluster if other applications hold it")


def _check_executors_import_the_project(spark) -> None:  # noqa: ANN001
    """One task per core that only asks whether the project imports there (and whether the jars spark-defaults.conf
    says are on every worker are), so a cluster without them fails in a second with the fix, not after four task
    attempts with a JVM and a Python traceback."""
    import concurrent.futures

    cores = max(1, spark.sparkContext.defaultParallelism)
    on_workers = jars_on_workers() or []
    # A lambda over builtins only: cloudpickle sends it by value, so it runs even where nothing of ours imports.
    job = spark.sparkContext.parallelize(range(cores), cores).map(
        lambda _: (__import__("importlib.util").util.find_spec("sora_model") is not None,
                   [j for j in on_workers if not __import__("os").path.isfile(j)]))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(job.collect)
        waited_s, next_line_s = 0.0, EXECUTOR_WAIT_LINE_S
        while True:
            try:
                probe = pending.result(timeout=1.0)
                break
            except concurrent.futures.TimeoutError:
                waited_s += 1.0
            if waited_s >= next_line_s and not _executors(spark):
                logger.warning("%s", waiting_for_executors(spark.sparkContext.getConf().getAll(), waited_s))
                next_line_s *= 4
    missing = sum(not ok for ok, _ in probe)
    if missing:
        raise RuntimeError(
            f"executors cannot import sora_model ({missing} of {cores} tasks): ship the project with "
            "`make dist` and spark-submit --py-files dist/sora_model.zip, or install it in the executors' Python")
    lacking = sorted({j for _, jars in probe for j in jars})
    if lacking:
        folder = os.path.dirname(lacking[0])
        raise RuntimeError(
            f"executors lack {len(lacking)} of the jars spark-defaults.conf says every worker has under {folder} "
            f"(e.g. {os.path.basename(lacking[0])}): run `python -m jobs.spark_setup --jars-dir {folder}` on every "
            "worker (or copy that folder to the same path there)")


LOG4J2 = """# Written by sora_model: Spark logs warnings and errors only.
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.checkpoint.name = org.apache.spark.rdd.MapPartitionsRDD
logger.checkpoint.level = error
logger.plan.name = org.apache.spark.util.SparkStringUtils
logger.plan.level = error
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = error
logger.trigger.name = org.apache.spark.sql.execution.streaming.runtime.ProcessingTimeExecutor
logger.trigger.level = error
logger.streamaqe.name = org.apache.spark.sql.execution.streaming.runtime.ResolveWriteToStream
logger.streamaqe.level = error
"""


def install_spark_defaults(cfg: SparkConfig | None = None, verbose: bool = False,
                           jars_dir: str | None = None, executor_python: str | None = None) -> Path:
    """Resolve the jars and write them, with Delta's settings, into ``spark-defaults.conf`` of the pip-installed
    Spark (or ``SPARK_CONF_DIR``; a quiet ``log4j2.properties`` beside it). With ``jars_dir`` the jars are also
    copied there and named as ``local:`` jars: the same folder must be on every worker, whose executors then load
    them from it (no application copies them). With ``executor_python`` executors run that interpreter
    (``spark.pyspark.python``) and drivers this one (``spark.pyspark.driver.python``, which otherwise follows the
    executors' and could not import the project)."""
    cfg = cfg or SparkConfig()
    folder_of_conf = conf_dir()
    folder_of_conf.mkdir(parents=True, exist_ok=True)
    path = folder_of_conf / "spark-defaults.conf"
    resolve_jars(cfg.ivy_dir or default_ivy_dir(), verbose=verbose)
    path.unlink(missing_ok=True)  # the jars it names are decided here again
    conf = _base_conf(cfg)
    if jars_dir:
        jars = copy_jars(cfg.ivy_dir, jars_dir)
        (Path(jars_dir) / ON_WORKERS).write_text("\n".join(Path(j).name for j in jars) + "\n")
        folder = str(Path(jars_dir).resolve())
        conf.pop("spark.jars", None)
        conf["spark.driver.extraClassPath"] = conf["spark.executor.extraClassPath"] = f"{folder}/*"
    if executor_python:
        conf["spark.pyspark.python"], conf["spark.pyspark.driver.python"] = executor_python, sys.executable
    lines = ["# Written by `python -m jobs.spark_setup` (sora_model).",
             *(f"{k} {v}" for k, v in conf.items() if k != "spark.ui.showConsoleProgress")]
    path.write_text("\n".join(lines) + "\n")
    # Spark's INFO chatter buries the job's own progress; keep warnings and errors.
    (folder_of_conf / "log4j2.properties").write_text(LOG4J2)
    return path


def size_shuffles(spark, partitions: int) -> None:  # noqa: ANN001
    """Shuffles (joins, MERGEs, distinct) of the work ahead get ``partitions`` tasks, sized by the caller from its
    input, unless the user set ``spark.sql.shuffle.partitions`` (their word wins). Spark's 200 gave a 36-file
    corpus 1,010 tasks of a few rows each on a cluster."""
    if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        spark.conf.set("spark.sql.shuffle.partitions", str(max(1, partitions)))
