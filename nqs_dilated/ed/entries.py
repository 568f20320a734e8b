"""Numba kernels that build the entries of :class:`~nqs_dilated.ed.operator.SymmetricStructure`.

The bonds as endpoint arrays (:func:`bond_endpoints`), the off-diagonal count and diagonal of
every row (:func:`row_counts`), the fill of a slice of graded rows (representative search and
index lookup of every anti-aligned bond, :func:`_fill_items`), the stable sort of each row
block by column (:func:`_sort_blocks`), and the packing of the sorted blocks into uint32 words
with escapes over long column gaps (:func:`_count_packed`, :func:`_emit_packed`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._bitops import find_rep_flipped, point_translation_images
from .lookup import bucket_rank

__all__ = ["bond_endpoints", "row_counts"]


@nb.njit(parallel=True, cache=True)
def _count_rows(reps, bi, bj, nb1, counts, d1, d2):
    one = np.uint64(1)
    for a in nb.prange(reps.shape[0]):
        x = reps[a]
        c = 0
        s1 = 0
        s2 = 0
        for e in range(bi.shape[0]):
            anti = np.int64(((x >> bi[e]) ^ (x >> bj[e])) & one)
            c += anti
            if e < nb1:
                s1 += 1 - 2 * anti
            else:
                s2 += 1 - 2 * anti
        counts[a] = c
        d1[a] = s1
        d2[a] = s2


def bond_endpoints(cluster) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Bond endpoints as uint64 ``(B,)`` arrays ``(bi, bj)``, the J1 bonds first, and the numbers
    of J1 and J2 bonds.

    Raises:
        ValueError: more than 255 bonds (rows count their entries in uint8).
    """
    b1 = cluster.bonds("J1")
    b2 = cluster.bonds("J2")
    bonds = np.concatenate([b1, b2]).astype(np.uint64)
    if len(bonds) > 255:
        raise ValueError(f"{cluster.name} has {len(bonds)} bonds; the structure counts at most 255 per row")
    return np.ascontiguousarray(bonds[:, 0]), np.ascontiguousarray(bonds[:, 1]), len(b1), len(b2)


