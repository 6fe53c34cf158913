"""The comparison of a checkpoint's variants: one table, the ratios to fp32, a trade-off plot, and
``comparison.json`` / ``comparison.png`` next to the variants."""

from __future__ import annotations

import json
from typing import Any

from sora_model.deploy.build import CompressRun, ratios
from sora_model.deploy.compress import CompressConfig
from sora_model.lake import storage


def table(rows: list[dict[str, Any]], split: str, batch: int) -> str:
    head = (f"{'variant':<22} {'format':<6} {'size KB':>8} {'params':>8} {split + ' acc':>9} {'macro F1':>8} "
            f"{'p50 ms':>7} {'p95 ms':>7} {f'clips/s b{batch}':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        m, s = r["metrics"][split], r["metrics"]["speed"]
        lines.append(f"{r['variant']:<22} {r['format']:<6} {r['size_bytes'] / 1024:8.1f} {r['params']:8d} "
                     f"{m['accuracy']:9.3f} {m['macro_f1']:8.3f} {s['latency_ms_p50']:7.2f} "
                     f"{s['latency_ms_p95']:7.2f} {s[f'throughput_clips_per_s_b{batch}']:12.0f}")
    return "\n".join(lines)


def ratio_lines(ratios: list[dict[str, Any]]) -> str:
    lines = ["ratios (each variant against its reference, same run; int8 against the fp32 ONNX graph on the same "
             "runtime):"]
    for r in ratios:
        extra = (f"; quantized layers {r['quantized_layers_size_x']:.2f}x smaller"
                 if "quantized_layers_size_x" in r else "")
        if "latency_x_vs_fp32" in r:
            extra += (f" (vs fp32 PyTorch: latency {r['latency_x_vs_fp32']:.2f}x faster, throughput "
                      f"{r['throughput_x_vs_fp32']:.2f}x)")
        lines.append(f"  {r['variant']:<22} vs {r['against']:<5} file {r['size_x']:.2f}x smaller, "
                     f"latency {r['latency_x']:.2f}x faster, throughput {r['throughput_x']:.2f}x, "
                     f"accuracy drop {r['accuracy_drop_points']:+.1f} points{extra}")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], split: str) -> bytes:
    """The accuracy/latency/size trade-off of the variants as a PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    sizes = [r["size_bytes"] for r in rows]
    top = max(sizes)
    for r in rows:
        x, y = r["metrics"]["speed"]["latency_ms_p50"], r["metrics"][split]["accuracy"]
        ax.scatter(x, y, s=40 + 800 * r["size_bytes"] / top, alpha=0.6,
                   label=f"{r['variant']} ({r['size_bytes'] / 1024:.0f} KB)")
    legend = ax.legend(fontsize=7, loc="lower right")
    for handle in legend.legend_handles:
        handle.set_sizes([30])
    ax.set_xlabel("CPU latency per clip at batch 1, p50 (ms)")
    ax.set_ylabel(f"{split} accuracy")
    ax.set_title("Variants: accuracy against latency (marker area: size on disk)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def write_comparison(run: CompressRun, rows: list[dict[str, Any]], cfg: CompressConfig) -> str:
    """Write comparison.json (rows and ratios) and comparison.png into the run's directory; returns the text a
    person reads (table, ratios, where the plot is)."""
    split, batch = cfg.eval_split, cfg.throughput_batch
    rel = ratios(rows, split, batch)
    png = storage.join(run.run_dir, "comparison.png")
    storage.write_text(storage.join(run.run_dir, "comparison.json"),
                       json.dumps({"checkpoint": run.checkpoint, "split": split, "throughput_batch": batch,
                                   "rows": rows, "ratios": rel}, indent=1))
    storage.write_bytes(png, plot(rows, split))
    return "\n".join([f"variants of {run.checkpoint} ({split} split, "
                      f"{len(rows) and rows[0]['metrics'][split]['samples']} clips, {cfg.threads} thread(s)):",
                      table(rows, split, batch), ratio_lines(rel), f"plot: {png}"])
