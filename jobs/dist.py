"""python -m jobs.dist --out dist/sora_model.zip

Builds the archive executors import the project from: spark-submit --py-files dist/sora_model.zip ... (the
packages sora_model, pipelines and jobs: their Python sources and the data files they load, such as the shot
detector's network). `make dist` runs it.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sora_model", "pipelines", "jobs")
SUFFIXES = (".py", ".json")
"""Sources, and data files read through importlib.resources (which reads them inside the archive too)."""


def build(out: str | Path) -> Path:
    """Write the archive (entries sorted, so the same sources give the same listing)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*")
                   if p.suffix in SUFFIXES and p.is_file() and "__pycache__" not in p.parts)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(ROOT).as_posix())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.dist", description=__doc__.strip().split("\n\n")[1])
    parser.add_argument("--out", default="dist/sora_model.zip", help="archive to write (default dist/sora_model.zip)")
    args = parser.parse_args(argv)
    path = build(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
