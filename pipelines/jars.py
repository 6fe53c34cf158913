"""The jars the project's Spark sessions need (Delta, and hadoop-aws for s3a:// lakes), resolved from Maven
Central once (``resolve_jars``: Ivy, in a throw-away JVM whose chatter is kept unless it fails) into an Ivy
directory and from then on named as local files, or put once into a folder every node of a cluster has on its
class path (``copy_jars``, ``jars_on_workers``). Jars Ivy resolves for libraries Spark already ships are left out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed delta-spark and pyspark."""
    from importlib.metadata import version

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def default_ivy_dir() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sora_model" / "ivy")


_RESOLVE = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("sora_model-resolve-jars")
         .config("spark.jars.packages", sys.argv[1]).config("spark.jars.ivy", sys.argv[2])
         .config("spark.ui.enabled", "false").getOrCreate())
print("SORA_JARS=" + spark.sparkContext.getConf().get("spark.jars", ""))
spark.stop()
"""
_MANIFEST = "sora_model-jars.json"


_IVY_JAR = re.compile(r"^[^_]+_(?P<artifact>.+?)-\d[^_]*\.jar$")  # <organisation>_<artifact>-<revision>.jar
_SPARK_JAR = re.compile(r"^(?P<artifact>.+?)-\d.*\.jar$")  # <artifact>-<version>.jar


def spark_artifacts() -> set[str]:
    """The artifacts (names without version) of the jars Spark ships in its own jars/ folder."""
    from pyspark.find_spark_home import _find_spark_home

    names = (_SPARK_JAR.match(p.name) for p in (Path(_find_spark_home()) / "jars").glob("*.jar"))
    return {m["artifact"].lower() for m in names if m}


def without_spark_own(jars: list[str]) -> list[str]:
    """``jars`` (Ivy's files) less those whose artifact Spark already ships: Ivy resolves Delta's and hadoop-aws's
    dependencies to other versions of libraries Spark has (hadoop-client-api 3.4.2 beside Spark's 3.5.0, Parquet,
    Jackson, log4j), and two versions of one library on a classpath is whichever loads first."""
    own = spark_artifacts()
    keep = []
    for jar in jars:
        match = _IVY_JAR.match(Path(jar).name)
        if match is None or match["artifact"].lower() not in own:
            keep.append(jar)
    return keep


def hadoop_aws_package() -> str:
    """Maven coordinate of hadoop-aws (Hadoop's s3a) matching the Hadoop that the installed pyspark ships."""
    from pyspark.find_spark_home import _find_spark_home

    # SPARK_HOME, not pyspark.__file__: under spark-submit pyspark is imported from a zip inside Spark's home.
    jars_dir = Path(_find_spark_home()) / "jars"
    jars = sorted(jars_dir.glob("hadoop-client-api-*.jar"))
    if not jars:
        raise RuntimeError(f"no hadoop-client-api jar in {jars_dir}: is this a Spark built with Hadoop?")
    return f"org.apache.hadoop:hadoop-aws:{jars[-1].stem.removeprefix('hadoop-client-api-')}"


def packages() -> list[str]:
    """Maven coordinates the project's Spark sessions need: Delta, and s3a for lakes in object stores."""
    return [delta_package(), hadoop_aws_package()]


def resolved_jars(ivy_dir: str) -> list[str] | None:
    """The jar files resolved earlier for today's ``packages()``, or None when they must be resolved (again)."""
    manifest = Path(ivy_dir) / _MANIFEST
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    jars = without_spark_own(data.get("jars", []))
    if data.get("packages") != packages() or not jars or not all(Path(j).is_file() for j in jars):
        return None
    return jars


def resolve_jars(ivy_dir: str, verbose: bool = False) -> list[str]:
    """Resolve ``packages()`` with Ivy into ``ivy_dir`` once, in a separate JVM, and record the jar files.

    Ivy's report goes to the terminal only with ``verbose``, or when the resolution fails.
    """
    with tempfile.TemporaryDirectory(prefix="sora-spark-conf-") as empty_conf:
        # An empty conf dir: spark-defaults.conf written by an earlier install must not add its own jars.
        env = {**os.environ, "SPARK_CONF_DIR": empty_conf}
        proc = subprocess.run([sys.executable, "-c", _RESOLVE, ",".join(packages()), ivy_dir], env=env,
                              capture_output=not verbose, text=True, check=False)
    out = proc.stdout or ""
    lines = [line for line in out.splitlines() if line.startswith("SORA_JARS=")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-30:])
        raise RuntimeError(f"could not resolve {packages()} from Maven Central into {ivy_dir} "
                           f"(exit {proc.returncode}); is the network to the Maven registry up?\n{tail}")
    resolved = [j.removeprefix("file://").removeprefix("file:") for j in lines[-1].split("=", 1)[1].split(",") if j]
    jars = without_spark_own(resolved)
    if len(jars) < len(resolved):
        logger.info("left out %d jars whose library Spark already ships: %s", len(resolved) - len(jars),
                    ", ".join(sorted(Path(j).name for j in set(resolved) - set(jars))))
    Path(ivy_dir).mkdir(parents=True, exist_ok=True)
    (Path(ivy_dir) / _MANIFEST).write_text(json.dumps({"packages": packages(), "jars": jars}, indent=1))
    return jars


def copy_jars(ivy_dir: str | None, folder: str) -> list[str]:
    """Put the resolved jars into ``folder`` (for ``jars_on_workers``: the same path on every worker); returns
    their paths there (hard links when on the same disk as the Ivy cache). A jar already there with the same size
    is left as it is."""
    import shutil

    ivy_dir = ivy_dir or default_ivy_dir()
    jars = resolved_jars(ivy_dir) or resolve_jars(ivy_dir)
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = []
    for jar in jars:
        target = Path(folder) / Path(jar).name
        if not target.is_file() or target.stat().st_size != Path(jar).stat().st_size:
            target.unlink(missing_ok=True)
            try:
                os.link(jar, target)  # on the Ivy cache's disk: no second copy of 700 MB
            except OSError:
                shutil.copyfile(jar, target)
        out.append(str(target))
    return out


def conf_dir() -> Path:
    import pyspark

    return Path(os.environ.get("SPARK_CONF_DIR") or Path(pyspark.__file__).parent / "conf")


ON_WORKERS = "sora_model-jars.txt"
"""In a ``--jars-dir`` folder: the names of the jars it holds for the project (checked on the driver and the
executors)."""


def _defaults() -> dict[str, str]:
    path = conf_dir() / "spark-defaults.conf"
    pairs = (line.split(None, 1) for line in (path.read_text().splitlines() if path.is_file() else []))
    return {p[0]: p[1].strip() for p in pairs if len(p) == 2 and not p[0].startswith("#")}


def jars_on_workers() -> list[str] | None:
    """The jars ``spark-defaults.conf`` puts on the driver's and every executor's class path from a folder
    ``python -m jobs.spark_setup --jars-dir`` filled (the same path on every node), checked on this machine; None
    when it names no such folder (each application then ships the jars)."""
    entry = _defaults().get("spark.executor.extraClassPath", "")
    if not entry.endswith("/*"):
        return None
    folder = entry[:-2]
    listing = Path(folder) / ON_WORKERS
    if not listing.is_file():
        return None
    jars = [str(Path(folder) / name) for name in listing.read_text().split()]
    missing = [j for j in jars if not os.path.isfile(j)]
    if missing:
        raise RuntimeError(f"{folder} lacks {len(missing)} of the jars it should hold (e.g. "
                           f"{os.path.basename(missing[0])}): run `python -m jobs.spark_setup --jars-dir {folder}` "
                           "again")
    return jars
