"""Scale benchmark: the lake's bookkeeping as its tables grow, lakes of 10^4, 10^6 and 10^7 clips.

    python bench/scale_tables.py [--max-clips 10000000] [--add 50]

A small corpus is curated once for real; its rows (videos, files, rejects, clips, the dataset version) are the
template every lake is grown from: copies with fresh content ids and URIs, ``PER_VERSION`` clips to a dataset
version (one commit per table per version, as successive curate runs leave them), no video decoded. Into each
lake one real curate run (conf/local.yaml, ``local[<cores>]``) adds ``--add`` new videos, then a rerun finds
nothing new. The run's corpus holds only the new videos (listing a large corpus is ``scale_listing``'s), so what
grows with the lake is the lake's own cost.

Bookkeeping is the run outside its decode stage: reading what the lake accounts for, the tables' MERGEs and the
dataset version. Ratios: bookkeeping at the largest lake over the smallest (goal: at most 1.5), the same for the
``tables`` and ``register`` stages alone, and for the rerun with nothing new.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

PER_VERSION = 200_000
"""Clips a grown lake adds per dataset version (per commit of each table)."""
DATASET = "bench"
SIZES = (10_000, 1_000_000, 10_000_000)
TEMPLATE_VIDEOS = 48
CLIPS_PER_SHARD = 500
"""Kept clips per shard in a grown lake (16x112x112 clips run about 0.5 MB each: 256 MB shards hold ~500)."""
BOOKKEEPING_STAGES = ("tables", "register")

logger = logging.getLogger("bench.scale_tables")


def hex_ids(rng, n: int, dashed: bool = False):  # noqa: ANN001, ANN201 - numpy Generator -> pyarrow Array
    """``n`` random lowercase hex ids, 64 characters (a sha256, as video ids are) or dashed 36 (a uuid, as clip ids
    are), made in numpy: millions in a second."""
    import numpy as np
    import pyarrow as pa

    digits = np.frombuffer(b"0123456789abcdef", np.uint8)[rng.integers(0, 16, (n, 32 if dashed else 64), np.uint8)]
    if dashed:
        dash = np.full((n, 1), ord("-"), np.uint8)
        digits = np.hstack([digits[:, :8], dash, digits[:, 8:12], dash, digits[:, 12:16], dash, digits[:, 16:20], dash,
                            digits[:, 20:]])
    width = digits.shape[1]
    return pa.array(np.ascontiguousarray(digits).view(f"S{width}").ravel()).cast(pa.string())


class Template:
    """The rows of a real curate run, the unit a lake is grown by."""

    def __init__(self, lake: str) -> None:
        import pyarrow.compute as pc

        from sora_model.lake import delta

        self.tables = {name: delta.read_table(lake, name) for name in ("videos", "files", "rejects", "clips")}
        datasets = delta.read_table(lake, "datasets")
        self.dataset = datasets.to_pylist(maps_as_pydicts="strict")[0]
        videos = self.tables["videos"]
        # Where each clip's and file's video is among the template's videos (-1: a file no video row names).
        self.clip_video = pc.index_in(self.tables["clips"]["video_id"], value_set=videos["video_id"])
        self.file_video = pc.index_in(self.tables["files"]["video_id"], value_set=videos["video_id"])

    @property
    def clips(self) -> int:
        return self.tables["clips"].num_rows


def pa_array(values: list[str]):  # noqa: ANN201
    import pyarrow as pa

    return pa.array(values, pa.string())


def copies_of(template: Template, copies: int, first: int, lake: str, version: int, rng) -> dict:  # noqa: ANN001
    """Rows of ``copies`` copies of the template (copy numbers from ``first``), each with fresh video ids, clip ids
    and URIs, its clips in dataset ``version``; and the copies' shard URIs."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = template.tables
    n_videos = t["videos"].num_rows
    video_ids = hex_ids(rng, copies * n_videos)
    copy_of_row = {name: np.repeat(np.arange(copies), table.num_rows) for name, table in t.items()}
    folders = pa.array([f"{lake}/corpus/batch-{first + c:07d}/" for c in range(copies)], pa.string())

    def tiled(name: str) -> pa.Table:
        return t[name].take(pa.array(np.tile(np.arange(t[name].num_rows), copies)))

    def with_uris(table: pa.Table, name: str) -> pa.Table:
        base = pc.replace_substring_regex(table["uri"], r"^.*/", "")
        uris = pc.binary_join_element_wise(folders.take(pa.array(copy_of_row[name])), base, "")
        return table.set_column(table.column_names.index("uri"), "uri", uris)

    def video_of(index: pa.Array, name: str) -> pa.Array:
        at = np.asarray(index.fill_null(-1))
        rows = copy_of_row[name] * n_videos + np.tile(at, copies)
        own = hex_ids(rng, len(rows))  # a file no template video names keeps an id of its own
        return pc.if_else(pa.array(np.tile(at, copies) >= 0), video_ids.take(pa.array(np.maximum(rows, 0))), own)

    def fresh_signatures(table: pa.Table) -> pa.Table:
        """Random frame hashes of the same lengths: copies of one video must not be near-duplicates of one another
        (a real lake holds few), or the near-duplicate search would compare each new video with thousands."""
        old = table["signature"].combine_chunks()
        values = pa.array(rng.integers(-2**63, 2**63 - 1, len(old.values), np.int64, endpoint=True))
        fresh = pa.ListArray.from_arrays(old.offsets, values, type=old.type, mask=old.is_null())
        return table.set_column(table.column_names.index("signature"), "signature", fresh)

    out = {}
    videos = fresh_signatures(with_uris(tiled("videos"), "videos"))
    out["videos"] = videos.set_column(videos.column_names.index("video_id"), "video_id", video_ids)
    files = with_uris(tiled("files"), "files")
    files = files.set_column(files.column_names.index("video_id"), "video_id", video_of(template.file_video, "files"))
    # A file's signature is its video's (a rejected file's is its own).
    at = np.tile(np.asarray(template.file_video.fill_null(-1)), copies)
    rows = pa.array(copy_of_row["files"] * n_videos + at, mask=at < 0)
    out["files"] = files.set_column(files.column_names.index("signature"), "signature", pc.if_else(
        pa.array(at >= 0), out["videos"]["signature"].take(rows.fill_null(0)), fresh_signatures(files)["signature"]))
    rejects = with_uris(tiled("rejects"), "rejects")
    out["rejects"] = rejects.set_column(rejects.column_names.index("video_id"), "video_id",
                                        hex_ids(rng, rejects.num_rows))
    clips = tiled("clips")
    # Shards of CLIPS_PER_SHARD kept clips, per split, as a real run of this many clips writes them.
    kept = np.asarray(pc.is_valid(clips["shard_uri"]).to_numpy(zero_copy_only=False))
    split = np.asarray(clips["split"].to_numpy(zero_copy_only=False)).astype(str)
    shard_uri = np.full(clips.num_rows, None, object)
    shards = []
    for name in sorted(set(split[kept])):
        at = np.flatnonzero(kept & (split == name))
        uris = [f"{lake}/datasets/{DATASET}/v{version}/{name}/part-{first:07d}-{k:05d}.parquet"
                for k in range(-(-len(at) // CLIPS_PER_SHARD))]
        shard_uri[at] = np.array(uris, object)[np.arange(len(at)) // CLIPS_PER_SHARD]
        shards += [(u, name) for u in uris]
    for name, column in (("video_id", video_of(template.clip_video, "clips")),
                         ("clip_id", hex_ids(rng, clips.num_rows, dashed=True)),
                         ("dataset_version", pa.array(np.full(clips.num_rows, version, np.int32))),
                         ("shard_uri", pa.array(shard_uri, pa.string()))):
        clips = clips.set_column(clips.column_names.index(name), name, column)
    out["clips"] = clips
    out["shards"] = shards
    return out


def grow_lake(template: Template, lake: str, clips: int, bands, seed: int = 0) -> dict:  # noqa: ANN001
    """A lake of at least ``clips`` clips in dataset ``DATASET``, grown from the template, ``PER_VERSION`` clips
    (or all, when fewer) to a version, its videos indexed version by version as curate runs index them (``bands``, a
    BandLayout; segments merged as they pile up). Returns the rows per table and the seconds the index took."""
    import numpy as np
    import pyarrow as pa
    from deltalake import write_deltalake

    from sora_model.lake import delta, video_index
    from sora_model.lake.layout import LakeLayout
    from sora_model.lake.tables import arrow_schema

    rng = np.random.default_rng(seed)
    layout = LakeLayout.of(lake)
    for name in ("videos", "files", "rejects", "clips", "datasets"):
        delta.create(lake, name, arrow_schema(name))
    total_copies = -(-clips // template.clips)
    per_version = max(1, PER_VERSION // template.clips)
    rows = dict.fromkeys(("videos", "files", "rejects", "clips"), 0)
    shards: list[tuple[str, str]] = []
    counts = {k: dict.fromkeys(template.dataset[k], 0) for k in ("rows_per_split", "clips_per_split",
                                                                "videos_per_split")}
    first, version = 0, 0
    start = time.perf_counter()
    video_index.ensure(lake, DATASET, bands, 1, [])  # an empty dataset's markers
    index_s = time.perf_counter() - start
    while first < total_copies:
        copies = min(per_version, total_copies - first)
        version += 1
        made = copies_of(template, copies, first, lake, version, rng)
        for name in rows:
            table = made[name].cast(arrow_schema(name))
            write_deltalake(layout.table(name), table, mode="append")
            rows[name] += table.num_rows
        start = time.perf_counter()
        for name, index_rows in video_index.index_rows(DATASET, version, made["videos"], bands).items():
            video_index.add(lake, name, index_rows)
        index_s += time.perf_counter() - start
        shards += made["shards"]
        for key in counts:
            for split, n in template.dataset[key].items():
                counts[key][split] += n * copies
        row = {**template.dataset, "name": DATASET, "version": version, "shard_uris": [u for u, _ in shards],
               "shard_splits": [split for _, split in shards],
               **{k: dict(v) for k, v in counts.items()}}
        row["source_versions"] = {"videos": version, "rejects": version, "clips": version}
        write_deltalake(layout.table("datasets"), pa.Table.from_pylist([row], schema=arrow_schema("datasets")),
                        mode="append")
        first += copies
    rows["versions"] = version
    rows["index_s"] = index_s
    return rows


def curate_config(lake: str, corpus: str):  # noqa: ANN201
    from pipelines.curate import CurateConfig
    from sora_model import config as config_lib

    return config_lib.load(CurateConfig, ROOT / "conf" / "local.yaml",
                           [f"lake_uri={lake}", f"input_uri={corpus}", f"dataset={DATASET}"])


def timed_run(spark, cfg) -> dict:  # noqa: ANN001
    from pipelines.curate import run_curate

    start = time.perf_counter()
    summary = run_curate(spark, cfg)
    wall = time.perf_counter() - start
    stages = dict(summary.stage_s)
    return {"wall_s": wall, "stage_s": stages, "bookkeeping_s": wall - stages.get("decode", 0.0),
            "tables_register_s": sum(stages.get(k, 0.0) for k in BOOKKEEPING_STAGES),
            "files_new": summary.files_new, "version": summary.dataset_version}


def rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    from pipelines.session import build_session
    from sora_model.logs import setup_logging
    from sora_model.video.synth import write_corpus

    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--max-clips", type=int, default=SIZES[-1], help="largest lake, in clips (default 10^7)")
    parser.add_argument("--add", type=int, default=50, help="new videos the incremental run curates (default 50)")
    args = parser.parse_args()
    setup_logging("WARNING")
    sizes = [n for n in SIZES if n <= args.max_clips]
    results = []
    with tempfile.TemporaryDirectory(prefix="sora-bench-tables-") as name:
        tmp = Path(name)
        write_corpus(tmp / "template-corpus", videos=TEMPLATE_VIDEOS, seed=5, workers=os.cpu_count() or 1,
                     bad_files=True)
        write_corpus(tmp / "new", videos=args.add, seed=6, workers=os.cpu_count() or 1, bad_files=False)
        spark = build_session(curate_config(str(tmp / "template"), str(tmp / "template-corpus")).spark)
        try:
            timed_run(spark, curate_config(str(tmp / "template"), str(tmp / "template-corpus")))
            template = Template(str(tmp / "template"))
            print(f"template: {template.clips} clips of {template.tables['videos'].num_rows} videos, "
                  f"{len(template.dataset['shard_uris'])} shards", flush=True)
            for n in sizes:
                lake = str(tmp / f"lake-{n}")
                start = time.perf_counter()
                rows = grow_lake(template, lake, n, curate_config(lake, "").near_dup.band_layout)
                grown_s = time.perf_counter() - start
                size_mb = sum(f.stat().st_size for f in Path(lake).rglob("*") if f.is_file()) / 2**20
                print(f"grew a lake of {rows['clips']:,} clips ({rows['videos']:,} videos, {rows['versions']} "
                      f"versions, {size_mb:,.0f} MB) in {grown_s:.0f} s, its index {rows['index_s']:.0f} s of it)",
                      flush=True)
                cfg = curate_config(lake, str(tmp / "new"))
                before = rss_mb()
                added = timed_run(spark, cfg)
                again = timed_run(spark, cfg)
                result = {"clips": rows["clips"], "videos": rows["videos"], "lake_mb": size_mb, "added": added,
                          "again": again, "driver_rss_growth_mb": rss_mb() - before}
                results.append(result)
                print(f"{rows['clips']:>11,} clips: +{args.add} videos: bookkeeping {added['bookkeeping_s']:.1f} s "
                      f"(tables+register {added['tables_register_s']:.1f} s), stages "
                      + ", ".join(f"{k} {v:.1f}s" for k, v in added["stage_s"].items())
                      + f"; nothing new: {again['wall_s']:.1f} s", flush=True)
                shutil.rmtree(lake)
        finally:
            spark.stop()
    print(json.dumps(results))
    if len(results) >= 2:
        small, large = results[0], results[-1]
        at = f"at {large['clips']:,} clips / at {small['clips']:,}"
        record(Ratio("scale_tables", f"bookkeeping, +{args.add} videos, {at}", large["added"]["bookkeeping_s"],
                     small["added"]["bookkeeping_s"], "s", goal_max=1.5))
        record(Ratio("scale_tables", f"tables+register, +{args.add} videos, {at}",
                     large["added"]["tables_register_s"], small["added"]["tables_register_s"], "s", goal_max=1.5))
        record(Ratio("scale_tables", f"rerun, nothing new, {at}", large["again"]["wall_s"],
                     small["again"]["wall_s"], "s", goal_max=1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
