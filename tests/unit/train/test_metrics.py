from __future__ import annotations

import numpy as np
import pytest

from sora_model.train.metrics import classification_metrics, confusion_matrix


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


def test_direction_metrics_separate_axis_from_direction():
    import numpy as np

    from sora_model.train.metrics import direction_metrics

    # classes: left, right, up, down; reversing swaps left/right and up/down.
    cm = np.array([[6, 4, 0, 0],    # left: 6 right, 4 reversed
                   [5, 5, 0, 0],
                   [0, 0, 7, 1],
                   [2, 0, 1, 9]])   # down: 2 predicted on the wrong axis
    got = direction_metrics(cm, np.array([1, 0, 3, 2]))
    assert got["axis_accuracy"] == pytest.approx((6 + 4 + 5 + 5 + 7 + 1 + 1 + 9) / 40)
    assert got["direction_accuracy"] == pytest.approx((6 + 5 + 7 + 9) / 38)
    with pytest.raises(ValueError, match="each of the 4"):
        direction_metrics(cm, np.array([1, 0]))
