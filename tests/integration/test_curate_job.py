"""The curate job end to end on local[2] with Delta: accounting, rejects, shards, reruns."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import decord
import numpy as np
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from pipelines.tables import Tables
from sora_model.dataset.schema import decode_frames, read_description
from sora_model.lake.ids import CLIP_NAMESPACE
from sora_model.video.clips import Span, sample_indices
from sora_model.video.frames import center_crop, resize_dims
from tests.integration.conftest import run


@pytest.fixture(scope="module")
def first(curated):
    return curated


def _video_files(root: Path) -> set[str]:
    """Every file but the corpus's labels and manifest: what is a video is decided by content."""
    return {str(p) for p in root.rglob("*") if p.is_file() and p.name not in ("labels.csv", "manifest.json")}


def test_every_listed_file_is_clipped_or_rejected(first):
    files = _video_files(first["input"])
    summary = first["summary"]
    videos = {r["uri"] for r in first["tables"].read("videos").select("uri").collect()}
    rejected = {r["uri"] for r in first["tables"].read("rejects").select("uri").collect()}
    assert summary.files_listed == len(files)
    assert videos | rejected == files and not videos & rejected
    assert summary.videos_clipped == len(videos) and summary.files_rejected == len(rejected)
    assert summary.files_ignored == 2  # labels.csv, manifest.json


def test_each_bad_file_is_rejected_with_its_reason(first, manifest: dict):
    rel = lambda uri: Path(uri).relative_to(first["input"]).as_posix()  # noqa: E731
    rejects = {rel(r["uri"]): r for r in first["tables"].read("rejects").collect()}
    for bad in manifest["bad_files"]:
        if bad["expected_reason"] in (None, "duplicate_of"):
            continue
        row = rejects[bad["name"]]
        assert row["reason"] == bad["expected_reason"], bad["name"]
        assert row["stage"] in ("probe", "clean", "decode") and row["detail"]
    assert first["summary"].rejects_by_reason["unreadable"] == 1
    assert first["summary"].rejects_by_reason["not_video"] == 4  # random bytes, two texts, a PNG
    # frozen, black, blurry, letterboxed: every clip filtered, each recorded in clips with its reason
    assert first["summary"].rejects_by_reason["low_quality"] == 4
    filtered = first["tables"].read("clips").where("filter_reason is not null").collect()
    assert {r["filter_reason"] for r in filtered} == {"frozen", "blank", "blurry", "letterboxed"}
    assert all(r["rows"] == 0 and r["shard_uri"] is None for r in filtered)
    assert sum(first["summary"].clips_filtered_by_reason.values()) == len(filtered)


def test_exact_duplicates_keep_one_copy_and_name_it(first, manifest: dict):
    copy = next(b for b in manifest["bad_files"] if b["kind"] == "duplicate")["name"]
    original = sorted(v["name"] for v in manifest["videos"])[0]
    pair = {str(first["input"] / copy), str(first["input"] / original)}
    kept = [v["uri"] for v in first["tables"].read("videos").collect() if v["uri"] in pair]
    dropped = [r for r in first["tables"].read("rejects").collect() if r["uri"] in pair]
    assert len(kept) == 1 and len(dropped) == 1
    assert dropped[0]["reason"] == "duplicate_of" and dropped[0]["detail"].endswith(kept[0])
    # The rule: a labelled copy is kept (the copy in incoming/ sorts first but has no label), then the
    # smallest URI, so reruns keep the same one.
    assert kept[0] == str(first["input"] / original)


