"""The report's figures: each function takes plain numbers and returns a PNG (matplotlib, no display)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np


def _plt() -> Any:  # noqa: ANN401 - matplotlib.pyplot, imported lazily with a display-free backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:  # noqa: ANN401
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    _plt().close(fig)
    return out.getvalue()


def bars(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str) -> bytes:
    """Horizontal bars, largest on top, each labelled with its value."""
    plt = _plt()
    order = np.argsort(values)
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * max(len(labels), 1)), dpi=110)
    ax.barh([labels[i] for i in order], [values[i] for i in order], color="#4c72b0")
    for y, i in enumerate(order):
        ax.text(values[i], y, f" {values[i]:g}", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def histogram(groups: dict[str, Sequence[float]], title: str, xlabel: str, bins: int = 30) -> bytes:
    """Overlaid histograms of the same quantity, one per group (e.g. kept / filtered clips)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    everything = np.concatenate([np.asarray(v, dtype=float) for v in groups.values() if len(v)] or [np.zeros(1)])
    edges = np.histogram_bin_edges(everything, bins=bins)
    for name, values in groups.items():
        if len(values):
            ax.hist(values, bins=edges, alpha=0.6, label=f"{name} ({len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("clips")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def stacked(categories: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str) -> bytes:
    """Stacked vertical bars: one bar per category (e.g. dataset version), one colour per series (e.g. split)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    bottom = np.zeros(len(categories))
    for name, values in series.items():
        ax.bar(categories, values, bottom=bottom, label=name)
        bottom += np.asarray(values, dtype=float)
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total:g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def training_curves(runs: dict[str, dict[str, Any]]) -> bytes:
    """Per run: training loss per step (a moving average over one epoch's steps) and validation accuracy and
    macro F1 per epoch. ``runs[run_id] = {"steps": [(step, loss)], "epochs": [(epoch, acc, f1)]}``."""
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for run_id, run in runs.items():
        steps = run["steps"]
        if steps:
            x, y = np.array([s for s, _ in steps]), np.array([v for _, v in steps])
            window = max(1, min(len(y), run.get("steps_per_epoch") or 10))
            smooth = np.convolve(y, np.ones(window) / window, mode="valid")
            left.plot(x[window - 1:], smooth, label=run_id)
        epochs = run["epochs"]
        if epochs:
            line, = right.plot([e for e, _, _ in epochs], [a for _, a, _ in epochs], marker="o", label=run_id)
            right.plot([e for e, _, _ in epochs], [f for _, _, f in epochs], ls="--", color=line.get_color())
    left.set_xlabel("optimizer step")
    left.set_ylabel("training loss (moving average)")
    left.set_title("Training loss")
    right.set_xlabel("epoch")
    right.xaxis.set_major_locator(_plt().MaxNLocator(integer=True))
    right.set_ylabel("validation accuracy (solid), macro F1 (dashed)")
    right.set_ylim(0, 1.02)
    right.set_title("Validation per epoch")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], title: str) -> bytes:
    """A confusion matrix (rows true, columns predicted); colour is the share of the true class, text the count."""
    plt = _plt()
    cm = np.asarray(matrix, dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.6 + 0.7 * n, 1.2 + 0.6 * n), dpi=110)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def promotion_history(versions: Sequence[int], candidate: Sequence[float | None],
                      in_use: Sequence[float | None], actions: Sequence[str], metric: str) -> bytes:
    """Per dataset version: the candidate's and the model in use's metric on the new test split, the marker of the
    candidate filled when it was promoted."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    nan = float("nan")
    ax.plot(versions, [nan if v is None else v for v in in_use], marker="s", color="grey", label="model in use")
    cand = [nan if v is None else v for v in candidate]
    ax.plot(versions, cand, color="#4c72b0", alpha=0.5)
    for v, c, a in zip(versions, cand, actions):
        ax.scatter([v], [c], s=70, color="#4c72b0" if a == "promoted" else "white", edgecolors="#4c72b0", zorder=3)
    ax.scatter([], [], color="#4c72b0", label="candidate, promoted")
    ax.scatter([], [], color="white", edgecolors="#4c72b0", label="candidate, kept the model in use")
    ax.set_xticks(list(versions), [f"v{v}" for v in versions])
    ax.set_xlabel("dataset version")
    ax.set_ylabel(f"{metric} on the version's test split")
    ax.set_title("Promotion decisions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def drift(times: Sequence[str], series: dict[str, Sequence[float | None]], threshold: float | None,
          title: str) -> bytes:
    """Drift measures (PSI) per scoring run in time order, with the alert threshold as a dashed line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=110)
    x = np.arange(len(times))
    for name, values in series.items():
        ax.plot(x, [float("nan") if v is None else v for v in values], marker="o", label=name)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="red", label=f"alert above {threshold:g}")
    ax.set_xticks(x, times, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("PSI against the train split")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)
