"""Numba kernels that find the representatives of codes and their index in a symmetric basis.

The index of a code among the sorted representatives of a
:class:`~nqs_dilated.ed.basis.SymmetricBasis` (:func:`_lookup`, by its bucket table and
:func:`bucket_rank`), the representative, index and group element of many codes at once, and
group elements applied to many codes.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._bitops import apply_element, find_rep, popcount64


@nb.njit(inline="always", cache=True)
def bucket_rank(low, lo, hi, t):
    """Number of entries of the sorted ``low[lo:hi]`` below ``t`` (a vectorized count: a bucket
    is a few contiguous cache lines, so reading it whole beats the dependent reads of a bisection)."""
    c = 0
    for i in range(lo, hi):
        c += np.int64(low[i]) < t
    return c


@nb.njit(cache=True)
def _lookup(code, low, start, shift):
    """Index of ``code`` in the sorted representatives, or -1.

    ``start`` (uint32, length ``K + 1``) holds, for every key ``k = code >> shift < K``, the
    first index of a representative with that key, and ``low`` the ``shift`` low bits of every
    representative (uint16 or uint32, :meth:`SymmetricBasis._build_lookup`): the representatives
    of a bucket differ only there. Representatives cluster in code space (at 36 sites 65 % of
    them lie in buckets of 32 or more, up to 126, for 1.44 slots per representative), so the
    position in the bucket is counted over ``low`` (2 bytes per entry) rather than bisected
    over the 8-byte codes: about two cache misses per lookup.
    """
    key = code >> shift
    if key >= np.uint64(start.shape[0] - 1):
        return -1
    lo = np.int64(start[key])
    hi = np.int64(start[key + np.uint64(1)])
    t = np.int64(code & ((np.uint64(1) << shift) - np.uint64(1)))
    i = lo + bucket_rank(low, lo, hi, t)
    if i < hi and np.int64(low[i]) == t:
        return i
    return -1


@nb.njit(parallel=True, cache=True)
def _find_many(codes, half, T, low, start, shift, out_idx, out_p, out_z):
    fullmask = T[5]
    for i in nb.prange(codes.shape[0]):
        x = codes[i]
        if (x & ~fullmask) != 0 or popcount64(x) != half:
            out_idx[i] = -1
            out_p[i] = 0
            out_z[i] = 0
            continue
        r, p, z = find_rep(x, T)
        out_idx[i] = _lookup(r, low, start, shift)
        out_p[i] = p
        out_z[i] = z


@nb.njit(parallel=True, cache=True)
def _apply_many(codes, d1, d2, p, z, T, out):
    for i in nb.prange(codes.shape[0]):
        out[i] = apply_element(codes[i], d1[i], d2[i], p[i], z[i], T)
