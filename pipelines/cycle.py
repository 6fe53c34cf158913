"""One update cycle: curate what arrived -> train a candidate on the new dataset version -> compare it with the
model in use on the same held-out clips -> promote it (compress, point ``production`` at the deployed variant)
or keep the model in use -> score the new videos with the model in use -> one row in the ``decisions`` table.

Every step is retry-safe: the decision is keyed on the dataset version it is about, so a cycle that finds its
version decided stops there ("nothing new") and writes nothing; a cycle killed midway redoes what is missing
(the candidate's training run id derives from the version and resumes, scoring MERGEs, alias changes are no-ops
when already made).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.curate import CurateConfig, run_curate
from pipelines.executors import in_tasks
from pipelines.models import (
    current_alias,
    register_checkpoints,
    register_variants,
    set_alias,
)
from pipelines.monitor import EXIT_ALERT, MonitorJobConfig, run_monitor
from pipelines.score import ScoreConfig, run_score
from pipelines.tables import Tables
from pipelines.train import ranks_on_executors, train_on_spark
from sora_model import config as config_lib
from sora_model.deploy.compress import VARIANTS, CompressConfig
from sora_model.deploy.monitoring import MonitorConfig
from sora_model.deploy.promotion import Decision, PromotionConfig, compare_on_test_splits, decide
from sora_model.lake import storage
from sora_model.lake.aliases import PRODUCTION
from sora_model.lake.card import model_id
from sora_model.lake.ids import new_run_id
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.tracking import Tracker, TrackingConfig, flat_params, tracked
from sora_model.train.loop import TrainConfig

logger = logging.getLogger(__name__)

DeployVariant = Literal["fp32", "onnx", "int8-dynamic", "int8-static", "pruned", "pruned-channels", "distilled"]
DEPLOY_VARIANTS: tuple[str, ...] = get_args(DeployVariant)
CycleAction = Literal["promoted", "kept", "skipped"]
CycleLaunch = Literal["auto", "driver", "executors"]
CYCLE_LAUNCHES: tuple[str, ...] = get_args(CycleLaunch)
CYCLE_STEPS = ("curate", "train", "compress", "score")
"""The sections of the cycle's config that are other jobs' configs."""


@dataclass(frozen=True, kw_only=True)
class CycleConfig:
    lake_uri: str = "lake"
    """Root of the lake; every step's lake_uri is this one."""
    input_uri: str = "lake/raw/demo"
    """Folder or object-store prefix new videos land in (curate's input_uri)."""
    dataset: str = "demo"
    """Dataset the cycle extends and trains on."""
    min_new_clips: int = 1
    """A new dataset version trains a candidate only when it added at least this many clips (else: skipped)."""
    warm_start: bool = True
    """Start the candidate from the checkpoint of the model in use (when it has the dataset's classes); false:
    from scratch."""
    deploy_variant: DeployVariant = "int8-static"
    """What a promoted model serves as: one of compress.variants, or fp32 (the checkpoint itself)."""
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    """The rule that decides whether the candidate replaces the model in use."""
    curate: CurateConfig = field(default_factory=CurateConfig)
    """The curate step (its lake_uri, input_uri, dataset and object_store are the cycle's); its spark section is
    the session's."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """The candidate's training (lake_uri, dataset, version, run id and warm start are set by the cycle)."""
    compress: CompressConfig = field(default_factory=lambda: CompressConfig(variants=("onnx", "int8-static")))
    """Variants built for a promoted model (lake_uri, run_id and epoch are set by the cycle)."""
    score: ScoreConfig = field(default_factory=ScoreConfig)
    """Scoring of the new videos (lake_uri, input_uri and model are set by the cycle)."""
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    """Thresholds for the scoring run's monitoring; an alert makes the cycle exit with status 3."""
    launch: CycleLaunch = "auto"
    """Where the candidate trains, its variants are built and the models are compared: executors (the
    candidate's ranks as barrier tasks through TorchDistributor, one task per group of variants, the comparison
    in a task), driver (all in this process), or auto: executors when the Spark master is a cluster, the driver
    when it is local."""
    train_processes: int = 2
    """DDP ranks of the candidate's training on the executors (one barrier task each; a GPU each when the
    cluster gives tasks GPUs, spark.task.resource.gpu.amount)."""
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    """The object store of the lake and the input (endpoint, region, retries): every step uses this one. A value
    left unset here is taken from the steps' sections (the job confs a cycle conf includes); two different values
    for one setting are refused."""
    lock: LockConfig = field(default_factory=LockConfig)
    """One writer per lake: whether a cycle waits for another run writing the same lake (a slow cycle the next
    scheduled one overlaps), or stops at once."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """MLflow mirror of each cycle (its decision, numbers and step times), with the candidate's training and
    compression as nested runs (this section replaces theirs)."""

    def __post_init__(self) -> None:
        if self.launch not in CYCLE_LAUNCHES:
            raise ValueError(f"launch must be one of {CYCLE_LAUNCHES}, got {self.launch!r}")
        if self.train_processes < 1:
            raise ValueError(f"train_processes must be >= 1, got {self.train_processes}")
        # One store for every step: the top-level section, completed by what the steps' sections (often the job
        # confs the cycle's conf includes) set; a value two of them set differently is refused.
        merged = {}
        for where in ("object_store", *(f"{step}.object_store" for step in CYCLE_STEPS)):
            section = self.object_store if where == "object_store" else getattr(self, where.split(".")[0]).object_store
            for f in dataclasses.fields(ObjectStoreConfig):
                value = getattr(section, f.name)
                if value is None:
                    continue
                if f.name in merged and merged[f.name][1] != value:
                    raise ValueError(f"{where}.{f.name}={value!r} but {merged[f.name][0]}.{f.name}="
                                     f"{merged[f.name][1]!r}: the cycle's steps share one object store; set it once, "
                                     "in the top-level object_store section")
                merged.setdefault(f.name, (where, value))
        object.__setattr__(self, "object_store", ObjectStoreConfig(**{k: v for k, (_, v) in merged.items()}))
        if self.min_new_clips < 0:
            raise ValueError(f"min_new_clips must be >= 0, got {self.min_new_clips}")
        if self.deploy_variant not in DEPLOY_VARIANTS:
            raise ValueError(f"deploy_variant must be one of {DEPLOY_VARIANTS}, got {self.deploy_variant!r}")
        if self.deploy_variant != "fp32" and self.deploy_variant not in self.compress.variants:
            raise ValueError(f"deploy_variant {self.deploy_variant!r} is not built: add it to compress.variants "
                             f"(now {list(self.compress.variants)})")
        if self.deploy_variant == "pruned-channels" and not self.train.model_spec.builtin:
            raise ValueError(f"deploy_variant 'pruned-channels' needs the built-in model (channel pruning rebuilds "
                             f"its conv blocks); train.model is {self.train.model!r}: deploy another variant")

    @property
    def curate_cfg(self) -> CurateConfig:
        return dataclasses.replace(self.curate, lake_uri=self.lake_uri, input_uri=self.input_uri,
                                   dataset=self.dataset, object_store=self.object_store)

    def train_cfg(self, version: int, init_from: str | None) -> TrainConfig:
        return dataclasses.replace(self.train, lake_uri=self.lake_uri, dataset=self.dataset,
                                   dataset_version=version, run_id=candidate_run_id(self.dataset, version),
                                   resume=True, init_from=init_from, tracking=self.tracking,
                                   object_store=self.object_store)

    def compress_cfg(self, run_id: str, epoch: int) -> CompressConfig:
        return dataclasses.replace(self.compress, lake_uri=self.lake_uri, run_id=run_id, epoch=epoch,
                                   tracking=self.tracking, object_store=self.object_store)

    def score_cfg(self) -> ScoreConfig:
        return dataclasses.replace(self.score, lake_uri=self.lake_uri, input_uri=self.input_uri, model=PRODUCTION,
                                   object_store=self.object_store)


def candidate_run_id(dataset: str, version: int) -> str:
    """The training run of a version's candidate: one per version, so a retried cycle resumes it."""
    return f"cycle-{dataset}-v{version}"