def test_near_duplicates_found_on_the_driver_are_the_rows_the_spark_lsh_join_finds(first, manifest: dict, tmp_path):
    # The curated videos' real keyframe hashes: half stay in the lake, the other half come again as new files
    # (unlabelled ones among them), with near copies (two bits flipped per hash) of some lake videos.
    import pyarrow as pa

    from pipelines.near_dups import near_duplicates, near_duplicates_on_driver
    from sora_model.lake import video_index
    from sora_model.video.signature import NearDupConfig

    videos = first["tables"].read("videos").where(F.size("signature") > 0).withColumn(
        "label", F.when(F.col("clip_count") % 2 == 0, F.lit(1)))
    lake = videos.where(F.hash("video_id") % 2 == 0)
    flip = F.transform("signature", lambda h: h.bitwiseXOR(F.lit(0x0000_0000_0100_0001)))  # 2 bits, one half
    copies = lake.limit(3).select(F.concat(F.lit("copy-"), "video_id").alias("video_id"),
                                  F.concat("uri", F.lit(".copy.mp4")).alias("uri"),
                                  *[c for c in videos.columns if c not in ("video_id", "uri", "signature")],
                                  flip.alias("signature"))
    new = videos.where(F.hash("video_id") % 2 != 0).unionByName(copies)
    lake_rows = pa.Table.from_pylist([{k: r[k] for k in ("video_id", "uri", "signature", "duration_s", "width_px",
                                                         "height_px")} for r in lake.collect()])
    for cfg in (NearDupConfig(), NearDupConfig(bands=4, min_match_frac=0.3, max_distance_bits=20)):
        # The driver's lake side: the lake videos' bands in an index of their own, looked up.
        index = str(tmp_path / f"index-{cfg.bands}")
        for table, rows in video_index.index_rows("demo", 1, lake_rows, cfg.band_layout).items():
            video_index.add(index, table, rows)

        def lake_of(signatures: list[list[int]], index: str = index, cfg: NearDupConfig = cfg) -> list[dict]:
            return video_index.lookup_bands(index, "demo", signatures, cfg.band_layout).to_pylist()

        on_spark = near_duplicates(new, lake, cfg)
        assert near_duplicates_on_driver(new, lake_of, cfg) == on_spark
        assert {r["video_id"] for r in on_spark} >= {r["video_id"] for r in copies.collect()}


def test_truncated_video_is_kept_through_the_pyav_fallback(first):
    row = first["tables"].read("videos").where(F.col("uri").endswith("truncated_partial.mp4")).first()
    assert row is not None and row["decoder"] == "pyav" and row["clip_count"] > 0
    assert "decord" in row["fallback_reason"]


def test_dataset_version_lists_shards_that_hold_exactly_the_clips(first):
    lake = first["tables"]
    (ds,) = lake.read("datasets").collect()
    assert (ds["name"], ds["version"]) == ("demo", 1)
    assert set(ds["source_versions"]) == {"videos", "rejects", "clips"}
    rows = [r for uri in ds["shard_uris"] for r in pq.read_table(uri).to_pylist()]
    assert sum(ds["rows_per_split"].values()) == len(rows)
    clips = {r["clip_id"]: r for r in lake.read("clips").where("filter_reason is null").collect()}
    assert {r["clip_id"] for r in rows} == set(clips)  # filtered clips are recorded, never sharded
    for r in rows:
        clip = clips[r["clip_id"]]
        assert (r["video_id"], r["split"], r["label"]) == (clip["video_id"], clip["split"], clip["label"])
        assert r["frames_shape"] == [4, 32, 32, 3] and len(r["frames"]) == 4 * 32 * 32 * 3
    assert {(r["clip_id"], r["aug_index"]) for r in rows if r["split"] == "train"} == {
        (c, a) for c, clip in clips.items() if clip["split"] == "train" for a in (0, 1)}
    for shard in ds["shard_uris"]:
        assert read_description(pq.read_schema(shard))["frames"]["shape"] == [4, 32, 32, 3]


def test_a_video_lives_in_one_split_and_ids_derive_from_content(first):
    clips = first["tables"].read("clips").collect()
    splits: dict[str, set[str]] = {}
    for c in clips:
        splits.setdefault(c["video_id"], set()).add(c["split"])
        assert c["clip_id"] == str(uuid.uuid5(CLIP_NAMESPACE, f"{c['video_id']}:{c['start_frame']}:{c['end_frame']}"))
    assert all(len(s) == 1 for s in splits.values())
    videos = {v["video_id"]: v for v in first["tables"].read("videos").collect()}
    low_quality = {r["video_id"] for r in first["tables"].read("rejects").where("reason = 'low_quality'").collect()}
    # Clips of a video rejected for quality are recorded (every one filtered); all others belong to a video.
    assert all(c["filter_reason"] and c["video_id"] in low_quality for c in clips if c["video_id"] not in videos)
    assert all(videos[c["video_id"]]["split"] == c["split"] for c in clips if c["video_id"] in videos)


