"""Near-duplicate videos among a run's new files and the dataset's videos in the lake, by their frame signatures:
candidates by LSH (in numpy on the driver for a small run, by a join in Spark for a large one; the same
candidates either way), checked hash by hash on the driver, losers as ``near_duplicate_of`` rejects rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.ingest import FILE_KEY
from sora_model.video import rejects as reasons
from sora_model.video.signature import NearDupConfig, SignedVideo, candidate_pairs, choose_near_duplicates


BROADCAST_BANDS = 2_000_000
"""At most this many band rows of new videos (videos x ``band_frames`` x ``bands``, 16 MB of keys) are sent to
every task to filter the lake's bands."""

_SIGNED_COLUMNS = ("video_id", *FILE_KEY, "signature", "duration_s", "width_px", "height_px")


def _signed(row: Any, in_lake: bool, labelled: bool) -> SignedVideo:  # noqa: ANN401 - a Row or a dict
    return SignedVideo(video_id=row["video_id"], uri=row["uri"], signature=tuple(row["signature"] or ()),
                       in_lake=in_lake, labelled=labelled, duration_s=row["duration_s"] or 0.0,
                       pixels=(row["width_px"] or 0) * (row["height_px"] or 0))


def _near_rejects(chosen: dict[str, tuple[SignedVideo, float]], files: dict[str, Any]) -> list[dict[str, Any]]:
    """Rejects rows (FILE_KEY, video_id, reject_*) for the chosen losers; ``files`` maps their ids to rows with
    FILE_KEY."""
    return [{**{k: files[vid][k] for k in FILE_KEY}, "video_id": vid, "reject_stage": "clean",
             "reject_reason": reasons.NEAR_DUPLICATE_OF,
             "reject_detail": f"near-duplicate of {winner.uri}: {frac:.0%} of sampled frames match"}
            for vid, (winner, frac) in sorted(chosen.items())]


def near_duplicates_on_driver(new: DataFrame, lake_of: Callable[[list[list[int]]], list[dict[str, Any]]],
                              cfg: NearDupConfig) -> list[dict[str, Any]]:
    """``near_duplicates`` for a small run: this run's videos collected (one Spark job), the lake's that may match
    them from ``lake_of`` (given their signatures, it returns the lake's videos that share a band with one: the
    lake's index), the LSH candidates found in numpy; the same rows as the Spark join gives."""
    rows = {r["video_id"]: r for r in new.select(*_SIGNED_COLUMNS, "label").collect()}
    fresh = [_signed(r, in_lake=False, labelled=r["label"] is not None) for r in rows.values()]
    if not fresh:
        return []
    lake = [_signed(r, in_lake=True, labelled=True) for r in lake_of([list(v.signature) for v in fresh])
            if r["signature"] and r["video_id"] not in rows]
    pairs = candidate_pairs(fresh, lake, cfg.bands, cfg.band_frames)
    chosen = choose_near_duplicates(pairs, {v.video_id: v for v in (*fresh, *lake)}, cfg)
    return _near_rejects(chosen, rows)


def _anchors(column: str, count: int) -> Column:
    """``signature.evenly(column, count)`` as a Spark expression: the same anchors the driver's path takes."""
    if count == 1:
        return F.slice(column, 1, 1)
    n = f"size({column})"
    return F.expr(f"IF({n} <= {count}, {column}, "
                  f"transform(sequence(0, {count - 1}), i -> {column}[div(i * ({n} - 1), {count - 1})]))")


def near_duplicates(new: DataFrame, lake_videos: DataFrame, cfg: NearDupConfig) -> list[dict[str, Any]]:
    """Rejects rows (FILE_KEY, video_id, reject_*) for this run's videos that show the same pictures as a
    better one (``SignedVideo.rank``): a lake video first, then a labelled one, the longer, the larger, the
    smaller URI.

    Candidates come from an LSH join in Spark (videos sharing a whole band of one anchor hash, on the
    executors); the candidate pairs are collected and checked hash by hash on the driver
    (``choose_near_duplicates``; how many there are depends on ``NearDupConfig.bands``). Chains are not merged: a
    video is rejected when any better-ranked video matches it.
    """
    width = 64 // cfg.bands
    mask = (1 << width) - 1
    videos = new.select(*_SIGNED_COLUMNS, F.lit(False).alias("in_lake"), F.col("label").isNotNull().alias("labelled")) \
        .unionByName(lake_videos.where(F.col("signature").isNotNull()).select(
            *_SIGNED_COLUMNS, F.lit(True).alias("in_lake"), F.lit(True).alias("labelled")))
    keys = F.array(*[F.lit(i << 32) + F.shiftrightunsigned("h", i * width).bitwiseAND(mask)
                     for i in range(cfg.bands)])
    bands = videos.select("video_id", "in_lake", F.explode(_anchors("signature", cfg.band_frames)).alias("h")) \
        .select("video_id", "in_lake", F.explode(keys).alias("band"))
    fresh = bands.where(~F.col("in_lake")).distinct()
    lake = bands.where(F.col("in_lake"))
    if new.count() * cfg.band_frames * cfg.bands <= BROADCAST_BANDS:
        # An increment: the lake's bands that no new video holds are dropped where they are computed, against
        # the new bands sent to every task, before any shuffle (a million lake videos make 10^8 band rows).
        lake = lake.join(F.broadcast(fresh.select("band").distinct()), "band", "left_semi")
    # One side holds this run's videos only: lake videos are never compared with one another.
    a, b = fresh.alias("a"), fresh.unionByName(lake.distinct()).alias("b")
    pairs = a.join(b, (F.col("a.band") == F.col("b.band")) & (F.col("a.video_id") != F.col("b.video_id"))) \
        .select(F.least("a.video_id", "b.video_id").alias("x"), F.greatest("a.video_id", "b.video_id").alias("y")) \
        .distinct().collect()
    if not pairs:
        return []
    ids = sorted({p["x"] for p in pairs} | {p["y"] for p in pairs})
    info = {r["video_id"]: r for r in videos.where(F.col("video_id").isin(ids)).collect()}
    signed = {vid: _signed(r, r["in_lake"], r["labelled"]) for vid, r in info.items()}
    return _near_rejects(choose_near_duplicates(((p["x"], p["y"]) for p in pairs), signed, cfg), info)
