"""Smaller and faster variants of a trained Sora model: pruning and distillation here, ONNX export and int8
quantization in ``sora_model.deploy.quantize``.

Pure functions over models and files; the job (`jobs/compress.py`) picks the checkpoint, writes the variants
into the lake and registers them.

int8 goes through ONNX Runtime's quantizer (``onnxruntime.quantization``), not ``torch.ao.quantization``: the
latter is deprecated in the installed torch, and its successor (torchao's PT2E flow) runs int8 kernels on CPU
only through ``torch.compile``/Inductor, i.e. a C++ toolchain on every machine that scores. ONNX Runtime's
quantizer is maintained, calibrates static activation ranges from data, and its int8 kernels run in plain
inference anywhere ONNX Runtime does, which is also the deployable format.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import nn

from sora_model.dataset.split import SPLITS, Split
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.tracking import TrackingConfig
from sora_model.train.model import ModelConfig, SoraModel

logger = logging.getLogger(__name__)

Variant = Literal["onnx", "int8-dynamic", "int8-static", "pruned", "pruned-channels", "distilled"]
VARIANTS: tuple[str, ...] = get_args(Variant)


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    epochs: int = 4
    """Passes over the train split after pruning."""
    lr: float = 2e-4
    """Constant AdamW learning rate of the fine-tune (measured on the demo: 5e-4 lost 2 points at 50 %
    sparsity, 2e-4 none)."""
    batch_size: int = 32
    """Clips per fine-tune batch."""

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.lr <= 0 or self.batch_size < 1:
            raise ValueError("finetune: epochs must be >= 0, lr > 0, batch_size >= 1")


@dataclass(frozen=True, kw_only=True)
class DistillConfig:
    widths: tuple[int, ...] = (8, 16, 32)
    """Channels of the student's per-frame CNN blocks (same depth as the teacher's)."""
    embed_dim: int = 32
    """Width of the student's frame features and temporal module."""
    heads: int = 2
    """Attention heads of the student."""
    epochs: int = 30
    """Passes over the train split; the student keeps the epoch with the best validation accuracy. On the demo,
    started from the teacher's channels, its best epochs were 17-25 of 30 (3 seeds)."""
    lr: float = 3e-3
    """Peak AdamW learning rate (warmup then cosine)."""
    batch_size: int = 32
    """Clips per batch."""
    temperature: float = 2.0
    """Softmax temperature of the distillation term (higher: more of the teacher's dark knowledge)."""
    alpha: float = 0.5
    """Weight of the distillation term; 1 - alpha goes to cross-entropy with the labels."""
    init_from_teacher: bool = True
    """Start the student's conv blocks from the teacher's strongest channels (when its widths are within the
    teacher's, at the same depth); false starts it from random weights."""

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 1 or self.embed_dim % self.heads:
            raise ValueError("distill: widths must be positive and embed_dim divisible by heads")
        if self.epochs < 1 or self.lr <= 0 or self.batch_size < 1 or self.temperature <= 0:
            raise ValueError("distill: epochs and batch_size must be >= 1, lr and temperature > 0")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"distill: alpha must be in [0, 1], got {self.alpha}")


@dataclass(frozen=True, kw_only=True)
class CompressConfig:
    lake_uri: str = "lake"
    """Lake with the run's checkpoints under models/ and the dataset it trained on."""
    run_id: str | None = None
    """Training run to compress; None takes the newest run in the lake."""
    epoch: int | None = None
    """Checkpoint epoch; None takes the one with the best validation accuracy."""
    variants: tuple[Variant, ...] = VARIANTS
    """Variants to build: onnx, int8-dynamic, int8-static, pruned, pruned-channels, distilled."""
    sparsity: float = 0.5
    """Share of weights zeroed by magnitude pruning (variant pruned-<sparsity>)."""
    channel_sparsity: float = 0.5
    """Share of conv channels removed by structured pruning (variant pruned-channels-<share>)."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    calibration_clips: int = 256
    """Train clips the static int8 quantizer calibrates activation ranges on."""
    eval_split: Split = "test"
    """Split every variant is evaluated on."""
    latency_runs: int = 200
    """Batch-1 calls timed per variant for the latency percentiles."""
    throughput_batch: int = 32
    """Batch size of the throughput measurement."""
    threads: int = 1
    """Intra-op threads for every timing (same for all variants, so ratios compare kernels, not cores)."""
    max_onnx_abs_diff: float = 1e-3
    """Largest tolerated |logit| difference between PyTorch and ONNX Runtime on evaluation clips."""
    seed: int = 0
    """Seeds fine-tuning, distillation and the reader order."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """MLflow mirror of the compression: the config as params, each variant's quality, latency, throughput and
    size as metrics (prefixed with its name), each variant's lake URI as a tag."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown variants {unknown}; known: {list(VARIANTS)}")
        if not 0 < self.sparsity < 1 or not 0 < self.channel_sparsity < 1:
            raise ValueError("sparsity and channel_sparsity must be in (0, 1)")
        if self.eval_split not in SPLITS:
            raise ValueError(f"eval_split must be one of {SPLITS}, got {self.eval_split!r}")
        if self.calibration_clips < 1 or self.latency_runs < 1 or self.throughput_batch < 1 or self.threads < 1:
            raise ValueError("calibration_clips, latency_runs, throughput_batch and threads must be >= 1")


