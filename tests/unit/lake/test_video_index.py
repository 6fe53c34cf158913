"""The lake's index of videos by content and band: look-ups equal a scan, segments merge by level, markers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sora_model.lake import delta, video_index
from sora_model.lake.tables import arrow_schema
from sora_model.video.signature import BandLayout, NearDupConfig

LAYOUT = NearDupConfig().band_layout


def _videos(rng: np.random.Generator, n: int, prefix: str = "v") -> pa.Table:
    ids = [f"{prefix}{rng.integers(0, 2**62):062x}" for _ in range(n)]
    signatures = [rng.integers(-2**63, 2**63 - 1, 40, dtype=np.int64).tolist() for _ in range(n)]
    return pa.table({"video_id": ids, "uri": [f"/corpus/{i}.mp4" for i in ids],
                     "signature": pa.array(signatures, pa.list_(pa.int64())), "duration_s": [5.0] * n,
                     "width_px": pa.array([64] * n, pa.int32()), "height_px": pa.array([48] * n, pa.int32())})


def _add(lake: str, dataset: str, version: int, videos: pa.Table, layout: BandLayout | None = LAYOUT) -> None:
    for table, rows in video_index.index_rows(dataset, version, videos, layout).items():
        video_index.add(lake, table, rows)


def test_band_keys_meet_when_an_anchor_shares_a_band_and_differ_by_layout() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(-2**63, 2**63 - 1, 32, dtype=np.int64).tolist()
    b = rng.integers(-2**63, 2**63 - 1, 32, dtype=np.int64).tolist()
    copy = list(b)
    copy[5] = a[5] ^ (1 << 40)  # the upper half of one anchor changed in one bit: its lower band is a's
    keys, owner = video_index.band_keys([a, b, copy], LAYOUT)
    of = [set(keys[owner == i].tolist()) for i in range(3)]
    assert len(of[0]) == 64 and not of[0] & of[1]
    assert len(of[0] & of[2]) == 1
    other, _ = video_index.band_keys([a], BandLayout(4, 32))
    assert not set(other.tolist()) & of[0]
    assert (keys < video_index.CONTENT_TAG).all() and (keys >= 0).all()
    assert (video_index.content_keys(["x", "y"]) >= video_index.CONTENT_TAG).all()


def test_lookups_across_segments_equal_a_scan_of_the_table_and_keep_datasets_apart(tmp_path) -> None:
    lake, rng = str(tmp_path), np.random.default_rng(1)
    batches = [_videos(rng, 40) for _ in range(5)]
    for version, videos in enumerate(batches, start=1):
        _add(lake, "a", version, videos)
    _add(lake, "b", 1, batches[0])  # the same videos in another dataset
    wanted = [batches[1]["video_id"][3].as_py(), batches[4]["video_id"][0].as_py(), "not-there"]
    found = video_index.lookup_videos(lake, "a", wanted)
    assert sorted(found["video_id"].to_pylist()) == sorted(wanted[:2])
    assert sorted(found["dataset_version"].to_pylist()) == [2, 5]
    assert found.filter(pc.equal(found["video_id"], wanted[0]))["signature"][0].as_py() == \
        batches[1]["signature"][3].as_py()
    bands = delta.read_table(lake, video_index.BANDS)
    keys = rng.choice(bands["key"].to_numpy(), 300)
    got = video_index.lookup(lake, video_index.BANDS, "a", keys, ["video_key"])
    scan = bands.filter(pc.and_(pc.is_in(bands["key"], value_set=pa.array(keys)), pc.equal(bands["dataset"], "a")))
    assert sorted(zip(got["key"].to_pylist(), got["video_key"].to_pylist())) == \
        sorted(zip(scan["key"].to_pylist(), scan["video_key"].to_pylist()))
    assert video_index.lookup_videos(lake, "b", wanted)["video_id"].to_pylist() == []


def test_a_near_copy_is_found_by_its_bands_and_an_unrelated_video_is_not(tmp_path) -> None:
    lake, rng = str(tmp_path), np.random.default_rng(2)
    videos = _videos(rng, 30)
    _add(lake, "a", 1, videos)
    copy = [h ^ 1 for h in videos["signature"][7].as_py()]  # every hash one bit off
    found = video_index.lookup_bands(lake, "a", [copy], LAYOUT)
    assert found["video_id"].to_pylist() == [videos["video_id"][7].as_py()]
    assert video_index.lookup_bands(lake, "a", [_videos(rng, 1)["signature"][0].as_py()], LAYOUT).num_rows == 0


def test_a_row_group_holding_no_key_is_not_read(tmp_path) -> None:
    lake, rng = str(tmp_path), np.random.default_rng(3)
    _add(lake, "a", 1, _videos(rng, 200))  # 12,800 band rows: 7 row groups
    (uri,) = delta.open_table(lake, video_index.BANDS).file_uris()
    meta, low, high = video_index._footer(uri)
    assert meta.num_row_groups == 7 and (low[1:] > high[:-1]).all()
    keys = [int(low[2]), int(high[2]), int(low[5])]
    assert video_index.row_groups(low, high, np.unique(keys)) == [2, 5]


def test_level_zero_segments_merge_into_one_and_two_of_a_level_meet(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(video_index, "LEVEL_BASE_ROWS", 100)
    lake, rng = str(tmp_path), np.random.default_rng(4)
    batches = [_videos(rng, 10) for _ in range(video_index.FANOUT)]
    for version, videos in enumerate(batches, start=1):
        _add(lake, "a", version, videos, layout=None)
        segments = video_index._segments(delta.open_table(lake, video_index.CONTENT))
        assert len(segments) == (version if version < video_index.FANOUT else 1)
    assert [rows for rows, _ in segments.values()] == [80]
    merged = delta.read_table(lake, video_index.CONTENT)
    assert merged.num_rows == 80 and merged["key"].to_pylist() == sorted(merged["key"].to_pylist())
    _add(lake, "a", 9, _videos(rng, 150), layout=None)  # level 1, and so is nothing else yet
    assert len(video_index._segments(delta.open_table(lake, video_index.CONTENT))) == 2
    _add(lake, "a", 10, _videos(rng, 150), layout=None)  # a second of level 1: the two merge
    sizes = sorted(rows for rows, _ in video_index._segments(delta.open_table(lake, video_index.CONTENT)).values())
    assert sizes == [80, 300]
    on_disk = list((tmp_path / "tables" / video_index.CONTENT).glob("*.parquet"))
    assert len(on_disk) == len(delta.open_table(lake, video_index.CONTENT).file_uris())  # merged files removed
    assert video_index.lookup_videos(lake, "a", batches[0]["video_id"].to_pylist()).num_rows == 10


def test_ensure_indexes_a_dataset_once_per_layout_and_keeps_a_crashed_runs_videos_undone(tmp_path) -> None:
    lake, rng = str(tmp_path), np.random.default_rng(5)
    videos = _videos(rng, 12)
    rows = videos.append_column("dataset", pa.array(["a"] * 12))
    schema = arrow_schema("videos")
    for field in schema:
        if field.name not in rows.column_names:
            rows = rows.append_column(field, pa.nulls(rows.num_rows, field.type))
    delta.create(lake, "videos", schema)
    delta.append(lake, "videos", rows.select(schema.names).cast(schema))
    crashed = videos["video_id"][0].as_py()
    written = video_index.ensure(lake, "a", LAYOUT, 4, [crashed])
    assert written == 12 + 12 * 64 + 2  # content, bands, two markers
    assert video_index.ensure(lake, "a", LAYOUT, 4, [crashed]) == 0
    found = video_index.lookup_videos(lake, "a", videos["video_id"].to_pylist())
    versions = dict(zip(found["video_id"].to_pylist(), found["dataset_version"].to_pylist()))
    assert versions[crashed] == 4 and {v for k, v in versions.items() if k != crashed} == {0}
    narrow = BandLayout(4, 32)  # 16-bit bands: two anchors of a video may share one, and it is kept once
    bands = len(video_index.band_keys(videos["signature"].to_pylist(), narrow)[0])
    assert 12 * 120 < bands <= 12 * 128
    assert video_index.ensure(lake, "a", narrow, 4, []) == bands + 1  # only the new layout's bands, its marker
    found = video_index.lookup_bands(lake, "a", [videos["signature"][3].as_py()], narrow)
    assert videos["video_id"][3].as_py() in found["video_id"].to_pylist()  # (16 bits: others may meet it by chance)
    # Back to the first layout: its bands may lack videos indexed meanwhile (in the other), so all are written again.
    assert video_index.ensure(lake, "a", LAYOUT, 4, []) == 12 * 64 + 1
    assert video_index.ensure(lake, "a", LAYOUT, 4, []) == 0
    assert video_index.ensure(lake, "b", LAYOUT, 1, []) == 2  # a dataset with no videos: its markers
