"""Experiment tracking: training, compression and cycle runs mirrored into MLflow when ``tracking.mlflow_uri``
is set.

The lake stays the source of truth (the models, decisions and aliases tables; checkpoints and cards): MLflow gets
a copy a person can browse (parameters, per-epoch and per-step metrics, and the lake URIs of what a run wrote, as
tags), never the artifacts themselves. One lake run is one MLflow run, found again by its ``sora.run`` tag, so a
resumed training run or a retried cycle continues its MLflow run instead of starting a second one.

A tracking URI that cannot be opened stops the run before any work (``ValueError``, saying what to fix); a
tracking server that fails later only costs the rest of the tracking (one warning), never the run itself.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sora_model import config as config_lib

logger = logging.getLogger(__name__)

RUN_TAG = "sora.run"
"""The tag that names the lake run an MLflow run mirrors (``<kind>/<lake run id>``)."""
PARENT_TAG = "mlflow.parentRunId"
"""MLflow's own tag for nesting: a cycle's training and compression runs appear under the cycle's run."""
_BATCH = 100  # MLflow takes at most 100 params or tags and 1000 metrics per log_batch call.
_PARAM_CHARS = 6000  # MLflow's limit on one param value.
_NOT_IN_NAMES = re.compile(r"[^\w\-. :/]")  # what MLflow refuses in a metric, param or tag name


def _name(key: str) -> str:
    return _NOT_IN_NAMES.sub("_", key)


@dataclass(frozen=True, kw_only=True)
class TrackingConfig:
    mlflow_uri: str | None = None
    """MLflow tracking URI (sqlite:///path/mlflow.db, http://host:5000, databricks, ...). When set, training,
    compression and cycle runs log their parameters, metrics and the lake URIs of what they wrote there (needs
    requirements-tracking.txt); the lake's tables stay the source of truth. Unset: no tracking."""
    experiment: str = "sora_model"
    """MLflow experiment the runs are logged under (created when missing)."""

    def __post_init__(self) -> None:
        if self.mlflow_uri is not None and not self.mlflow_uri.strip():
            raise ValueError("tracking.mlflow_uri must be a URI or unset, got an empty string")
        if not self.experiment.strip():
            raise ValueError(f"tracking.experiment must not be empty, got {self.experiment!r}")


def flat_params(cfg: Any, skip: tuple[str, ...] = ()) -> dict[str, str]:  # noqa: ANN401 - any config dataclass
    """A config as MLflow params: dotted keys, string values; ``skip`` drops subtrees (by their top-level key)."""
    tree = {k: v for k, v in config_lib.redacted(config_lib.to_dict(cfg)).items() if k not in skip}
    return config_lib.flatten(tree)