# --- pruning --------------------------------------------------------------------------------------------------
def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """The conv and linear weights magnitude pruning works on (all but the first conv and the classifier).

    Attention projections are left out: MultiheadAttention reads them as tensors inside its functional
    forward, so the masks torch's pruning applies in a module's forward hook would never be refreshed.
    """
    attention = {name for name, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)}
    layers = [(name, m) for name, m in model.named_modules()
              if isinstance(m, (nn.Conv2d, nn.Linear)) and not any(name.startswith(a + ".") for a in attention)]
    # The first conv and the classifier stay dense: they hold few weights and matter most.
    return [(m, "weight") for _, m in (layers[1:-1] if len(layers) > 2 else layers)]


def magnitude_prune(model: nn.Module, sparsity: float) -> None:
    """Global L1 unstructured pruning: the ``sparsity`` share of smallest weights becomes zero (masks stay on
    for a fine-tune; :func:`finalize_pruning` makes them permanent)."""
    from torch.nn.utils import prune

    if not 0 < sparsity < 1:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}")
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=sparsity)


def finalize_pruning(model: nn.Module) -> None:
    from torch.nn.utils import prune

    for module, name in prunable(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)


def sparsity_of(model: nn.Module) -> float:
    weights = [getattr(m, n).detach() for m, n in prunable(model)]
    total = sum(w.numel() for w in weights)
    return float(sum(int((w == 0).sum()) for w in weights) / total) if total else 0.0


def channel_prune(model: SoraModel, sparsity: float) -> SoraModel:
    """Structured pruning: drop the ``sparsity`` share of each conv block's output channels with the smallest
    L1 norm (weight scaled by its BatchNorm gain) and build a genuinely smaller model with the kept weights."""
    if not 0 < sparsity < 1:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}")
    return keep_channels(model, tuple(max(1, int(round(w * (1 - sparsity)))) for w in model.cfg.widths))


def keep_channels(model: SoraModel, widths: tuple[int, ...]) -> SoraModel:
    """A smaller model of the same depth with ``widths`` channels per conv block: each block's channels with the
    largest L1 norm (weight scaled by its BatchNorm gain), with their weights; everything after the CNN kept."""
    cfg = model.cfg
    blocks = [m for m in model.frame_cnn if isinstance(m, nn.Sequential)]
    if len(widths) != len(blocks) or not all(0 < k <= b[0].out_channels for k, b in zip(widths, blocks)):
        raise ValueError(f"widths {list(widths)} do not fit within the model's {list(cfg.widths)}")
    keeps: list[torch.Tensor] = []
    for block, k in zip(blocks, widths):
        conv, bn = block[0], block[1]
        score = conv.weight.detach().abs().sum(dim=(1, 2, 3)) * bn.weight.detach().abs()
        keeps.append(torch.sort(torch.topk(score, k).indices).values)
    small = SoraModel(dataclasses.replace(cfg, widths=tuple(len(k) for k in keeps)))
    state = model.state_dict()
    new = small.state_dict()
    previous = None
    for i, keep in enumerate(keeps):
        w = state[f"frame_cnn.{i}.0.weight"][keep]
        new[f"frame_cnn.{i}.0.weight"] = w if previous is None else w[:, previous]
        for name in ("weight", "bias", "running_mean", "running_var"):
            new[f"frame_cnn.{i}.1.{name}"] = state[f"frame_cnn.{i}.1.{name}"][keep]
        new[f"frame_cnn.{i}.1.num_batches_tracked"] = state[f"frame_cnn.{i}.1.num_batches_tracked"]
        previous = keep
    # The projection after the flattened [C, g, g] grid: keep the columns of the kept channels.
    cells = cfg.spatial_grid**2
    cols = (previous[:, None] * cells + torch.arange(cells)[None, :]).reshape(-1)
    proj = f"frame_cnn.{len(blocks) + 2}"
    new[f"{proj}.weight"] = state[f"{proj}.weight"][:, cols]
    new[f"{proj}.bias"] = state[f"{proj}.bias"]
    for key, value in state.items():
        if not key.startswith("frame_cnn."):
            new[key] = value
    small.load_state_dict(new)
    return small.train(model.training)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- training loops (fine-tune, distillation) -------------------------------------------------------------------
