"""Adding videos processes only the new ones; touching a file re-decodes nothing; crashed leftovers vanish."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from pipelines.tables import Tables
from sora_model.video.synth import write_corpus
from tests.integration.conftest import add_videos, run


@pytest.fixture(scope="module")
def base(spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("incremental")
    input_dir = work / "input"
    write_corpus(input_dir, videos=6, seed=21, bad_files=False)
    lake = work / "lake"
    summary = run(spark, input_dir, lake)
    return {"work": work, "input": input_dir, "lake": lake, "summary": summary, "tables": Tables(spark, str(lake))}


@pytest.fixture(scope="module")
def grown(spark, base):
    # Leftovers of a run that crashed before registering v2: they must not end up in the dataset.
    junk = base["lake"] / "datasets" / "demo" / "v2" / "train" / "part-crashed-00000.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"half a parquet file")
    added = add_videos(base["input"], "batch2", videos=3, seed=22, scratch=base["work"] / "scratch")
    # The lake's videos through Spark (as a lake of more than driver_max_videos would): the same outcome.
    summary = run(spark, base["input"], base["lake"], "near_dup.driver_max_videos=0")
    return {**base, "added": added, "summary2": summary, "junk": junk}


def test_first_run_registers_version_one(base):
    assert base["summary"].dataset_version == 1 and base["summary"].videos_clipped == 6


def test_only_new_videos_are_processed(grown):
    s = grown["summary2"]
    assert s.files_new == 3 and s.files_already_in_lake == 6 and s.videos_clipped == 3
    assert s.dataset_version == 2
    videos = grown["tables"].read("videos")
    assert videos.count() == 9
    new_ids = {r["video_id"] for r in videos.where(F.col("run_id") == s.run_id).collect()}
    assert len(new_ids) == 3


def test_new_version_keeps_old_shards_and_adds_new_ones(grown):
    v1, v2 = grown["tables"].read("datasets").orderBy("version").collect()
    assert set(v1["shard_uris"]) < set(v2["shard_uris"])
    assert all("/v2/" in u for u in set(v2["shard_uris"]) - set(v1["shard_uris"]))
    rows = sum(pq.ParquetFile(u).metadata.num_rows for u in v2["shard_uris"])
    assert rows == sum(v2["rows_per_split"].values()) > sum(v1["rows_per_split"].values())
    clip_ids = [r["clip_id"] for u in v2["shard_uris"] for r in pq.read_table(u, columns=["clip_id", "aug_index"])
                .to_pylist() if r["aug_index"] == 0]
    assert len(clip_ids) == len(set(clip_ids)) == grown["tables"].read("clips").where("filter_reason is null").count()
    assert v2["source_versions"]["clips"] > v1["source_versions"]["clips"]


def test_the_new_versions_counts_are_those_of_the_clips_table(grown):
    # Version 2's counts are version 1's plus its own clips: they must equal a count of every kept clip.
    (v2,) = grown["tables"].read("datasets").where("version = 2").collect()
    kept = grown["tables"].read("clips").where("filter_reason is null and dataset_version <= 2")
    counted = {r["split"]: (r["clips"], r["videos"]) for r in kept.groupBy("split").agg(
        F.count("*").alias("clips"), F.countDistinct("video_id").alias("videos")).collect()}
    registered = {s: (v2["clips_per_split"][s], v2["videos_per_split"][s]) for s in v2["clips_per_split"]}
    assert counted and registered == {s: counted.get(s, (0, 0)) for s in registered}


def test_crashed_leftovers_are_not_registered_and_are_removed(grown):
    assert not grown["junk"].exists()
    (v2,) = grown["tables"].read("datasets").where("version = 2").collect()
    assert str(grown["junk"]) not in v2["shard_uris"]


def test_touched_file_is_refreshed_not_decoded_again(spark, grown):
    lake = grown["tables"]
    target = grown["input"] / grown["added"][0]
    os.utime(target, (1_700_000_000, 1_700_000_000))
    versions = lake.read("datasets").count()
    clips_before = lake.read("clips").count()
    s = run(spark, grown["input"], grown["lake"])
    assert s.files_new == 1 and s.videos_clipped == 0 and s.files_rejected == 0 and s.dataset_version is None
    assert lake.read("datasets").count() == versions and lake.read("clips").count() == clips_before
    row = lake.read("videos").where(F.col("uri") == str(target)).first()
    assert row["modified_ms"] == 1_700_000_000_000
    again = run(spark, grown["input"], grown["lake"])
    assert again.files_new == 0


def test_a_rejected_file_replaced_by_a_good_video_leaves_rejects(spark, grown):
    lake, spare = grown["tables"], grown["work"] / "spare"
    broken = grown["input"] / "batch3" / "upload.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"")  # an upload that had not arrived yet
    first = run(spark, grown["input"], grown["lake"])
    assert first.rejects_by_reason == {"empty_file": 1}
    assert lake.read("rejects").where(F.col("uri") == str(broken)).count() == 1
    # The same name, now a real video (another seed: not a duplicate of anything curated).
    write_corpus(spare, videos=1, seed=23, bad_files=False)
    broken.write_bytes(next(spare.rglob("*.mp4")).read_bytes())
    os.utime(broken, (1_700_000_100, 1_700_000_100))
    second = run(spark, grown["input"], grown["lake"])
    assert second.files_new == 1 and second.videos_clipped == 1 and second.files_rejected == 0
    assert lake.read("rejects").where(F.col("uri") == str(broken)).count() == 0
    assert lake.read("videos").where(F.col("uri") == str(broken)).count() == 1


def test_copies_of_earlier_videos_are_found_through_the_index_rebuilt_on_a_lake_without_one(spark, grown):
    import shutil

    from sora_model.lake import delta, video_index
    from sora_model.video.writers import reencode

    lake = grown["tables"]
    original = lake.read("videos").where(F.col("run_id") == grown["summary"].run_id).orderBy("uri").first()["uri"]
    copies = grown["input"] / "batch4"
    copies.mkdir()
    shutil.copy(original, copies / "exact.mp4")
    reencode(Path(original), copies / "resized.mp4", scale=0.75, crf=23)
    # A lake an earlier release wrote has no index: the run builds it from the videos table first.
    for table in (video_index.CONTENT, video_index.BANDS):
        shutil.rmtree(grown["lake"] / "tables" / table)
    s = run(spark, grown["input"], grown["lake"])
    assert s.files_new == 2 and s.videos_clipped == 0
    assert s.rejects_by_reason == {"duplicate_of": 1, "near_duplicate_of": 1}
    details = {r["uri"].rsplit("/", 1)[-1]: r["detail"] for r in lake.read("rejects").where(
        F.col("uri").startswith(str(copies))).collect()}
    assert details["exact.mp4"] == f"same sha256 as {original}"
    assert details["resized.mp4"].startswith(f"near-duplicate of {original}:")
    videos = lake.read("videos").where(F.col("dataset") == "demo").count()
    index = delta.read_table(str(grown["lake"]), video_index.CONTENT)
    assert index.num_rows == videos + 2  # every video once, and the two markers
    assert run(spark, grown["input"], grown["lake"]).files_new == 0
