"""Classification metrics from a confusion matrix (rows: true class, columns: predicted)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    valid = (y_true >= 0) & (y_true < num_classes)
    idx = y_true[valid].astype(np.int64) * num_classes + y_pred[valid].astype(np.int64)
    return np.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_metrics(cm: np.ndarray) -> dict[str, float | list[list[int]]]:
    """Accuracy and macro precision/recall/F1 (classes absent from both truth and predictions are left out)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    present = (predicted + actual) > 0
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=(precision + recall) > 0)
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "samples": int(total),
        "confusion_matrix": cm.astype(int).tolist(),
    }


def direction_metrics(cm: np.ndarray, reverse: np.ndarray) -> dict[str, float]:
    """Split accuracy into "which motion axis" and "which direction along it".

    ``reverse[c]`` is the class ``c`` becomes when played backwards (left <-> right, clockwise <->
    counter-clockwise). ``axis_accuracy``: the prediction is the true class or its reverse. ``direction_accuracy``:
    of those, the share that got the direction right too. A model that sees frames but not their order can reach
    a high axis accuracy; its direction accuracy is chance, 0.5.
    """
    cm = np.asarray(cm)
    n = cm.shape[0]
    if reverse.shape != (n,):
        raise ValueError(f"reverse must map each of the {n} classes, got shape {reverse.shape}")
    rows = np.arange(n)
    right = cm[rows, rows].astype(np.float64)
    reversed_ = np.where(reverse != rows, cm[rows, reverse], 0).astype(np.float64)
    total, on_axis = cm.sum(), right.sum() + reversed_.sum()
    return {"axis_accuracy": float(on_axis / total) if total else 0.0,
            "direction_accuracy": float(right.sum() / on_axis) if on_axis else 0.0}