Batches = Callable[[int], Iterable[dict[str, Any]]]
"""epoch -> batches of {"frames": uint8 tensor, "label": int64 tensor} (the reader, a fresh pass per epoch)."""


def fit(model: nn.Module, batches: Batches, epochs: int, lr: float, steps_per_epoch: int,
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
        teacher: nn.Module | None = None, temperature: float = 1.0, alpha: float = 0.0,
        schedule: bool = False, score: Callable[[nn.Module], float] | None = None) -> list[float]:
    """Train ``model`` in place; with a ``teacher``, the loss is alpha * T^2 * KL(teacher_T || student_T)
    + (1 - alpha) * cross-entropy (Hinton et al.). Returns the mean loss per epoch.

    With ``score`` (e.g. validation accuracy of the model in eval mode), the model ends with the weights of its
    best-scoring epoch (the later one on a tie), as training keeps its best validation checkpoint."""
    from sora_model.train.loop import lr_factor

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    total = max(1, epochs * steps_per_epoch)
    warmup = min(20, total // 10) if schedule else 0
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, total) if schedule else 1.0)
    if teacher is not None:
        teacher.eval()
    losses: list[float] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    for epoch in range(epochs):
        model.train()
        running, n = 0.0, 0
        for batch in batches(epoch):
            frames, labels = batch["frames"], batch["label"]
            if transform is not None:
                frames, labels = transform(frames, labels)
            logits = model(frames)
            loss = nn.functional.cross_entropy(logits, labels)
            if teacher is not None:
                with torch.no_grad():
                    soft = nn.functional.log_softmax(teacher(frames) / temperature, dim=1)
                kd = nn.functional.kl_div(nn.functional.log_softmax(logits / temperature, dim=1), soft,
                                          log_target=True, reduction="batchmean") * temperature**2
                loss = alpha * kd + (1 - alpha) * loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            running, n = running + float(loss.detach()), n + 1
        losses.append(running / max(1, n))
        if score is None:
            logger.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, losses[-1])
            continue
        model.eval()
        with torch.no_grad():
            value = score(model)
        logger.info("epoch %d/%d: loss %.4f, score %.3f", epoch + 1, epochs, losses[-1], value)
        if best is None or value >= best[0]:
            best = (value, epoch, copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[2])
        logger.info("kept epoch %d (score %.3f)", best[1] + 1, best[0])
    model.eval()
    return losses


def student_config(teacher: ModelConfig, cfg: DistillConfig) -> ModelConfig:
    return dataclasses.replace(teacher, widths=tuple(cfg.widths), embed_dim=cfg.embed_dim, heads=cfg.heads)


def new_student(teacher: nn.Module, cfg: DistillConfig, base: ModelConfig | None = None) -> SoraModel:
    """The student to distill into: a built-in SoraModel, ``base`` (default: the teacher's config) with the
    student's sizes. With ``cfg.init_from_teacher``, a built-in teacher and widths within the teacher's, its conv
    blocks start as the teacher's strongest channels (``keep_channels``), as DistilBERT starts from the teacher's
    layers; the projection, temporal module and head, of other sizes, start fresh."""
    if base is None:
        if not isinstance(teacher, SoraModel):
            raise TypeError(f"a {type(teacher).__name__} teacher has no built-in config: pass base")
        base = teacher.cfg
    student = SoraModel(student_config(base, cfg))
    if not cfg.init_from_teacher or not isinstance(teacher, SoraModel):
        return student
    try:
        pruned = keep_channels(teacher, tuple(cfg.widths)).state_dict()
    except ValueError as e:
        logger.info("distilled student starts from scratch: %s", e)
        return student
    state = student.state_dict()
    blocks = {k: v for k, v in pruned.items()
              if k.startswith("frame_cnn.") and k in state and v.shape == state[k].shape}
    student.load_state_dict({**state, **blocks})
    return student
