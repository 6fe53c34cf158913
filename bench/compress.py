"""Compression benchmark: int8 ONNX against the fp32 ONNX graph on the same runtime, for the demo model and a
larger configuration of the same architecture.

    python bench/compress.py [--threads 1] [--runs 50]

Both models are exported exactly as ``jobs/compress.py`` exports them (``export_onnx``), then quantized the two
ways it offers (static: int8 convolutions, matmuls and activations, calibrated; dynamic: int8 matmul weights).
Latency is per clip at batch 1 (p50), throughput clips/s at batch 16, every model on ONNX Runtime's CPU provider
with the same intra-op threads. Weights are random (speed does not depend on them); the accuracy cost of int8 on
the demo task is in the comparison table ``make demo`` writes (trained model, test split).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

CONFIGS = {
    # conf/train/local.yaml's model on conf/local.yaml's 8 x 32 x 32 clips
    "demo": ({"widths": (16, 32, 64), "embed_dim": 64, "heads": 4, "spatial_grid": 2}, [8, 32, 32, 3]),
    # twice the architecture's default widths (2.0M parameters; the defaults have 0.5M) on 16 x 112 x 112 clips
    "large": ({"widths": (64, 128, 256), "embed_dim": 256, "heads": 4, "spatial_grid": 4}, [16, 112, 112, 3]),
}


def main() -> int:
    import numpy as np
    import onnxruntime as ort
    import torch

    from sora_model.deploy.quantize import (
        export_onnx,
        onnx_parameter_count,
        quantize_dynamic_int8,
        quantize_static_int8,
    )
    from sora_model.deploy.evaluation import speed
    from sora_model.deploy.variants import Predictor
    from sora_model.train.model import ModelConfig, SoraModel

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for every model (default 1)")
    parser.add_argument("--runs", type=int, default=50, help="batch-1 calls per latency figure (default 50)")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="one configuration")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    for name, (model_kw, shape) in CONFIGS.items():
        if args.only and name != args.only:
            continue
        model = SoraModel(ModelConfig(num_classes=6, **model_kw)).eval()
        clips = rng.integers(0, 256, size=(16, *shape), dtype=np.uint8)
        with tempfile.TemporaryDirectory(prefix="sora-bench-compress-") as tmp:
            fp32, static, dynamic = (str(Path(tmp) / f) for f in ("fp32.onnx", "int8s.onnx", "int8d.onnx"))
            export_onnx(model, fp32, shape)
            quantize_static_int8(fp32, static, iter([clips[i:i + 4] for i in range(0, 16, 4)]))
            quantize_dynamic_int8(fp32, dynamic)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = args.threads, 1
            timed = {}
            for label, path in (("fp32", fp32), ("int8-static", static), ("int8-dynamic", dynamic)):
                session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                timed[label] = speed(Predictor(card=None, _session=session), clips, runs=args.runs, batch_size=16)
            params = onnx_parameter_count(fp32)
        base = timed["fp32"]
        print(f"{name}: {params / 1e6:.2f}M parameters, clips {'x'.join(map(str, shape))}, {args.threads} thread(s)")
        for label, t in timed.items():
            print(f"  {label:<13} latency p50 {t['latency_ms_p50']:8.2f} ms  "
                  f"({base['latency_ms_p50'] / t['latency_ms_p50']:.2f}x)  throughput "
                  f"{t['throughput_clips_per_s_b16']:8.1f} clips/s "
                  f"({t['throughput_clips_per_s_b16'] / base['throughput_clips_per_s_b16']:.2f}x)")
        goal = 1.5 if name == "large" else None
        for label in ("int8-static", "int8-dynamic"):
            record(Ratio("compress", f"{name} ({params / 1e6:.2f}M params): fp32 / {label} latency, batch 1",
                         base["latency_ms_p50"], timed[label]["latency_ms_p50"], "ms", goal_min=goal))
            record(Ratio("compress", f"{name}: {label} / fp32 throughput, batch 16",
                         timed[label]["throughput_clips_per_s_b16"], base["throughput_clips_per_s_b16"], "clips/s",
                         goal_min=goal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