def variant_name(family: str, cfg: CompressConfig) -> str:
    """The directory/models-table name compression gives a variant family."""
    if family == "pruned":
        return f"pruned-{cfg.sparsity:g}"
    if family == "pruned-channels":
        return f"pruned-channels-{cfg.channel_sparsity:g}"
    if family not in VARIANTS and family != "fp32":
        raise ValueError(f"unknown variant {family!r}")
    return family


@dataclass
class CycleSummary:
    run_id: str
    dataset: str
    dataset_version: int | None = None
    action: str = ""
    """promoted, kept, skipped, or nothing_new (the version was decided before: nothing written)."""
    reason: str = ""
    new_clips: int = 0
    candidate_id: str | None = None
    production_id: str | None = None
    """The model in use before this cycle."""
    serving_id: str | None = None
    """What serves after it."""
    metrics: dict[str, Any] = field(default_factory=dict)
    scored_videos: int = 0
    predictions: int = 0
    alerts: list[str] = field(default_factory=list)
    """What monitoring the scoring run raised."""
    decision_numbers: dict[str, float] = field(default_factory=dict)
    """The compared metric (candidate/in use, new/old test split), gain, regression and test clip counts."""
    step_s: dict[str, float] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        return EXIT_ALERT if self.alerts else 0

    def render(self) -> str:
        lines = [f"cycle {self.run_id}: dataset {self.dataset} v{self.dataset_version}: {self.action.upper()}",
                 f"  why                 {self.reason}",
                 f"  new clips           {self.new_clips}"]
        if self.candidate_id:
            lines.append(f"  candidate           {self.candidate_id}")
        lines.append(f"  model in use before {self.production_id or '(none)'}")
        lines.append(f"  serving now         {self.serving_id or '(none)'}")
        for name, m in self.metrics.items():
            lines.append(f"  {name:<19} {m}")
        if self.action not in ("nothing_new",):
            lines.append(f"  scored              {self.scored_videos} new videos, {self.predictions} predictions")
        lines += [f"  ALERT               {a}" for a in self.alerts]
        if self.step_s:
            lines.append("  time                " + ", ".join(f"{k} {v:.0f} s" for k, v in self.step_s.items()))
        return "\n".join(lines)


