"""The lake's Delta tables: each one's columns (Spark DDL, the one spelling) and its content-derived keys.

Spark (``pipelines/tables.py``) and delta-rs (``sora_model.lake.delta``) both take their schemas from here;
``arrow_schema`` reads the DDL without a JVM, so a process without Spark can write a table's rows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sora_model.lake.layout import TABLES as TABLE_NAMES

TABLES: dict[str, str] = {
    "videos": """dataset string, video_id string, uri string, size_bytes long, modified_ms long, container string, codec string,
        width_px int, height_px int, fps double, duration_s double, frame_count long, rotation_deg int,
        signature array<long>, decoded_frame_count long,
        label int, label_name string, split string, decoder string, fallback_reason string, decode_error string,
        clip_count int, clips_filtered int, clips_dropped int, cuts array<int>, run_id string,
        updated_at timestamp""",
    "files": """uri string, size_bytes long, modified_ms long, video_id string, container string, codec string,
        width_px int, height_px int, fps double, duration_s double, frame_count long, rotation_deg int,
        signature array<long>, signature_settings string, run_id string, probed_at timestamp""",
    "rejects": """dataset string, uri string, size_bytes long, modified_ms long, video_id string, stage string, reason string,
        detail string, run_id string, rejected_at timestamp""",
    "clips": """dataset string, dataset_version int, clip_id string, video_id string, clip_index int,
        start_frame long, end_frame long, start_s double, end_s double, label int, label_name string,
        split string, rows int, shard_uri string, sharpness double, detail_ratio double, blank_frac double,
        motion double, letterbox_frac double, filter_reason string, filter_detail string, run_id string""",
    "datasets": """name string, version int, created_at timestamp, run_id string, shard_uris array<string>,
        shard_splits array<string>, rows_per_split map<string,long>, clips_per_split map<string,long>,
        videos_per_split map<string,long>, frames_shape array<int>, classes array<string>, schema_json string,
        build_config_json string, source_versions map<string,long>, config_yaml string""",
    "models": """run_id string, epoch int, step long, variant string, uri string, model_file string, sha256 string,
        size_bytes long, metrics_json string, dataset string, dataset_version int, parent_uri string,
        config_yaml string, created_at timestamp""",
    "predictions": """clip_id string, video_id string, uri string, clip_index int, start_s double, end_s double,
        predicted_label int, predicted_label_name string, probabilities array<double>, model_id string,
        model_uri string, run_id string, scored_at timestamp, alias string, alias_seq int, brightness double,
        motion_energy double, latency_ms double, width_px int, height_px int, codec string""",
    "monitoring": """score_run_id string, model_id string, alias string, alias_seq int, monitored_at timestamp,
        clips long, videos long, class_mix map<string,long>, class_psi double, confidence_p10 double,
        confidence_p50 double, confidence_p90 double, brightness_mean double, brightness_psi double,
        motion_mean double, motion_psi double, resolution_mix map<string,long>, resolution_psi double,
        codec_mix map<string,long>, codec_psi double, latency_ms_p50 double, latency_ms_p95 double,
        labelled_clips long, accuracy double, macro_f1 double, alerts array<string>, config_yaml string""",
    "aliases": """alias string, seq int, model_id string, model_uri string, deployed_id string, deployed_uri string,
        action string, reason string, previous_seq int, set_by string, set_at timestamp""",
    "video_index": """dataset string, key long, dataset_version int, segment string, video_id string, uri string,
        signature array<long>, duration_s double, width_px int, height_px int""",
    "video_bands": """dataset string, key long, video_key long, dataset_version int, segment string""",
    "stream_batches": """stream string, batch_id long, run_id string, window_start timestamp, window_end timestamp,
        model_id string, model_uri string, alias string, alias_seq int, files int, scored_videos int,
        rejected int, predictions long, started_at timestamp, committed_at timestamp, input_uri string,
        uris array<string>""",
    "decisions": """dataset string, dataset_version int, cycle_run_id string, decided_at timestamp, action string,
        reason string, new_clips long, candidate_id string, production_id string, serving_id string,
        promotion_metric string, candidate_new double, production_new double, candidate_old double,
        production_old double, test_clips_new long, test_clips_old long, gain double, regression double,
        scored_videos long, predictions long, alerts array<string>, config_yaml string""",
}

KEYS: dict[str, tuple[str, ...]] = {
    "videos": ("dataset", "video_id"),
    "files": ("uri", "size_bytes", "modified_ms"),
    "rejects": ("dataset", "uri"),
    "clips": ("dataset", "clip_id"),
    "datasets": ("name", "version"),
    "models": ("run_id", "epoch", "variant"),
    "predictions": ("clip_id", "model_id"),
    "aliases": ("alias", "seq"),
    "decisions": ("dataset", "dataset_version"),
    "monitoring": ("score_run_id",),
    "video_index": ("dataset", "key"),
    "video_bands": ("dataset", "key", "video_key"),
    "stream_batches": ("stream", "batch_id"),
}

SCORING_REJECTS = "(scoring)"
"""The ``dataset`` of the rejects rows a scoring run writes (files it could not score); no dataset's name can be
spelled with parentheses. Every other videos and rejects row belongs to the dataset its ``dataset`` names: one
lake holds many datasets over the same files, each with its own membership, split, clip counts and rejects; what
a file is (its content id, probe facts and signature) is found once, in ``files``, and every dataset reuses it."""


_SCALARS = {"string": "string", "long": "int64", "int": "int32", "double": "float64", "boolean": "bool_",
            "timestamp": "timestamp"}


def _arrow_type(ddl: str) -> Any:  # noqa: ANN401 - a pyarrow DataType
    import pyarrow as pa

    ddl = ddl.strip()
    if ddl.startswith("array<") and ddl.endswith(">"):
        return pa.list_(pa.field("element", _arrow_type(ddl[6:-1])))
    if ddl.startswith("map<") and ddl.endswith(">"):
        key, value = ddl[4:-1].split(",", 1)  # keys are scalars here
        return pa.map_(_arrow_type(key), _arrow_type(value))
    if ddl not in _SCALARS:
        raise RuntimeError(f"bug: table DDL type {ddl!r} has no Arrow type here; add it to _SCALARS")
    return pa.timestamp("us", tz="UTC") if ddl == "timestamp" else getattr(pa, _SCALARS[ddl])()


def _columns(ddl: str) -> list[tuple[str, str]]:
    """``name type`` pairs of a DDL column list (split on the commas outside ``<>``)."""
    out, depth, current = [], 0, ""
    for ch in " ".join(ddl.split()) + ",":
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            name, _, kind = current.strip().partition(" ")
            out.append((name, kind.strip()))
            current = ""
        else:
            current += ch
    return out


def key_condition(keys: tuple[str, ...] | list[str]) -> str:
    """The MERGE condition matching target ``t`` and source ``s`` on ``keys`` (Spark's and delta-rs's syntax)."""
    return " AND ".join(f"t.{k} = s.{k}" for k in keys)


@cache
def arrow_schema(name: str) -> Any:  # noqa: ANN401 - a pyarrow Schema
    """Table ``name``'s schema in Arrow (timestamps in microseconds, UTC: what Spark writes to Delta)."""
    import pyarrow as pa

    return pa.schema([pa.field(col, _arrow_type(kind)) for col, kind in _columns(TABLES[name])])


if set(TABLES) != set(TABLE_NAMES) or set(KEYS) != set(TABLE_NAMES):
    raise RuntimeError(f"bug: table schemas {sorted(TABLES)} and keys {sorted(KEYS)} must cover the lake's tables "
                       f"{sorted(TABLE_NAMES)}")
