"""Shards written by the pipeline read back through petastorm's make_batch_reader, tensor for tensor.

Petastorm 0.13.1 cannot import on pyarrow >= 16, so it runs in its own environment (built once, cached in
.venv-petastorm at the repository root) where it still works: pyarrow 14.0.2, numpy 1.26.4, pandas 2.2.3.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sora_model.dataset.schema import decode_frames
from tests.integration.conftest import pinned_env

ROOT = Path(__file__).resolve().parents[2]
PETASTORM_ENV = ROOT / ".venv-petastorm"
PINS = ["petastorm==0.13.1", "pyarrow==14.0.2", "numpy==1.26.4", "pandas==2.2.3"]


def _petastorm_python() -> Path:
    return pinned_env(PETASTORM_ENV, PINS)


@pytest.mark.slow
def test_petastorm_reads_every_tensor_the_pipeline_wrote(curated):
    (ds,) = curated["tables"].read("datasets").collect()
    expected = {}
    for uri in ds["shard_uris"]:
        for row in pq.read_table(uri).to_pylist():
            tensor = decode_frames(row["frames"], row["frames_shape"])
            expected[(row["clip_id"], row["aug_index"])] = (row["frames_shape"],
                                                            hashlib.sha256(tensor.tobytes()).hexdigest())
    urls = ["file://" + uri for uri in ds["shard_uris"]]
    proc = subprocess.run([str(_petastorm_python()), str(Path(__file__).with_name("petastorm_read.py")), *urls],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = {}
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):  # petastorm prints its own messages ("Cache cleanup complete.")
            continue
        row = json.loads(line)
        got[(row["clip_id"], row["aug_index"])] = (row["shape"], row["sha256"])
    assert len(got) == len(expected) == sum(ds["rows_per_split"].values())
    assert got == expected
