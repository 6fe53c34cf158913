"""Build, evaluate and describe every variant of one training checkpoint (Spark-free; the job registers).

Variants land in ``<lake>/models/<run_id>/<variant>/`` (model file + model card, published with
``storage.publishing`` so the card appears last), each naming its parent checkpoint. Every variant, the fp32
checkpoint included, is evaluated on the same split in the same process with the same thread count.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader

from sora_model import config as config_lib
from sora_model.dataset.catalog import load_dataset
from sora_model.dataset.loader import ShardDataset
from sora_model.dataset.reader import ReaderConfig
from sora_model.deploy.compress import (
    CompressConfig,
    channel_prune,
    finalize_pruning,
    fit,
    magnitude_prune,
    new_student,
    parameter_count,
    sparsity_of,
)
from sora_model.deploy.quantize import (
    export_onnx,
    onnx_max_abs_diff,
    onnx_parameter_count,
    quantize_dynamic_int8,
    quantize_static_int8,
    quantized_layer_bytes,
)
from sora_model.deploy.evaluation import quality, speed, split_arrays
from sora_model.deploy.variants import load_predictor, load_torch_model
from sora_model.lake import storage
from sora_model.lake.card import CARD_FILE, MODEL_FILES, ModelFormat, read_card, write_card
from sora_model.lake.layout import LakeLayout, checkpoint_name, epoch_of
from sora_model.tracking import flat_params, tracked
from sora_model.train.loop import TrainConfig, seed_everything
from sora_model.train.loop import evaluate as evaluate_split
from sora_model.train.model import ModelConfig
from sora_model.train.model_spec import ModelSpec
from sora_model.train.symmetries import LabelSymmetries

logger = logging.getLogger(__name__)

EVALUATION_FACTS = ("quantized_layers", "sparsity", "onnx_max_abs_logit_diff", "widths", "calibration_clips")
"""Card facts repeated in a variant's evaluation metrics (and so in the models table's metrics_json)."""


def find_checkpoint(lake_uri: str, run_id: str | None, epoch: int | None) -> str:
    """URI of the checkpoint to compress: the given one, else the best validation epoch (the later one on a tie)
    of ``run_id`` (default: the newest run with a checkpoint)."""
    layout = LakeLayout.of(lake_uri)
    if run_id is None:
        found = [r for r in layout.training_runs() if layout.checkpoints(r)]
        if not found:
            raise ValueError(f"no training run with a checkpoint under {layout.models}")
        run_id = found[-1]
    ckpts = layout.checkpoints(run_id)
    if not ckpts:
        raise ValueError(f"run {run_id!r} has no complete checkpoint under {layout.training_run(run_id)}")
    if epoch is not None:
        match = [c for c in ckpts if epoch_of(c) == epoch]
        if not match:
            raise ValueError(f"run {run_id!r} has no checkpoint epoch-{epoch} "
                             f"(has {[checkpoint_name(epoch_of(c)) for c in ckpts]})")
        return match[0]

    def val_accuracy(ckpt: str) -> float:
        return float(read_card(ckpt).metrics.get("val", {}).get("accuracy", -1))

    return max(ckpts, key=lambda c: (val_accuracy(c), epoch_of(c)))


class CompressRun:
    def __init__(self, cfg: CompressConfig) -> None:
        self.cfg = cfg
        self.checkpoint = find_checkpoint(cfg.lake_uri, cfg.run_id, cfg.epoch)
        self.card = read_card(self.checkpoint)
        self.layout = LakeLayout.of(cfg.lake_uri)
        self.run_dir = self.layout.training_run(self.card.run_id)
        self.teacher = load_torch_model(self.checkpoint, self.card)
        self.teacher_spec = ModelSpec.from_card(self.card)
        run_cfg = storage.join(self.run_dir, "config.yaml")
        self.train_cfg = (config_lib.build(TrainConfig, yaml.safe_load(storage.read_text(run_cfg)))
                          if storage.is_file(run_cfg) else TrainConfig())
        self.dataset = load_dataset(cfg.lake_uri, self.card.dataset, self.card.dataset_version)
        self.frames_shape = list(self.dataset.frames_shape)
        self.symmetries = LabelSymmetries(self.train_cfg.symmetries, self.dataset.classes, self.frames_shape)

    # --- data -------------------------------------------------------------------------------------------------
    def _reader(self, batch_size: int) -> tuple[ShardDataset, int]:
        data = ShardDataset(self.dataset.shards["train"],
                            ReaderConfig(batch_size=batch_size, shuffle_buffer=256, seed=self.cfg.seed))
        return data, len(data)

    def _batches(self, batch_size: int):  # noqa: ANN202 - (epoch -> batches, steps per epoch)
        data, steps = self._reader(batch_size)

        def per_epoch(epoch: int):  # noqa: ANN202
            data.set_epoch(epoch)
            return DataLoader(data, batch_size=None, num_workers=1)

        return per_epoch, steps

    def _calibration(self) -> list[np.ndarray]:
        per_epoch, _ = self._batches(16)
        out, n = [], 0
        for batch in per_epoch(0):
            out.append(batch["frames"].numpy())
            n += len(out[-1])
            if n >= self.cfg.calibration_clips:
                break
        return out

    def _val_accuracy(self) -> Callable[[nn.Module], float] | None:
        """Validation accuracy as training measures it (``evaluate_split``), by which a distilled student keeps its best
        epoch (its accuracy at the last epoch swung by 15 points between seeds on the demo); None when the dataset
        has no val rows."""
        if not self.dataset.shards.get("val"):
            logger.info("no validation rows: the distilled student keeps its last epoch")
            return None
        return lambda model: float(evaluate_split(model, self.dataset, "val", 256, torch.device("cpu"))["accuracy"])

    # --- writing ---------------------------------------------------------------------------------------------
    def _write(self, name: str, fmt: ModelFormat, write_model: Callable[[str], dict[str, Any] | None],
               spec: ModelSpec | None, facts: dict[str, Any]) -> str:
        """Write the model file with ``write_model(path)`` (which may return more facts for the card, and may
        raise to keep a bad file out of the lake), then the card; published to the lake only when complete.
        ``spec``: the PyTorch model the file is (or was exported from); None for a graph of its own."""
        final = self.layout.variant(self.card.run_id, name)
        with storage.publishing(final, marker=CARD_FILE) as tmp:
            model_path = os.path.join(tmp, MODEL_FILES[fmt])
            facts = {**facts, **(write_model(model_path) or {})}
            write_card(tmp, dataclasses.replace(
                self.card, variant=name, format=fmt, parent_uri=self.checkpoint, parent_sha256=self.card.sha256,
                sha256=storage.sha256_file(model_path), size_bytes=os.path.getsize(model_path),
                classes=self.dataset.classes, frames_shape=self.frames_shape, dataset=self.dataset.name,
                dataset_version=self.dataset.version, model_config=spec.args if spec else None,
                model_class=spec.class_path if spec else self.card.model_class, metrics={}, history=None,
                created_at=datetime.now(timezone.utc).isoformat(), facts=facts))
        return final

    def _save_torch(self, name: str, model: nn.Module, spec: ModelSpec, facts: dict[str, Any]) -> str:
        facts = {"params": parameter_count(model), **facts}
        return self._write(name, "torch", lambda p: torch.save(model.state_dict(), p), spec, facts)

    @property
    def student_base(self) -> ModelConfig:
        """The built-in model a distilled student is a smaller copy of: the teacher's, or for a teacher of another
        class the built-in defaults sized for the dataset."""
        if self.teacher_spec.builtin:
            return self.teacher_spec.builtin_config
        return ModelSpec.of_builtin(ModelConfig()).for_data(self.dataset.classes, self.frames_shape).builtin_config

    # --- variants ---------------------------------------------------------------------------------------------
    def build(self, eval_clips: np.ndarray, families: tuple[str, ...] | None = None) -> list[str]:
        """Build ``families`` (default: every configured variant), in the order of ``BUILD_GROUPS``."""
        cfg, made = self.cfg, []
        wanted = set(cfg.variants if families is None else families)
        onnx_dir = None
        if {"onnx", "int8-dynamic", "int8-static"} & wanted:
            logger.info("variant onnx: exporting")

            def export(path: str) -> dict[str, Any]:
                export_onnx(self.teacher, path, self.frames_shape)
                diff = onnx_max_abs_diff(self.teacher, path, eval_clips)
                if diff > cfg.max_onnx_abs_diff:
                    raise RuntimeError(f"bug: ONNX export differs from PyTorch by {diff:.2e} in a logit "
                                       f"(allowed {cfg.max_onnx_abs_diff:.0e})")
                return {"params": onnx_parameter_count(path), "onnx_max_abs_logit_diff": diff}

            onnx_dir = self._write("onnx", "onnx", export, self.teacher_spec, {})
            if "onnx" in wanted:
                made.append(onnx_dir)
        if "int8-dynamic" in wanted:
            logger.info("variant int8-dynamic: quantizing")
            def dynamic(path: str) -> dict[str, Any]:
                with storage.open_local(storage.join(onnx_dir, MODEL_FILES["onnx"])) as graph:
                    quantize_dynamic_int8(graph, path)
                return self._int8_facts(path)

            made.append(self._write("int8-dynamic", "onnx", dynamic, None, {}))
        if "int8-static" in wanted:
            logger.info("variant int8-static: calibrating on %d train clips", cfg.calibration_clips)
            calibration = self._calibration()
            def static(path: str) -> dict[str, Any]:
                with storage.open_local(storage.join(onnx_dir, MODEL_FILES["onnx"])) as graph:
                    quantize_static_int8(graph, path, iter(calibration))
                return self._int8_facts(path)

            made.append(self._write("int8-static", "onnx", static, None,
                                    {"calibration_clips": int(sum(len(c) for c in calibration))}))
        if "pruned" in wanted:
            logger.info("variant pruned-%g: magnitude pruning + %d fine-tune epochs", cfg.sparsity,
                        cfg.finetune.epochs)
            seed_everything(cfg.seed)
            model = copy.deepcopy(self.teacher)
            magnitude_prune(model, cfg.sparsity)
            self._finetune(model)
            finalize_pruning(model)
            made.append(self._save_torch(f"pruned-{cfg.sparsity:g}", model, self.teacher_spec,
                                         {"sparsity": sparsity_of(model), "method": "global L1 unstructured"}))
        if "pruned-channels" in wanted and not self.teacher_spec.builtin:
            logger.warning("variant pruned-channels-%g skipped: channel pruning rebuilds the built-in SoraModel's "
                           "conv blocks, and this checkpoint is a %s", cfg.channel_sparsity,
                           self.teacher_spec.class_path)
        elif "pruned-channels" in wanted:
            logger.info("variant pruned-channels-%g: structured pruning + %d fine-tune epochs",
                        cfg.channel_sparsity, cfg.finetune.epochs)
            seed_everything(cfg.seed)
            model = channel_prune(self.teacher, cfg.channel_sparsity)
            self._finetune(model)
            made.append(self._save_torch(f"pruned-channels-{cfg.channel_sparsity:g}", model,
                                         ModelSpec.of_builtin(model.cfg),
                                         {"method": "L1 x BN-gain channel pruning",
                                          "widths": list(model.cfg.widths)}))
        if "distilled" in wanted:
            d = cfg.distill
            logger.info("variant distilled: student widths %s, %d epochs (T=%g, alpha=%g)", list(d.widths),
                        d.epochs, d.temperature, d.alpha)
            seed_everything(cfg.seed)
            student = new_student(self.teacher, d, self.student_base)
            per_epoch, steps = self._batches(d.batch_size)
            fit(student, per_epoch, d.epochs, d.lr, steps, transform=self.symmetries, teacher=self.teacher,
                temperature=d.temperature, alpha=d.alpha, schedule=True, score=self._val_accuracy())
            made.append(self._save_torch("distilled", student, ModelSpec.of_builtin(student.cfg),
                                         {"temperature": d.temperature, "alpha": d.alpha}))
        return made

    def _finetune(self, model: nn.Module) -> None:
        f = self.cfg.finetune
        if f.epochs:
            per_epoch, steps = self._batches(f.batch_size)
            fit(model, per_epoch, f.epochs, f.lr, steps, transform=self.symmetries)

    @staticmethod
    def _int8_facts(path: str) -> dict[str, Any]:
        return {"params": onnx_parameter_count(path), "quantized_layers": quantized_layer_bytes(path)}

    # --- evaluation -------------------------------------------------------------------------------------------
    def evaluate(self, variant_dirs: list[str], frames: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
        """One row per model (the fp32 checkpoint first): its evaluation on the same clips, with the same threads.
        Each variant's card gets its evaluation as ``metrics``."""
        rows = []
        for vdir in [self.checkpoint, *variant_dirs]:
            with storage.open_local_dir(vdir) as local:
                predictor = load_predictor(local, threads=self.cfg.threads)
            card = predictor.card
            logger.info("evaluating %s on %d %s clips", predictor.name, len(frames), self.cfg.eval_split)
            metrics = {self.cfg.eval_split: quality(predictor, frames, labels),
                       "speed": speed(predictor, frames, runs=self.cfg.latency_runs,
                                      batch_size=self.cfg.throughput_batch), "threads": self.cfg.threads}
            metrics.update({k: card.facts[k] for k in EVALUATION_FACTS if k in card.facts})
            rows.append({"variant": predictor.name, "format": predictor.format, "uri": vdir,
                         "model_file": card.model_file, "sha256": card.sha256, "size_bytes": int(card.size_bytes),
                         "params": predictor.params, "parent_uri": card.parent_uri, "metrics": metrics})
            if vdir != self.checkpoint:
                write_card(vdir, dataclasses.replace(card, metrics=metrics))
        return rows