def test_no_clip_spans_a_hard_cut(first, manifest: dict):
    by_name = {v["name"]: v for v in manifest["videos"]}
    videos = first["tables"].read("videos").collect()
    clips = first["tables"].read("clips").collect()
    checked = 0
    for v in videos:
        spec = by_name.get(Path(v["uri"]).relative_to(first["input"]).as_posix())
        if not spec or spec["cut_frame"] is None:
            continue
        assert v["cuts"] == [spec["cut_frame"]]
        for c in (c for c in clips if c["video_id"] == v["video_id"]):
            assert not c["start_frame"] < spec["cut_frame"] < c["end_frame"]
            checked += 1
    assert checked > 0


def test_shard_frames_equal_an_independent_decode(first):
    lake = first["tables"]
    clips = lake.read("clips").where("filter_reason is null").orderBy("clip_id").limit(6).collect()
    videos = {v["video_id"]: v for v in lake.read("videos").collect()}
    for c in clips:
        row = next(r for r in pq.read_table(c["shard_uri"], filters=[("clip_id", "=", c["clip_id"]),
                                                                     ("aug_index", "=", 0)]).to_pylist())
        v = videos[c["video_id"]]
        w, h = resize_dims(v["width_px"], v["height_px"], 32, 32)
        indices = sample_indices(Span(c["start_frame"], c["end_frame"]), 4).tolist()
        if v["decoder"] == "decord":
            vr = decord.VideoReader(v["uri"], width=w, height=h, num_threads=1)
            expected = center_crop(vr.get_batch(indices).asnumpy(), 32, 32)
            assert np.array_equal(decode_frames(row["frames"], row["frames_shape"]), expected)


def test_rerun_adds_nothing(spark, first):
    lake = first["tables"]
    before = {t: lake.version(t) for t in ("videos", "rejects", "clips", "datasets")}
    summary = run(spark, first["input"], first["lake"])
    assert summary.files_new == 0 and summary.dataset_version is None
    assert summary.files_already_in_lake == first["summary"].files_listed
    assert {t: lake.version(t) for t in before} == before


def test_changed_build_settings_are_refused(spark, first):
    with pytest.raises(ValueError, match="decode.height_px: 32 -> 16"):
        run(spark, first["input"], first["lake"], "decode.height_px=16")


def test_links_loops_and_odd_names_are_all_accounted_for(spark, corpus: Path, manifest: dict, tmp_path: Path):
    src = tmp_path / "input"
    (src / "sub").mkdir(parents=True)
    names = sorted(v["name"] for v in manifest["videos"])[:2]
    shutil.copy(corpus / names[0], src / "sub" / "a #1?%20.mp4")
    shutil.copy(corpus / names[1], src / "b")  # no extension
    os.symlink(src / "sub" / "a #1?%20.mp4", src / "zz_alias.mp4")
    os.symlink(src / "gone.mp4", src / "dangling.mp4")
    os.symlink(src / "self.mp4", src / "self.mp4")
    os.symlink(src, src / "sub" / "loop")
    summary = run(spark, src, tmp_path / "lake")
    tables = Tables(spark, str(tmp_path / "lake"))
    rejects = {Path(r["uri"]).name: (r["reason"], r["detail"]) for r in tables.read("rejects").collect()}
    assert summary.files_listed == 5 and summary.links_skipped == 1 and summary.videos_clipped == 2
    assert rejects["dangling.mp4"][0] == rejects["self.mp4"][0] == "broken_link"
    assert rejects["zz_alias.mp4"][0] == "duplicate_of"
    videos = {Path(r["uri"]).name for r in tables.read("videos").collect()}
    assert videos == {"a #1?%20.mp4", "b"}


