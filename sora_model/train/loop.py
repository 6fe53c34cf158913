"""Training loop of the Sora model over curated shards: DDP-aware, seeded, resumable from the lake.

Checkpoints go to ``<lake>/models/<run_id>/epoch-<n>/`` (rank 0): ``model.pt`` (a state_dict, loadable with
``torch.load(weights_only=True)``), ``train_state.pt`` (optimizer, scheduler, RNG and reader state) and
the model card ``meta.json``, published with ``storage.publishing`` (the card appears last), so a half-written
checkpoint is never picked up by ``resume``. Every optimizer step's loss goes to ``steps.jsonl``, written once
per epoch just before the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from sora_model.dataset.catalog import DatasetVersion, load_dataset
from sora_model.dataset.loader import ShardDataset
from sora_model.dataset.reader import ReaderConfig, iter_eval_batches, scan_row_groups
from sora_model.dataset.shard_cache import ShardCache
from sora_model.deploy.variants import load_state_dict
from sora_model.lake import storage
from sora_model.lake.card import CARD_FILE, ModelCard, read_card, write_card
from sora_model.lake.layout import LakeLayout, checkpoint_name, epoch_of
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.tracking import Tracker, TrackingConfig, flat_params, tracked
from sora_model.train.metrics import classification_metrics, confusion_matrix, direction_metrics
from sora_model.train.model import ModelConfig
from sora_model.train.model_spec import ModelSpec
from sora_model.train.symmetries import LabelSymmetries, SymmetryConfig, label_permutation

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    lr: float = 2e-3
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    warmup_steps: int = 20
    """Linear warmup steps before the cosine decay to zero."""
    grad_clip: float = 1.0
    """Gradient norm clip; 0 turns it off."""

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("lr must be > 0; weight_decay, warmup_steps and grad_clip >= 0")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    lake_uri: str = "lake"
    """Lake holding the dataset (datasets table) and receiving checkpoints under models/."""
    dataset: str = "demo"
    """Dataset name in the datasets table."""
    dataset_version: int | None = None
    """Dataset version; None takes the newest."""
    run_id: str | None = None
    """Training run id; None makes a new one (or, with resume, takes the newest run)."""
    resume: bool = False
    """Continue the run from its newest complete checkpoint."""
    init_from: str | None = None
    """Warm start: begin from this checkpoint's weights (and its model shape; the optimizer starts fresh): a
    checkpoint directory URI or <run_id>/<epoch>. Its classes must be the dataset's. None: random init."""
    epochs: int = 12
    """Passes over the train split."""
    seed: int = 0
    """Seeds model init, dropout and the reader's order."""
    num_workers: int = 1
    """DataLoader worker processes per rank."""
    eval_batch_size: int = 64
    """Batch size of validation (rank 0 evaluates every validation row)."""
    log_every_steps: int = 10
    """Progress line every this many optimizer steps."""
    model: ModelConfig | str = field(default_factory=lambda: ModelConfig(widths=(16, 32, 64), embed_dim=64,
                                                                          heads=4))
    """The built-in SoraModel's options (model.* below), or the import path of your own torch.nn.Module class,
    package.module:Class: it is built as Class(num_classes=..., frames_shape=[T, H, W, 3], **model_args) and
    its forward takes uint8 clips [B, T, H, W, 3] and returns logits [B, num_classes] (see docs/training.md)."""
    model_args: dict[str, Any] = field(default_factory=dict)
    """Keywords of your model class (model as an import path), e.g. {hidden: 64}; the built-in takes model.*."""
    reader: ReaderConfig = field(default_factory=lambda: ReaderConfig(batch_size=16))
    optim: OptimConfig = field(default_factory=OptimConfig)
    symmetries: SymmetryConfig = field(default_factory=SymmetryConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """MLflow mirror of the run (rank 0): the config as params, per-step loss, per-epoch validation metrics and
    throughput, each checkpoint's lake URI as a tag."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.num_workers < 0 or self.eval_batch_size < 1 or self.log_every_steps < 1:
            raise ValueError("epochs, eval_batch_size and log_every_steps must be >= 1, num_workers >= 0")
        if isinstance(self.model, str) and (":" not in self.model.strip(":") and "." not in self.model.strip(".")):
            raise ValueError(f"model {self.model!r} is not an import path: write package.module:Class (or set "
                             "model.* for the built-in model)")
        if self.model_args and not isinstance(self.model, str):
            raise ValueError(f"model_args {sorted(self.model_args)} are for a model class given by import path "
                             "(model=package.module:Class); the built-in model takes model.*")

    @property
    def model_spec(self) -> ModelSpec:
        """The configured model, before a dataset sizes it."""
        return ModelSpec.of(self.model, self.model_args)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warmup to 1, then cosine to 0 at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
            "python": list(random.getstate()[1]), "python_version": random.getstate()[0],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate((state["python_version"], tuple(state["python"]), None))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unlabelled_rows(shard_uri: str) -> int:
    fs, path = storage.filesystem(shard_uri)
    labels = pq.read_table(path, filesystem=fs, columns=["label"])["label"]
    return int(pc.sum(pc.equal(labels, -1)).as_py() or 0)


@torch.no_grad()
def evaluate(model: nn.Module, dataset: DatasetVersion, split: str, batch_size: int, device: torch.device,
             time_shuffle_seed: int | None = None, shards: ShardCache | None = None) -> dict[str, Any]:
    """Metrics on every row of ``split``; with ``time_shuffle_seed`` each clip's frames are shuffled in time."""
    groups, desc = scan_row_groups(dataset.shards.get(split, []))
    model.eval()
    preds, labels = [], []
    gen = torch.Generator().manual_seed(time_shuffle_seed) if time_shuffle_seed is not None else None
    for batch in iter_eval_batches(groups, desc, batch_size, shards):
        frames = torch.from_numpy(batch["frames"])
        if gen is not None:
            order = torch.stack([torch.randperm(frames.shape[1], generator=gen) for _ in range(frames.shape[0])])
            frames = frames[torch.arange(frames.shape[0])[:, None], order]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(frames.to(device))
        preds.append(logits.argmax(dim=1).cpu().numpy())
        labels.append(batch["label"])
    y_pred = np.concatenate(preds) if preds else np.empty(0, np.int64)
    y_true = np.concatenate(labels) if labels else np.empty(0, np.int64)
    return classification_metrics(confusion_matrix(y_true, y_pred, len(dataset.classes)))


def init_checkpoint(layout: LakeLayout, spec: str | None, dataset: DatasetVersion,
                    model: ModelSpec | None = None) -> tuple[str, ModelCard] | None:
    """The checkpoint ``init_from`` names (a directory with a model card, or ``<run_id>/<epoch>``) and its card;
    None when unset. A ValueError says why it cannot start a run of ``model`` on ``dataset`` (another variant,
    other classes, another model class), so a launcher can check on the driver before any rank starts."""
    if not spec:
        return None
    parts = spec.strip("/").split("/")
    if storage.is_file(storage.join(spec, CARD_FILE)):
        uri = storage.normalize(spec)
    elif len(parts) in (2, 3) and parts[1].isdigit() and parts[2:] in ([], ["fp32"]):
        uri = layout.checkpoint(parts[0], int(parts[1]))
    else:
        raise ValueError(f"init_from={spec!r} is neither a checkpoint directory (with {CARD_FILE}) nor "
                         "<run_id>/<epoch>")
    if not storage.is_file(storage.join(uri, CARD_FILE)):
        raise ValueError(f"init_from={spec!r}: no complete checkpoint at {uri}")
    card = read_card(uri)
    if card.variant != "fp32" or card.classes != dataset.classes:
        raise ValueError(f"init_from={spec!r} cannot start this run: it is {card.variant!r} with classes "
                         f"{card.classes}, the dataset {dataset.name} v{dataset.version} has "
                         f"{dataset.classes}; train from scratch (init_from unset)")
    if model is not None and card.model_class != model.class_path:
        raise ValueError(f"init_from={spec!r} cannot start this run: its weights are a {card.model_class} model, "
                         f"this run trains {model.class_path}; train from scratch (init_from unset)")
    return uri, card


def check_logits(logits: torch.Tensor, clips: int, num_classes: int, model: ModelSpec) -> None:
    """A model's output must be logits [clips, num_classes]: anything else would train on nonsense."""
    if tuple(logits.shape) != (clips, num_classes):
        raise ValueError(f"model {model.class_path} returned shape {tuple(logits.shape)} for {clips} clips; it "
                         f"must return logits [batch, num_classes] = [{clips}, {num_classes}]")


class Trainer:
    def __init__(self, cfg: TrainConfig, run_id: str, rank: int = 0, world_size: int = 1,
                 device: torch.device | None = None) -> None:
        self.cfg, self.run_id, self.rank, self.world_size = cfg, run_id, rank, world_size
        self.device = device or torch.device("cpu")
        self.layout = LakeLayout.of(cfg.lake_uri)
        self.run_dir = self.layout.training_run(run_id)
        self.dataset = load_dataset(cfg.lake_uri, cfg.dataset, cfg.dataset_version)
        if "train" not in self.dataset.shards:
            raise ValueError(f"dataset {cfg.dataset!r} v{self.dataset.version} has no train shards")
        init = init_checkpoint(self.layout, cfg.init_from, self.dataset, cfg.model_spec)
        # A warm start takes the checkpoint's model shape; the dataset sets classes and clip shape.
        base = ModelSpec.from_card(init[1]) if init else cfg.model_spec
        self.model_spec = base.for_data(self.dataset.classes, self.dataset.frames_shape)
        seed_everything(cfg.seed)
        model = self.model_spec.build().to(self.device)
        if init:
            with storage.open_local(storage.join(init[0], init[1].model_file)) as path:
                model.load_state_dict(load_state_dict(path))
            logger.info("warm start from %s (%s)", init[1].model_id, init[0])
        self.model = model
        self.ddp = nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
        self.train_data = ShardDataset(self.dataset.shards["train"], dataclasses.replace(cfg.reader, seed=cfg.seed),
                                       rank=rank, world_size=world_size)
        # Shards are checked (footers, schema) by ShardDataset above, before anything reads their rows.
        unlabelled = sum(_unlabelled_rows(u) for u in self.dataset.shards["train"])
        if unlabelled:
            raise ValueError(f"dataset {cfg.dataset!r} v{self.dataset.version} has {unlabelled} train rows without "
                             "a label (-1); give the corpus a labels CSV and curate it again")
        self.symmetries = LabelSymmetries(cfg.symmetries, self.dataset.classes, self.dataset.frames_shape)
        # Classes that differ only by direction (a reversed clip of one is the other): lets validation report
        # "right axis" apart from "right direction".
        self.reverse = (label_permutation(cfg.symmetries.reverse_labels, self.dataset.classes, "reverse").numpy()
                        if cfg.symmetries.reverse_labels else None)
        self.steps_per_epoch = len(self.train_data)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr,
                                           weight_decay=cfg.optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg.optim.warmup_steps, self.total_steps))
        self.step = 0
        self.start_epoch = 0
        self.history: list[dict[str, Any]] = []
        self._steps: list[dict[str, Any]] = []

    # --- checkpoints -------------------------------------------------------------------------------------------
    def resume(self) -> bool:
        """Load the newest complete checkpoint of the run; False when there is none."""
        found = self.layout.checkpoints(self.run_id)
        if not found:
            return False
        ckpt = found[-1]
        with storage.open_local_dir(ckpt) as local:
            weights_path, state_path = os.path.join(local, "model.pt"), os.path.join(local, "train_state.pt")
            self.model.load_state_dict(torch.load(weights_path, map_location=self.device, weights_only=True))
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.train_data.load_state_dict(state["reader"])
        _set_rng_state(state["rng"])
        self.step, self.start_epoch = int(state["step"]), int(state["reader"]["epoch"])
        self.history = read_card(ckpt).history or []
        if self.rank == 0:
            self._truncate_step_log()
        logger.info("resumed run %s from %s (step %d)", self.run_id, checkpoint_name(epoch_of(ckpt)), self.step)
        return True

    @property
    def step_log(self) -> str:
        """``steps.jsonl``: one line per optimizer step (step, epoch, loss)."""
        return storage.join(self.run_dir, "steps.jsonl")

    def _truncate_step_log(self) -> None:
        if storage.is_file(self.step_log):
            kept = [line for line in storage.read_text(self.step_log).splitlines()
                    if json.loads(line)["step"] <= self.step]
            storage.write_text(self.step_log, "".join(line + "\n" for line in kept))

    def _save(self, epoch: int, metrics: dict[str, Any]) -> str:
        final = self.layout.checkpoint(self.run_id, epoch)
        with storage.publishing(final, marker=CARD_FILE) as tmp:
            model_path = os.path.join(tmp, "model.pt")
            torch.save(self.model.state_dict(), model_path)
            torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                        "reader": {"epoch": epoch, "batches_done": 0}, "rng": _rng_state(), "step": self.step},
                       os.path.join(tmp, "train_state.pt"))
            write_card(tmp, ModelCard(
                run_id=self.run_id, epoch=epoch, step=self.step, sha256=storage.sha256_file(model_path),
                size_bytes=os.path.getsize(model_path), metrics=metrics, dataset=self.dataset.name,
                dataset_version=self.dataset.version, model_config=self.model_spec.args,
                model_class=self.model_spec.class_path,
                classes=self.dataset.classes, frames_shape=list(self.dataset.frames_shape),
                created_at=datetime.now(timezone.utc).isoformat(), history=self.history))
        return final

    def validate(self, time_shuffle_seed: int | None = None) -> dict[str, Any]:
        """Validation metrics (plus axis/direction accuracy when the config names reversed classes)."""
        metrics = evaluate(self.model, self.dataset, "val", self.cfg.eval_batch_size, self.device,
                           time_shuffle_seed=time_shuffle_seed, shards=self.cfg.reader.shard_cache())
        if self.reverse is not None:
            metrics.update(direction_metrics(np.asarray(metrics["confusion_matrix"]), self.reverse))
        return metrics

    def temporal_ablation(self) -> dict[str, Any]:
        """The trained model on the same validation clips with each clip's frames shuffled in time (seeded).

        Written to ``<run>/temporal_ablation.json``. With order gone, what is left is a bag of frames: it may
        still tell the axis of motion, but not its direction.
        """
        metrics = self.validate(time_shuffle_seed=self.cfg.seed)
        storage.write_text(storage.join(self.run_dir, "temporal_ablation.json"), json.dumps(metrics, indent=1))
        return metrics

    # --- loop ----------------------------------------------------------------------------------------------------
    def _log_step(self, epoch: int, loss: float) -> None:
        self._steps.append({"step": self.step, "epoch": epoch, "loss": loss})

    def _flush_step_log(self) -> None:
        # Once per epoch, before the checkpoint: an object store has no append, so every write rewrites the file.
        if self._steps:
            storage.append_text(self.step_log, "".join(json.dumps(p) + "\n" for p in self._steps))
            self._steps = []

    def fit(self, tracking_parent: str | None = None) -> list[dict[str, Any]]:
        """Train the remaining epochs; returns one record per epoch (validation metrics, throughput).

        Rank 0 mirrors the run into MLflow when ``tracking.mlflow_uri`` is set (nested under the MLflow run
        ``tracking_parent`` when given)."""
        if self.rank != 0:
            return self._fit(Tracker())
        with tracked(self.cfg.tracking, "train", self.run_id, parent=tracking_parent,
                     tags={"sora.run_id": self.run_id, "sora.lake_run": self.run_dir,
                           "sora.dataset": f"{self.dataset.name} v{self.dataset.version}",
                           "sora.init_from": self.cfg.init_from}) as tracker:
            tracker.log_params({**flat_params(self.cfg), "world_size": self.world_size,
                                "steps_per_epoch": self.steps_per_epoch, "dataset_version": self.dataset.version,
                                "model_class": self.model_spec.class_path,
                                **{f"model_shape.{k}": v for k, v in self.model_spec.args.items()}})
            return self._fit(tracker)

    def _fit(self, tracker: Tracker) -> list[dict[str, Any]]:
        cfg = self.cfg
        for epoch in range(self.start_epoch, cfg.epochs):
            self.train_data.set_epoch(epoch)
            loader = DataLoader(self.train_data, batch_size=None, num_workers=cfg.num_workers,
                                pin_memory=self.device.type == "cuda",
                                persistent_workers=False)
            self.ddp.train()
            start, samples, wait_s, waited = time.perf_counter(), 0, 0.0, time.perf_counter()
            for batch in loader:
                wait_s += time.perf_counter() - waited
                frames = batch["frames"].to(self.device, non_blocking=True)
                labels = batch["label"].to(self.device, non_blocking=True)
                frames, labels = self.symmetries(frames, labels)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                    logits = self.ddp(frames)
                    check_logits(logits, frames.shape[0], len(self.dataset.classes), self.model_spec)
                    loss = nn.functional.cross_entropy(logits, labels)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.optim.grad_clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.train_data.step_done()
                self.step += 1
                samples += frames.shape[0] * self.world_size
                value = loss.detach().float()
                if self.world_size > 1:
                    dist.all_reduce(value)
                    value /= self.world_size
                if self.rank == 0:
                    self._log_step(epoch, float(value))
                    if self.step % cfg.log_every_steps == 0:
                        rate = samples / (time.perf_counter() - start)
                        logger.info("epoch %d step %d/%d loss %.4f lr %.2e %.1f samples/s", epoch + 1,
                                    self.step, self.total_steps, float(value),
                                    self.scheduler.get_last_lr()[0], rate)
                waited = time.perf_counter()
            train_s = time.perf_counter() - start
            record: dict[str, Any] = {"epoch": epoch + 1, "step": self.step, "train_s": train_s,
                                      "samples_per_s": samples / train_s if train_s else 0.0,
                                      "data_wait_frac": wait_s / train_s if train_s else 0.0}
            if self.rank == 0:
                record["val"] = self.validate()
                self.history.append(record)
                # Tracked before the checkpoint is published: a run killed after it resumes past this epoch.
                tracker.log_series({"loss": [(p["step"], p["loss"]) for p in self._steps]})
                tracker.log_metrics({k: v for k, v in record.items() if k not in ("epoch", "step")}, step=epoch + 1)
                tracker.set_tags({f"checkpoint.{checkpoint_name(epoch + 1)}": self.layout.checkpoint(self.run_id,
                                                                                                    epoch + 1)})
                self._flush_step_log()
                path = self._save(epoch + 1, record)
                logger.info("epoch %d: val accuracy %.3f macro F1 %.3f (%d clips), %.1f samples/s, checkpoint %s",
                            epoch + 1, record["val"]["accuracy"], record["val"]["macro_f1"],
                            record["val"]["samples"], record["samples_per_s"], path)
            if self.world_size > 1:
                dist.barrier()
        return self.history
