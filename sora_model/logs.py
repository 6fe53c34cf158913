"""Logging set-up, once per process at its entry point (a job's main, a rank TorchDistributor starts, a Spark task
that builds a model variant): the project's own lines at the chosen level, other libraries at WARNING."""

from __future__ import annotations

import logging
import os
import sys

PROJECT_LOGGERS = ("sora_model", "pipelines", "jobs")
"""Loggers whose INFO lines (stages, progress, results) a job shows by default."""


def setup_logging(level: str, verbose: bool = False) -> None:
    """The project's loggers at ``level``; every other library at WARNING unless ``verbose`` (their INFO lines
    would bury the job's own progress)."""
    logging.basicConfig(level=level.upper() if verbose else logging.WARNING, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
    # MLflow sets up its own loggers when first imported (later, lazily): it takes its level from here.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", level.upper() if verbose else "WARNING")
