"""An evaluation set's ground truth beside its videos (``truth.json``), and the cache of built sets."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sora_model.evalset.packages import default_cache

TRUTH = "truth.json"
"""The ground truth file of an evaluation set, beside its videos."""


def write_truth(folder: Path, rows: list[dict]) -> None:
    """An evaluation set's ground truth: one row per video (or stretch), a ``path`` inside the folder written
    relative to it, so the folder can move."""
    def rel(row: dict) -> dict:
        if "path" in row and Path(row["path"]).is_relative_to(folder):
            return {**row, "path": str(Path(row["path"]).relative_to(folder))}
        return row

    (folder / TRUTH).write_text(json.dumps([rel(r) for r in rows], indent=1))


def read_truth(folder: Path) -> list[dict]:
    """``write_truth``'s rows, paths absolute again."""
    rows = json.loads((folder / TRUTH).read_text())
    return [{**r, "path": str(folder / r["path"])} if "path" in r else r for r in rows]


def cached_set(name: str, build: Callable[[Path], object], cache: Path | None = None) -> Path:
    """The folder of the evaluation set ``name`` beside the footage's cache, made by ``build(folder)`` the first
    time: in a temporary folder renamed into place, so that a crash leaves no half set and two processes building
    the same set at once both end up reading one."""
    root = cache or default_cache().parent / "evalsets"
    out = root / name
    if not (out / TRUTH).is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            build(tmp)
            tmp.rename(out)
        except OSError:
            if not (out / TRUTH).is_file():  # not another process's finished set
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out
