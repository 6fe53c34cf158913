"""Shared command-line plumbing: --conf-file, key=value overrides, logging set-up, --help listing every key."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from sora_model import config as config_lib
from sora_model.lake import object_store
from sora_model.logs import setup_logging

T = TypeVar("T")

EXIT_LAKE_BUSY = 75
"""Exit status of a job that found another run writing its lake (EX_TEMPFAIL: a scheduler should retry)."""


def parser_for(cls: type, description: str, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (set in the YAML file or as key=value; precedence CLI > YAML > defaults):\n"
               + config_lib.help_text(cls))
    parser.add_argument("--conf-file", help="YAML config file (e.g. conf/local.yaml)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as YAML and exit without running")
    parser.add_argument("--log-level", default="INFO",
                        help="log level of the project's own messages (default INFO: stages and progress)")
    parser.add_argument("--verbose", action="store_true",
                        help="also show other libraries' INFO logs (onnxscript, py4j, ...); quiet by default")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. decode.height_px=96 clip.mode=shots")
    return parser


def load_config(cls: type[T], args: argparse.Namespace) -> T:
    """Resolve the config or exit with status 2 and the reason (a user error, not a crash)."""
    try:
        return config_lib.load(cls, args.conf_file, args.overrides)
    except config_lib.ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        sys.exit(2)


def parse(parser: argparse.ArgumentParser, cls: type[T], argv: list[str] | None) -> tuple[argparse.Namespace, T | None]:
    """Parse arguments, set up logging and resolve the config; the config is None when --print-config printed it."""
    args = parser.parse_args(argv)
    setup_logging(args.log_level, verbose=args.verbose)
    cfg = load_config(cls, args)
    if getattr(cfg, "object_store", None) is not None:
        # Once per job, before anything opens a file: this process, its children and (via spark.executorEnv)
        # Spark's executors reach the same store.
        object_store.apply(cfg.object_store)
    if args.print_config:
        print(config_lib.to_yaml(cfg), end="")
        return args, None
    return args, cfg


def parse_scoring(cls: type[T], doc: str, prog: str, model_help: str, input_help: str,
                  argv: list[str] | None) -> tuple[argparse.ArgumentParser, T | None]:
    """The scoring jobs' command line (batch and streaming): the config's keys plus the ``--model`` and ``--input``
    shorthands; ``input_uri`` is required. The config is None when --print-config printed it."""
    parser = parser_for(cls, doc.strip().split("\n\n")[1].replace("\n", " "), prog)
    parser.add_argument("--model", help=f"same as model=...: {model_help}")
    parser.add_argument("--input", help=f"same as input_uri=...: {input_help}")
    argv = expand_shorthands(list(sys.argv[1:] if argv is None else argv),
                             {"--model": "model", "--input": "input_uri"})
    _, cfg = parse(parser, cls, argv)
    if cfg is not None and not cfg.input_uri:
        parser.error("--input (or input_uri=...) is required")
    return parser, cfg


def expand_shorthands(argv: list[str], shorthands: dict[str, str]) -> list[str]:
    """Turn ``--flag value`` (or ``--flag=value``) into the override ``key=value`` for the listed flags, so they
    take the CLI's precedence like any other override."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        flag, eq, value = arg.partition("=")
        if flag in shorthands:
            if not eq:
                value = next(it, "")
                if not value or value.startswith("--"):
                    print(f"{flag} needs a value", file=sys.stderr)
                    sys.exit(2)
            out.append(f"{shorthands[flag]}={value}")
        else:
            out.append(arg)
    return out


def spark_session(app_name: str):  # noqa: ANN201 - pyspark imported lazily
    """A Spark session with Delta for jobs that run under plain python or torchrun and need Spark only to write
    Delta tables: under spark-submit the master comes from spark-submit, else a local one
    (``SORA_SPARK_MASTER``, default local[2])."""
    from pipelines.session import SparkConfig, build_session

    master = None if os.environ.get("SPARK_ENV_LOADED") else os.environ.get("SORA_SPARK_MASTER", "local[2]")
    return build_session(SparkConfig(master=master, app_name=app_name, conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}))


