"""Parallel numba kernels over the Lanczos vectors (float64 ``(n,)``, the GIL released).

The dot product, the fused three-term update with both norms, the next Lanczos vector, ``y += a x``,
the float32 copy of a vector, the scaling, and the squared residual norm, used by
:mod:`nqs_dilated.ed.lanczos`, its scratch storage (:mod:`nqs_dilated.ed.scratch`) and the
lockstep search (:mod:`nqs_dilated.ed.lockstep`).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True, nogil=True)
def _dot(a, b):
    s = 0.0
    for i in nb.prange(a.shape[0]):
        s += a[i] * b[i]
    return s


@nb.njit(parallel=True, cache=True, nogil=True)
def _lanczos_update(w, v, vprev, alpha, beta_prev):
    """``w -= alpha v + beta_prev vprev`` and, in the same pass, ``(<v, w>, <w, w>)`` of the result."""
    vw = 0.0
    ww = 0.0
    for i in nb.prange(w.shape[0]):
        x = w[i] - alpha * v[i] - beta_prev * vprev[i]
        w[i] = x
        vw += v[i] * x
        ww += x * x
    return vw, ww


@nb.njit(parallel=True, cache=True, nogil=True)
def _lanczos_next(out, w, v, a2, inv_beta):
    """``out = (w - a2 v) * inv_beta``: the next Lanczos vector after the local
    re-orthogonalisation against ``v``."""
    for i in nb.prange(w.shape[0]):
        out[i] = (w[i] - a2 * v[i]) * inv_beta


@nb.njit(parallel=True, cache=True, nogil=True)
def _axpy(y, a, x):
    """``y += a x``."""
    for i in nb.prange(y.shape[0]):
        y[i] += a * x[i]


@nb.njit(parallel=True, cache=True, nogil=True)
def _to_single(x, out):
    """``out = float32(x)``."""
    for i in nb.prange(x.shape[0]):
        out[i] = np.float32(x[i])


@nb.njit(parallel=True, cache=True, nogil=True)
def _scal(y, a):
    for i in nb.prange(y.shape[0]):
        y[i] *= a


@nb.njit(parallel=True, cache=True, nogil=True)
def _resid2(w, e, x):
    """``||w - e x||^2``."""
    s = 0.0
    for i in nb.prange(w.shape[0]):
        d = w[i] - e * x[i]
        s += d * d
    return s
