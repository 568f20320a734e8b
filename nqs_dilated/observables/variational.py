"""Spin correlations and S(q) of NetKet variational states, by Monte Carlo, with error bars."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ed.state import GroundState
from ..lattice import Cluster
from .exact import correlations, structure_factor
from .geometry import allowed_momenta, displacements

__all__ = ["MC_CHUNK_CONFIGS", "MonteCarloCorrelations", "compare_peak", "mc_correlations", "mc_structure_factor"]


@dataclass(frozen=True)
class MonteCarloCorrelations:
    """``<sigma_0 . sigma_d>`` of a variational state estimated by Monte Carlo (NetKet), with errors.

    Attributes:
        cluster: Name of the cluster.
        displacements, vectors: As in :class:`Correlations`.
        sigma: float64 ``(N,)``, the mean of ``(1/N) sum_i sigma_i . sigma_{i+d}`` (Pauli).
        sigma_error: float64 ``(N,)``, its standard error (NetKet's ``error_of_mean``, from the
            autocorrelation of the chains).
    """

    cluster: str
    displacements: np.ndarray
    vectors: np.ndarray
    sigma: np.ndarray
    sigma_error: np.ndarray

    @property
    def s_dot_s(self) -> np.ndarray:
        """``<S_0 . S_d>`` (S.S convention), float64 ``(N,)``."""
        return self.sigma / 4.0


def _pair_operator(hilbert, pairs: list[tuple[int, int]], weights: list[float]):
    """``sum_k w_k sigma_{i_k} . sigma_{j_k}`` as a NetKet ``LocalOperator`` (Pauli)."""
    import netket as nk

    op = nk.operator.LocalOperator(hilbert, dtype=np.float64)
    dot = np.array([[1, 0, 0, 0], [0, -1, 2, 0], [0, 2, -1, 0], [0, 0, 0, 1]], dtype=np.float64)
    for (i, j), w in zip(pairs, weights):
        op += nk.operator.LocalOperator(hilbert, w * dot, [int(i), int(j)])
    return op


def _translated_pairs(cluster: Cluster, k: int) -> list[tuple[int, int]]:
    """The ``N`` pairs ``(i, i + d_k)`` of displacement ``k``."""
    L1, L2 = cluster.extent
    grid = np.asarray(cluster.grid, dtype=np.int64)
    d1, d2 = divmod(k, L2)
    partners = np.asarray(cluster.site_of)[(grid[:, 0] + d1) % L1, (grid[:, 1] + d2) % L2]
    return [(s, int(j)) for s, j in enumerate(partners)]


#: Connected configurations evaluated at once by the Monte Carlo estimates (samples per chunk times
#: the operator's connected elements): the S(q) operator of 36 sites has 1261, so the 1024 samples
#: of a VMC run at once would be 1.3 million network evaluations (33 GB for the 36-site CNN).
MC_CHUNK_CONFIGS = 1 << 15


def _expect(vstate, op):
    """``vstate.expect(op)`` with the samples in chunks of at most :data:`MC_CHUNK_CONFIGS`
    connected configurations (the state's own chunk size restored afterwards)."""
    n_samples = getattr(vstate, "n_samples", None)
    if n_samples is None:  # a full-sum state: its own chunking
        return vstate.expect(op)
    old = vstate.chunk_size
    chunk = max(1, MC_CHUNK_CONFIGS // max(1, op.max_conn_size))
    chunk = 1 << (chunk.bit_length() - 1)  # a power of two, which divides the power-of-two sample counts
    while vstate.n_samples_per_rank % chunk:
        chunk //= 2
    if old is None or old > chunk:
        vstate.chunk_size = chunk
    try:
        return vstate.expect(op)
    finally:
        vstate.chunk_size = old


def mc_correlations(vstate, cluster: Cluster) -> MonteCarloCorrelations:
    """``<sigma_0 . sigma_d>`` of a NetKet variational state on ``cluster``, each as the Monte Carlo
    mean of the translation average ``(1/N) sum_i sigma_i . sigma_{i+d}`` over ``vstate``'s samples
    (:meth:`netket.vqs.MCState.expect`; exact sums for a ``FullSumState``).

    Args:
        vstate: The variational state (Sz = 0 Hilbert space of ``cluster``).
        cluster: The cluster.

    Returns:
        :class:`MonteCarloCorrelations` (not averaged over point images: a variational state need
        not be point-group symmetric).
    """
    disp, vectors = displacements(cluster)
    n = cluster.n_sites
    means, errors = np.empty(n), np.empty(n)
    means[0], errors[0] = 3.0, 0.0
    for k in range(1, n):
        pairs = _translated_pairs(cluster, k)
        stats = _expect(vstate, _pair_operator(vstate.hilbert, pairs, [1.0 / n] * n))
        means[k] = float(np.real(stats.mean))
        errors[k] = float(np.nan_to_num(stats.error_of_mean))
    return MonteCarloCorrelations(cluster.name, disp, vectors, means, errors)


def mc_structure_factor(vstate, cluster: Cluster, m: tuple[int, int]) -> tuple[float, float]:
    """``S(q)`` (S.S units) of a NetKet variational state at the momentum of indices ``m = (m1, m2)``,
    as the Monte Carlo mean of the operator ``(1/N) sum_ij cos(q.(r_i - r_j)) S_i . S_j`` over the
    state's samples: ``(mean, standard error)``.

    Raises:
        ValueError: ``m`` outside ``0 <= m_i < L_i``.
    """
    L1, L2 = cluster.extent
    if not (0 <= m[0] < L1 and 0 <= m[1] < L2):
        raise ValueError(f"momentum indices {m} outside the {L1}x{L2} torus")
    ms, qs = allowed_momenta(cluster)
    q = qs[int(m[0]) * L2 + int(m[1])]
    _, vectors = displacements(cluster)
    n = cluster.n_sites
    pairs, weights = [], []
    for k in range(1, n):  # the d = 0 terms give the constant 3/4
        w = math.cos(float(q @ vectors[k])) / (4.0 * n)
        if abs(w) > 1e-15:
            pairs += _translated_pairs(cluster, k)
            weights += [w] * n
    stats = _expect(vstate, _pair_operator(vstate.hilbert, pairs, weights))
    return 0.75 + float(np.real(stats.mean)), float(np.nan_to_num(stats.error_of_mean))


def compare_peak(ground: GroundState, vstate) -> dict:
    """``S(q)`` of a variational state at the peak of the exact ``S(q)``, next to the exact value.

    Returns:
        ``{"m": [m1, m2], "q": [qx, qy], "exact": S_exact, "variational": S_var, "error": its standard
        error}`` (S.S units; :func:`correlations`, :func:`mc_structure_factor`).

    Raises:
        ValueError: as :func:`correlations`.
    """
    cluster = ground.cluster
    exact = structure_factor(correlations(ground), cluster)
    k = exact.peak
    m = (int(exact.m[k, 0]), int(exact.m[k, 1]))
    mean, error = mc_structure_factor(vstate, cluster, m)
    return {
        "m": list(m),
        "q": [float(exact.q[k, 0]), float(exact.q[k, 1])],
        "exact": float(exact.s[k]),
        "variational": mean,
        "error": error,
    }
