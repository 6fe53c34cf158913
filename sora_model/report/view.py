"""What the report reads: its config, the lake's rows it needs (``LakeView``, each table read once with delta-rs)
and the shape of one section of the page (``Section``)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from sora_model.lake import storage
from sora_model.lake.aliases import PRODUCTION
from sora_model.lake.card import CARD_FILE, ModelCard, read_card
from sora_model.lake.delta import read_rows
from sora_model.lake.layout import LakeLayout
from sora_model.lake.object_store import ObjectStoreConfig

@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    lake_uri: str = "lake"
    """Lake to report on (a folder or an object-store root)."""
    dataset: str = "demo"
    """Dataset whose clips, splits and decisions the report shows."""
    out_uri: str | None = None
    """Folder the page (index.html) and its PNGs are written to; None: <lake>/report."""
    max_runs: int = 6
    """Training runs drawn in the training curves (the newest ones)."""
    lineage_videos: int = 20
    """Source videos listed by name at the end of the lineage walk (all are counted)."""
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)

    def __post_init__(self) -> None:
        if self.max_runs < 1 or self.lineage_videos < 0:
            raise ValueError(f"max_runs must be >= 1 and lineage_videos >= 0, got {self.max_runs} and "
                             f"{self.lineage_videos}")

    @property
    def out(self) -> str:
        return self.out_uri or LakeLayout.of(self.lake_uri).report


@dataclass
class Section:
    anchor: str
    title: str
    body: list[str] = field(default_factory=list)
    """HTML fragments, in order (paragraphs, tables, images)."""
    figures: dict[str, bytes] = field(default_factory=dict)
    """PNG files the body's <img> tags name."""

    def text(self, line: str) -> Section:
        self.body.append(f"<p>{html.escape(line)}</p>")
        return self

    def table(self, header: list[str], rows: list[list[Any]]) -> Section:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
        self.body.append(f"<table><tr>{head}</tr>{cells}</table>")
        return self

    def figure(self, name: str, png: bytes, alt: str) -> Section:
        self.figures[name] = png
        self.body.append(f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">')
        return self

    def pre(self, text: str) -> Section:
        self.body.append(f"<pre>{html.escape(text)}</pre>")
        return self


def _fmt(v: Any) -> str:  # noqa: ANN401
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M}"
    return str(v)


class LakeView:
    """The lake's rows the report needs, each table read once."""

    def __init__(self, cfg: ReportConfig) -> None:
        self.cfg = cfg
        self.layout = LakeLayout.of(cfg.lake_uri)

    def rows(self, table: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
        return read_rows(self.cfg.lake_uri, table, columns)

    @cache  # noqa: B019 - one view per report
    def _of_dataset(self, table: str, dataset: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
        key = "name" if table == "datasets" else "dataset"
        return [r for r in self.rows(table, [key, *columns] if columns else None) if r[key] == dataset]

    def videos_of(self, dataset: str) -> list[dict[str, Any]]:
        """``dataset``'s rows of the videos table: a lake holds many datasets over the same files."""
        return self._of_dataset("videos", dataset, ("video_id", "uri", "codec", "width_px", "height_px",
                                                    "duration_s", "label_name", "clip_count"))

    def clips_of(self, dataset: str) -> list[dict[str, Any]]:
        return self._of_dataset("clips", dataset, ("dataset_version", "video_id", "start_s", "end_s", "split",
                                                   "filter_reason"))

    def datasets_of(self, dataset: str) -> list[dict[str, Any]]:
        return sorted(self._of_dataset("datasets", dataset, ()), key=lambda r: r["version"])

    @property
    def videos(self) -> list[dict[str, Any]]:
        return self.videos_of(self.cfg.dataset)

    @property
    def rejects(self) -> list[dict[str, Any]]:
        return self._of_dataset("rejects", self.cfg.dataset, ("uri", "stage", "reason", "detail"))

    @property
    def clips(self) -> list[dict[str, Any]]:
        return self.clips_of(self.cfg.dataset)

    @property
    def datasets(self) -> list[dict[str, Any]]:
        return self.datasets_of(self.cfg.dataset)

    @cached_property
    def models(self) -> list[dict[str, Any]]:
        return self.rows("models", ["run_id", "epoch", "variant", "uri", "metrics_json", "dataset",
                                    "dataset_version", "created_at"])

    @cached_property
    def aliases(self) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows("aliases") if r["alias"] == PRODUCTION), key=lambda r: r["seq"])

    @cached_property
    def decisions(self) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows("decisions") if r["dataset"] == self.cfg.dataset),
                      key=lambda r: r["dataset_version"])

    @cached_property
    def monitoring(self) -> list[dict[str, Any]]:
        return sorted(self.rows("monitoring"), key=lambda r: r["monitored_at"])

    @cached_property
    def production(self) -> dict[str, Any] | None:
        """The alias entry in force (the newest row is the state after the last set or rollback)."""
        return self.aliases[-1] if self.aliases else None

    def card(self, uri: str) -> ModelCard | None:
        return read_card(uri) if storage.is_file(storage.join(uri, CARD_FILE)) else None

    @cached_property
    def focus_checkpoint(self) -> tuple[str, ModelCard] | None:
        """The checkpoint the model-specific sections show: the one production serves, else the best validation
        epoch of the newest training run."""
        if self.production:
            card = self.card(self.production["model_uri"])
            if card:
                return self.production["model_uri"], card
        checkpoints = [r for r in self.models if r["variant"] == "fp32"]
        if not checkpoints:
            return None
        newest = max(checkpoints, key=lambda r: r["created_at"])["run_id"]
        best = max((r for r in checkpoints if r["run_id"] == newest),
                   key=lambda r: (val_metrics(r).get("accuracy", 0), r["epoch"]))
        card = self.card(best["uri"])
        return (best["uri"], card) if card else None


def val_metrics(model_row: dict[str, Any]) -> dict[str, Any]:
    """A models-table row's validation metrics (empty when it has none)."""
    return (json.loads(model_row["metrics_json"] or "{}").get("val")) or {}