BUILD_GROUPS: tuple[tuple[str, ...], ...] = (("onnx", "int8-dynamic", "int8-static"), ("pruned",),
                                            ("pruned-channels",), ("distilled",))
"""Variant families that can be built apart (one task each); the int8 variants quantize the ONNX graph of their
group."""

TaskMap = Callable[[Callable[[Any], Any], list[Any]], list[Any]]
"""Runs a function over items, each item in a task of its own (for example on Spark's executors), and returns the
results in the items' order."""


def build_groups(variants: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The configured variants in tasks that can run at the same time."""
    return [g for g in (tuple(v for v in group if v in variants) for group in BUILD_GROUPS) if g]


def build_group(cfg: CompressConfig, families: tuple[str, ...]) -> list[str]:
    """One task's variants (``families`` of ``build_groups``), written to the lake; their directories."""
    run = CompressRun(cfg)
    frames, _ = split_arrays(run.dataset, cfg.eval_split)
    return run.build(frames[:64], families)


def evaluate_variants(cfg: CompressConfig, variant_dirs: list[str]) -> list[dict[str, Any]]:
    """The evaluation rows of the checkpoint and ``variant_dirs``, all in this process (their speeds compare)."""
    run = CompressRun(cfg)
    return run.evaluate(variant_dirs, *split_arrays(run.dataset, cfg.eval_split))


def run_compress(cfg: CompressConfig, tracking_parent: str | None = None,
                 tasks: TaskMap | None = None) -> tuple[CompressRun, list[dict[str, Any]]]:
    """Build the configured variants of the chosen checkpoint and evaluate them all (fp32 first); mirrored into
    MLflow when ``tracking.mlflow_uri`` is set (nested under ``tracking_parent`` when given).

    With ``tasks``, the variants are built in one task per group of ``build_groups`` and evaluated together in
    one more task (on a cluster: on the executors, the driver only reads the checkpoint's card); else all here."""
    run = CompressRun(cfg)
    with tracked(cfg.tracking, "compress", run.card.model_id, parent=tracking_parent,
                 tags={"sora.checkpoint": run.checkpoint, "sora.run_id": run.card.run_id,
                       "sora.dataset": f"{run.card.dataset} v{run.card.dataset_version}"}) as tracker:
        tracker.log_params({**flat_params(cfg, skip=("run_id", "epoch")), "checkpoint_epoch": run.card.epoch})
        if tasks is None:
            frames, labels = split_arrays(run.dataset, cfg.eval_split)
            made = run.build(frames[:64])
            rows = run.evaluate(made, frames, labels)
        else:
            # Every task compresses the same checkpoint, whatever runs the lake gains meanwhile.
            pinned = dataclasses.replace(cfg, run_id=run.card.run_id, epoch=run.card.epoch)
            made = [d for dirs in tasks(functools.partial(build_group, pinned), build_groups(cfg.variants))
                    for d in dirs]
            rows = tasks(functools.partial(evaluate_variants, pinned), [made])[0]
        for r in rows:
            tracker.log_metrics({r["variant"]: {**r["metrics"], "size_bytes": r["size_bytes"], "params": r["params"]}})
        tracker.set_tags({**{f"variant.{r['variant']}": r["uri"] for r in rows},
                          "comparison.png": storage.join(run.run_dir, "comparison.png")})
    return run, rows


def ratios(rows: list[dict[str, Any]], split: str, batch: int) -> list[dict[str, Any]]:
    """Each variant against fp32 (PyTorch) and, for ONNX Runtime variants, against the fp32 ONNX graph."""
    by = {r["variant"]: r for r in rows}
    base = by["fp32"]
    onnx = by.get("onnx")
    out = []
    for r in rows:
        if r["variant"] == "fp32":
            continue
        ref = onnx if r["format"] == "onnx" and onnx is not None and r is not onnx else base
        line = {
            "variant": r["variant"], "against": ref["variant"],
            "size_x": ref["size_bytes"] / r["size_bytes"],
            "latency_x": ref["metrics"]["speed"]["latency_ms_p50"] / r["metrics"]["speed"]["latency_ms_p50"],
            "throughput_x": (r["metrics"]["speed"][f"throughput_clips_per_s_b{batch}"]
                             / ref["metrics"]["speed"][f"throughput_clips_per_s_b{batch}"]),
            "accuracy_drop_points": 100 * (base["metrics"][split]["accuracy"] - r["metrics"][split]["accuracy"]),
        }
        if ref is not base:
            line["latency_x_vs_fp32"] = (base["metrics"]["speed"]["latency_ms_p50"]
                                         / r["metrics"]["speed"]["latency_ms_p50"])
            line["throughput_x_vs_fp32"] = (r["metrics"]["speed"][f"throughput_clips_per_s_b{batch}"]
                                            / base["metrics"]["speed"][f"throughput_clips_per_s_b{batch}"])
        q = r["metrics"].get("quantized_layers")
        if q and q["int8_bytes"]:
            line["quantized_layers_size_x"] = q["fp32_bytes"] / q["int8_bytes"]
        out.append(line)
    return out