def row_counts(
    reps: np.ndarray, bi: np.ndarray, bj: np.ndarray, n_j1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per representative: the number of anti-aligned bonds (uint8, the off-diagonal entries of
    its row) and ``d1``, ``d2`` (int8, aligned minus anti-aligned J1 / J2 bonds)."""
    R = reps.shape[0]
    counts = np.empty(R, dtype=np.uint8)  # at most one entry per bond (< 256)
    d1 = np.empty(R, dtype=np.int8)
    d2 = np.empty(R, dtype=np.int8)
    _count_rows(reps, bi, bj, n_j1, counts, d1, d2)
    return counts, d1, d2


@nb.njit(parallel=True, cache=True)
def _fill_items(k0, k1, order, pos, reps, bi, bj, nb1, T, bimg, low, table, shift, offsets, items, block_bits, twoP, P):
    """Entries of the graded rows ``[k0, k1)`` as uint64 items, row-major at ``offsets - offsets[0]``:
    ``graded column << 32 | class code << block_bits | row within its block``.

    Per chunk of 512 rows: (1) representative search for every anti-aligned bond from the
    row's images under point group x translations and the bond images ``bimg``
    (:func:`~nqs_dilated.ed._bitops.find_rep_flipped`, compute-bound), (2) the prefix-table
    loads, (3) the rank in the bucket (:func:`~nqs_dilated.ed.lookup.bucket_rank`) and (4) the
    graded position ``pos`` of that basis index, as separate tight loops over independent
    entries so that the cache misses of the lookups overlap.
    """
    one = np.uint64(1)
    lowmask = (one << shift) - one
    rowmask = (1 << block_bits) - 1
    bsh = np.uint64(block_bits)
    CH = 512
    base = offsets[0]
    nchunks = (k1 - k0 + CH - 1) // CH
    for ch in nb.prange(nchunks):
        a0 = k0 + ch * CH
        a1 = min(k1, a0 + CH)
        j0 = offsets[a0 - k0] - base
        nk = offsets[a1 - k0] - offsets[a0 - k0]
        rbuf = np.empty(nk, dtype=np.uint64)
        tail = np.empty(nk, dtype=np.uint64)
        lo = np.empty(nk, dtype=np.int64)
        hi = np.empty(nk, dtype=np.int64)
        images = np.empty((bimg.shape[1], bimg.shape[2]), dtype=np.uint64)
        k = 0
        for g in range(a0, a1):
            x = reps[order[g]]
            point_translation_images(x, T, images)
            row = np.uint64(g & rowmask)
            for e in range(bi.shape[0]):
                if ((x >> bi[e]) ^ (x >> bj[e])) & one:
                    r, p, z = find_rep_flipped(images, bimg[e], T)
                    rbuf[k] = r
                    fam = 0 if e < nb1 else 1
                    tail[k] = (np.uint64(fam * twoP + z * P + p) << bsh) | row
                    k += 1
        for k in range(nk):
            key = rbuf[k] >> shift
            lo[k] = table[key]
            hi[k] = table[key + np.uint64(1)]
        for k in range(nk):
            # the representative is known to exist: its rank in its bucket is its position
            t = np.int64(rbuf[k] & lowmask)
            lo[k] = lo[k] + bucket_rank(low, lo[k], hi[k], t)
        for k in range(nk):
            items[j0 + k] = (np.uint64(pos[lo[k]]) << np.uint64(32)) | tail[k]


@nb.njit(cache=True)
def _radix_pass(src, dst, shift, bits):
    """Stable counting sort of ``src`` into ``dst`` by the digit ``(v >> shift) & (2**bits - 1)``."""
    mask = np.uint64((1 << bits) - 1)
    sh = np.uint64(shift)
    cnt = np.zeros(1 << bits, dtype=np.int64)
    for i in range(src.shape[0]):
        cnt[(src[i] >> sh) & mask] += 1
    s = 0
    for d in range(cnt.shape[0]):
        c = cnt[d]
        cnt[d] = s
        s += c
    for i in range(src.shape[0]):
        d = (src[i] >> sh) & mask
        dst[cnt[d]] = src[i]
        cnt[d] += 1


@nb.njit(parallel=True, cache=True)
def _sort_blocks(items, bounds, col_bits):
    """Sort each block ``items[bounds[b]:bounds[b + 1]]`` by its graded column (bits 32 and up),
    stably (LSD radix sort, 11-bit digits), so entries of one column keep their row order."""
    RAD = 11
    npass = (col_bits + RAD - 1) // RAD
    for b in nb.prange(bounds.shape[0] - 1):
        seg = items[bounds[b] : bounds[b + 1]]
        tmp = np.empty_like(seg)
        for ps in range(npass):
            if ps % 2 == 0:
                _radix_pass(seg, tmp, 32 + ps * RAD, RAD)
            else:
                _radix_pass(tmp, seg, 32 + ps * RAD, RAD)
        if npass % 2 == 1:
            seg[:] = tmp


@nb.njit(parallel=True, cache=True)
def _count_packed(items, bounds, dmax, out):
    """Packed words of each sorted block: its entries plus the escapes that bridge column gaps
    of ``dmax`` or more."""
    for b in nb.prange(bounds.shape[0] - 1):
        c = np.int64(0)
        n = np.int64(0)
        for i in range(bounds[b], bounds[b + 1]):
            col = np.int64(items[i] >> np.uint64(32))
            n += 1 + (col - c) // dmax
            c = col
        out[b] = n


@nb.njit(parallel=True, cache=True)
def _emit_packed(items, bounds, starts, delta_bits, code_bits, block_bits, null_code, out):
    """Write each sorted block at ``out[starts[b]:]``: uint32 words, high to low, of the column
    increment (``delta_bits``), the class code (``code_bits``) and the row within the block
    (``block_bits``). A column gap of ``2**delta_bits - 1`` or more is bridged by escape words
    (full increment, the null code, coefficient 0)."""
    dsh = np.uint32(code_bits + block_bits)
    dmax = (1 << delta_bits) - 1
    esc = (np.uint32(dmax) << dsh) | (np.uint32(null_code) << np.uint32(block_bits))
    lowmask = np.uint64((1 << (code_bits + block_bits)) - 1)
    for b in nb.prange(bounds.shape[0] - 1):
        p = starts[b]
        c = np.int64(0)
        for i in range(bounds[b], bounds[b + 1]):
            v = items[i]
            col = np.int64(v >> np.uint64(32))
            d = col - c
            while d >= dmax:
                out[p] = esc
                p += 1
                d -= dmax
            out[p] = (np.uint32(d) << dsh) | np.uint32(v & lowmask)
            p += 1
            c = col