def java_problem() -> str | None:
    """Why Spark could not start a JVM here, in one line with the fix, or None."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        return None  # spark-submit already started one
    home = os.environ.get("JAVA_HOME")
    if home and not os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return f"JAVA_HOME={home} has no bin/java; point it at a Java 17+ installation"
    if not home and shutil.which("java") is None:
        return ("Java 17+ is needed for Spark and none is on PATH "
                "(apt-get install openjdk-17-jre-headless, or set JAVA_HOME)")
    return None


def store_outage(error: BaseException) -> str | None:
    """One line for a run stopped because the object store could not be reached (for longer than
    object_store.retry_s), or None when ``error`` is something else (and keeps its traceback)."""
    reason = object_store.outage_reason(error)
    if reason is None:
        return None
    s = object_store.current()
    return (f"the object store at {s.endpoint_url or 'AWS S3 (' + s.region + ')'} could not be reached for longer "
            f"than object_store.retry_s={s.retry_s:g} s, so this run stopped ({reason}). The lake is as the last "
            "finished write left it: run the job again once the store answers, and it completes the work")


def run_main(main: Callable[[], int]) -> int:
    """A job's ``main``, with an object store that cannot be reached (for longer than object_store.retry_s)
    turned into one line and exit status 75, wherever it shows first (a check on the driver, the training data,
    a model file), instead of a traceback."""
    try:
        return main()
    except Exception as e:
        outage = store_outage(e)
        if outage is None:
            raise
        logging.getLogger("jobs").error("%s", outage)
        return EXIT_LAKE_BUSY


def run_spark_job(spark_cfg, run: Callable[[Any], Any], input_uri: str | None = None,  # noqa: ANN001
                  lake_uri: str | None = None) -> int:
    """The body of a spark-submit job: cheap checks, then build the session, ``run(spark)`` and print the summary
    it returns. A user error (a missing input, no Java, a wrong model id) ends with one line and exit status 2,
    not a traceback, and a lake another run is writing with status 75; a summary may set its own status
    (``exit_status``: monitoring alerts). The checks that need no Spark come first, so they take a second, not a
    session start: among them, that the object store of the input and the lake answers (else one line, status
    75, from ``run_main``)."""
    from pipelines.session import build_session
    from sora_model.lake import storage

    log = logging.getLogger("jobs")
    problem = java_problem()
    if problem is None and lake_uri is not None:
        storage.exists(lake_uri)  # whether there or not: the store must answer before executors start
    if problem is None and input_uri is not None and not storage.exists(input_uri):
        problem = f"input {input_uri} does not exist"
    if problem:
        log.error("%s", problem)
        return 2
    try:
        spark = build_session(spark_cfg)
    except RuntimeError as e:  # Delta's jars missing, or executors without the project: the message says the fix
        log.error("%s", e)
        return 2
    from pipelines.session import size_shuffles
    from sora_model.lake.lock import LakeBusy

    # Until a stage sizes them from its input: a task per core, not Spark's 200 per shuffle.
    size_shuffles(spark, spark.sparkContext.defaultParallelism)
    try:
        summary = run(spark)
    except (ValueError, FileNotFoundError) as e:
        log.error("%s", e)
        return 2
    except LakeBusy as e:  # another run is writing the lake: nothing wrong, try again later
        log.error("%s", e)
        return EXIT_LAKE_BUSY
    except Exception as e:
        if object_store.outage_reason(e) is not None:
            # Tasks still running fail the same way, each with a JVM stack trace: run_main's one line says it all.
            spark.sparkContext.setLogLevel("OFF")
            spark.stop()
        raise
    print(summary.render())
    return int(getattr(summary, "exit_status", 0))
