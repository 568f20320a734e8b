"""Sign metrics: the one place where accuracy, weighted accuracy and overlap are defined.

On a set ``S`` of configurations ``i`` with exact signs ``s_i``, predicted signs ``p_i`` (both ±1)
and weights ``w_i = |psi_i|^2`` (exact squared amplitudes, any normalisation):

* ``accuracy = (1/|S|) sum_i [p_i == s_i]``
* ``weighted_accuracy = sum_i w_i [p_i == s_i] / sum_i w_i``
* ``overlap = sum_i w_i p_i s_i / sum_i w_i = 2 * weighted_accuracy - 1``: the overlap
  ``<psi|phi> / <psi|psi>`` restricted to ``S`` of the exact state with ``phi_i = |psi_i| p_i``
  (exact amplitudes, predicted signs); ``1`` for perfect signs, ``-1`` for all signs flipped.

The sets repeat configurations when drawn with replacement; every occurrence counts. Zero-amplitude
configurations are never in the sets (:mod:`nqs_dilated.data`). On a set already drawn with
probability ``|psi|^2`` the plain ``accuracy`` is the Monte Carlo estimate of the weighted accuracy
of the population it was drawn from (see :mod:`nqs_dilated.data`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METRICS",
    "accuracy",
    "overlap",
    "psi2_sample_estimates",
    "sign_metric_errors",
    "sign_metrics",
    "weighted_accuracy",
]

#: Names of the metrics returned by :func:`sign_metrics`.
METRICS = ("accuracy", "weighted_accuracy", "overlap")


def _check(predicted, exact, weights=None):
    predicted = np.asarray(predicted)
    exact = np.asarray(exact)
    if predicted.shape != exact.shape or predicted.ndim != 1:
        raise ValueError(f"predicted and exact signs must be 1D of equal shape, got {predicted.shape}, {exact.shape}")
    if predicted.size == 0:
        raise ValueError("metrics of an empty set are undefined")
    if weights is None:
        return predicted, exact, None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != exact.shape:
        raise ValueError(f"weights must have shape {exact.shape}, got {weights.shape}")
    if np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError("weights must be non-negative with a positive sum")
    return predicted, exact, weights


def accuracy(predicted: np.ndarray, exact: np.ndarray) -> float:
    """Fraction of configurations whose predicted sign equals the exact sign.

    Args:
        predicted, exact: ``(M,)`` signs ±1 (any numeric dtype).

    Raises:
        ValueError: shapes differ, are not 1D, or the set is empty.
    """
    predicted, exact, _ = _check(predicted, exact)
    return float(np.mean(np.sign(predicted) == np.sign(exact)))


def weighted_accuracy(predicted: np.ndarray, exact: np.ndarray, weights: np.ndarray) -> float:
    """``sum w [p == s] / sum w`` with ``w = |psi|^2`` (``(M,)`` float, any normalisation).

    Raises:
        ValueError: bad shapes, an empty set, negative weights or a zero total weight.
    """
    predicted, exact, weights = _check(predicted, exact, weights)
    match = np.sign(predicted) == np.sign(exact)
    return float(np.sum(weights * match) / np.sum(weights))


def overlap(predicted: np.ndarray, exact: np.ndarray, weights: np.ndarray) -> float:
    """``sum w p s / sum w`` with ``w = |psi|^2``: overlap of the exact state with the state of
    exact amplitudes and predicted signs, restricted to the set (in ``[-1, 1]``).

    Raises:
        ValueError: bad shapes, an empty set, negative weights or a zero total weight.
    """
    predicted, exact, weights = _check(predicted, exact, weights)
    prod = np.sign(predicted).astype(np.float64) * np.sign(exact)
    return float(np.sum(weights * prod) / np.sum(weights))


def sign_metrics(predicted: np.ndarray, exact: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """All of :data:`METRICS` as a dict, plus ``n`` (the set size)."""
    return {
        "accuracy": accuracy(predicted, exact),
        "weighted_accuracy": weighted_accuracy(predicted, exact, weights),
        "overlap": overlap(predicted, exact, weights),
        "n": int(np.asarray(exact).shape[0]),
    }


def psi2_sample_estimates(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics of a set drawn with probability ``|psi|^2``, as estimates of the population's
    weighted figures: ``weighted_accuracy = accuracy`` and ``overlap = 2 accuracy - 1`` (the plain
    means; weighting such a set by ``|psi|^2`` again would count the amplitudes twice)."""
    acc = metrics["accuracy"]
    return {**metrics, "weighted_accuracy": acc, "overlap": 2 * acc - 1}


def sign_metric_errors(
    predicted: np.ndarray, exact: np.ndarray, weights: np.ndarray, sampling: str
) -> dict[str, float]:
    """Standard errors of the figures of a set, from the sample itself.

    * ``sampling == "all"`` (every configuration of a population once, the exhaustive test set):
      the figures are exact for that population, the errors 0.
    * ``"psi2"`` (drawn with probability ``|psi|^2``, with replacement): the figures are the plain
      means of :func:`psi2_sample_estimates`; binomial errors ``sqrt(a (1 - a) / n)`` for the
      accuracy (and weighted accuracy), twice that for the overlap ``2 a - 1``.
    * ``"uniform"`` (drawn uniformly, with replacement): binomial error of the plain accuracy;
      the ``|psi|^2``-weighted figures are ratio estimators ``sum w x / sum w``, with the
      delta-method error ``sqrt(n / (n - 1) sum w^2 (x - o)^2) / sum w`` (``x = p s`` for the
      overlap ``o``; half of it for the weighted accuracy).

    Args:
        predicted, exact: ``(M,)`` signs ±1 (any numeric dtype).
        weights: ``(M,)`` ``|psi|^2`` (any normalisation).
        sampling: ``"all"``, ``"psi2"`` or ``"uniform"`` (:class:`nqs_dilated.data.SignDataset`).

    Returns:
        ``{"accuracy_se", "weighted_accuracy_se", "overlap_se"}``.

    Raises:
        ValueError: bad shapes, an empty set, bad weights or an unknown ``sampling``.
    """
    predicted, exact, weights = _check(predicted, exact, weights)
    x = np.sign(predicted).astype(np.float64) * np.sign(exact)
    n = x.size
    if sampling == "all":
        return {"accuracy_se": 0.0, "weighted_accuracy_se": 0.0, "overlap_se": 0.0}
    a = float(np.mean(x > 0))
    acc_se = float(np.sqrt(a * (1 - a) / n))
    if sampling == "psi2":
        return {"accuracy_se": acc_se, "weighted_accuracy_se": acc_se, "overlap_se": 2 * acc_se}
    if sampling == "uniform":
        o = float(np.sum(weights * x) / np.sum(weights))
        scale = np.sqrt(n / (n - 1)) if n > 1 else 0.0
        o_se = float(scale * np.sqrt(np.sum(weights**2 * (x - o) ** 2)) / np.sum(weights))
        return {"accuracy_se": acc_se, "weighted_accuracy_se": o_se / 2, "overlap_se": o_se}
    raise ValueError(f"unknown sampling {sampling!r}; use 'all', 'psi2' or 'uniform'")
