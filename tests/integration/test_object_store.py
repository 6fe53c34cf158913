"""The storage layer against a real S3-API server process (moto_server on 127.0.0.1): every artifact path works
the same on s3:// and s3a:// as on a local disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_model.lake import object_store, storage
from sora_model.lake.card import ModelCard, read_card, write_card
from sora_model.lake.layout import LakeLayout, epoch_of


def test_files_round_trip_under_both_schemes(s3):
    a, b = s3.uri("rt", "a.txt"), s3.uri("rt", "deep", "b.bin", scheme="s3a")
    storage.write_text(a, "hello")
    storage.write_bytes(b, b"\x00\x01")
    storage.append_text(a, " world")
    assert storage.read_text(s3.uri("rt", "a.txt", scheme="s3a")) == "hello world"
    assert storage.read_bytes(b) == b"\x00\x01" and storage.is_file(b) and storage.exists(s3.uri("rt", "deep"))
    assert storage.list_dir(s3.uri("rt")) == ["a.txt", "deep"]
    assert storage.list_files(s3.uri("rt")) == ["lake/rt/a.txt", "lake/rt/deep/b.bin"]
    with storage.open_local(a) as path:
        assert Path(path).read_text() == "hello world"
    with storage.open_local_dir(s3.uri("rt")) as local:
        assert (Path(local) / "deep" / "b.bin").read_bytes() == b"\x00\x01"
    storage.delete_dir(s3.uri("rt"))
    assert not storage.exists(a) and storage.list_dir(s3.uri("rt")) == []


def _card(epoch: int) -> ModelCard:
    return ModelCard(run_id="r1", epoch=epoch, step=epoch, sha256="x", size_bytes=1, dataset="d", dataset_version=1,
                     classes=["a", "b"], frames_shape=[4, 8, 8, 3], model_config=None,
                     created_at="2026-12-01T00:00:00+00:00")


def test_publishing_on_the_object_store_shows_only_complete_directories(s3):
    layout = LakeLayout.of(s3.uri("pub"))
    final = layout.checkpoint("r1", 1)
    with storage.publishing(final, marker="meta.json") as tmp:
        (Path(tmp) / "model.pt").write_bytes(b"v1")
        (Path(tmp) / "old-only.bin").write_bytes(b"x")
        write_card(tmp, _card(1))
    assert [epoch_of(c) for c in layout.checkpoints("r1")] == [1] and read_card(final).epoch == 1

    with pytest.raises(ZeroDivisionError), storage.publishing(final, marker="meta.json") as tmp:
        (Path(tmp) / "model.pt").write_bytes(b"broken")
        1 / 0
    assert storage.read_bytes(storage.join(final, "model.pt")) == b"v1"  # a failed attempt changes nothing

    with storage.publishing(final, marker="meta.json") as tmp:
        (Path(tmp) / "model.pt").write_bytes(b"v2")
        write_card(tmp, _card(1))
        assert storage.is_file(storage.join(final, "meta.json"))  # the old version stands until the new is done
    assert storage.read_bytes(storage.join(final, "model.pt")) == b"v2"
    assert storage.list_dir(final) == ["meta.json", "model.pt"]  # files only the old version had are gone


def test_an_uploaded_directory_without_its_card_is_not_a_checkpoint(s3):
    layout = LakeLayout.of(s3.uri("partial"))
    storage.write_bytes(storage.join(layout.checkpoint("r1", 2), "model.pt"), b"half")
    write_card(layout.checkpoint("r1", 3), _card(3))
    assert [epoch_of(c) for c in layout.checkpoints("r1")] == [3]


def test_delta_rs_reads_and_writes_tables_in_the_bucket(s3):
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    uri = s3.uri("tables", "t", scheme="s3a")  # Hadoop's spelling, as Spark writes it
    write_deltalake(uri, pa.table({"x": [1, 2]}), storage_options=object_store.delta_options(uri))
    table = DeltaTable(uri, storage_options=object_store.delta_options(uri))
    assert table.to_pyarrow_table().to_pylist() == [{"x": 1}, {"x": 2}]
    assert storage.is_file(storage.join(uri, "_delta_log", "00000000000000000000.json"))


def test_unrelated_environment_variables_do_not_change_delta_rs(s3, monkeypatch: pytest.MonkeyPatch):
    import pyarrow as pa

    from sora_model.lake import delta
    from sora_model.lake.tables import KEYS, arrow_schema

    # Shells and schedulers set these for their own ends; delta-rs would read them as its HTTP client settings.
    for name, value in {"TIMEOUT": "400", "CONNECT_TIMEOUT": "5", "POOL_IDLE_TIMEOUT": "never",
                        "ALLOW_INVALID_CERTIFICATES": "maybe", "HTTP1_ONLY": "yes please"}.items():
        monkeypatch.setenv(name, value)
    root = s3.uri("env-lake", scheme="s3a")
    schema = arrow_schema("aliases")
    delta.create(root, "aliases", schema)
    rows = [{f.name: None for f in schema} | {"alias": "production", "seq": seq} for seq in (1, 2)]
    delta.merge(root, "aliases", pa.Table.from_pylist(rows, schema=schema), KEYS["aliases"])
    assert sorted(r["seq"] for r in delta.read_rows(root, "aliases", ["seq"])) == [1, 2]


def test_settings_travel_as_environment_variables_without_secrets():
    cfg = object_store.ObjectStoreConfig(endpoint_url="http://127.0.0.1:9000", region="eu-west-1", path_style=True)
    assert cfg.env() == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1",
                         "SORA_S3_PATH_STYLE": "true"}
    with pytest.raises(ValueError, match="endpoint_url must start with http"):
        object_store.ObjectStoreConfig(endpoint_url="127.0.0.1:9000")


def _write_shards(out_uri: str, rows: int, shape: list[int]) -> list[str]:
    import numpy as np

    from sora_model.dataset.schema import describe, schema_with_metadata
    from sora_model.dataset.shards import ShardConfig, ShardWriter

    row_mb = int(np.prod(shape)) / 2**20
    writer = ShardWriter(out_uri, "t", schema_with_metadata(describe(shape, ["a", "b"], "d", 1)),
                         ShardConfig(shard_size_mb=6 * row_mb, row_group_size_mb=2 * row_mb))
    for i in range(rows):
        writer.write({"clip_id": f"c{i}", "video_id": "v", "label": i, "label_name": "a", "split": "train",
                      "aug_index": 0, "frames": np.full(shape, i % 251, np.uint8).tobytes(), "frames_shape": shape})
    return [f.uri for f in writer.close()]


def test_the_reader_serves_the_same_batches_from_the_bucket_through_a_bounded_cache(s3, tmp_path: Path):
    import numpy as np

    from sora_model.dataset.reader import ReaderConfig, iter_batches, scan_row_groups

    shape = [2, 16, 16, 3]
    remote = _write_shards(s3.uri("shards", scheme="s3a"), 40, shape)
    local = _write_shards(str(tmp_path / "local"), 40, shape)
    assert len(remote) == len(local) > 3
    cache_dir = tmp_path / "cache"
    shard_bytes = max(storage.filesystem(u)[0].get_file_info(storage.filesystem(u)[1]).size for u in remote)
    cfg = ReaderConfig(batch_size=4, shuffle_buffer=8, seed=3, cache_dir=str(cache_dir),
                       cache_max_gb=2.5 * shard_bytes / 2**30)

    def labels(uris: list[str]) -> list[int]:
        groups, desc = scan_row_groups(uris)
        out = []
        for worker in range(2):
            for batch in iter_batches(groups, desc, cfg, epoch=1, rank=0, world_size=1, worker=worker,
                                      num_workers=2):
                assert np.all(batch["frames"][:, 0, 0, 0, 0] == batch["label"] % 251)
                out.extend(int(x) for x in batch["label"])
        return out

    assert labels(remote) == labels(local) and sorted(labels(remote)) == list(range(40))
    copies = list(cache_dir.glob("*.parquet"))
    assert 0 < len(copies) <= 2 and sum(p.stat().st_size for p in copies) <= 2.5 * shard_bytes


def _register_dataset(lake_uri: str, shards: dict[str, list[str]], shape: list[int], classes: list[str]) -> None:
    """A datasets-table row for the shards, written with delta-rs (Spark's s3a writer is not needed for this)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from sora_model.dataset.schema import describe

    uris = [u for split in shards for u in shards[split]]
    row = {"name": "d", "version": 1, "shard_uris": uris, "shard_splits": [s for s in shards for _ in shards[s]],
           "rows_per_split": {s: 0 for s in shards}, "frames_shape": shape, "classes": classes,
           "schema_json": json.dumps(describe(shape, classes, "d", 1))}
    schema = pa.schema([("name", pa.string()), ("version", pa.int32()), ("shard_uris", pa.list_(pa.string())),
                        ("shard_splits", pa.list_(pa.string())), ("rows_per_split", pa.map_(pa.string(), pa.int64())),
                        ("frames_shape", pa.list_(pa.int32())), ("classes", pa.list_(pa.string())),
                        ("schema_json", pa.string())])
    table = LakeLayout.of(lake_uri).table("datasets")
    write_deltalake(table, pa.Table.from_pylist([row], schema=schema),
                    storage_options=object_store.delta_options(table))


def _dataset_in_bucket(lake: str) -> list[int]:
    """Dataset d v1 in the lake: 48 train and 12 val clips of two classes (row i: label i % 2), in shards of a few
    rows each; returns its frames shape."""
    import numpy as np

    from sora_model.dataset.schema import describe, schema_with_metadata
    from sora_model.dataset.shards import ShardConfig, ShardWriter

    shape, classes = [2, 16, 16, 3], ["dark", "light"]
    shards: dict[str, list[str]] = {}
    for split, rows in (("train", 48), ("val", 12)):
        writer = ShardWriter(storage.join(lake, "datasets", "d", "v1"), split,
                             schema_with_metadata(describe(shape, classes, "d", 1)),
                             ShardConfig(shard_size_mb=0.02, row_group_size_mb=0.01))
        for i in range(rows):
            writer.write({"clip_id": f"{split}{i}", "video_id": "v", "label": i % 2, "label_name": classes[i % 2],
                          "split": split, "aug_index": 0, "frames_shape": shape,
                          "frames": np.full(shape, 40 + 170 * (i % 2), np.uint8).tobytes()})
        shards[split] = [f.uri for f in writer.close()]
    _register_dataset(lake, shards, shape, classes)
    return shape


def test_open_split_serves_a_split_of_a_lake_in_the_bucket_through_a_bounded_cache(s3, tmp_path: Path):
    from sora_model.dataset import open_split

    lake = s3.uri("librarylake", scheme="s3a")
    shape = _dataset_in_bucket(lake)
    cache = tmp_path / "cache"
    train = open_split(lake, "d", batch_size=4, seed=5, cache_dir=str(cache), cache_max_gb=0.001)
    assert (train.classes, train.frames_shape, len(train)) == (["dark", "light"], shape, 12)
    batches = list(train.loader(num_workers=2))
    assert len(batches) == 12 and all(b["frames"].shape == (4, *shape) for b in batches)
    assert all(bool(((b["frames"][:, 0, 0, 0, 0] == 210) == (b["label"] == 1)).all()) for b in batches)
    assert train.state_dict() == {"epoch": 0, "batches_done": 12}
    assert 0 < sum(p.stat().st_size for p in cache.glob("*.parquet")) <= 0.001 * 2**30
    val = open_split(lake, "d", "val", cache_dir=str(cache))
    assert [int(x) for b in val.every_row(batch_size=5) for x in b["label"]] == [i % 2 for i in range(12)]


def test_training_checkpoints_to_and_resumes_from_a_lake_in_the_bucket(s3, tmp_path: Path):
    from sora_model import config as config_lib
    from sora_model.train.loop import TrainConfig, Trainer

    lake = s3.uri("trainlake", scheme="s3a")
    shape = _dataset_in_bucket(lake)
    small = [f"lake_uri={lake}", "dataset=d", "model.widths=[4]", "model.embed_dim=8", "model.heads=2",
             "reader.batch_size=4", f"reader.cache_dir={tmp_path / 'cache'}", "num_workers=0", "eval_batch_size=8",
             "optim.warmup_steps=1", "run_id=s3run"]
    first = Trainer(config_lib.load(TrainConfig, None, [*small, "epochs=2"]), "s3run")
    first.fit()
    layout = LakeLayout.of(lake)
    assert [epoch_of(c) for c in layout.checkpoints("s3run")] == [1, 2]
    assert read_card(layout.checkpoint("s3run", 2)).frames_shape == shape

    resumed = Trainer(config_lib.load(TrainConfig, None, [*small, "epochs=3", "resume=true"]), "s3run")
    assert resumed.resume() and resumed.start_epoch == 2 and resumed.step == first.step
    history = resumed.fit()
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["val"]["samples"] == 12
    steps = [json.loads(line)["step"] for line in storage.read_text(resumed.step_log).splitlines()]
    assert steps == list(range(1, 3 * first.steps_per_epoch + 1))
    assert not list(Path(tmp_path).glob("**/.tmp-*"))  # nothing left half-published on the local side
    # Credentials came from the environment; nothing in the lake may carry them.
    from tests.s3_server import CREDENTIALS

    for path in storage.list_files(lake):
        data = storage.read_bytes("s3://" + path)
        assert not any(secret.encode() in data for secret in CREDENTIALS.values()), path


@pytest.mark.slow
def test_curate_reads_the_corpus_from_and_writes_the_lake_to_the_bucket(spark, s3, corpus: Path, curated):
    from deltalake import DeltaTable

    from tests.integration.conftest import run

    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        storage.upload(str(path), s3.uri("corpus", path.relative_to(corpus).as_posix()))
    lake = s3.uri("curated", scheme="s3a")
    summary = run(spark, s3.uri("corpus", scheme="s3a"), lake)
    local = curated["summary"]
    for field in ("files_listed", "files_ignored", "videos_clipped", "files_rejected", "rejects_by_reason",
                  "clips_new", "rows_new_per_split", "cuts_found"):
        assert getattr(summary, field) == getattr(local, field), field
    layout = LakeLayout.of(lake)
    videos = DeltaTable(layout.table("videos"), storage_options=object_store.delta_options(lake)).to_pyarrow_table()
    assert videos.num_rows == summary.videos_clipped
    assert all(uri.startswith("s3a://lake/corpus/") for uri in videos.column("uri").to_pylist())
    from sora_model.dataset.catalog import load_dataset

    shards = [u for uris in load_dataset(lake, "demo").shards.values() for u in uris]
    assert shards and all(u.startswith("s3a://lake/curated/datasets/demo/v1/") and storage.is_file(u) for u in shards)
    assert not storage.exists(layout.staging(summary.run_id))
    again = run(spark, s3.uri("corpus", scheme="s3a"), lake)
    assert again.dataset_version is None and again.files_already_in_lake == summary.files_listed


def test_a_prefix_lists_like_the_same_folder_on_disk(s3, tmp_path: Path):
    """Folder by folder on the store (what it holds at once is one folder's answer), with the same entries and the
    same ignored count as the local walk: an ignored folder counts once and is not descended into."""
    from sora_model.lake.listing import ListingConfig, list_corpus

    tree = {"a.mp4": b"1", "labels.csv": b"path,label_name\n", "day-1/b.mp4": b"22", "day-1/deep/c.mkv": b"333",
            "day-2/.hidden/d.mp4": b"4", "day-2/e": b"55555", "_SUCCESS": b""}
    for rel, data in tree.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
        storage.write_bytes(s3.uri("listing", rel), data)
    local = list_corpus(str(tmp_path), ListingConfig())
    remote = list_corpus(s3.uri("listing"), ListingConfig())
    rel = lambda listing, root: [(u.removeprefix(root).lstrip("/"), size) for u, size, _ in listing.files]  # noqa: E731
    assert rel(remote, s3.uri("listing")) == rel(local, str(tmp_path)) == [
        ("a.mp4", 1), ("day-1/b.mp4", 2), ("day-1/deep/c.mkv", 3), ("day-2/e", 5)]
    assert remote.ignored == local.ignored == 3  # labels.csv, _SUCCESS, .hidden/
