from __future__ import annotations

import numpy as np
import pytest

from sora_model.metrics import classification_metrics, confusion_matrix


def test_perfect_predictions():
    y = np.array([0, 1, 2, 2])
    m = classification_metrics(confusion_matrix(y, y, 3))
    assert m["accuracy"] == m["macro_f1"] == m["macro_precision"] == m["macro_recall"] == 1.0


def test_known_values():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    cm = confusion_matrix(y_true, y_pred, 2)
    assert cm.tolist() == [[1, 1], [0, 2]]
    m = classification_metrics(cm)
    assert m["accuracy"] == 0.75
    assert m["macro_precision"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert m["macro_recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_unlabelled_rows_are_ignored():
    cm = confusion_matrix(np.array([-1, 0]), np.array([1, 0]), 2)
    assert cm.sum() == 1
