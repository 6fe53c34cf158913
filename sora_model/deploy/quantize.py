"""ONNX export and int8 quantization of a trained model (ONNX Runtime's quantizer: see ``sora_model.deploy.compress``
for why), and the facts a variant's card gives about its graph."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def _quiet(*logger_names: str) -> Iterator[None]:
    """Raise other libraries' loggers to ERROR for a moment (unless the job runs --verbose): their warnings here are
    advice for other set-ups (torchvision ops that cannot be exported, ONNX Runtime's pre-processing hint)."""
    loggers = [logging.getLogger(name) for name in logger_names]
    before = [lg.level for lg in loggers]
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    for lg in loggers:
        lg.setLevel(lg.level if verbose else logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)


def export_onnx(model: nn.Module, path: str | Path, frames_shape: list[int]) -> None:
    """ONNX graph with input ``clips`` (uint8 [batch, T, H, W, C], batch dynamic) and output ``logits``."""
    import warnings

    model.eval()
    example = torch.zeros((2, *frames_shape), dtype=torch.uint8)
    with warnings.catch_warnings(), _quiet("torch.onnx"):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["clips"],
                          output_names=["logits"], external_data=False, verbose=False,
                          dynamic_shapes={"clips": {0: torch.export.Dim("batch", min=1, max=4096)}})


def onnx_max_abs_diff(model: nn.Module, path: str | Path, clips: np.ndarray) -> float:
    """Largest absolute logit difference between PyTorch and ONNX Runtime on ``clips``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(torch.from_numpy(np.ascontiguousarray(clips))).numpy()
    got = session.run(None, {"clips": np.ascontiguousarray(clips)})[0]
    return float(np.abs(got - expected).max())


def quantize_dynamic_int8(onnx_path: str | Path, out_path: str | Path) -> None:
    """int8 weights for the MatMul/Gemm layers (linear and attention), activations quantized on the fly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet(""):  # ONNX Runtime's quantizer warns on the root logger
        quantize_dynamic(str(onnx_path), str(out_path), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"])


def quantize_static_int8(onnx_path: str | Path, out_path: str | Path, calibration: Iterator[np.ndarray]) -> None:
    """int8 weights (per channel) and activations for convolutions and matmuls, activation ranges calibrated
    on ``calibration`` batches (uint8 clips)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.it, None)
            return None if batch is None else {"clips": np.ascontiguousarray(batch, dtype=np.uint8)}

    with _quiet(""):
        quantize_static(str(onnx_path), str(out_path), _Reader(), quant_format=QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "MatMul", "Gemm"],
                        nodes_to_exclude=fixed_filter_convs(onnx_path))


def fixed_filter_convs(onnx_path: str | Path) -> list[str]:
    """Names of the convolutions over one input channel: the motion cue's box blur and gradients on the grey
    picture, fixed filters rather than learned layers. They stay fp32: the cue multiplies differences between
    blurred frames, which 8-bit steps of 1/255 would mostly erase, and they cost about 0.04 ms."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    channels = {init.name: list(init.dims) for init in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "Conv" and len(node.input) > 1
            and len(channels.get(node.input[1], [])) == 4 and channels[node.input[1]][1] == 1]


def quantized_layer_bytes(path: str | Path) -> dict[str, int]:
    """Sizes of the layers a quantizer turned to int8: their weights as fp32 (4 bytes each) and as stored now
    (1 byte each plus the scales and zero points)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = overhead = 0
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if "scale" in init.name or "zero_point" in init.name:
            overhead += arr.nbytes
        elif arr.dtype in (np.int8, np.uint8) and arr.ndim >= 2:
            weights += arr.size
    return {"quantized_params": weights, "fp32_bytes": 4 * weights, "int8_bytes": weights + overhead}


def onnx_parameter_count(path: str | Path) -> int:
    import onnx

    graph = onnx.load(str(path)).graph
    return int(sum(int(np.prod(init.dims)) for init in graph.initializer
                   if not init.name.endswith(("_scale", "_zero_point"))))
