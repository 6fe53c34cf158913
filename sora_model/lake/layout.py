"""Every path under a lake root, spelled once. Local directory or object-store prefix alike.

```
<root>/tables/<name>                         Delta tables (files, videos, rejects, clips, datasets, models,
                                             predictions, aliases, decisions, monitoring; video_index and
                                             video_bands: curate's look-up of videos by content and band;
                                             stream_batches: the micro-batches of streaming scoring)
<root>/datasets/<name>/v<k>/<split>/*.parquet shards of dataset versions
<root>/models/<run_id>/epoch-<n>/             training checkpoints (complete once meta.json exists)
<root>/models/<run_id>/<variant>/             compressed variants of one of the run's checkpoints
<root>/runs/<run_id>/                         a job run's resolved config.yaml and summary.json
<root>/report/                                the lake's report: index.html and its PNG plots (jobs/report.py)
<root>/streams/<name>/checkpoint/             a scoring stream's Structured Streaming checkpoint
<root>/_staging/<run_id>/                     a run's intermediate Parquet, deleted when the run ends
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sora_model.lake import storage
from sora_model.lake.card import CARD_FILE

TABLES = ("files", "videos", "rejects", "clips", "datasets", "models", "predictions", "aliases", "decisions",
          "monitoring", "video_index", "video_bands", "stream_batches")
_CHECKPOINT = re.compile(r"^epoch-(\d+)$")


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch}"


def epoch_of(checkpoint_uri: str) -> int:
    """The epoch of a checkpoint directory's URI (``.../epoch-7`` -> 7)."""
    match = _CHECKPOINT.match(checkpoint_uri.rstrip("/").rsplit("/", 1)[-1])
    if not match:
        raise ValueError(f"{checkpoint_uri} is not a checkpoint directory (epoch-<n>)")
    return int(match.group(1))


@dataclass(frozen=True)
class LakeLayout:
    root: str
    """The lake root in normalized form (absolute local path, or an object-store URI without a trailing /)."""

    @classmethod
    def of(cls, lake_uri: str) -> LakeLayout:
        return cls(storage.normalize(lake_uri))

    def uri(self, *parts: str) -> str:
        return storage.join(self.root, *parts)

    def table(self, name: str) -> str:
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; the lake's tables are {TABLES}")
        return self.uri("tables", name)

    def dataset_version(self, dataset: str, version: int) -> str:
        """Directory of the shards a curate run adds for version ``version`` of ``dataset``."""
        return self.uri("datasets", dataset, f"v{version}")

    @property
    def models(self) -> str:
        return self.uri("models")

    def training_run(self, run_id: str) -> str:
        """Directory of a training run: its checkpoints, variants, config.yaml, steps.jsonl."""
        return self.uri("models", run_id)

    def checkpoint(self, run_id: str, epoch: int) -> str:
        return self.uri("models", run_id, checkpoint_name(epoch))

    def variant(self, run_id: str, variant: str) -> str:
        return self.uri("models", run_id, variant)

    def run_record(self, run_id: str) -> str:
        """Directory of a job run's resolved config and summary."""
        return self.uri("runs", run_id)

    @property
    def report(self) -> str:
        """Directory of the lake's HTML report (rewritten by each report run)."""
        return self.uri("report")

    def stream_checkpoint(self, name: str) -> str:
        """Structured Streaming's checkpoint of the scoring stream ``name`` (which files each micro-batch took)."""
        return self.uri("streams", name, "checkpoint")

    @property
    def staging_root(self) -> str:
        """Every run's staging folder is under here; none outlives the run that holds the lake's lock."""
        return self.uri("_staging")

    def staging(self, run_id: str) -> str:
        return storage.join(self.staging_root, run_id)

    def training_runs(self) -> list[str]:
        """Run ids under models/, oldest first (run ids start with their UTC start time)."""
        return storage.list_dir(self.models)

    def checkpoints(self, run_id: str) -> list[str]:
        """URIs of the run's complete checkpoints (those with a model card), oldest epoch first."""
        run = self.training_run(run_id)
        names = [n for n in storage.list_dir(run) if _CHECKPOINT.match(n)]
        found = [storage.join(run, n) for n in names if storage.is_file(storage.join(run, n, CARD_FILE))]
        return sorted(found, key=epoch_of)
