"""Monitoring of scoring runs on Spark: each run's predictions against the train split of the model that made
them (``sora_model.deploy.monitoring``), one row per scoring run in the ``monitoring`` Delta table."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.session import SparkConfig
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.deploy.monitoring import Baseline, MonitorConfig, Scored, input_stats, measure, resolution_tier
from sora_model.lake.card import ModelCard, read_card
from sora_model.lake.ids import new_run_id
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.lake.object_store import ObjectStoreConfig

logger = logging.getLogger(__name__)

EXIT_ALERT = 3
"""Exit status of a monitor (or cycle) run that raised an alert: the job ran, a person should look."""


@dataclass(frozen=True, kw_only=True)
class MonitorJobConfig:
    lake_uri: str = "lake"
    """Lake whose scoring runs (predictions table) to monitor."""
    score_run_id: str | None = None
    """Scoring run to monitor; None: every scoring run the monitoring table does not have yet."""
    thresholds: MonitorConfig = field(default_factory=MonitorConfig)
    """When a number becomes an alert."""
    baseline_clips: int = 2000
    """Train clips (the first this many) the brightness and motion baseline is measured on."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    lock: LockConfig = field(default_factory=lambda: LockConfig(wait_s=600.0))
    """One writer per lake: monitoring waits (up to wait_s) for a run writing the lake."""

    def __post_init__(self) -> None:
        if self.baseline_clips < 1:
            raise ValueError(f"baseline_clips must be >= 1, got {self.baseline_clips}")


def _mix(rows: list[Any], key: str) -> dict[str, int]:
    return {str(r[key]): int(r["n"]) for r in rows}


def _tiers(videos: DataFrame) -> dict[str, int]:
    """Videos per resolution tier (counted per size on the executors, tiered here: sizes are few)."""
    out: Counter[str] = Counter()
    for r in videos.groupBy("width_px", "height_px").agg(F.count("*").alias("n")).collect():
        out[resolution_tier(r["width_px"], r["height_px"])] += int(r["n"])
    return dict(out)


def baseline_for(tables: Tables, card: ModelCard, clips_limit: int) -> Baseline:
    """The train split of the dataset version the model was trained on."""
    from sora_model.dataset.catalog import load_dataset
    from sora_model.deploy.evaluation import split_arrays

    data = load_dataset(str(tables.layout.root), card.dataset, card.dataset_version)
    train = tables.read("clips").where((F.col("dataset") == card.dataset)
                                       & (F.col("dataset_version") <= card.dataset_version)
                                       & (F.col("split") == "train") & F.col("filter_reason").isNull())
    classes = _mix(train.groupBy("label_name").agg(F.count("*").alias("n")).collect(), "label_name")
    frames, _ = split_arrays(data, "train", clips_limit)
    stats = [input_stats(clip) for clip in frames]
    videos = tables.read("videos").where(F.col("dataset") == card.dataset).join(
        train.select("video_id").distinct(), "video_id")
    codecs = videos.groupBy("codec").agg(F.count("*").alias("n"))
    return Baseline(classes=classes, brightness=[b for b, _ in stats], motion=[m for _, m in stats],
                    resolutions=_tiers(videos), codecs=_mix(codecs.collect(), "codec"))


def monitor_run(tables: Tables, score_run_id: str, cfg: MonitorJobConfig) -> dict[str, Any]:
    """The monitoring row of one scoring run (not written)."""
    preds = tables.read("predictions").where(F.col("run_id") == score_run_id)
    first = preds.select("model_id", "model_uri", "alias", "alias_seq").limit(1).collect()
    if not first:
        raise ValueError(f"scoring run {score_run_id!r} has no predictions in {tables.layout.table('predictions')}")
    card = read_card(first[0]["model_uri"])
    # The labels of the model's own dataset: another dataset in the lake may name other classes.
    labels = tables.read("videos").where(F.col("dataset") == card.dataset).select(
        "video_id", F.col("label").alias("true_label"))
    rows = preds.join(labels, "video_id", "left").select(
        "predicted_label", "predicted_label_name", F.array_max("probabilities").alias("confidence"), "brightness",
        "motion_energy", "latency_ms", "true_label").collect()
    per_video = preds.select("video_id", "width_px", "height_px", "codec").distinct()
    codecs = per_video.groupBy("codec").agg(F.count("*").alias("n"))
    scored = Scored(
        predicted=[r["predicted_label_name"] for r in rows], confidence=[r["confidence"] for r in rows],
        brightness=[r["brightness"] for r in rows if r["brightness"] is not None],
        motion=[r["motion_energy"] for r in rows if r["motion_energy"] is not None],
        latency_ms=[r["latency_ms"] for r in rows if r["latency_ms"] is not None],
        resolutions=_tiers(per_video), codecs=_mix(codecs.collect(), "codec"),
        true_labels=[r["true_label"] if r["true_label"] is not None else -1 for r in rows],
        predicted_index=[r["predicted_label"] for r in rows])
    row = measure(baseline_for(tables, card, cfg.baseline_clips), scored, card.classes, cfg.thresholds)
    return {**row, "score_run_id": score_run_id, "model_id": first[0]["model_id"], "alias": first[0]["alias"],
            "alias_seq": first[0]["alias_seq"], "monitored_at": datetime.now(timezone.utc),
            "videos": per_video.count(), "config_yaml": config_lib.to_yaml(cfg)}