def test_a_selected_shot_detector_runs_on_the_executors(spark, corpus: Path, manifest: dict, tmp_path: Path):
    src = tmp_path / "input"
    src.mkdir()
    with_cuts = [v for v in manifest["videos"] if v["cut_frame"] is not None][:2]
    for v in with_cuts:
        shutil.copy(corpus / v["name"], src / Path(v["name"]).name)
    summary = run(spark, src, tmp_path / "lake", "clip.cut_detector=pyscenedetect_content")
    videos = Tables(spark, str(tmp_path / "lake")).read("videos").collect()
    assert summary.videos_clipped == len(with_cuts) == 2
    assert {Path(v["uri"]).name: v["cuts"] for v in videos} == {Path(v["name"]).name: [v["cut_frame"]]
                                                                 for v in with_cuts}


def test_a_lake_from_an_earlier_release_gains_the_new_columns(spark, tmp_path: Path):
    from pyspark.sql.types import ArrayType, LongType, StructType

    from pipelines.tables import table_schema

    lake = Tables(spark, str(tmp_path / "lake"))
    new = {"dataset", "rotation_deg", "signature", "clips_filtered"}
    old = StructType([f for f in table_schema("videos") if f.name not in new])
    row = {f.name: None for f in old} | {"video_id": "v0", "uri": "/old.mp4"}
    spark.createDataFrame([row], old).write.format("delta").save(lake.table_uri("videos"))
    videos = lake.read("videos")
    assert new <= set(videos.columns)
    (got,) = videos.collect()
    # No clips and no run record say whose it was: no dataset claims it, so each one judges the file again.
    assert got["uri"] == "/old.mp4" and got["signature"] is None and got["dataset"] == "(unknown)"
    lake.merge("videos", spark.createDataFrame([{**row, "video_id": "v1", "signature": [1, 2]}], old.add(
        "signature", ArrayType(LongType()))).selectExpr("'demo' as dataset", "*", "1 as rotation_deg",
                                                        "0 as clips_filtered"))
    assert sorted(r["video_id"] for r in lake.read("videos").collect()) == ["v0", "v1"]


def test_a_dataset_keeps_its_content_settings_and_settings_added_since_agree_with_old_versions():
    import dataclasses
    import json

    from pipelines.curate import CurateConfig, check_build_settings
    from sora_model.video.clips import ClipConfig

    cfg = CurateConfig()
    built = {"version": 3, "build_config_json": json.dumps(cfg.build_settings())}
    check_build_settings(built, cfg)
    other = dataclasses.replace(cfg, clip=ClipConfig(mode="shots", cut_detector="pyscenedetect_content"))
    with pytest.raises(ValueError, match=r"v3 .*clip.mode: 'fixed' -> 'shots'; clip.cut_detector: 'sora' -> "
                                         r"'pyscenedetect_content'.*dataset=<new name>"):
        check_build_settings(built, other)
    # A version built before cut_detector and the quality section existed knew no other value.
    old = cfg.build_settings()
    del old["clip"]["cut_detector"], old["quality"]
    check_build_settings({"version": 1, "build_config_json": json.dumps(old)},
                         dataclasses.replace(cfg, clip=ClipConfig(cut_detector="transnetv2")))


def test_spark_merges_write_the_same_tables_as_driver_merges(spark, first, tmp_path: Path):
    """driver_merge_max_rows=0 sends every MERGE through Spark; the default merges this corpus in the driver."""
    from pipelines.tables import table_schema

    summary = run(spark, first["input"], tmp_path / "lake", "driver_merge_max_rows=0")
    spark_lake, driver_lake = Tables(spark, str(tmp_path / "lake")), first["tables"]
    assert summary.files_listed == first["summary"].files_listed
    assert summary.rejects_by_reason == first["summary"].rejects_by_reason
    for name, skip in (("videos", {"run_id", "updated_at", "decode_s"}), ("rejects", {"run_id", "rejected_at"}),
                       ("clips", {"run_id", "shard_uri"})):
        columns = [f.name for f in table_schema(name) if f.name not in skip]

        def rows(tables: Tables) -> list[tuple]:
            return sorted(tuple(r) for r in tables.read(name).select(*columns).collect())

        got = rows(spark_lake)
        assert got and got == rows(driver_lake), name
    (a,), (b,) = (t.read("datasets").collect() for t in (spark_lake, driver_lake))
    assert (a["clips_per_split"], a["videos_per_split"], a["rows_per_split"]) == (
        b["clips_per_split"], b["videos_per_split"], b["rows_per_split"])
