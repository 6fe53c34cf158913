"""The curate job's config: one frozen dataclass whose field docstrings are ``--help`` and the docs' configuration
table, and the build settings every version of a dataset shares. Apart from the job (``pipelines.curate``) and its
stages (``pipelines.curate_stages``), which both read it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from pipelines.ingest import ListingConfig
from pipelines.session import SparkConfig
from pipelines.tables import DRIVER_MERGE_MAX_ROWS
from sora_model.dataset.shards import ShardConfig
from sora_model.dataset.split import SplitConfig
from sora_model.lake.lock import LockConfig
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.video.augment import AugmentConfig
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig
from sora_model.video.probe import ProbeConfig
from sora_model.video.quality import QualityConfig
from sora_model.video.signature import NearDupConfig


@dataclass(frozen=True, kw_only=True)
class CurateConfig:
    input_uri: str = "lake/raw/demo"
    """Folder or object-store prefix holding the corpus (listed recursively)."""
    lake_uri: str = "lake"
    """Root of the lake: Delta tables under tables/, shards under datasets/, run records under runs/."""
    dataset: str = "demo"
    """Name of the dataset to build or extend. Its build settings (clip, decode sizes, augment, split) are fixed
    at its first version; use a new name to build with other settings."""
    labels_csv: str | None = None
    """One CSV with columns path,label_name (paths relative to input_uri) for the whole corpus. Default: every
    labels.csv under input_uri labels the videos in its folder and below (paths relative to its folder; the deeper
    file wins), so a batch added later brings its own; without any, every clip gets label -1."""
    listing: ListingConfig = field(default_factory=ListingConfig)
    """Which entries under the input are not corpus files (counted as ignored), and the listing's time cap.
    Every other file is probed: what is a video is decided by content, whatever its name ends with."""
    tasks_per_core: int = 4
    """Spark partitions per available core for the probe and decode stages (more evens out long videos)."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    """How each file is hashed and probed: in a contained process, under a time and memory cap."""
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    """Near-duplicate videos (same pictures re-encoded, resized, trimmed): frame signatures and an LSH join."""
    quality: QualityConfig = field(default_factory=QualityConfig)
    """Pixel quality filters per clip (thresholds; a filtered clip is recorded in clips with its reason)."""
    lock: LockConfig = field(default_factory=LockConfig)
    """One writer per lake: whether a run waits for another run writing the same lake, or stops at once."""
    driver_merge_max_rows: int = DRIVER_MERGE_MAX_ROWS
    """Rows up to which a run's new rows for a Delta table are merged in the driver with delta-rs (about 0.05 s,
    no Spark job); a larger increment goes through Spark's MERGE on the executors (about 15 Spark jobs, seconds
    each on a small cluster). 0 sends every MERGE through Spark."""

    def __post_init__(self) -> None:
        if not self.dataset or not self.dataset.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"dataset must be letters, digits, '-' or '_', got {self.dataset!r}")
        if self.tasks_per_core < 1:
            raise ValueError(f"tasks_per_core must be >= 1, got {self.tasks_per_core}")
        if self.driver_merge_max_rows < 0:
            raise ValueError(f"driver_merge_max_rows must be >= 0, got {self.driver_merge_max_rows}")

    def build_settings(self) -> dict[str, Any]:
        """Settings that decide a dataset's content; every version of a dataset must share them."""
        return {
            "clip": dataclasses.asdict(self.clip),
            "decode": {k: getattr(self.decode, k) for k in ("frames_per_clip", "height_px", "width_px")},
            "augment": {**dataclasses.asdict(self.augment), "splits": list(self.augment.splits)},
            "split": dataclasses.asdict(self.split),
            "quality": dataclasses.asdict(self.quality),
        }


def check_build_settings(latest: dict[str, Any] | None, cfg: CurateConfig) -> None:
    if latest is None:
        return
    before = json.loads(latest["build_config_json"])
    # A setting (or a whole section) the dataset was built before, added since, is taken as agreeing: its first
    # versions knew no other value.
    now = {section: {k: v for k, v in values.items() if k in before[section]}
           for section, values in json.loads(json.dumps(cfg.build_settings())).items() if section in before}
    if before != now:
        diffs = [f"{section}.{k}: {before.get(section, {}).get(k)!r} -> {v!r}"
                 for section, values in now.items() for k, v in values.items()
                 if before.get(section, {}).get(k) != v]
        raise ValueError(f"dataset {cfg.dataset!r} v{latest['version']} was built with other settings "
                         f"({'; '.join(diffs)}). Rerun with its settings, or set dataset=<new name>.")
