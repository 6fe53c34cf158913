"""SparkSession with Delta Lake, the same way on a laptop (``local[*]``) and under spark-submit on a cluster.

Delta's jars come from Maven Central through ``spark.jars.packages`` (cached in an Ivy directory so they are
fetched once). Under spark-submit the JVM is already running when Python starts, so the jars must be named on
the command line (``--packages``) or in ``spark-defaults.conf``: ``python -m pipelines.session
--install-spark-defaults`` writes the latter into the pip-installed Spark, which ``make`` does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed delta-spark and pyspark."""
    from importlib.metadata import version

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def default_ivy_dir() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sora_model" / "ivy")


@dataclass(frozen=True, kw_only=True)
class SparkConfig:
    master: str | None = None
    """Spark master. None leaves it to spark-submit or the cluster; 'local[*]' runs on this machine."""
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


def _base_conf(cfg: SparkConfig) -> dict[str, str]:
    return {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.jars.packages": delta_package(),
        "spark.jars.ivy": cfg.ivy_dir or default_ivy_dir(),
        # Our partitions are few rows of heavy work (one video each); AQE would merge them into one task.
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "16",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.ui.showConsoleProgress": "true",
    }


def build_session(cfg: SparkConfig):  # noqa: ANN201 - pyspark imported lazily
    """Get or create the session; raises RuntimeError with the fix when Delta's jars are missing."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(cfg.app_name)
    if cfg.master:
        builder = builder.master(cfg.master)
        if cfg.master.startswith("local"):
            # Local workers must run this interpreter (the venv with decord/av), not whatever python3 is on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**_base_conf(cfg), **cfg.conf}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level.upper())
    try:
        # Spark puts --packages jars on the thread's context class loader, not the system one.
        jvm = spark._jvm  # noqa: SLF001
        jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass("io.delta.tables.DeltaTable")
    except Exception as e:  # py4j raises a generic Py4JJavaError
        raise RuntimeError(
            "Delta Lake classes are not on Spark's classpath. Under spark-submit pass "
            f"--packages {delta_package()} (or run `make` once, which writes spark-defaults.conf into the "
            "venv's Spark)."
        ) from e
    return spark


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
"""


def install_spark_defaults(cfg: SparkConfig | None = None) -> Path:
    """Write Delta settings into ``$SPARK_HOME/conf/spark-defaults.conf`` of the pip-installed Spark."""
    import pyspark

    conf_dir = Path(os.environ.get("SPARK_CONF_DIR") or Path(pyspark.__file__).parent / "conf")
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "spark-defaults.conf"
    conf = _base_conf(cfg or SparkConfig())
    lines = ["# Written by `python -m pipelines.session --install-spark-defaults` (sora_model).",
             *(f"{k} {v}" for k, v in conf.items() if k != "spark.ui.showConsoleProgress")]
    path.write_text("\n".join(lines) + "\n")
    # Spark's INFO chatter buries the job's own progress; keep warnings and errors.
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Spark session helpers for sora_model.")
    parser.add_argument("--install-spark-defaults", action="store_true",
                        help="write Delta's package, Ivy cache and SQL extension into spark-defaults.conf of the "
                             "pip-installed Spark, so plain `spark-submit jobs/...` finds Delta")
    parser.add_argument("--print-package", action="store_true", help="print the Delta Maven coordinate")
    args = parser.parse_args()
    if args.print_package:
        print(delta_package())
    if args.install_spark_defaults:
        print(f"wrote {install_spark_defaults()}")


if __name__ == "__main__":
    main()
