"""python -m jobs.curate_docs: rewrite the configuration tables of the docs (README.md and docs/*.md) from the
config dataclasses."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from pipelines.curate import CurateConfig
from pipelines.cycle import CycleConfig
from pipelines.score import ScoreConfig
from pipelines.stream_score import StreamScoreConfig
from sora_model.config import markdown_table
from sora_model.deploy.compress import CompressConfig
from sora_model.report.build import ReportConfig
from sora_model.serve.config import ServeConfig
from sora_model.train.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def doc_pages() -> list[Path]:
    """The README (the site's landing page) and every page under docs/."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


TABLES = {"config-table": CurateConfig, "train-config-table": TrainConfig,
          "compress-config-table": CompressConfig, "score-config-table": ScoreConfig, "cycle-config-table": CycleConfig,
          "report-config-table": ReportConfig, "stream-config-table": StreamScoreConfig,
          "serve-config-table": ServeConfig}
ELSEWHERE = {CycleConfig: ("curate", "train", "compress", "score")}
"""Sections that are another job's config, documented in that job's table."""
SHOWN_IN_PARENT = {StreamScoreConfig: ScoreConfig}
"""A config that extends another: its table shows only the keys it adds or declares again."""


def _skipped(cls: type) -> tuple[str, ...]:
    parent = SHOWN_IN_PARENT.get(cls)
    if parent is None:
        return ()
    own = set(cls.__dict__.get("__annotations__", {}))
    return tuple(f.name for f in dataclasses.fields(parent) if f.name not in own)


def render(text: str) -> str:
    for marker, cls in TABLES.items():
        block = re.compile(rf"(<!-- {marker}:start[^>]*-->\n).*?(<!-- {marker}:end -->)", re.S)
        text = block.sub(lambda m, cls=cls: m.group(1) + markdown_table(cls, ELSEWHERE.get(cls, ()), _skipped(cls)) + m.group(2), text)
    return text


def main() -> int:
    for page in doc_pages():
        text = page.read_text()
        if render(text) != text:
            page.write_text(render(text))
            print(f"updated {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
