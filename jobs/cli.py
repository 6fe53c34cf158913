"""Shared command-line plumbing: --conf-file, key=value overrides, logging set-up, --help listing every key."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TypeVar

from sora_model import config as config_lib

T = TypeVar("T")


def parser_for(cls: type, description: str, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (set in the YAML file or as key=value; precedence CLI > YAML > defaults):\n"
               + config_lib.help_text(cls))
    parser.add_argument("--conf-file", help="YAML config file (e.g. conf/local.yaml)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as YAML and exit without running")
    parser.add_argument("--log-level", default="INFO", help="Python log level of the job (default INFO)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. decode.height_px=96 clip.mode=shots")
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("py4j").setLevel(logging.WARNING)


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
    setup_logging(args.log_level)
    cfg = load_config(cls, args)
    if args.print_config:
        print(config_lib.to_yaml(cfg), end="")
        return args, None
    return args, cfg


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
