"""Numba kernels on 64-bit spin codes: popcount, trailing zeros, group action by bit operations.

The cluster is an ``L1 x L2`` torus with site ``i = n1 * L2 + n2`` stored in bit ``i`` of a
``uint64`` (bit set = spin up), so row ``n1`` occupies the ``L2`` bits ``[n1 L2, (n1 + 1) L2)``.

* A translation by ``d1`` along ``a1`` moves row ``n1`` to row ``n1 + d1``: a rotation of the
  ``N``-bit word by ``d1 L2`` bits.
* A translation by ``d2`` along ``a2`` rotates every row by ``d2`` bits; done on the whole word at
  once with two shifts and two column masks.
* A point-group element is applied with byte tables: image = OR over bytes ``k`` of
  ``ptab[p, k, byte_k]``.
* Spin inversion is an XOR with the ``N``-bit mask.

All kernels take the tuple ``T`` built by :func:`make_tables`.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import intrinsic

__all__ = [
    "bond_images",
    "cttz64",
    "find_rep",
    "find_rep_element",
    "find_rep_flipped",
    "image_width",
    "make_tables",
    "point_translation_images",
    "popcount64",
]


@intrinsic
def popcount64(typingctx, x):
    """Number of set bits of a uint64 (LLVM ``ctpop``)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def cttz64(typingctx, x):
    """Number of trailing zero bits of a non-zero uint64 (LLVM ``cttz``)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


def make_tables(n_sites: int, extent: tuple[int, int], point_perms: np.ndarray) -> tuple:
    """Lookup tables for the bit-operation group action.

    Args:
        n_sites: ``N = L1 * L2 <= 64``.
        extent: ``(L1, L2)``; ``L2 <= 16``.
        point_perms: int64 ``(P, N)`` point-group permutations (spin on ``i`` moves to ``perm[i]``).

    Returns:
        ``T = (N, L1, L2, P, nbytes, fullmask, rowmask, ptab, minrot, rot, hi, lo)`` with
        ``ptab`` uint64 ``(P, nbytes, 256)``, ``minrot`` int64 ``(2^L2,)`` (smallest rotation of
        a row), ``rot`` int64 ``(L2, 2^L2)`` (``rot[c, r]``: row ``r`` rotated by ``c``),
        ``hi``/``lo`` uint64 ``(L2,)`` column masks for the in-row rotation.
    """
    L1, L2 = int(extent[0]), int(extent[1])
    N = int(n_sites)
    if N != L1 * L2 or N > 64 or L2 > 16:
        raise ValueError(f"bit tables need N = L1*L2 <= 64 and L2 <= 16, got N={N}, extent={extent}")
    P = int(point_perms.shape[0])
    nbytes = (N + 7) // 8
    ptab = np.zeros((P, nbytes, 256), dtype=np.uint64)
    for p in range(P):
        for k in range(nbytes):
            for v in range(256):
                out = 0
                for j in range(8):
                    i = 8 * k + j
                    if i < N and (v >> j) & 1:
                        out |= 1 << int(point_perms[p, i])
                ptab[p, k, v] = out
    nrow = 1 << L2
    rowmask = nrow - 1
    rot = np.zeros((L2, nrow), dtype=np.int64)
    for c in range(L2):
        for r in range(nrow):
            rot[c, r] = ((r << c) | (r >> (L2 - c))) & rowmask if c else r
    minrot = rot.min(axis=0).astype(np.int64)
    hi = np.zeros(L2, dtype=np.uint64)
    lo = np.zeros(L2, dtype=np.uint64)
    for d in range(L2):
        h = sum(1 << n2 for n2 in range(d, L2))
        l_ = sum(1 << n2 for n2 in range(0, d))
        hi[d] = sum(h << (n1 * L2) for n1 in range(L1))
        lo[d] = sum(l_ << (n1 * L2) for n1 in range(L1))
    fullmask = np.uint64((1 << N) - 1) if N < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return (N, L1, L2, P, nbytes, fullmask, np.uint64(rowmask), ptab, minrot, rot, hi, lo)


@nb.njit(inline="always", cache=True)
def apply_point(x, p, T):
    """Image of code ``x`` under point element ``p``."""
    ptab = T[7]
    out = np.uint64(0)
    for k in range(T[4]):
        out |= ptab[p, k, (x >> np.uint64(8 * k)) & np.uint64(255)]
    return out


@nb.njit(inline="always", cache=True)
def translate(y, d1, d2, T):
    """Image of code ``y`` under the translation by ``d1 a1 + d2 a2`` (``0 <= d < L``)."""
    N = T[0]
    L2 = T[2]
    s = d1 * L2
    if s:
        y = ((y << np.uint64(s)) | (y >> np.uint64(N - s))) & T[5]
    if d2:
        y = ((y << np.uint64(d2)) & T[10][d2]) | ((y >> np.uint64(L2 - d2)) & T[11][d2])
    return y


@nb.njit(inline="always", cache=True)
def find_rep_element(x, T):
    """Smallest image of ``x`` under translations x point group x spin inversion, and a group
    element reaching it.

    Returns:
        ``(rep, p, z, d1, d2)``: the representative, and spin flip ``z``, point element ``p`` and
        translation ``d1 a1 + d2 a2`` of an element ``h`` with ``h(x) = rep`` (as
        :func:`apply_element` composes them).
    """
    L1 = T[1]
    L2 = T[2]
    P = T[3]
    fullmask = T[5]
    rowmask = T[6]
    minrot = T[8]
    rot = T[9]
    topshift = np.uint64((L1 - 1) * L2)
    best = x
    bp = 0
    bz = 0
    bd1 = 0
    bd2 = 0
    for p in range(P):
        yp = apply_point(x, p, T) if p > 0 else x
        for z in range(2):
            y = yp ^ fullmask if z else yp
            m = 1 << 30
            for k in range(L1):
                mr = minrot[(y >> np.uint64(k * L2)) & rowmask]
                if mr < m:
                    m = mr
            if m > np.int64(best >> topshift):
                continue
            for k in range(L1):
                r = (y >> np.uint64(k * L2)) & rowmask
                if minrot[r] != m:
                    continue
                d1 = (L1 - 1 - k) % L1
                for c in range(L2):
                    if rot[c, r] == m:
                        img = translate(y, d1, c, T)
                        if img < best:
                            best = img
                            bp = p
                            bz = z
                            bd1 = d1
                            bd2 = c
    return best, bp, bz, bd1, bd2


@nb.njit(cache=True)
def find_rep(x, T):
    """Smallest image of ``x`` under translations x point group x spin inversion.

    Returns:
        ``(rep, p, z)``: the representative and the point element / spin flip of a group
        element mapping ``x`` to it (the translation part is not needed at zero momentum; see
        :func:`find_rep_element`).
    """
    best, bp, bz, _, _ = find_rep_element(x, T)
    return best, bp, bz


def image_width(T) -> int:
    """Number of translations ``L1 * L2`` rounded up to a multiple of 8 (one 512-bit vector of
    uint64), the last axis of :func:`point_translation_images` (padded with copies of the
    identity translation, which leave minima and maxima unchanged)."""
    return (T[1] * T[2] + 7) // 8 * 8


@nb.njit(inline="always", cache=True)
def point_translation_images(x, T, out):
    """``out[p, d1 * L2 + d2]``: image of ``x`` under point element ``p``, then the translation
    by ``d1 a1 + d2 a2``; ``out`` is uint64 ``(P, image_width(T))``, the padding filled with the
    untranslated image."""
    L1 = T[1]
    L2 = T[2]
    for p in range(T[3]):
        y = apply_point(x, p, T) if p > 0 else x
        for d1 in range(L1):
            for d2 in range(L2):
                out[p, d1 * L2 + d2] = translate(y, d1, d2, T)
        for t in range(L1 * L2, out.shape[1]):
            out[p, t] = y


def bond_images(bi: np.ndarray, bj: np.ndarray, T) -> np.ndarray:
    """Images of the two-spin masks of the bonds under point group x translations.

    Returns:
        uint64 ``(B, P, image_width(T))``: ``out[e, p, t]`` is the image of
        ``2**bi[e] | 2**bj[e]`` under point element ``p`` and translation ``t`` (see
        :func:`point_translation_images`).
    """
    out = np.empty((bi.shape[0], T[3], image_width(T)), dtype=np.uint64)
    _bond_images(np.asarray(bi, dtype=np.uint64), np.asarray(bj, dtype=np.uint64), T, out)
    return out


@nb.njit(cache=True)
def _bond_images(bi, bj, T, out):
    one = np.uint64(1)
    for e in range(bi.shape[0]):
        point_translation_images((one << bi[e]) | (one << bj[e]), T, out[e])


@nb.njit(inline="always", cache=True)
def find_rep_flipped(images, flip_images, T):
    """Representative of ``x ^ m`` from the images of ``x`` and of ``m`` (a two-spin mask).

    Every group element is a bit permutation ``g`` (point element and translation) possibly
    followed by spin inversion, so ``g(x ^ m) = g(x) ^ g(m)``, and the image under the element
    with spin inversion is the complement: the minimum over the ``2 P L1 L2`` elements is, per
    point element, the smaller of ``min_t (x_t ^ m_t)`` and ``fullmask ^ max_t (x_t ^ m_t)``.
    The loop over translations is a vectorized XOR / min / max (8 uint64 per 512-bit vector),
    about 3x faster than :func:`find_rep` at 36 sites.

    Args:
        images: uint64 ``(P, W)`` from :func:`point_translation_images` of ``x``.
        flip_images: uint64 ``(P, W)`` the same for ``m``.

    Returns:
        ``(rep, p, z)`` as :func:`find_rep` (the first point element / spin flip, in the order
        ``p`` then ``z``, that reaches the minimum).
    """
    full = T[5]
    best = np.uint64(0xFFFFFFFFFFFFFFFF)
    bp = 0
    bz = 0
    for p in range(images.shape[0]):
        mn = np.uint64(0xFFFFFFFFFFFFFFFF)
        mx = np.uint64(0)
        for t in range(images.shape[1]):
            v = images[p, t] ^ flip_images[p, t]
            mn = min(mn, v)
            mx = max(mx, v)
        if mn < best:
            best = mn
            bp = p
            bz = 0
        if (mx ^ full) < best:
            best = mx ^ full
            bp = p
            bz = 1
    return best, bp, bz


@nb.njit(cache=True)
def is_rep(x, T):
    """Whether ``x`` is the smallest code of its orbit (early exit on the first smaller image)."""
    L1 = T[1]
    L2 = T[2]
    P = T[3]
    fullmask = T[5]
    rowmask = T[6]
    minrot = T[8]
    rot = T[9]
    top = np.int64(x >> np.uint64((L1 - 1) * L2))
    for p in range(P):
        yp = apply_point(x, p, T) if p > 0 else x
        for z in range(2):
            y = yp ^ fullmask if z else yp
            m = 1 << 30
            for k in range(L1):
                mr = minrot[(y >> np.uint64(k * L2)) & rowmask]
                if mr < m:
                    m = mr
            if m < top:
                return False
            if m > top:
                continue
            for k in range(L1):
                r = (y >> np.uint64(k * L2)) & rowmask
                if minrot[r] != m:
                    continue
                d1 = (L1 - 1 - k) % L1
                for c in range(L2):
                    if rot[c, r] == m:
                        if translate(y, d1, c, T) < x:
                            return False
    return True


@nb.njit(cache=True)
def stab_counts(x, T, out):
    """Fill ``out[z * P + p]`` with the number of stabilizer elements of ``x`` of class ``(p, z)``."""
    L1 = T[1]
    L2 = T[2]
    P = T[3]
    fullmask = T[5]
    rowmask = T[6]
    minrot = T[8]
    rot = T[9]
    top = np.int64(x >> np.uint64((L1 - 1) * L2))
    for p in range(P):
        yp = apply_point(x, p, T) if p > 0 else x
        for z in range(2):
            y = yp ^ fullmask if z else yp
            cnt = 0
            for k in range(L1):
                r = (y >> np.uint64(k * L2)) & rowmask
                if minrot[r] != top:
                    continue
                d1 = (L1 - 1 - k) % L1
                for c in range(L2):
                    if rot[c, r] == top:
                        if translate(y, d1, c, T) == x:
                            cnt += 1
            out[z * P + p] = cnt


@nb.njit(cache=True)
def apply_element(x, d1, d2, p, z, T):
    """Image of ``x`` under spin flip ``z``, then point element ``p``, then translation ``(d1, d2)``."""
    y = apply_point(x, p, T) if p > 0 else x
    if z:
        y ^= T[5]
    return translate(y, d1, d2, T)
