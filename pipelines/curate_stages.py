"""The curate run's stages over one run state, in order: ingest, probe, clean, decode, tables, register.

Each stage declares the state fields it reads and writes (checked by ``stage.check_plan``); Spark appears only
here and in the executor functions, which map the library's per-video path (``sora_model.video.process``,
``sora_model.dataset.build``) over partitions.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.window import Window

from pipelines import executors
from pipelines.curate_config import CurateConfig
from pipelines.curate_state import (Cleaned, CurateState, done_video_ids, known_files, latest_dataset,
                                   unregistered_clips)
from pipelines import rows as row_schemas
from pipelines.ingest import FILE_KEY, FILE_SCHEMA, list_corpus
from pipelines.near_dups import near_duplicates, near_duplicates_on_driver
from pipelines.session import size_shuffles
from pipelines.stage import Stage
from pipelines.tables import Staged
from sora_model import config as config_lib
from sora_model.dataset.build import DatasetPlan
from sora_model.dataset.labels import class_index, read_corpus_labels, read_labels_csv
from sora_model.dataset.schema import describe
from sora_model.dataset.split import SPLITS
from sora_model.lake import delta, storage, video_index
from sora_model.lake.listing import LABELS_FILE
from sora_model.video import rejects as reasons
from sora_model.video.probe import PROBE_FIELDS
from sora_model.video.process import gate_known

logger = logging.getLogger(__name__)


class _AfterIngest(Stage):
    def skip(self, state: CurateState) -> bool:
        return not state.new_files


class Ingest(Stage):
    name, about = "ingest", "list the corpus, keep files the lake does not account for"
    reads = ("cfg", "layout", "version")
    writes = ("new_files", "labels_files", "rejected_before", "undone_ids")

    def run(self, state: CurateState) -> None:
        cfg, s = state.cfg, state.summary
        listing = list_corpus(cfg.input_uri, cfg.listing)
        labels_uri = storage.normalize(cfg.labels_csv) if cfg.labels_csv else None
        listed = [f for f in listing.files if f[0] != labels_uri]  # the labels file, wherever it is
        state.labels_files = listing.labels
        s.files_listed, s.links_skipped = len(listed), listing.links_skipped
        s.files_ignored = listing.ignored + len(listing.files) - len(listed)
        # In this process with delta-rs and pyarrow: the listing is here already, the lake's file keys are a few
        # columns, and a Spark query over Delta tables another writer (delta-rs) changed first replays their logs.
        root = state.layout.root
        # Only this dataset's rows (another dataset over the same files judged them with its own settings), and
        # only those of listed files: new files mostly land in new folders, so the files whose uri statistics
        # miss the listing's are not read (what this costs follows the corpus, not the lake).
        uris = sorted({f[0] for f in listed})
        listed_rows = (pc.field("dataset") == cfg.dataset) & pc.field("uri").isin(uris)
        within = {"uri": (uris[0], uris[-1])} if uris else None
        videos = delta.read_table(root, "videos", ["dataset", "video_id", *FILE_KEY], where=listed_rows,
                                  within=within)
        rejects = delta.read_table(root, "rejects", ["dataset", *FILE_KEY], where=listed_rows, within=within)
        # The clips a crashed attempt at this version left: their videos are not done, and they are the only
        # clips rows this run's can match (read once, here, for both).
        leftover = unregistered_clips(root, cfg.dataset, state.version)
        state.present["clips"] = leftover.select(["dataset", "clip_id"])
        state.undone_ids = pc.unique(leftover["video_id"])
        done_ids = done_video_ids(videos["video_id"] if videos is not None else None, state.undone_ids)
        if rejects is not None:  # the rows this run's rejects rows can match: those of listed files
            state.present["rejects"] = rejects
        done = [] if rejects is None else [rejects.select(FILE_KEY)]
        if videos is not None:
            done.append(videos.filter(pc.is_in(videos["video_id"], value_set=done_ids)).select(FILE_KEY))
        files = pa.Table.from_pylist([dict(zip(FILE_KEY, f)) for f in listed],
                                     schema=pa.schema([row_schemas.PROBED.field(c) for c in FILE_KEY]))
        new = files.join(pa.concat_tables(done), FILE_KEY, join_type="left anti") if done else files
        new_keys = set(zip(*(new[c].to_pylist() for c in FILE_KEY)))
        state.new_files = [f for f in listed if tuple(f) in new_keys]  # in listing order
        # A new file whose URI the rejects table names was replaced in place: if now curated, its reject goes.
        rejected_uris = set(rejects["uri"].to_pylist()) if rejects is not None else set()
        state.rejected_before = {f[0] for f in state.new_files if f[0] in rejected_uris}
        s.files_new = len(state.new_files)
        s.files_already_in_lake = s.files_listed - len(state.new_files)
        size_shuffles(state.spark, state.partitions(len(state.new_files)))


class Probe(_AfterIngest):
    name, about = "probe", "hash, probe and gate each new file on the executors (files the lake knows: gated here)"
    reads = ("new_files", "staging", "layout")
    writes = ("probed", "probed_now", "probed_ids")

    def run(self, state: CurateState) -> None:
        cfg, spark = state.cfg, state.spark
        near_dup = cfg.near_dup if cfg.near_dup.enabled else None
        # What a file is was found once, by whichever run (of any dataset) probed it first: only this dataset's
        # gate is applied again, here, without reading the file.
        known, state.present["files"] = known_files(state.layout.root, state.new_files, near_dup)
        fresh = [f for f in state.new_files if tuple(f) not in known]
        frames, staged_rows = [], []
        if known:
            records = [row_schemas.probed_record(dict(zip(FILE_KEY, f)), gate_known(known[tuple(f)], cfg.clean,
                                                                                     near_dup), 0.0)
                       for f in state.new_files if tuple(f) in known]
            staged = Staged.write(storage.join(state.staging, "probed_known"),
                                  pa.Table.from_pylist(records, schema=row_schemas.PROBED))
            frames.append(staged.frame(spark))
            staged_rows.append(staged)
        if fresh:
            probed, _ = executors.run_to_staging(
                spark.createDataFrame(fresh, FILE_SCHEMA), state.partitions(len(fresh)),
                executors.probe_partition(cfg.clean, near_dup, cfg.probe), row_schemas.PROBED,
                storage.join(state.staging, "probed"))
            frames.append(probed)
            state.probed_now = Staged.of(storage.join(state.staging, "probed"))
            staged_rows.append(state.probed_now)
        state.probed = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
        state.probed_ids = sorted({v for rows in staged_rows for v in rows.arrow(
            ["video_id"], where=pc.field("reject_reason").is_null())["video_id"].to_pylist()})
        state.summary.files_probed_before = len(known)


def _labels(cfg: CurateConfig, found: list[str]) -> dict[str, str]:
    if cfg.labels_csv is not None:
        if not storage.exists(cfg.labels_csv):
            raise FileNotFoundError(f"labels_csv {cfg.labels_csv} does not exist")
        return read_labels_csv(cfg.labels_csv, cfg.input_uri)
    labels = read_corpus_labels(cfg.input_uri, found)
    if not labels:
        logger.warning("no %s under %s: clips get label -1", LABELS_FILE, cfg.input_uri)
    return labels


class Clean(_AfterIngest):
    name, about = "clean", "exact and near duplicates, labels"
    reads = ("probed", "probed_ids", "tables", "latest", "version", "staging", "new_files", "labels_files",
             "undone_ids")
    writes = ("cleaned", "done_videos")

    def run(self, state: CurateState) -> None:
        probed, spark, near_cfg = state.probed, state.spark, state.cfg.near_dup
        root, dataset = state.layout.root, state.cfg.dataset
        # The index holds every videos row (the tables stage writes it, for either path below, before them), with
        # the bands of each signature whether this run compares them or not (a later run may).
        layout = near_cfg.band_layout
        video_index.ensure(root, dataset, layout, state.version, state.undone_ids.to_pylist())
        # A run of up to driver_max_videos new files looks its videos up in the lake's index in this process (a
        # few row groups whatever the lake's size); a larger one joins with the dataset's videos in Spark.
        on_driver = len(state.new_files) <= near_cfg.driver_max_videos
        if on_driver:
            known = video_index.lookup_videos(root, dataset, state.probed_ids)
            # Any version's rows are keys this run's videos rows can match (a crashed attempt's); the done ones
            # (registered: below the version this run builds) are what duplicates are judged against.
            state.present["videos"] = known.select(["video_id"]).append_column(
                "dataset", pa.array([dataset] * known.num_rows, pa.string()))
            done = known.filter(pc.less(known["dataset_version"], state.version))
            state.done_videos = spark.createDataFrame(list(zip(done["video_id"].to_pylist(), done["uri"].to_pylist())),
                                                      "video_id string, uri string")
        else:
            # The done videos are the dataset's videos rows but the few a crashed run left (done_video_ids): a
            # filter on those few, not a join with a million ids sent from the driver.
            lake = state.tables.read("videos").where(F.col("dataset") == dataset)
            undone = state.undone_ids.to_pylist()
            state.done_videos = lake.where(~F.col("video_id").isin(undone)) if undone else lake
        label_map = _labels(state.cfg, state.labels_files)
        classes = class_index(list(state.latest["classes"]) if state.latest else [], set(label_map.values()))
        labels_df = spark.createDataFrame(
            [(storage.normalize(u), n, classes.index(n)) for u, n in label_map.items()],
            "uri string, label_name string, label int")
        ok = probed.where(F.col("reject_reason").isNull()).join(F.broadcast(labels_df), "uri", "left")
        # Of identical files keep a labelled one if any, then the smallest URI: the same choice on every rerun.
        keep_order = Window.partitionBy("video_id").orderBy(F.col("label").isNull(), "uri")
        ok = ok.withColumn("kept_uri", F.first("uri").over(keep_order))
        ok = state.cache(ok.join(state.done_videos.select("video_id", F.col("uri").alias("lake_uri")), "video_id",
                                 "left"))
        dup_of = F.coalesce(F.col("lake_uri"), F.col("kept_uri"))
        dups = ok.where(dup_of != F.col("uri")).select(
            *FILE_KEY, "video_id", F.lit("clean").alias("reject_stage"),
            F.lit(reasons.DUPLICATE_OF).alias("reject_reason"),
            F.concat(F.lit("same sha256 as "), dup_of).alias("reject_detail"))
        # Same content at the same uri, only touched: already in the dataset; refresh its row, decode nothing.
        touched = ok.where(F.col("lake_uri") == F.col("uri")).select(*FILE_KEY, "video_id")
        unique = state.cache(ok.where(F.col("lake_uri").isNull() & (F.col("kept_uri") == F.col("uri"))))
        near = unique.limit(0).select(*FILE_KEY, "video_id", *row_schemas.REJECT_COLUMNS)
        if near_cfg.enabled:
            if on_driver:
                def lake_of(signatures: list[list[int]]) -> list[dict[str, Any]]:
                    rows = video_index.lookup_bands(root, dataset, signatures, layout)
                    return rows.filter(pc.less(rows["dataset_version"], state.version)).to_pylist()

                found = near_duplicates_on_driver(unique, lake_of, near_cfg)
            else:
                found = near_duplicates(unique, state.done_videos, near_cfg)
            near = spark.createDataFrame(found, near.schema)
        accepted = unique.join(near.select("video_id"), "video_id", "left_anti").select(
            "video_id", *FILE_KEY, *PROBE_FIELDS, "signature", F.coalesce("label", F.lit(-1)).alias("label"),
            F.coalesce("label_name", F.lit("")).alias("label_name"))
        # Rejects and touched files are staged here, where they are found: the tables stage then reads files.
        rejects = row_schemas.as_rejects(probed).unionByName(row_schemas.as_rejects(dups)).unionByName(
            row_schemas.as_rejects(near))
        state.cleaned = Cleaned(
            accepted=state.cache(accepted), classes=classes,
            rejects=executors.stage_rows(rejects, storage.join(state.staging, "clean_rejects")),
            touched=executors.stage_rows(touched, storage.join(state.staging, "touched")))


class Decode(_AfterIngest):
    name, about = "decode", "clip, decode, augment and shard on the executors"
    reads = ("cleaned", "out_uri", "staging")
    writes = ("decoded",)

    def run(self, state: CurateState) -> None:
        cfg, cleaned = state.cfg, state.cleaned
        storage.delete_dir(state.out_uri)  # shards of an unregistered (crashed) attempt at this version
        plan = DatasetPlan(name=cfg.dataset, version=state.version, out_uri=state.out_uri,
                           classes=tuple(cleaned.classes), clip=cfg.clip, decode=cfg.decode, augment=cfg.augment,
                           shard=cfg.shard, quality=cfg.quality)
        uri = storage.join(state.staging, "decoded")
        n_accepted = cleaned.accepted.count()
        if not n_accepted:  # staged all the same (empty): the tables stage reads what decode staged
            state.decoded = executors.stage_rows(
                state.spark.createDataFrame([], from_arrow_schema(row_schemas.DECODED)), uri)
            return
        parts = state.partitions(n_accepted)
        logger.info("decoding %d videos in %d tasks", n_accepted, parts)
        # Results only (no frames): clips, video statuses, shard files.
        _, state.summary.decode_job_s = executors.run_to_staging(
            cleaned.accepted, parts, executors.decode_partition(plan, cfg.split), row_schemas.DECODED, uri)
        state.decoded = Staged.of(uri)


class WriteTables(_AfterIngest):
    name, about = "tables", "MERGE files, rejects, videos and clips"
    reads = ("cleaned", "decoded", "rejected_before", "probed_now")
    writes = ("shards",)

    def run(self, state: CurateState) -> None:
        tables, s, cleaned = state.tables, state.summary, state.cleaned
        # Every row comes from files staged by the stages before (decode's records carry all the columns the
        # tables need) and is shaped in Arrow: no join, no Spark job for a small increment.
        decoded = state.decoded
        near_dup = state.cfg.near_dup
        run = {"run_id": state.run_id, "now": datetime.now(timezone.utc), "dataset": state.cfg.dataset,
               "dataset_version": state.version,
               "signature_settings": near_dup.signature_settings if near_dup.enabled else ""}
        facts = decoded.arrow(["kind", "uri", "split", "rows", "filter_reason", "decoder", "decoded_frame_count",
                               "decode_s", "cuts", "reject_reason", "shard_uri", "shard_rows"])
        kind = facts["kind"]
        state.shards = facts.filter(pc.equal(kind, "shard")).select(["shard_uri", "split", "shard_rows"]).to_pylist()
        videos = facts.filter(pc.equal(kind, "video"))
        failed = videos.filter(pc.is_valid(videos["reject_reason"]))
        videos = videos.filter(pc.is_null(videos["reject_reason"]))
        reject_counts = Counter(cleaned.rejects.arrow(["reason"])["reason"].to_pylist()
                                + failed["reject_reason"].to_pylist())
        s.rejects_by_reason, s.files_rejected = dict(reject_counts), sum(reject_counts.values())
        s.files_already_in_lake += cleaned.touched.rows
        s.videos_clipped = videos.num_rows
        s.cuts_found = int(pc.sum(pc.list_value_length(videos["cuts"])).as_py() or 0)
        s.pyav_fallbacks = int(pc.sum(pc.equal(videos["decoder"], "pyav")).as_py() or 0)
        s.frames_decoded = int(pc.sum(videos["decoded_frame_count"]).as_py() or 0)
        s.executor_decode_s = float(pc.sum(videos["decode_s"]).as_py() or 0.0)
        by_filter: dict[str | None, int] = {}
        s.rows_new_per_split = {}
        for r in facts.filter(pc.equal(kind, "clip")).select(["split", "filter_reason", "rows"]).to_pylist():
            by_filter[r["filter_reason"]] = by_filter.get(r["filter_reason"], 0) + 1
            s.rows_new_per_split[r["split"]] = s.rows_new_per_split.get(r["split"], 0) + int(r["rows"] or 0)
        s.clips_new = by_filter.pop(None, 0)
        s.clips_filtered_by_reason = by_filter

        # Rows whose keys the lake does not hold yet (state.present) are appended: a MERGE would scan each table.
        present = state.present
        if state.probed_now is not None and state.probed_now.rows:
            # Only files that passed the gate: their facts are complete (signature included).
            tables.merge_staged("files", state.probed_now, shape=partial(_probed_files, run=run),
                                present=present.get("files"))
        rejects_present = present.get("rejects")
        if cleaned.rejects.rows:
            tables.merge_staged("rejects", cleaned.rejects, shape=partial(row_schemas.with_run_columns,
                                                                          table="rejects", run=run),
                                present=rejects_present)
            if rejects_present is not None:  # the decode's rejects below may name the same files
                rejects_present = pa.concat_tables([rejects_present.select(["dataset", "uri"]), pa.table({
                    "dataset": pa.array([state.cfg.dataset] * cleaned.rejects.rows, pa.string()),
                    "uri": cleaned.rejects.arrow(["uri"])["uri"]})])
        if failed.num_rows:
            tables.merge_staged("rejects", decoded, shape=partial(row_schemas.table_rows, table="rejects", run=run),
                                where=pc.field("kind") == "video",
                                present=rejects_present)
        # Clips before videos: a videos row then always names a video whose clips are committed (done_video_ids).
        if s.clips_new or by_filter:
            tables.merge_staged("clips", decoded, shape=partial(row_schemas.table_rows, table="clips", run=run),
                                where=pc.field("kind") == "clip",
                                present=present["clips"])
        if s.videos_clipped:
            if state.rejected_before:
                # A file that was rejected once and is now good (replaced in place) must not stay in rejects.
                uris = sorted(set(videos["uri"].to_pylist()) & state.rejected_before)
                tables.remove("rejects", pa.table({"dataset": pa.array([state.cfg.dataset] * len(uris), pa.string()),
                                                   "uri": pa.array(uris, pa.string())}))
            _index_videos(state, decoded)
            tables.merge_staged("videos", decoded, shape=partial(row_schemas.table_rows, table="videos", run=run),
                                where=pc.field("kind") == "video",
                                present=present.get("videos"))
        if cleaned.touched.rows:
            _refresh_touched(state, cleaned.touched.arrow(), run)


INDEX_PART_VIDEOS = 100_000
"""Videos indexed per segment of ``video_index`` by the tables stage (a part's rows are held at once)."""


def _index_videos(state: CurateState, decoded: Staged) -> None:
    """Write the lake's index rows (``video_index``) of this run's new videos, before their videos rows: the index
    then holds every videos row. Videos a crashed attempt indexed already are looked up and left."""
    layout = state.cfg.near_dup.band_layout
    root, dataset = state.layout.root, state.cfg.dataset
    accepted = (pc.field("kind") == "video") & pc.field("reject_reason").is_null()
    for part in decoded.parts(where=accepted, rows_per_part=INDEX_PART_VIDEOS):
        known = video_index.lookup_videos(root, dataset, part["video_id"].to_pylist())
        fresh = part.filter(pc.invert(pc.is_in(part["video_id"], value_set=known["video_id"])))
        rows = video_index.index_rows(dataset, state.version, fresh, layout)
        # Bands first: a content row then always names a video whose bands are committed.
        for table in (video_index.BANDS, video_index.CONTENT):
            if table in rows:
                video_index.add(root, table, rows[table])


def _probed_files(probed: Any, run: dict[str, Any]) -> Any:  # noqa: ANN401 - pyarrow Tables
    """``files`` rows of PROBED records that passed the gate."""
    return row_schemas.with_run_columns(probed.filter(pc.is_null(probed["reject_reason"])), "files", run)


def _refresh_touched(state: CurateState, touched: Any, run: dict[str, Any]) -> None:  # noqa: ANN401 - pa.Table
    """Files already in the dataset whose modification time changed: their videos rows get the new file key
    and this run's run_id and time; nothing is decoded again."""
    uris = sorted(touched["uri"].to_pylist())  # a touched file's videos row names its uri already
    videos = delta.read_table(state.layout.root, "videos", where=(pc.field("dataset") == state.cfg.dataset) & (
        pc.field("video_id").isin(touched["video_id"].to_pylist())), within={"uri": (uris[0], uris[-1])})
    at = pc.index_in(videos["video_id"], value_set=touched["video_id"])  # (pyarrow joins skip list columns)
    for name in FILE_KEY:
        videos = videos.set_column(videos.column_names.index(name), name, touched[name].take(at))
    state.tables.merge_arrow("videos", row_schemas.with_run_columns(videos, "videos", run))


class Register(_AfterIngest):
    name, about = "register", "register the dataset version, drop orphan shards and staging"
    reads = ("shards", "cleaned", "latest", "out_uri", "staging")
    writes = ("latest",)

    def run(self, state: CurateState) -> None:
        if state.shards:
            _register(state)
            state.summary.dataset_version = state.version
            state.latest = latest_dataset(state.tables, state.cfg.dataset)
        _remove_orphans(state.out_uri, {s["shard_uri"] for s in state.shards})
        storage.delete_dir(state.staging)


def _register(state: CurateState) -> None:
    """Add dataset version ``state.version``: the previous version's shards plus this run's."""
    cfg, latest, version, shards, tables = state.cfg, state.latest, state.version, state.shards, state.tables
    uris = (list(latest["shard_uris"]) if latest else []) + [s["shard_uri"] for s in shards]
    splits = (list(latest["shard_splits"]) if latest else []) + [s["split"] for s in shards]
    rows = dict(latest["rows_per_split"]) if latest else {}
    for s in shards:
        rows[s["split"]] = rows.get(s["split"], 0) + int(s["shard_rows"])
    per_split = _clips_per_split(tables.layout.root, cfg.dataset, version, latest)
    shape = list(cfg.decode.frames_shape)
    classes = state.cleaned.classes
    sources = {name: tables.version(name) for name in ("videos", "rejects", "clips")}
    row = {
        "name": cfg.dataset, "version": version, "created_at": datetime.now(timezone.utc), "run_id": state.run_id,
        "shard_uris": uris, "shard_splits": splits, "rows_per_split": {s: rows.get(s, 0) for s in SPLITS},
        "clips_per_split": {s: per_split.get(s, (0, 0))[0] for s in SPLITS},
        "videos_per_split": {s: per_split.get(s, (0, 0))[1] for s in SPLITS},
        "frames_shape": shape, "classes": classes,
        "schema_json": json.dumps(describe(shape, classes, cfg.dataset, version), sort_keys=True),
        "build_config_json": json.dumps(cfg.build_settings(), sort_keys=True),
        "source_versions": {k: int(v) for k, v in sources.items() if v is not None},
        "config_yaml": config_lib.to_yaml(cfg),
    }
    # No row can have this key: the version is newer than every registered one (read under the lake lock).
    tables.merge_rows("datasets", [row], update=False, present=pa.table({
        "name": pa.array([], pa.string()), "version": pa.array([], pa.int32())}))


def _clips_per_split(lake_uri: str, dataset: str, version: int,
                     latest: dict[str, Any] | None) -> dict[str, tuple[int, int]]:
    """Kept clips and their videos per split in ``version`` of the dataset, counted from the committed clips
    table (read in this process: no Spark job). Rows of earlier versions never change (a run decodes only videos
    no registered version holds), so when ``latest`` is the version before, its counts plus this version's rows
    are the whole count, and only the newest files of the clips table are read."""
    where = (pc.field("dataset") == dataset) & pc.field("filter_reason").is_null()
    chained = latest is not None and latest["version"] == version - 1 and all(
        latest.get(k) is not None for k in ("clips_per_split", "videos_per_split"))
    if chained:
        clips = delta.read_table(lake_uri, "clips", ["split", "video_id"], where=where & (
            pc.field("dataset_version") == version), within={"dataset_version": (version, version)})
    else:
        clips = delta.read_table(lake_uri, "clips", ["split", "video_id"], where=where & (
            pc.field("dataset_version") <= version))
    counts = {r["split"]: (int(r["clips"]), int(r["videos"])) for r in clips.group_by("split").aggregate(
        [([], "count_all"), ("video_id", "count_distinct")]).rename_columns(["split", "clips", "videos"]).to_pylist()}
    if chained:
        for split in set(counts) | set(latest["clips_per_split"]):
            new_clips, new_videos = counts.get(split, (0, 0))
            counts[split] = (int(latest["clips_per_split"].get(split, 0)) + new_clips,
                             int(latest["videos_per_split"].get(split, 0)) + new_videos)
    return counts


def _remove_orphans(out_uri: str, registered: set[str]) -> None:
    """Delete shard files written by task attempts that did not commit (retries, speculation)."""
    fs, _ = storage.filesystem(out_uri)
    keep = {storage.filesystem(uri)[1] for uri in registered}
    for path in storage.list_files(out_uri):
        if path not in keep:
            logger.info("removing orphan shard %s", path)
            fs.delete_file(path)


STAGES: tuple[Stage, ...] = (Ingest(), Probe(), Clean(), Decode(), WriteTables(), Register())