def numeric(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a (nested) metrics dict, with dotted keys; lists, strings and None are left out."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update(numeric(v, f"{prefix}{k}."))
        elif isinstance(v, (bool, int, float)) and math.isfinite(float(v)):
            out[f"{prefix}{k}"] = float(v)
    return out


class Tracker:
    """One MLflow run (or nothing, when tracking is off: every method is then a no-op, so callers never branch)."""

    def __init__(self, client: Any = None, run_id: str | None = None, name: str = "") -> None:  # noqa: ANN401
        self._client, self.run_id, self.name = client, run_id, name

    @property
    def active(self) -> bool:
        return self._client is not None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        if self._client is None:
            return
        try:
            fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a tracking outage must not fail the run; the lake has it all
            logger.warning("MLflow tracking of %s stopped (%s: %s): the run goes on, the lake has its results",
                           self.name, type(e).__name__, e)
            self._client = None

    def log_params(self, params: dict[str, Any]) -> None:
        """Params the MLflow run does not have yet (params are write-once there; a resumed run keeps its first)."""
        if self._client is None:
            return
        from mlflow.entities import Param

        have = self._client.get_run(self.run_id).data.params
        new = [Param(_name(k), str(v)[:_PARAM_CHARS]) for k, v in params.items() if _name(k) not in have]
        for i in range(0, len(new), _BATCH):
            self._call("params", self._client.log_batch, self.run_id, params=new[i:i + _BATCH])

    def log_metrics(self, metrics: dict[str, Any], step: int = 0) -> None:
        """The finite numbers of ``metrics`` (nested dicts flattened to dotted keys) at ``step``."""
        self.log_series({k: [(step, v)] for k, v in numeric(metrics).items()})

    def log_series(self, series: dict[str, list[tuple[int, float]]]) -> None:
        """Several points per metric in few calls: ``{"loss": [(step, value), ...]}``."""
        if self._client is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        points = [Metric(_name(k), float(v), now, int(s)) for k, pts in series.items() for s, v in pts]
        for i in range(0, len(points), 1000):
            self._call("metrics", self._client.log_batch, self.run_id, metrics=points[i:i + 1000])

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Tags (lake URIs, decisions, ids); None values are left out."""
        if self._client is None:
            return
        from mlflow.entities import RunTag

        items = [RunTag(_name(k), str(v)[:_PARAM_CHARS]) for k, v in tags.items() if v is not None]
        for i in range(0, len(items), _BATCH):
            self._call("tags", self._client.log_batch, self.run_id, tags=items[i:i + _BATCH])

    def finish(self, status: str = "FINISHED") -> None:
        if self._client is not None:
            self._call("status", self._client.set_terminated, self.run_id, status)


def _client(cfg: TrackingConfig) -> Any:  # noqa: ANN401 - mlflow's client, imported lazily
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise ValueError(f"tracking.mlflow_uri={cfg.mlflow_uri!r} is set but MLflow is not installed here "
                         f"({e}): pip install -r requirements-tracking.txt, or unset tracking.mlflow_uri") from e
    return MlflowClient(tracking_uri=cfg.mlflow_uri)


def open_run(cfg: TrackingConfig, kind: str, key: str, *, parent: str | None = None,
             tags: dict[str, Any] | None = None) -> Tracker:
    """The MLflow run mirroring lake run ``<kind>/<key>`` (reopened when it exists), or a no-op tracker when
    tracking is off. ``parent`` is the MLflow run id this one nests under."""
    if cfg.mlflow_uri is None:
        return Tracker()
    name = f"{kind}/{key}"
    try:
        client = _client(cfg)
        experiment = client.get_experiment_by_name(cfg.experiment)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(cfg.experiment)
        found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{name}'", max_results=1)
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            logger.info("MLflow: continuing run %s (%s) in experiment %s", run_id, name, cfg.experiment)
        else:
            run_tags = {RUN_TAG: name, "sora.kind": kind, **({PARENT_TAG: parent} if parent else {})}
            run_id = client.create_run(experiment_id, tags=run_tags, run_name=name.replace("/", "-")).info.run_id
            logger.info("MLflow: run %s (%s) in experiment %s at %s", run_id, name, cfg.experiment, cfg.mlflow_uri)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to reach the store is a configuration problem here
        raise ValueError(f"tracking.mlflow_uri={cfg.mlflow_uri!r} cannot be used ({type(e).__name__}: {e}); fix "
                         "the URI (e.g. sqlite:///abs/path/mlflow.db) or unset it to run without tracking") from e
    tracker = Tracker(client, run_id, name)
    tracker.set_tags(tags or {})
    return tracker


@contextmanager
def tracked(cfg: TrackingConfig, kind: str, key: str, *, parent: str | None = None,
            tags: dict[str, Any] | None = None) -> Iterator[Tracker]:
    """``open_run`` as a context: the MLflow run ends FINISHED, or FAILED when the body raises."""
    tracker = open_run(cfg, kind, key, parent=parent, tags=tags)
    try:
        yield tracker
    except BaseException:
        tracker.finish("FAILED")
        raise
    tracker.finish("FINISHED")
