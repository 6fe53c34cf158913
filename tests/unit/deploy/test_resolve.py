"""What a job's ``model`` setting names, read with delta-rs from tables written with delta-rs (no JVM)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from sora_model.deploy.resolve import locate_model, resolve_model
from sora_model.lake import delta
from sora_model.lake.aliases import AliasHistory
from sora_model.lake.card import read_card, write_card
from sora_model.lake.tables import arrow_schema
from tests.unit.deploy.conftest import save_checkpoint


@pytest.fixture
def lake(tmp_path: Path) -> str:
    """A lake with checkpoint r1/1 registered and production pointing at it."""
    root = tmp_path / "lake"
    ckpt = save_checkpoint(root / "models" / "r1" / "epoch-1")
    for table in ("models", "aliases"):
        delta.create(str(root), table, arrow_schema(table))
    delta.append(str(root), "models", pa.Table.from_pylist([{
        "run_id": "r1", "epoch": 1, "variant": "fp32", "uri": str(ckpt), "model_file": "model.pt"}],
        schema=arrow_schema("models")))
    entry = AliasHistory("production", []).point("r1/1/fp32", str(ckpt), None, None, "set", "first", "test",
                                                 datetime(2026, 12, 6))
    delta.append(str(root), "aliases", pa.Table.from_pylist([dataclasses.asdict(entry)],
                                                            schema=arrow_schema("aliases")))
    return str(root)


def test_an_alias_an_id_and_a_directory_name_the_same_variant(lake: str):
    ckpt = f"{lake}/models/r1/epoch-1"
    by_alias = resolve_model(lake, "production")
    assert (by_alias.uri, by_alias.alias.seq, by_alias.card.model_id) == (ckpt, 1, "r1/1/fp32")
    assert locate_model(lake, "r1/1/fp32").uri == ckpt and locate_model(lake, "r1/1/fp32").alias is None
    assert resolve_model(lake, ckpt).card == read_card(ckpt)


@pytest.mark.parametrize("model, message", [
    ("staging", r"alias 'staging' is not set in .*aliases \(aliases there: production\); set it with "
                r"`python jobs/alias.py --alias staging --set <model id>`"),
    ("r1/2/fp32", r"no model 'r1/2/fp32' in .*models \(register it first"),
    ("not/a/model/id", r"neither an alias, a variant directory .* nor an id"),
    ("", r"model is required"),
])
def test_a_model_that_names_nothing_says_what_there_is(lake: str, model: str, message: str):
    with pytest.raises(ValueError, match=message):
        locate_model(lake, model)


def test_a_pytorch_variant_of_a_class_that_does_not_import_stops_where_the_job_starts(lake: str):
    ckpt = f"{lake}/models/r1/epoch-1"
    write_card(ckpt, dataclasses.replace(read_card(ckpt), model_class="gone_package.models:Net"))
    with pytest.raises(ValueError, match=r"cannot import 'gone_package.models' .*--py-files"):
        resolve_model(lake, "production")
