"""Sign metrics against hand-computed cases and limits."""

import numpy as np
import pytest

from nqs_dilated.metrics import METRICS, accuracy, overlap, sign_metrics, weighted_accuracy

EXACT = np.array([1, -1, -1, 1], dtype=np.int8)
PRED = np.array([1, 1, -1, -1], dtype=np.int8)
W = np.array([0.4, 0.3, 0.2, 0.1])


def test_hand_computed():
    assert accuracy(PRED, EXACT) == pytest.approx(0.5)
    assert weighted_accuracy(PRED, EXACT, W) == pytest.approx(0.6)  # (0.4 + 0.2) / 1
    assert overlap(PRED, EXACT, W) == pytest.approx(0.2)  # 0.4 - 0.3 + 0.2 - 0.1


def test_weights_need_no_normalisation():
    assert weighted_accuracy(PRED, EXACT, 7 * W) == pytest.approx(0.6)
    assert overlap(PRED, EXACT, 7 * W) == pytest.approx(0.2)


def test_overlap_is_twice_weighted_accuracy_minus_one():
    rng = np.random.default_rng(0)
    exact = rng.choice([-1, 1], 100)
    pred = rng.choice([-1, 1], 100)
    w = rng.random(100)
    assert overlap(pred, exact, w) == pytest.approx(2 * weighted_accuracy(pred, exact, w) - 1)


def test_limits():
    m = sign_metrics(EXACT, EXACT, W)
    assert m == {"accuracy": 1.0, "weighted_accuracy": 1.0, "overlap": 1.0, "n": 4}
    m = sign_metrics(-EXACT, EXACT, W)
    assert m["accuracy"] == 0.0 and m["weighted_accuracy"] == 0.0
    assert m["overlap"] == pytest.approx(-1.0)
    assert set(METRICS) <= set(m)


def test_uniform_weights_reduce_to_accuracy():
    assert weighted_accuracy(PRED, EXACT, np.ones(4)) == pytest.approx(accuracy(PRED, EXACT))


@pytest.mark.parametrize(
    "args",
    [
        (PRED[:3], EXACT, W),  # shapes differ
        (PRED, EXACT, W[:3]),  # weights shape
        (PRED, EXACT, -W),  # negative weights
        (PRED, EXACT, np.zeros(4)),  # zero total weight
        (PRED[:0], EXACT[:0], W[:0]),  # empty set
    ],
)
def test_bad_input_raises(args):
    with pytest.raises(ValueError):
        overlap(*args)
