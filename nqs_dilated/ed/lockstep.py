"""The lockstep sector search: the energy-only Lanczos runs of several zero-momentum sectors
advanced together, one pass over the Hamiltonian structure per step for all of them.

The structure of :class:`~nqs_dilated.ed.operator.SymmetricStructure` does not depend on the
sector: an entry's class code selects the character, so one read of an entry serves every
sector (:class:`LockstepOperator`, vectors interleaved ``(R, K)``). :func:`lanczos_lockstep`
runs the energy-only Lanczos of :func:`~nqs_dilated.ed.lanczos.lanczos_ground_state` for each
sector on those vectors (same start vector, recurrence and stopping rule; only the summation
order differs), a freed slot taking the next sector. What it saves is bounded by the input
vectors: a row block reads the columns it reaches once per sector, so the structure's bytes are
shared but not the vectors' (measured in ``benchmarks/ed_36.py --search``).
Source: Lanczos as in :mod:`nqs_dilated.ed.lanczos`; the symmetric basis as in
:mod:`nqs_dilated.ed.operator` (Sandvik, AIP Conf. Proc. 1297, 135 (2010)).
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from ._vecops import _dot
from .lanczos import STOP_FRACTION, LanczosResult, _lowest
from .lockstep_operator import LockstepOperator

__all__ = ["LOCKSTEP_ACC_BYTES", "LockstepOperator", "compact_columns", "lanczos_lockstep"]

#: Accumulator bytes per thread that a lockstep step (:class:`LockstepOperator`) may use: a row
#: block of ``2**block_bits`` rows holds ``8 K`` bytes per row for ``K`` sectors. At 36 sites
#: (2**17-row blocks, 1 MiB L2 per core, 32 MiB L3) two runs of ``benchmarks/ed_36.py --search``
#: measured per sector and step 1.26 s and 1.70 s with 4 sectors (4 MiB), 1.35 s and 1.49 s with
#: 8 (8 MiB), against a one-sector matvec of 1.78 s and 1.90 s: no clear winner, so the default
#: width stops at 4 MiB, which holds half the vectors of 8.
LOCKSTEP_ACC_BYTES = 4 << 20


#: Rows per partial sum of the lockstep vector passes (fixed, so that the sums do not depend on
#: the number of threads).
_LOCKSTEP_CHUNK = 1 << 16


@nb.njit(parallel=True, cache=True, nogil=True)
def _lockstep_update(u, v, alpha, stab, inv_tab, vw, ww):
    """``u[:, k] -= alpha[k] v[:, k]`` and per chunk of rows the parts of ``<v, u>`` and
    ``<u, u>`` of the result, weights ``inv_tab[stab] = 1 / |Stab|`` (``vw``, ``ww``:
    ``(n_chunks, K)``)."""
    R, K = u.shape
    for ch in nb.prange(vw.shape[0]):
        a0 = ch * _LOCKSTEP_CHUNK
        a1 = min(R, a0 + _LOCKSTEP_CHUNK)
        for k in range(K):
            vw[ch, k] = 0.0
            ww[ch, k] = 0.0
        for a in range(a0, a1):
            iw2 = inv_tab[stab[a]]
            for k in range(K):
                x = u[a, k] - alpha[k] * v[a, k]
                u[a, k] = x
                vw[ch, k] += v[a, k] * x * iw2
                ww[ch, k] += x * x * iw2


@nb.njit(parallel=True, cache=True, nogil=True)
def _lockstep_next(u, v, a2, inv_beta, go):
    """``u[:, k] = (u[:, k] - a2[k] v[:, k]) * inv_beta[k]`` for the columns with ``go[k]``."""
    R, K = u.shape
    for ch in nb.prange((R + _LOCKSTEP_CHUNK - 1) // _LOCKSTEP_CHUNK):
        a0 = ch * _LOCKSTEP_CHUNK
        a1 = min(R, a0 + _LOCKSTEP_CHUNK)
        for a in range(a0, a1):
            for k in range(K):
                if go[k]:
                    u[a, k] = (u[a, k] - a2[k] * v[a, k]) * inv_beta[k]


@nb.njit(cache=True, nogil=True)
def _compact(flat, R, K, cols):
    """Rows of ``flat`` (``(R, K)`` row-major) to ``(R, len(cols))`` in place, ascending."""
    Kn = cols.shape[0]
    for a in range(R):
        for j in range(Kn):
            flat[a * Kn + j] = flat[a * K + cols[j]]


def compact_columns(x: np.ndarray, cols) -> np.ndarray:
    """The columns ``cols`` (ascending) of a C-contiguous ``(R, K)`` array, moved in place to the
    front of its buffer: returns the ``(R, len(cols))`` view (no new memory)."""
    cols = np.asarray(cols, dtype=np.int64)
    R, K = x.shape
    if len(cols) and (np.any(np.diff(cols) <= 0) or cols[0] < 0 or cols[-1] >= K):
        raise ValueError(f"columns must be ascending indices in [0, {K}), got {cols.tolist()}")
    flat = x.reshape(-1)
    _compact(flat, R, K, cols)
    return flat[: R * len(cols)].reshape(R, len(cols))


def lanczos_lockstep(
    op,
    order: list[int],
    *,
    seed: int = 0,
    tol: float = 1e-4,
    max_iter: int = 2000,
    accept: Callable[[int], bool] | None = None,
    on_result: Callable[[int, LanczosResult], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, LanczosResult]:
    """Lowest eigenvalues of several sectors, their energy-only Lanczos runs advanced together.

    Each sector's run is the energy-only run of :func:`lanczos_ground_state` (``want_vector=
    False``): the same seeded start vector restricted to the sector, the same three-term
    recurrence with local re-orthogonalisation, the same stopping rule on the Ritz residual
    estimate; only the floating-point summation order differs. The runs share the passes over the
    structure: one :meth:`~nqs_dilated.ed.operator.LockstepOperator.step` applies ``H`` to one
    vector of every running sector. A slot whose sector has stopped takes the next sector of
    ``order``; without one, the stopped columns are dropped from the vectors (in place) so the
    following passes carry only the running sectors. The vectors are in the operator's scaled
    coordinates, the inner products weighted to match. Memory: two float64 ``(R, K)`` arrays
    (``K = op.n_slots``) and one ``(R,)`` start vector; nothing is written to disk.

    Args:
        op: A :class:`~nqs_dilated.ed.operator.LockstepOperator` (its sectors non-empty).
        order: Indices into ``op.sectors`` of the sectors to run, in the order they take a slot.
        seed: Seed of the start vector (as in :func:`lanczos_ground_state`).
        tol: Stop a sector when its Ritz residual estimate is below ``STOP_FRACTION * tol``.
        max_iter: Most iterations per sector.
        accept: Optional ``accept(s) -> bool`` asked when sector ``s`` is about to take a slot;
            ``False`` leaves it out (e.g. a bound shows it above an energy already found).
        on_result: Optional ``callback(s, result)`` when sector ``s`` stops.
        progress: Optional ``callback(step, running)`` after every lockstep step.

    Returns:
        ``{s: LanczosResult}`` (no vectors) for every sector run; left-out sectors are absent.

    Raises:
        ValueError: an empty sector (zero start vector).
    """
    if len(order) < op.n_slots:  # fewer sectors than slots: no idle columns
        op.compact(np.arange(max(1, len(order))))
    R = op.size
    K = op.n_slots
    g = np.random.default_rng(seed).standard_normal(R)  # the start vector of lanczos_ground_state
    v = np.zeros((R, K))
    u = np.zeros((R, K))
    pending = list(order)
    results: dict[int, LanczosResult] = {}
    runs: list[dict | None] = [None] * K  # per slot: sector, tridiagonal, beta_prev

    def start(slot: int) -> bool:
        """Give ``slot`` the next accepted pending sector (start vector in ``u``, zero in
        ``v``: the columns swap after the step); False when none is left."""
        while pending:
            s = pending.pop(0)
            if accept is not None and not accept(s):
                continue
            op.assign(slot, s)
            col = np.where(op.mask(s), g, 0.0)
            nrm = np.sqrt(_dot(col, col))
            if nrm == 0.0:
                raise ValueError(f"the Lanczos start vector of sector {op.sectors[s]} is zero (empty sector?)")
            col /= nrm
            u[:, slot] = op.to_scaled(col)
            v[:, slot] = 0.0
            runs[slot] = {"s": s, "alphas": [], "betas": [], "beta_prev": 0.0}
            return True
        runs[slot] = None
        return False

    for slot in range(K):
        start(slot)
    u, v = v, u  # start vectors into v, zeros (the previous vectors) into u
    step = 0
    n_chunks = (R + _LOCKSTEP_CHUNK - 1) // _LOCKSTEP_CHUNK
    while any(r is not None for r in runs):
        live = [k for k, r in enumerate(runs) if r is not None]
        if len(live) < len(runs):  # drop the idle columns
            v = compact_columns(v, live)
            u = compact_columns(u, live)
            op.compact(live)
            runs = [runs[k] for k in live]
        K = len(runs)
        beta_prev = np.array([r["beta_prev"] for r in runs])
        alpha = op.step(v, u, beta_prev)  # u = H v - beta_prev u
        vw = np.empty((n_chunks, K))
        ww = np.empty((n_chunks, K))
        _lockstep_update(u, v, alpha, op.stab, op.inv_tab, vw, ww)
        a2 = vw.sum(axis=0)
        ww = ww.sum(axis=0)
        step += 1
        go = np.zeros(K, dtype=np.bool_)
        inv_beta = np.zeros(K)
        restart = []
        for k, r in enumerate(runs):
            beta = float(np.sqrt(max(ww[k] - a2[k] * a2[k], 0.0)))
            r["alphas"].append(float(alpha[k] + a2[k]))
            r["betas"].append(beta)
            vals, vecs = _lowest(r["alphas"], r["betas"])
            theta = float(vals[0])
            est = abs(beta * vecs[-1, 0])
            m = len(r["alphas"])
            if est < STOP_FRACTION * tol or beta < 1e-13 * max(1.0, abs(theta)) or m >= max_iter:
                res = LanczosResult(theta, None, est, m, m, 0, float(vals[1]) if len(vals) > 1 else None, est <= tol)
                results[r["s"]] = res
                if on_result is not None:
                    on_result(r["s"], res)
                restart.append(k)
            else:
                go[k] = True
                inv_beta[k] = 1.0 / beta
                r["beta_prev"] = beta
        _lockstep_next(u, v, a2, inv_beta, go)
        for k in restart:
            start(k)
        u, v = v, u
        if progress is not None:
            progress(step, sum(r is not None for r in runs))
    return results