def _decided(tables: Tables, dataset: str, version: int) -> dict[str, Any] | None:
    rows = tables.read("decisions").where((F.col("dataset") == dataset)
                                          & (F.col("dataset_version") == version)).collect()
    return rows[0].asDict() if rows else None


def _clips_per_version(tables: Tables, dataset: str) -> dict[int, int]:
    rows = tables.read("datasets").where(F.col("name") == dataset).select("version", "clips_per_split").collect()
    return {r["version"]: int(sum((r["clips_per_split"] or {}).values())) for r in rows}


def _new_video_uris(tables: Tables, dataset: str, version: int) -> set[str]:
    videos = tables.read("clips").where((F.col("dataset") == dataset) & (F.col("dataset_version") == version)) \
        .select("video_id").distinct()
    return {r["uri"] for r in tables.read("videos").where(F.col("dataset") == dataset).join(videos, "video_id")
            .select("uri").collect()}


def run_cycle(spark: SparkSession, cfg: CycleConfig, run_id: str | None = None) -> CycleSummary:
    """Run one cycle; the summary is also saved as <lake>/runs/<run_id>/summary.json beside its config.yaml."""
    run_id = run_id or new_run_id()
    tables = Tables(spark, cfg.lake_uri)
    summary = CycleSummary(run_id=run_id, dataset=cfg.dataset)
    record = tables.layout.run_record(run_id)
    storage.write_text(storage.join(record, "config.yaml"), config_lib.to_yaml(cfg))
    summary_uri = storage.join(record, "summary.json")

    def start_tracking() -> Tracker:
        # Opened only once there is a version to decide: a cycle with nothing new leaves MLflow as it leaves the
        # lake (an hourly schedule would otherwise add a run an hour).
        tracker = stack.enter_context(tracked(cfg.tracking, "cycle", run_id, tags={
            "sora.dataset": cfg.dataset, "sora.summary": summary_uri}))
        tracker.log_params(flat_params(cfg, skip=("curate", "train", "compress", "score", "tracking")))
        return tracker

    # The whole cycle is one writer: its curate, registration, alias and scoring steps hold the same lock.
    with lake_lock(cfg.lake_uri, "cycle", run_id, cfg.lock), contextlib.ExitStack() as stack:
        tracker = _cycle(spark, cfg, tables, summary, start_tracking)
        if tracker is not None:
            tracker.set_tags({"sora.action": summary.action, "sora.reason": summary.reason,
                              "sora.dataset_version": summary.dataset_version, "sora.candidate": summary.candidate_id,
                              "sora.model_in_use_before": summary.production_id, "sora.serving": summary.serving_id,
                              "sora.alerts": "; ".join(summary.alerts) or None})
            tracker.log_metrics({"new_clips": summary.new_clips, "scored_videos": summary.scored_videos,
                                 "predictions": summary.predictions, "alerts": len(summary.alerts),
                                 "time_s": summary.step_s, **summary.decision_numbers})
    storage.write_text(summary_uri, json.dumps(dataclasses.asdict(summary), indent=1))
    logger.info("cycle %s: v%s %s", run_id, summary.dataset_version, summary.action)
    return summary


