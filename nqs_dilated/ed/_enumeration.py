"""Numba kernels that list the orbit representatives of the Sz = 0 space and their stabilizers.

The enumeration of :class:`~nqs_dilated.ed.basis.SymmetricBasis` walks, under each fixed prefix of
top rows (a unit), the remaining bits with Gosper's hack and keeps the codes that are orbit
minima (:func:`_scan_unit`, parallel over units in :func:`_scan_units`, counting or filling).
Also here: the stabilizer counts of given representatives, the check that given codes are
representatives, and the ascending list of all Sz = 0 codes.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._bitops import cttz64, is_rep
from ._bitops import stab_counts as _stab_kernel


@nb.njit(cache=True)
def _row_ok(r, t, minrot, rowmask):
    return minrot[r] >= t and minrot[r ^ rowmask] >= t


@nb.njit(cache=True)
def _scan_unit(pre, t, k1, n_iter, nlow, nlowrows, T, out_reps, out_stab, offset, fill):
    """Walk the ``nlow``-bit words with ``k1`` ones under prefix ``pre``; count (or store) reps."""
    L2 = T[2]
    rowmask = T[6]
    minrot = T[8]
    count = 0
    if k1 == 0:
        v = np.uint64(0)
    else:
        v = (np.uint64(1) << np.uint64(k1)) - np.uint64(1)
    one = np.uint64(1)
    for it in range(n_iter):
        ok = True
        for k in range(nlowrows):
            r = (v >> np.uint64(k * L2)) & rowmask
            if minrot[r] < t or minrot[r ^ rowmask] < t:
                ok = False
                break
        if ok:
            x = pre | v
            if is_rep(x, T):
                if fill:
                    out_reps[offset + count] = x
                    _stab_kernel(x, T, out_stab[offset + count])
                count += 1
        if it + 1 < n_iter:
            tt = v | (v - one)
            v = (tt + one) | ((((~tt) & (tt + one)) - one) >> (cttz64(v) + one))
    return count


@nb.njit(parallel=True, cache=True)
def _scan_units(pres, tops, k1s, niters, order, nlow, nlowrows, T, out_reps, out_stab, offsets, counts, fill, nthr):
    nunits = order.shape[0]
    for tid in nb.prange(nthr):
        for j in range(tid, nunits, nthr):
            u = order[j]
            counts[u] = _scan_unit(
                pres[u], tops[u], k1s[u], niters[u], nlow, nlowrows, T, out_reps, out_stab, offsets[u], fill
            )


@nb.njit(parallel=True, cache=True)
def _stab_all(reps, T, out):
    for i in nb.prange(reps.shape[0]):
        _stab_kernel(reps[i], T, out[i])


@nb.njit(parallel=True, cache=True)
def _check_reps(reps, T):
    bad = 0
    for i in nb.prange(reps.shape[0]):
        if not is_rep(reps[i], T):
            bad += 1
    return bad


@nb.njit(cache=True)
def _sz0_codes(n, half, count, out):
    """All ``count = C(n, half)`` codes with ``half`` ones among ``n`` bits, ascending (serial)."""
    one = np.uint64(1)
    v = (one << np.uint64(half)) - one if half > 0 else np.uint64(0)
    for it in range(count):
        out[it] = v
        if it + 1 < count:
            tt = v | (v - one)
            v = (tt + one) | ((((~tt) & (tt + one)) - one) >> (cttz64(v) + one))
