"""python -m jobs.curate_docs: rewrite the configuration table of README.md from the config dataclasses."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pipelines.curate import CurateConfig
from sora_model.config import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- config-table:start[^>]*-->\n).*?(<!-- config-table:end -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + markdown_table(CurateConfig) + m.group(2), text)


def main() -> int:
    README.write_text(render(README.read_text()))
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