def _cycle(spark: SparkSession, cfg: CycleConfig, tables: Tables, summary: CycleSummary,
           start_tracking: Callable[[], Tracker]) -> Tracker | None:
    """The cycle's steps; returns the MLflow tracker of a cycle that decided a version, None otherwise."""
    from sora_model.deploy.build import find_checkpoint, run_compress
    from sora_model.deploy.comparison import write_comparison
    from sora_model.dataset.catalog import load_dataset
    from sora_model.lake.card import read_card
    from sora_model.train.loop import Trainer, init_checkpoint

    run_id = summary.run_id
    clock = time.perf_counter()
    on_executors = cfg.launch == "executors" or (cfg.launch == "auto" and ranks_on_executors(spark))
    tasks = in_tasks(spark, "cycle") if on_executors else None

    def lap(step: str) -> None:
        nonlocal clock
        summary.step_s[step] = time.perf_counter() - clock
        clock = time.perf_counter()

    curated = run_curate(spark, cfg.curate_cfg, run_id=f"{run_id}-curate")
    logger.info("%s", curated.render())
    lap("curate")
    clips = _clips_per_version(tables, cfg.dataset)
    if not clips:
        summary.action, summary.reason = "skipped", f"dataset {cfg.dataset} has no version (nothing curated)"
        return None
    version = curated.dataset_version or max(clips)
    summary.dataset_version = version
    summary.new_clips = clips[version] - clips.get(version - 1, 0)
    done = _decided(tables, cfg.dataset, version)
    if done is not None:
        summary.action = "nothing_new"
        summary.reason = (f"no new videos since v{version}, which cycle {done['cycle_run_id']} decided at "
                          f"{done['decided_at']:%Y-%m-%d %H:%M}: {done['action']} ({done['reason']})")
        summary.serving_id = done["serving_id"]
        return None
    tracker = start_tracking()

    try:
        production = current_alias(tables, PRODUCTION)
    except ValueError:
        production = None
    summary.production_id = production.model_id if production else None
    row: dict[str, Any] = {"promotion_metric": cfg.promotion.metric}

    if summary.new_clips < cfg.min_new_clips:
        summary.action = "skipped"
        summary.reason = f"v{version} added {summary.new_clips} clips < min_new_clips {cfg.min_new_clips}"
    else:
        init = production.model_uri if production and cfg.warm_start else None
        if init is not None:
            # Checked here, before any rank starts: a model in use with other classes cannot warm-start.
            try:
                init_checkpoint(tables.layout, init, load_dataset(cfg.lake_uri, cfg.dataset, version),
                                cfg.train.model_spec)
            except ValueError as e:
                if "cannot start this run" not in str(e):
                    raise
                logger.warning("warm start impossible (%s); training the candidate from scratch", e)
                init = None
        train_cfg = cfg.train_cfg(version, init)
        if on_executors:
            log_level = logging.getLevelName(logging.getLogger("pipelines").getEffectiveLevel())
            train_on_spark(spark, train_cfg, cfg.train_processes, log_level)
        else:
            trainer = Trainer(train_cfg, train_cfg.run_id)
            storage.write_text(storage.join(trainer.run_dir, "config.yaml"), config_lib.to_yaml(train_cfg))
            trainer.resume()
            trainer.fit(tracking_parent=tracker.run_id)
        register_checkpoints(spark, cfg.lake_uri, train_cfg.run_id, config_lib.to_yaml(train_cfg))
        candidate_uri = find_checkpoint(cfg.lake_uri, train_cfg.run_id, None)
        card = read_card(candidate_uri)
        summary.candidate_id = card.model_id
        lap("train")
        previous = version - 1 if production and version - 1 in clips else None
        compare = functools.partial(compare_on_test_splits, cfg.lake_uri, cfg.dataset, version, previous,
                                    candidate_uri, production.model_uri if production else None)
        cand_new, prod_new, cand_old, prod_old = (tasks(lambda _: compare(), [0])[0] if tasks else compare())
        decision: Decision = decide(cfg.promotion, cand_new, prod_new, cand_old, prod_old)
        lap("compare")
        m = cfg.promotion.metric
        row.update(candidate_new=cand_new[m], production_new=prod_new[m] if prod_new else None,
                   candidate_old=cand_old[m] if cand_old else None, production_old=prod_old[m] if prod_old else None,
                   test_clips_new=int(cand_new["samples"]), test_clips_old=int(cand_old["samples"]) if cand_old
                   else None, gain=decision.gain, regression=decision.regression)
        summary.decision_numbers = {k: v for k, v in row.items() if k != "promotion_metric" and v is not None}
        summary.metrics = {f"{m} new test": _pair(cand_new, prod_new, m), f"{m} old test": _pair(cand_old, prod_old, m)}
        summary.reason = decision.reason
        if decision.promote:
            deployed = card.model_id
            if cfg.deploy_variant != "fp32":
                compress_cfg = cfg.compress_cfg(card.run_id, card.epoch)
                run, rows = run_compress(compress_cfg, tracking_parent=tracker.run_id, tasks=tasks)
                logger.info("%s", write_comparison(run, rows, compress_cfg))
                register_variants(spark, cfg.lake_uri, run.card, rows, config_lib.to_yaml(compress_cfg))
                deployed = model_id(card.run_id, card.epoch, variant_name(cfg.deploy_variant, compress_cfg))
                if variant_name(cfg.deploy_variant, compress_cfg) not in {r["variant"] for r in rows}:
                    raise ValueError(f"deploy_variant {cfg.deploy_variant!r} was not built for {card.model_id} "
                                     f"(a {card.model_class}; the log says why): deploy another variant")
            set_alias(tables, PRODUCTION, deployed, decision.reason, action="promote", set_by=run_id)
            summary.action = "promoted"
            lap("compress+promote")
        else:
            summary.action = "kept"

    try:
        serving = current_alias(tables, PRODUCTION)
    except ValueError:
        serving = None
    summary.serving_id = serving.serving_id if serving else None
    if serving is not None:
        uris = _new_video_uris(tables, cfg.dataset, version)
        scored = run_score(spark, cfg.score_cfg(), only=uris)
        summary.scored_videos, summary.predictions = scored.scored_videos, scored.predictions
        lap("score")
        if scored.predictions:
            monitored = run_monitor(spark, MonitorJobConfig(lake_uri=cfg.lake_uri, score_run_id=scored.run_id,
                                                            thresholds=cfg.monitor))
            summary.alerts = monitored.alerts
            lap("monitor")
    tables.merge_rows("decisions", [{
        "dataset": cfg.dataset, "dataset_version": version, "cycle_run_id": run_id,
        "decided_at": datetime.now(timezone.utc), "action": summary.action, "reason": summary.reason,
        "new_clips": summary.new_clips, "candidate_id": summary.candidate_id, "production_id": summary.production_id,
        "serving_id": summary.serving_id, "scored_videos": summary.scored_videos,
        "predictions": summary.predictions, "alerts": summary.alerts, "config_yaml": config_lib.to_yaml(cfg),
        **_none_metrics(row)}], update=False)
    return tracker


def _pair(a: dict[str, Any] | None, b: dict[str, Any] | None, m: str) -> str:
    if a is None:
        return "-"
    return f"candidate {a[m]:.3f}" + (f" vs in use {b[m]:.3f}" if b else "") + f" ({a['samples']} clips)"


_METRIC_COLUMNS = ("promotion_metric", "candidate_new", "production_new", "candidate_old", "production_old",
                   "test_clips_new", "test_clips_old", "gain", "regression")


def _none_metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in _METRIC_COLUMNS}