@dataclass
class MonitorSummary:
    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> list[str]:
        return [f"{r['score_run_id']}: {a}" for r in self.rows for a in r["alerts"]]

    @property
    def exit_status(self) -> int:
        return EXIT_ALERT if self.alerts else 0

    def render(self) -> str:
        if not self.rows:
            return "monitor: no scoring run to monitor (every one has its monitoring row)"
        lines = []
        for r in self.rows:
            via = f" via {r['alias']} #{r['alias_seq']}" if r["alias"] else ""
            lines += [f"scoring run {r['score_run_id']} ({r['model_id']}{via}): {r['clips']} clips of "
                      f"{r['videos']} videos",
                      f"  predicted classes   {_top(r['class_mix'])}  PSI {r['class_psi']:.3f}",
                      f"  confidence          p10 {_n(r['confidence_p10'])}  p50 {_n(r['confidence_p50'])}  "
                      f"p90 {_n(r['confidence_p90'])}",
                      f"  brightness          mean {_n(r['brightness_mean'])}  PSI {r['brightness_psi']:.3f}",
                      f"  motion energy       mean {_n(r['motion_mean'])}  PSI {r['motion_psi']:.3f}",
                      f"  resolution          {_top(r['resolution_mix'])}  PSI {r['resolution_psi']:.3f}",
                      f"  codec               {_top(r['codec_mix'])}  PSI {r['codec_psi']:.3f}",
                      f"  latency per clip    p50 {_n(r['latency_ms_p50'], 2)} ms  p95 {_n(r['latency_ms_p95'], 2)} ms"]
            if r["labelled_clips"]:
                lines.append(f"  labelled clips      {r['labelled_clips']}: accuracy {r['accuracy']:.3f}, "
                             f"macro F1 {r['macro_f1']:.3f}")
            lines += [f"  ALERT               {a}" for a in r["alerts"]] or ["  alerts              none"]
        return "\n".join(lines)


def _n(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _top(mix: dict[str, int]) -> str:
    total = sum(mix.values()) or 1
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])[:4])


def open_stream_windows(tables: Tables) -> set[str]:
    """Run ids of scoring streams' windows that have not closed yet: a stream still adds predictions to them, and
    writes each one's monitoring row itself once it has closed (``pipelines.stream_score``)."""
    if not tables.exists("stream_batches"):
        return set()
    rows = tables.read("stream_batches").where(F.col("window_end") > F.current_timestamp()).select("run_id")
    return {r["run_id"] for r in rows.distinct().collect()}


def run_monitor(spark: SparkSession, cfg: MonitorJobConfig) -> MonitorSummary:
    tables = Tables(spark, cfg.lake_uri)
    summary = MonitorSummary(run_id=new_run_id())
    with lake_lock(cfg.lake_uri, "monitor", summary.run_id, cfg.lock):
        if cfg.score_run_id:
            todo = [cfg.score_run_id]
        else:
            done = {r["score_run_id"] for r in tables.read("monitoring").select("score_run_id").collect()}
            scored = tables.read("predictions").groupBy("run_id").agg(F.min("scored_at").alias("t")).collect()
            done |= open_stream_windows(tables)
            todo = [r["run_id"] for r in sorted(scored, key=lambda r: r["t"]) if r["run_id"] not in done]
        for score_run_id in todo:
            row = monitor_run(tables, score_run_id, cfg)
            tables.merge_rows("monitoring", [row])
            summary.rows.append(row)
            for alert in row["alerts"]:
                logger.warning("scoring run %s: %s", score_run_id, alert)
    return summary
