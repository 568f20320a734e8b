"""Ising correlations of a symmetric-basis state, summed over its orbit representatives.

A zero-momentum state stored by orbits (:class:`~nqs_dilated.ed.symmetric.SymmetricGroundState`)
gives each orbit the probability ``c_a^2``; the translation average of ``s_i s_{i+d}`` is the same on
every translate of a representative, so ``<sigma^z_0 sigma^z_d>`` needs no expansion to the full
space: the spin correlations and S(q) of :mod:`nqs_dilated.observables` at 36 sites come from here.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._bitops import popcount64, translate
from .basis import check_cluster

__all__ = ["orbit_zz"]


@nb.njit(parallel=True, cache=True)
def _orbit_zz(reps, weights, L1, L2, T, n_chunks, out):
    """``out[c, k] = sum over representatives a of chunk c of w_a * sum_i s_i(a) s_{i+d_k}(a)``."""
    n = reps.shape[0]
    N = L1 * L2
    size = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        lo = c * size
        hi = min(n, lo + size)
        for a in range(lo, hi):
            w = weights[a]
            if w == 0.0:
                continue
            x = reps[a]
            for d1 in range(L1):
                for d2 in range(L2):
                    y = translate(x, d1, d2, T)
                    out[c, d1 * L2 + d2] += w * (N - 2 * np.float64(popcount64(x ^ y)))


def orbit_zz(state) -> np.ndarray:
    """``<sigma^z_0 sigma^z_d>`` per displacement ``d = d1 a1 + d2 a2`` (row ``d1 * L2 + d2``, float64
    ``(N,)``) of a :class:`~nqs_dilated.ed.symmetric.SymmetricGroundState`, summed over its orbit
    representatives ``a`` with the orbit weights ``c_a^2``: ``sum_a c_a^2 (1/N) sum_i s_i(a) s_{i+d}(a)``
    (one bit translation and one popcount per representative and displacement; parallel over
    representatives). Not averaged over the point group: average over the images of ``d`` for the
    correlator of the state (:func:`nqs_dilated.observables.correlations`)."""
    check_cluster(state.cluster)
    basis = state.basis
    L1, L2 = state.cluster.extent
    weights = np.ascontiguousarray(state.coefficients**2)
    n_chunks = 64
    out = np.zeros((n_chunks, L1 * L2))
    _orbit_zz(basis.representatives, weights, L1, L2, basis.T, n_chunks, out)
    return out.sum(axis=0) / (L1 * L2)
