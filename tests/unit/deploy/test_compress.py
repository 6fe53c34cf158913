from __future__ import annotations

import numpy as np
import pytest
import torch

from sora_model.deploy.compress import (
    CompressConfig,
    DistillConfig,
    channel_prune,
    finalize_pruning,
    fit,
    keep_channels,
    magnitude_prune,
    new_student,
    parameter_count,
    sparsity_of,
    student_config,
)
from sora_model.deploy.quantize import (
    export_onnx,
    fixed_filter_convs,
    onnx_max_abs_diff,
    quantize_dynamic_int8,
    quantize_static_int8,
    quantized_layer_bytes,
)
from sora_model.train.model import ModelConfig, SoraModel

CFG = ModelConfig(num_classes=4, widths=(8, 16), embed_dim=16, heads=2, spatial_grid=2, dropout=0.0)
SHAPE = [4, 16, 16, 3]


def _model(seed: int = 0) -> SoraModel:
    torch.manual_seed(seed)
    model = SoraModel(CFG)
    # Non-trivial BatchNorm statistics, so channel pruning must carry them over correctly.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(_clips(8, seed=_))
    return model.eval()


def _clips(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *SHAPE), generator=g, dtype=torch.uint8)


def test_magnitude_pruning_zeroes_the_requested_share_and_survives_finalize():
    model = _model()
    magnitude_prune(model, 0.5)
    finalize_pruning(model)
    assert sparsity_of(model) == pytest.approx(0.5, abs=0.01)
    assert not any(name.endswith("_orig") for name, _ in model.named_parameters())
    assert model(_clips(2)).shape == (2, 4)


def test_channel_pruning_really_shrinks_and_keeps_the_kept_channels_exact():
    model = _model()
    small = channel_prune(model, 0.5)
    assert small.cfg.widths == (4, 8)
    assert parameter_count(small.frame_cnn) < 0.6 * parameter_count(model.frame_cnn)  # the CNN shrinks
    # Zeroing the dropped channels' BN output in the big model must give the small model's logits exactly.
    keeps = []
    for i, block in enumerate(m for m in model.frame_cnn if isinstance(m, torch.nn.Sequential)):
        score = block[0].weight.abs().sum(dim=(1, 2, 3)) * block[1].weight.abs()
        keeps.append(torch.topk(score, small.cfg.widths[i]).indices)
    masked = _model()
    with torch.no_grad():
        for i, block in enumerate(m for m in masked.frame_cnn if isinstance(m, torch.nn.Sequential)):
            drop = torch.ones(block[1].weight.shape[0], dtype=torch.bool)
            drop[keeps[i]] = False
            block[1].weight[drop] = 0
            block[1].bias[drop] = 0
        clips = _clips(3, seed=5)
        assert torch.allclose(masked(clips), small(clips), atol=1e-5)


def test_distillation_moves_the_student_towards_the_teacher():
    teacher = _model()
    student = SoraModel(student_config(CFG, DistillConfig(widths=(4, 8), embed_dim=8, heads=2)))
    clips = _clips(16, seed=3)
    with torch.no_grad():
        target = teacher(clips).argmax(1)

    def batches(epoch: int):
        return [{"frames": clips, "label": target}]

    before = (student(clips).argmax(1) == target).float().mean()
    losses = fit(student, batches, epochs=60, lr=5e-3, steps_per_epoch=1, teacher=teacher, temperature=2.0,
                 alpha=0.5)
    assert losses[-1] < losses[0]
    assert (student(clips).argmax(1) == target).float().mean() > max(0.9, float(before))


def test_the_student_starts_from_the_teachers_strongest_channels():
    teacher = _model()
    cfg = DistillConfig(widths=(4, 8), embed_dim=8, heads=2)
    student, pruned = new_student(teacher, cfg), keep_channels(teacher, (4, 8))
    blocks = [k for k in pruned.state_dict() if k.startswith("frame_cnn.0.") or k.startswith("frame_cnn.1.")]
    assert blocks and all(torch.equal(student.state_dict()[k], pruned.state_dict()[k]) for k in blocks)
    assert student.cfg.embed_dim == 8 and student(_clips(2)).shape == (2, 4)
    fresh = new_student(teacher, DistillConfig(widths=(4, 8), embed_dim=8, heads=2, init_from_teacher=False))
    assert not torch.equal(fresh.frame_cnn[0][0].weight, pruned.frame_cnn[0][0].weight)
    wider = new_student(teacher, DistillConfig(widths=(4, 64), embed_dim=8, heads=2))  # wider than the teacher
    assert wider.cfg.widths == (4, 64)
    with pytest.raises(ValueError, match="do not fit"):
        keep_channels(teacher, (4, 64))


def test_fit_with_a_score_keeps_the_best_epoch_the_later_on_a_tie():
    model = _model()
    clips = _clips(8, seed=4)
    labels = torch.arange(8) % 4
    scores, seen = iter([0.2, 0.7, 0.4, 0.7, 0.1]), []

    def score(m: torch.nn.Module) -> float:
        assert not m.training  # scored as it will be used
        seen.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    fit(model, lambda epoch: [{"frames": clips, "label": labels}], epochs=5, lr=1e-2, steps_per_epoch=1,
        score=score)
    kept = model.state_dict()
    assert all(torch.equal(kept[k], seen[3][k]) for k in kept)  # epoch 4 ties epoch 2: the later one
    assert not all(torch.equal(kept[k], seen[4][k]) for k in kept)  # not simply the last


def test_onnx_export_matches_pytorch_and_int8_variants_run(tmp_path):
    model = _model()
    onnx_path = tmp_path / "model.onnx"
    export_onnx(model, onnx_path, SHAPE)
    clips = _clips(5, seed=9).numpy()
    assert onnx_max_abs_diff(model, onnx_path, clips) < 1e-4
    import onnxruntime as ort

    quantize_dynamic_int8(onnx_path, tmp_path / "dyn.onnx")
    quantize_static_int8(onnx_path, tmp_path / "static.onnx", iter([_clips(8, seed=s).numpy() for s in range(4)]))
    for name in ("dyn.onnx", "static.onnx"):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        for batch in (1, 7):  # the batch axis is dynamic
            assert session.run(None, {"clips": clips[:batch] if batch <= 5 else np.concatenate([clips] * 2)[:7]}
                               )[0].shape == (batch, 4)
    q = quantized_layer_bytes(tmp_path / "static.onnx")
    assert q["quantized_params"] > 0 and q["fp32_bytes"] / q["int8_bytes"] > 3.0


def test_int8_static_keeps_the_motion_cue_filters_in_fp32(tmp_path):
    import onnx

    model = _model()
    export_onnx(model, tmp_path / "model.onnx", SHAPE)
    fixed = fixed_filter_convs(tmp_path / "model.onnx")
    assert len(fixed) == 3  # the blur's row and column, the gradients
    quantize_static_int8(tmp_path / "model.onnx", tmp_path / "static.onnx",
                         iter([_clips(8, seed=s).numpy() for s in range(4)]))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "static.onnx")).graph.node]
    assert ops.count("Conv") == 3 and ops.count("QLinearConv") == len(model.cfg.widths)


def test_config_refuses_unknown_variants_and_bad_sparsity():
    with pytest.raises(ValueError, match="unknown variants"):
        CompressConfig(variants=("int4",))
    with pytest.raises(ValueError, match="sparsity"):
        CompressConfig(sparsity=1.0)
    with pytest.raises(ValueError, match="alpha"):
        DistillConfig(alpha=2.0)
