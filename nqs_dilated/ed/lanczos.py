"""Memory-lean Lanczos for the lowest eigenpair of a real symmetric operator given as a matvec.

Two-pass Lanczos (e.g. Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed.,
SIAM 2011, ch. 6; C. Lanczos, J. Res. Natl. Bur. Stand. 45, 255 (1950)): only three Lanczos
vectors are kept.

* Pass 1 runs the three-term recurrence from a deterministic (seeded) start vector, stores the
  tridiagonal matrix ``T_m`` and stops when the Ritz residual estimate ``beta_m |s_m|`` of the
  lowest Ritz pair is below ``STOP_FRACTION * tol`` (or on an invariant subspace, or at ``max_iter``).
* The Ritz vector ``psi = sum_j s_j v_j`` (``s`` the lowest eigenvector of ``T_m``) is formed from
  the pass-1 Lanczos vectors when they were kept: in memory up to ``memory_budget`` bytes, then
  in an unnamed scratch file in ``scratch_dir`` (sequential writes and one sequential read,
  about ``n * 8`` bytes of disk per iteration, ``n * 4`` once the Ritz residual estimate is
  below :data:`SINGLE_BELOW` ``* tol``; at 36 sites 0.25 GB per iteration, written on a
  background thread while the next matvec runs, through the page cache while memory lasts and
  then by direct I/O, see :class:`_KeptVectors`). Otherwise pass 2 re-runs the
  same recurrence (same operations, so the same Lanczos vectors up to rounding) and accumulates
  ``psi``, doubling the matvecs.
* The explicit residual ``||H psi - E psi||`` (``E`` the Rayleigh quotient of the normalised
  ``psi``) is measured with one more matvec; while it exceeds ``tol`` the procedure restarts from
  ``psi`` (at most ``max_restarts`` times).

``tol`` is an absolute bound on the residual norm of the normalised vector, default ``1e-8``:
the energy is then accurate to about ``tol**2 / gap`` and amplitudes to about ``tol / gap``.
No re-orthogonalisation is done beyond the local one against the previous vector; the lowest
Ritz value is robust to the loss of orthogonality and the explicit residual check guards the
vector. Each step makes three fused passes over the vectors besides the matvec (see
:func:`_step`), so at 36 sites (252 MB vectors) the vector work is a small part of the step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal

from ._vecops import _axpy, _dot, _lanczos_next, _lanczos_update, _resid2, _scal
from .scratch import CACHE_MARGIN as CACHE_MARGIN
from .scratch import DIRECT_ALIGN as DIRECT_ALIGN
from .scratch import DISK_MARGIN as DISK_MARGIN
from .scratch import _aligned_empty, _KeptVectors

__all__ = ["LanczosResult", "lanczos_ground_state"]


@dataclass
class LanczosResult:
    """Result of :func:`lanczos_ground_state`.

    Attributes:
        energy: Lowest eigenvalue (Rayleigh quotient of :attr:`vector` when it was built, else
            the lowest Ritz value).
        vector: Normalised float64 ``(n,)`` eigenvector, or ``None`` if not requested.
        residual: ``||H psi - E psi||`` (explicit if the vector was built, else the Ritz estimate).
        n_matvec: Number of matrix-vector products.
        n_iter: Lanczos iterations of the last pass 1.
        restarts: Number of restarts.
        second: Second-lowest Ritz value at the end of the last pass 1 (upper bound to the
            second eigenvalue reachable from the start vector), or ``None``.
        converged: Whether the residual reached ``tol``.
        ritz_from: How the last Ritz vector was formed: ``"kept"`` (from the stored pass-1
            vectors), ``"pass 2"`` (recomputed) or ``None`` (no vector requested).
        ritz_seconds: Wall time spent forming Ritz vectors (reading the kept vectors back, or
            pass 2), summed over restarts.
    """

    energy: float
    vector: np.ndarray | None
    residual: float
    n_matvec: int
    n_iter: int
    restarts: int
    second: float | None
    converged: bool
    ritz_from: str | None = None
    ritz_seconds: float = 0.0


#: Pass 1 stops when the Ritz residual estimate is below this fraction of ``tol``; the explicit
#: residual is then measured and a restart follows if it exceeds ``tol``. With the Ritz vector
#: formed from the kept pass-1 vectors the estimate and the explicit residual agree: to 1e-6
#: relative on 4x4 and 4x6 (every sector at 8 values of J2, vectors kept in float64), 2.21e-9
#: explicit for an estimate below 2.5e-9 at 36 sites. The float32 records of late vectors add at
#: most ``0.2 tol`` (:data:`SINGLE_BELOW`), so 0.75 leaves the explicit residual below ``tol``;
#: each halving of the fraction costs about 2 iterations at 36 sites (the residual falls ~20x
#: per 10 iterations).
STOP_FRACTION = 0.75

#: A pass-1 vector formed once the Ritz residual estimate is below ``SINGLE_BELOW * tol`` is kept
#: in float32 when it goes to a scratch file (half the bytes to write and read back). Its weight
#: in the Ritz vector is small: the sum of ``|s_k|`` over the vectors after iteration ``j`` was at
#: most 17.4 times the estimate at ``j`` (4x6 cluster, J2 = 0, 1, 1.3, two sectors each), so the
#: rounding (2^-24 relative) adds at most ``17.4 * 1e3 tol * 6e-8 * ||H - E||`` to the residual,
#: ``0.2 tol`` for ``||H - E|| <= 189`` (36 sites); the explicit residual check guards the rest.
#: At 36 sites the estimate falls below 1e-5 after about 60 of 84 iterations.
SINGLE_BELOW = 1e3


def _step(matvec, v, vprev, w, beta_prev):
    """One Lanczos step into ``w``: returns ``(alpha, a2, beta)``; the next vector is
    ``(w - a2 v) / beta`` (:func:`_lanczos_next`). Three passes over memory besides the matvec:
    ``<v, Hv>``, the three-term update with both norms, and the next vector (the norm of
    ``w - a2 v`` is ``sqrt(<w, w> - a2^2)`` since ``||v|| = 1``)."""
    matvec(v, w)
    alpha = _dot(v, w)
    a2, ww = _lanczos_update(w, v, vprev, alpha, beta_prev)
    beta = float(np.sqrt(max(ww - a2 * a2, 0.0)))
    return alpha + a2, a2, beta


def _lowest(alphas, betas):
    m = len(alphas)
    if m == 1:
        return np.array([alphas[0]]), np.ones((1, 1))
    sel = (0, min(1, m - 1))
    return eigh_tridiagonal(np.asarray(alphas), np.asarray(betas[: m - 1]), select="i", select_range=sel)


def lanczos_ground_state(
    matvec: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n: int,
    *,
    v0: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    seed: int = 0,
    tol: float = 1e-8,
    max_iter: int = 2000,
    max_restarts: int = 5,
    want_vector: bool = True,
    progress: Callable[[int, float, float], None] | None = None,
    memory_budget: int = 256 << 20,
    scratch_dir: str | os.PathLike | None = None,
) -> LanczosResult:
    """Lowest eigenpair of a real symmetric operator.

    Args:
        matvec: ``matvec(x, out) -> out`` computing ``H x`` into ``out`` (float64 ``(n,)``).
        n: Vector length.
        v0: Start vector (float64 ``(n,)``); default a seeded standard-normal vector.
        mask: Optional bool ``(n,)``; the random start vector is zeroed outside it (the
            operator must keep that subspace, e.g. excluded representatives of a sector).
        seed: Seed of the start vector.
        tol: Absolute tolerance on ``||H psi - E psi||`` of the normalised vector.
        max_iter: Maximum Lanczos iterations per pass.
        max_restarts: Maximum restarts from the Ritz vector.
        want_vector: Build the eigenvector (pass 2); if False only the energy is computed
            (stopping on the Ritz residual estimate) and ``vector`` is ``None``.
        progress: Optional ``callback(iteration, lowest_ritz_value, residual_estimate)`` called
            every pass-1 iteration.
        memory_budget: Bytes of memory for keeping pass-1 Lanczos vectors (default 256 MiB).
        scratch_dir: Directory for the pass-1 vectors beyond ``memory_budget`` (an unnamed
            temporary file, gone when the run ends, written and read with direct I/O where the
            file system allows it). Must be on disk, not a RAM file system. If ``None``, or when
            free space falls under the next vector plus 1 GiB, the vectors are not kept and
            pass 2 recomputes them (same result, twice the matvecs).

    Returns:
        A :class:`LanczosResult`.

    Raises:
        ValueError: a zero start vector (e.g. an empty mask).
    """
    if v0 is None:
        rng = np.random.default_rng(seed)
        v0 = rng.standard_normal(n)
        if mask is not None:
            v0[~mask] = 0.0
    else:
        v0 = np.array(v0, dtype=np.float64, copy=True)
    nrm = np.sqrt(_dot(v0, v0))
    if nrm == 0.0:
        raise ValueError("the Lanczos start vector is zero (empty sector?)")
    n_matvec = 0
    restarts = 0
    ritz_seconds = 0.0
    start = v0
    start /= nrm
    del v0
    while True:
        # ---------------- pass 1: tridiagonal matrix
        v = _aligned_empty(n)  # aligned for the direct I/O of the kept vectors
        v[:] = start
        vprev = _aligned_empty(n)
        vprev[:] = 0.0
        w = _aligned_empty(n)
        alphas, betas = [], []
        kept = _KeptVectors(n, memory_budget, scratch_dir) if want_vector else None
        if kept is not None:
            kept.append(v)
        beta_prev = 0.0
        theta, second, est = np.inf, None, np.inf
        s = np.ones(1)
        for it in range(max_iter):
            # local re-orthogonalisation against v (a2: cheap, stabilising) inside _step
            alpha, a2, beta = _step(matvec, v, vprev, w, beta_prev)
            n_matvec += 1
            alphas.append(alpha)
            betas.append(beta)
            vals, vecs = _lowest(alphas, betas)
            theta = float(vals[0])
            second = float(vals[1]) if len(vals) > 1 else None
            s = vecs[:, 0]
            est = abs(beta * s[-1])
            if progress:
                progress(it + 1, theta, est)
            scale = max(1.0, abs(theta))
            if est < STOP_FRACTION * tol or beta < 1e-13 * scale:
                break
            _lanczos_next(vprev, w, v, a2, 1.0 / beta)  # the old vprev is no longer needed
            vprev, v = v, vprev
            beta_prev = beta
            if kept is not None:
                kept.append(v, single=est < SINGLE_BELOW * tol)
        m = len(alphas)
        if not want_vector:
            return LanczosResult(theta, None, est, n_matvec, m, restarts, second, est <= tol)
        t_ritz = time.perf_counter()
        if kept.ok and len(kept) == m:
            del vprev
            psi = kept.ritz(s, v, w)  # psi reuses v's memory
            kept.drop()
            del v
            ritz_from = "kept"
        else:
            kept.drop()
            psi = _pass2(matvec, start, s, m, v, vprev, w)
            n_matvec += m - 1
            del vprev, v
            ritz_from = "pass 2"
        ritz_seconds += time.perf_counter() - t_ritz
        _scal(psi, 1.0 / np.sqrt(_dot(psi, psi)))
        matvec(psi, w)
        n_matvec += 1
        energy = _dot(psi, w)
        residual = float(np.sqrt(max(_resid2(w, energy, psi), 0.0)))
        del w
        if residual <= tol or restarts >= max_restarts:
            return LanczosResult(
                float(energy),
                psi,
                residual,
                n_matvec,
                m,
                restarts,
                second,
                residual <= tol,
                ritz_from,
                ritz_seconds,
            )
        restarts += 1
        start = psi


def _pass2(matvec, start, s, m, v, vprev, w):
    """Pass 2: the Ritz vector ``sum_j s_j v_j`` with the Lanczos vectors recomputed
    (``m - 1`` matvecs); ``v``, ``vprev``, ``w`` are ``(n,)`` work arrays."""
    psi = np.zeros(start.shape[0])
    v[:] = start
    vprev[:] = 0.0
    _axpy(psi, s[0], v)
    beta_prev = 0.0
    for j in range(m - 1):
        # the same operations as pass 1 (alpha, beta recomputed, not taken from pass 1: a
        # recurrence driven by stored coefficients amplifies rounding exponentially)
        _, a2, beta = _step(matvec, v, vprev, w, beta_prev)
        _lanczos_next(vprev, w, v, a2, 1.0 / beta)
        vprev, v = v, vprev
        beta_prev = beta
        _axpy(psi, s[j + 1], v)
    return psi
