"""The report's sections, in page order (``SECTIONS``): each a function of the ``LakeView`` that returns a
``Section``; a section whose data does not exist yet (no training run, no decision, no scoring) says so instead
of failing."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import yaml

from sora_model.lake import storage
from sora_model.lake.aliases import PRODUCTION
from sora_model.lake.card import parse_model_id
from sora_model.report import plots
from sora_model.report.view import LakeView, Section, val_metrics


def _name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def files_section(view: LakeView) -> Section:
    s = Section("files", "Files in and reject reasons")
    reasons = Counter(r["reason"] for r in view.rejects)
    s.text(f"{len(view.videos) + len(view.rejects)} files seen under the inputs: {len(view.videos)} curated videos, "
           f"{len(view.rejects)} rejected (each with a reason; curated + rejected = files seen).")
    if reasons:
        s.figure("rejects.png", plots.bars(list(reasons), list(reasons.values()), "Rejected files by reason",
                                           "files"), "rejected files by reason")
        examples: dict[str, dict[str, Any]] = {}
        for r in view.rejects:
            examples.setdefault(r["reason"], r)
        s.table(["reason", "stage", "files", "example", "detail"],
                [[k, examples[k]["stage"], n, _name(examples[k]["uri"]), (examples[k]["detail"] or "")[:120]]
                 for k, n in reasons.most_common()])
    codecs = Counter(f"{v['codec']} {v['width_px']}x{v['height_px']}" for v in view.videos)
    if codecs:
        s.table(["codec and size of curated videos", "videos"], [[k, n] for k, n in codecs.most_common(12)])
    return s


def clips_section(view: LakeView) -> Section:
    s = Section("clips", "Clip lengths")
    if not view.clips:
        return s.text(f"No clips of dataset {view.cfg.dataset} yet.")
    kept = [r["end_s"] - r["start_s"] for r in view.clips if not r["filter_reason"]]
    dropped = [r["end_s"] - r["start_s"] for r in view.clips if r["filter_reason"]]
    s.text(f"{len(view.clips)} clips of dataset {view.cfg.dataset}: {len(kept)} kept, {len(dropped)} filtered "
           "out by the quality filters.")
    s.figure("clip_lengths.png", plots.histogram({"kept": kept, "filtered": dropped}, "Clip lengths",
                                                 "clip length (s)"), "clip length histogram")
    why = Counter(r["filter_reason"] for r in view.clips if r["filter_reason"])
    if why:
        s.table(["filter reason", "clips"], [[k, n] for k, n in why.most_common()])
    return s


def splits_section(view: LakeView) -> Section:
    s = Section("splits", "Split sizes")
    if not view.datasets:
        return s.text(f"Dataset {view.cfg.dataset} has no version yet.")
    splits = ("train", "val", "test")
    versions = [f"v{d['version']}" for d in view.datasets]
    clips = {sp: [float(dict(d["clips_per_split"] or {}).get(sp, 0)) for d in view.datasets] for sp in splits}
    s.figure("splits.png", plots.stacked(versions, clips, f"Clips per split, dataset {view.cfg.dataset}",
                                         "clips"), "clips per split and version")
    s.text("Splits are by video: a video's clips are all in one split, and a video keeps its split in later "
           "versions.")
    s.table(["version", "created", "curate run", *[f"{sp} clips" for sp in splits],
             *[f"{sp} videos" for sp in splits], "classes"],
            [[f"v{d['version']}", d["created_at"], d["run_id"],
              *[dict(d["clips_per_split"] or {}).get(sp, 0) for sp in splits],
              *[dict(d["videos_per_split"] or {}).get(sp, 0) for sp in splits], len(d["classes"])]
             for d in view.datasets])
    return s


def training_section(view: LakeView) -> Section:
    s = Section("training", "Training curves")
    checkpoints = [r for r in view.models if r["variant"] == "fp32"]
    if not checkpoints:
        return s.text("No training run is registered in the models table yet.")
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in checkpoints:
        by_run[r["run_id"]].append(r)
    newest = sorted(by_run, key=lambda k: min(r["created_at"] for r in by_run[k]))[-view.cfg.max_runs:]
    runs: dict[str, dict[str, Any]] = {}
    table = []
    for run_id in newest:
        rows = sorted(by_run[run_id], key=lambda r: r["epoch"])
        log = storage.join(view.layout.training_run(run_id), "steps.jsonl")
        steps = [json.loads(line) for line in storage.read_text(log).splitlines()] if storage.is_file(log) else []
        epochs = [(r["epoch"], val_metrics(r).get("accuracy", 0.0), val_metrics(r).get("macro_f1", 0.0)) for r in rows]
        runs[run_id] = {"steps": [(p["step"], p["loss"]) for p in steps], "epochs": epochs,
                        "steps_per_epoch": len(steps) // max(len(rows), 1)}
        best = max(epochs, key=lambda e: (e[1], e[0]))
        init = _init_from(view, run_id)
        table.append([run_id, f"{rows[0]['dataset']} v{rows[0]['dataset_version']}", len(rows), best[0], best[1],
                      best[2], init or "random init"])
    s.figure("training.png", plots.training_curves(runs), "training loss and validation accuracy")
    s.table(["run", "dataset", "epochs", "best epoch", "val accuracy", "val macro F1", "started from"], table)
    return s


def confusion_section(view: LakeView) -> Section:
    s = Section("confusion", "Confusion matrix")
    focus = view.focus_checkpoint
    if focus is None:
        return s.text("No checkpoint to show yet.")
    uri, card = focus
    val = card.metrics.get("val") or {}
    if "confusion_matrix" not in val:
        return s.text(f"{card.model_id} has no validation confusion matrix in its model card.")
    which = "the model in use" if view.production else "the newest run's best epoch"
    s.figure("confusion.png", plots.confusion(val["confusion_matrix"], card.classes,
                                              f"{card.model_id}: validation, {val.get('samples')} clips"),
             "confusion matrix")
    s.text(f"{which} ({card.model_id}) on its validation split: accuracy {val.get('accuracy', 0):.3f}, macro F1 "
           f"{val.get('macro_f1', 0):.3f}. Rows are the true class, columns the predicted one; colour is the share "
           "of the row.")
    return s


def compression_section(view: LakeView) -> Section:
    from sora_model.deploy.comparison import plot, table

    s = Section("compression", "Compression trade-off")
    focus = view.focus_checkpoint
    runs = [focus[1].run_id] if focus else []
    runs += sorted({r["run_id"] for r in view.models if r["variant"] != "fp32"} - set(runs), reverse=True)
    for run_id in runs:
        path = storage.join(view.layout.training_run(run_id), "comparison.json")
        if storage.is_file(path):
            data = json.loads(storage.read_text(path))
            rows = data["rows"]
            split = data.get("split") or next(k for k, v in rows[0]["metrics"].items()
                                               if isinstance(v, dict) and "accuracy" in v)
            batch = data.get("throughput_batch") or int(next(
                k for k in rows[0]["metrics"]["speed"] if k.startswith("throughput"))
                .rsplit("_b", 1)[1])
            s.text(f"Variants of {data['checkpoint']}, each evaluated on the same {split} clips with the same "
                   "threads.")
            s.figure("compression.png", plot(rows, split), "compression trade-off")
            return s.pre(table(rows, split, batch))
    return s.text("No compressed variants yet.")


def promotion_section(view: LakeView) -> Section:
    s = Section("promotion", "Promotion history")
    d = view.decisions
    if not d:
        s.text("No update cycle has decided a dataset version yet.")
    else:
        metric = next((r["promotion_metric"] for r in d if r["promotion_metric"]), "macro_f1")
        s.figure("promotion.png", plots.promotion_history(
            [r["dataset_version"] for r in d], [r["candidate_new"] for r in d], [r["production_new"] for r in d],
            [r["action"] for r in d], metric), "promotion decisions per dataset version")
        s.table(["version", "decided", "action", "new clips", "candidate", "in use before", "cand. new",
                 "in use new", "cand. old", "in use old", "gain", "regression", "why"],
                [[f"v{r['dataset_version']}", r["decided_at"], r["action"], r["new_clips"], r["candidate_id"],
                  r["production_id"], r["candidate_new"], r["production_new"], r["candidate_old"],
                  r["production_old"], r["gain"], r["regression"], r["reason"]] for r in d])
    if view.aliases:
        s.text(f"History of the {PRODUCTION} alias (newest last; a rollback returns to the entry it names):")
        s.table(["entry", "action", "serves", "checkpoint", "by", "at", "reason"],
                [[a["seq"], a["action"], a["deployed_id"], a["model_id"], a["set_by"], a["set_at"], a["reason"]]
                 for a in view.aliases])
    return s


def drift_section(view: LakeView) -> Section:
    s = Section("drift", "Drift over time")
    m = view.monitoring
    if not m:
        return s.text("No scoring run has been monitored yet.")
    thresholds = (yaml.safe_load(m[-1]["config_yaml"] or "{}") or {}).get("thresholds", {})
    times = [f"{r['monitored_at']:%m-%d %H:%M}" for r in m]
    names = ("class", "brightness", "motion", "resolution", "codec")
    s.figure("drift.png", plots.drift(times, {n: [r[f"{n}_psi"] for r in m] for n in names},
                                      thresholds.get("max_input_psi"),
                                      "Drift of each scoring run from its model's train split"), "drift over time")
    s.table(["scoring run", "model", "clips", "class PSI", "brightness PSI", "motion PSI", "confidence p50",
             "latency p95 ms", "accuracy", "alerts"],
            [[r["score_run_id"], r["model_id"], r["clips"], r["class_psi"], r["brightness_psi"], r["motion_psi"],
              r["confidence_p50"], r["latency_ms_p95"], r["accuracy"], "; ".join(r["alerts"] or []) or "none"]
             for r in m])
    return s


def lineage_section(view: LakeView) -> Section:
    s = Section("lineage", "Lineage of the deployed model")
    p = view.production
    if p is None:
        return s.text(f"No model is deployed yet (the {PRODUCTION} alias is unset).")
    steps: list[list[Any]] = [["deployed variant", p["deployed_id"], p["deployed_uri"]]]
    deployed = view.card(p["deployed_uri"])
    if deployed and deployed.parent_uri:
        steps.append(["made from checkpoint", p["model_id"], deployed.parent_uri])
    card = view.card(p["model_uri"])
    if card is None:
        return s.table(["step", "what", "where"], steps).text(f"The checkpoint {p['model_uri']} has no model card.")
    steps.append(["trained by run", f"{card.run_id}, epoch {card.epoch} ({card.step} steps)",
                  view.layout.training_run(card.run_id)])
    init, seen = _init_from(view, card.run_id), {card.run_id}
    while init and len(seen) < 10:  # the warm-start chain, back to a random init
        steps.append(["warm-started from", init, ""])
        parsed = parse_model_id(init.rstrip("/").split("/models/", 1)[-1].replace("epoch-", ""))
        run = parsed[0] if parsed else None
        if run is None or run in seen:
            break
        seen.add(run)
        init = _init_from(view, run)
    # The model's own dataset, which need not be the one the report is about.
    dataset = next((d for d in view.datasets_of(card.dataset) if d["version"] == card.dataset_version), None)
    steps.append(["on dataset version", f"{card.dataset} v{card.dataset_version}",
                  view.layout.dataset_version(card.dataset, card.dataset_version)])
    if dataset:
        steps.append(["curated by run", dataset["run_id"], view.layout.run_record(dataset["run_id"])])
    clips = [c for c in view.clips_of(card.dataset)
             if c["dataset_version"] <= card.dataset_version and not c["filter_reason"]]
    per_split = Counter(c["split"] for c in clips)
    steps.append(["from clips", f"{len(clips)} ({', '.join(f'{k} {n}' for k, n in sorted(per_split.items()))})",
                  view.layout.table("clips")])
    video_clips = Counter(c["video_id"] for c in clips)
    steps.append(["cut from source videos", len(video_clips), view.layout.table("videos")])
    served = view.rows("predictions", ["alias", "alias_seq"])
    steps.append(["has served", f"{sum(1 for r in served if r['alias'] == PRODUCTION and r['alias_seq'] == p['seq'])}"
                  f" predictions as {PRODUCTION} entry {p['seq']}", view.layout.table("predictions")])
    s.table(["step", "what", "where"], steps)
    uris = {v["video_id"]: v for v in view.videos_of(card.dataset)}
    listed = [[uris[v]["uri"] if v in uris else v, (uris.get(v) or {}).get("label_name"), n]
              for v, n in video_clips.most_common(view.cfg.lineage_videos)]
    if listed:
        more = len(video_clips) - len(listed)
        s.text(f"Source videos (most clips first{f'; {more} more not listed' if more > 0 else ''}):")
        s.table(["video", "label", "clips"], listed)
    return s


def _init_from(view: LakeView, run_id: str) -> str | None:
    uri = storage.join(view.layout.training_run(run_id), "config.yaml")
    return (yaml.safe_load(storage.read_text(uri)) or {}).get("init_from") if storage.is_file(uri) else None


SECTIONS: tuple[Callable[[LakeView], Section], ...] = (
    files_section, clips_section, splits_section, training_section, confusion_section, compression_section,
    promotion_section, drift_section, lineage_section)
"""The report's sections, in page order."""
