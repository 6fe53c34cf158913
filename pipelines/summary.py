"""The curate run's summary: counts from committed rows, the accounting invariant, and how it is printed."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from sora_model.dataset.split import SPLITS
from sora_model.lake import storage
from sora_model.lake.layout import LakeLayout


@dataclass
class CurateSummary:
    run_id: str
    dataset: str
    dataset_version: int | None
    """Version registered by this run; None when nothing new was found."""
    spark_master: str = ""
    """The master the run ran on (spark-submit's --master, the config's, or local[*])."""
    spark_cores: int = 0
    """Cores Spark offered the run (its default parallelism)."""
    files_listed: int = 0
    files_ignored: int = 0
    """Entries on the listing's ignore list (hidden files, the labels file, manifests)."""
    links_skipped: int = 0
    """Folder links that lead back to a folder already listed (loops); their files are listed once."""
    files_already_in_lake: int = 0
    files_new: int = 0
    files_probed_before: int = 0
    """New files of this dataset that an earlier run (of any dataset) had probed: gated on the facts it stored in
    the ``files`` table, not read again."""
    videos_clipped: int = 0
    files_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    pyav_fallbacks: int = 0
    cuts_found: int = 0
    """Hard cuts found in this run's videos (shots mode)."""
    clips_new: int = 0
    """Clips that became shard rows."""
    clips_filtered_by_reason: dict[str, int] = field(default_factory=dict)
    """Clips the pixel quality filters left out (recorded in clips with their filter_reason)."""
    rows_new_per_split: dict[str, int] = field(default_factory=dict)
    dataset_rows_per_split: dict[str, int] = field(default_factory=dict)
    dataset_shards: int = 0
    stage_s: dict[str, float] = field(default_factory=dict)
    stage_work: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per stage: the Spark jobs, stages and tasks it ran (where small runs lose their time)."""
    frames_decoded: int = 0
    executor_decode_s: float = 0.0
    """Sum over videos of the time executors spent clipping, decoding and sharding them."""
    decode_job_s: float = 0.0
    """Wall time of the Spark job that decodes and shards (the decode stage minus its bookkeeping)."""

    def check_invariant(self) -> None:
        """Every listed file is accounted for: already in the lake, clipped now, or rejected now."""
        accounted = self.files_already_in_lake + self.videos_clipped + self.files_rejected
        if accounted != self.files_listed:
            raise RuntimeError(f"bug: {self.files_listed} files listed but {accounted} accounted for "
                               f"({self.files_already_in_lake} in lake + {self.videos_clipped} clipped + "
                               f"{self.files_rejected} rejected)")

    def render(self) -> str:
        lines = [f"curate run {self.run_id} -> dataset {self.dataset!r} "
                 + (f"v{self.dataset_version}" if self.dataset_version else "(unchanged)"),
                 f"  spark               {self.spark_master} ({self.spark_cores} cores)",
                 f"  files found         {self.files_listed}  (+{self.files_ignored} on the ignore list"
                 + (f", {self.links_skipped} folder links already listed)" if self.links_skipped else ")"),
                 f"  already in lake     {self.files_already_in_lake}",
                 f"  new                 {self.files_new}" + (
                     f"  ({self.files_probed_before} known to the lake: not probed again)"
                     if self.files_probed_before else ""),
                 f"    clipped           {self.videos_clipped}  ({self.pyav_fallbacks} via PyAV fallback)",
                 f"    rejected          {self.files_rejected}"]
        for reason, n in sorted(self.rejects_by_reason.items()):
            lines.append(f"      {reason:<17} {n}")
        lines.append(f"  clips new           {self.clips_new}  ({self.cuts_found} hard cuts found)")
        filtered = sum(self.clips_filtered_by_reason.values())
        lines.append(f"  clips filtered      {filtered}" + "".join(
            f"\n      {reason:<17} {n}" for reason, n in sorted(self.clips_filtered_by_reason.items())))
        lines.append("  rows new per split  " + _fmt_splits(self.rows_new_per_split))
        lines.append("  dataset rows        " + _fmt_splits(self.dataset_rows_per_split)
                     + f"  in {self.dataset_shards} shards")
        lines.append("  time per stage      " + "  ".join(f"{k} {v:.1f}s" for k, v in self.stage_s.items()))
        return "\n".join(lines)

    def save(self, layout: LakeLayout) -> None:
        """``<lake>/runs/<run_id>/summary.json``."""
        storage.write_text(storage.join(layout.run_record(self.run_id), "summary.json"),
                           json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True))


def _fmt_splits(counts: dict[str, int]) -> str:
    return "  ".join(f"{s} {counts.get(s, 0)}" for s in SPLITS)
