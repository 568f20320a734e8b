"""The J1-J2 Hamiltonian in the symmetric basis, stored once for every J2 and every sector.

For representative ``a`` (a basis state of :class:`~nqs_dilated.ed.basis.SymmetricBasis`) the
Hamiltonian (Pauli convention, ``H = J1 sum sigma.sigma + J2 sum sigma.sigma``) acts as

    H|a> = (J1 d1[a] + J2 d2[a]) |a> + sum_{e anti-aligned in a} 2 J_e |s_e>,

with ``d1``/``d2`` the number of aligned minus anti-aligned J1/J2 bonds and ``s_e`` the
configuration with the two spins of bond ``e`` exchanged. With ``s_e = h_e b_e`` (``b_e`` the
representative of ``s_e``) and the orbit states ``|a~> = N_a^-1 sum_g chi(g) g|a>``,
``N_a = sqrt(|Stab(a)| |G'|)``, commuting ``H`` with the group gives

    H|a~> = D_a |a~> + sum_e 2 J_e chi(h_e) (w[b_e] / w[a]) |b_e~>,   w = sqrt(|Stab|),

(``chi(h) = chi(h^-1)`` for the real characters at zero momentum), and since ``H`` is symmetric in
the orthonormal basis,

    y[a] = D_a x[a] + (1 / w[a]) sum_{e in row a} 2 J_e chi(p_e, z_e) w[b_e] x[b_e],

with ``y[a] = 0`` for representatives excluded from the sector (``w[a] = 0``). The structure is
sector-independent: ``d1``, ``d2`` (int8) per representative and one entry per anti-aligned bond
(column ``b_e`` and class code ``fam * 2P + z * P + p``), stored cache-blocked (see
:class:`SymmetricStructure`) so that the matvec's random reads stay in cache.
Source: Sandvik, AIP Conf. Proc. 1297, 135 (2010), Sec. 4.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numba as nb
import numpy as np

from ..hamiltonian import check_couplings
from ._bitops import bond_images, find_rep_flipped, point_translation_images
from .basis import SymmetricBasis, bucket_rank

__all__ = ["SectorOperator", "SymmetricStructure", "default_panel_rows"]


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


def row_counts(reps: np.ndarray, bi: np.ndarray, bj: np.ndarray, n_j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per representative: the number of anti-aligned bonds (uint8, the off-diagonal entries of
    its row) and ``d1``, ``d2`` (int8, aligned minus anti-aligned J1 / J2 bonds)."""
    R = reps.shape[0]
    counts = np.empty(R, dtype=np.uint8)  # at most one entry per bond (< 256)
    d1 = np.empty(R, dtype=np.int8)
    d2 = np.empty(R, dtype=np.int8)
    _count_rows(reps, bi, bj, n_j1, counts, d1, d2)
    return counts, d1, d2


@nb.njit(parallel=True, cache=True)
def _fill_panel(r0, r1, reps, bi, bj, nb1, T, bimg, low, table, shift, offsets, cols, codes, twoP, P):
    """Columns and class codes of rows ``[r0, r1)``, row-major at ``offsets - offsets[0]``.

    Per chunk of 512 rows: (1) representative search for every anti-aligned bond from the
    row's images under point group x translations and the bond images ``bimg``
    (:func:`~nqs_dilated.ed._bitops.find_rep_flipped`, compute-bound), (2) the prefix-table
    loads and (3) the rank in the bucket (:func:`~nqs_dilated.ed.basis.bucket_rank`), as
    separate tight loops over independent entries so that the cache misses of the index lookup
    overlap.
    """
    one = np.uint64(1)
    lowmask = (one << shift) - one
    CH = 512
    base = offsets[0]
    nchunks = (r1 - r0 + CH - 1) // CH
    for ch in nb.prange(nchunks):
        a0 = r0 + ch * CH
        a1 = min(r1, a0 + CH)
        k0 = offsets[a0 - r0] - base
        nk = offsets[a1 - r0] - offsets[a0 - r0]
        rbuf = np.empty(nk, dtype=np.uint64)
        lo = np.empty(nk, dtype=np.int64)
        hi = np.empty(nk, dtype=np.int64)
        images = np.empty((bimg.shape[1], bimg.shape[2]), dtype=np.uint64)
        k = 0
        for a in range(a0, a1):
            x = reps[a]
            point_translation_images(x, T, images)
            for e in range(bi.shape[0]):
                if ((x >> bi[e]) ^ (x >> bj[e])) & one:
                    r, p, z = find_rep_flipped(images, bimg[e], T)
                    rbuf[k] = r
                    fam = 0 if e < nb1 else 1
                    codes[k0 + k] = fam * twoP + z * P + p
                    k += 1
        for k in range(nk):
            key = rbuf[k] >> shift
            lo[k] = table[key]
            hi[k] = table[key + np.uint64(1)]
        for k in range(nk):
            # the representative is known to exist: its rank in its bucket is its position
            t = np.int64(rbuf[k] & lowmask)
            cols[k0 + k] = np.uint32(lo[k] + bucket_rank(low, lo[k], hi[k], t))


@nb.njit(parallel=True, cache=True)
def _tile_counts(r0, r1, offsets, cols, block_bits, nblk, delta_max, nchunks, counts, first, init_last):
    """Entries per column block of panel ``[r0, r1)``, escapes for long row gaps included.

    The panel's rows are cut into ``nchunks`` consecutive chunks counted in parallel:
    ``counts[j, b]`` and ``first[j, b]`` (the first row of chunk ``j`` with an entry in block
    ``b``, or -1). The row gap before each chunk's first entry depends on the chunks before it,
    so it is added afterwards, and ``init_last[j, b]`` receives the row the fill of chunk ``j``
    measures its first increment from.
    """
    base = offsets[0]
    n = r1 - r0
    for j in nb.prange(nchunks):
        ra = r0 + j * n // nchunks
        rb = r0 + (j + 1) * n // nchunks
        last = np.full(nblk, -1, dtype=np.int64)
        for b in range(nblk):
            counts[j, b] = 0
            first[j, b] = -1
        for a in range(ra, rb):
            for k in range(offsets[a - r0] - base, offsets[a - r0 + 1] - base):
                b = cols[k] >> block_bits
                if last[b] < 0:
                    first[j, b] = a
                    counts[j, b] += 1
                else:
                    counts[j, b] += 1 + (a - last[b]) // delta_max
                last[b] = a
        for b in range(nblk):
            init_last[j, b] = last[b]  # the chunk's last row in b, turned into the start row below
    for b in range(nblk):
        prev = r0
        for j in range(nchunks):
            last_j = init_last[j, b]
            init_last[j, b] = prev
            if first[j, b] >= 0:
                counts[j, b] += (first[j, b] - prev) // delta_max
                prev = last_j
    return counts


@nb.njit(parallel=True, cache=True)
def _tile_fill(r0, r1, offsets, cols, codes, block_bits, nblk, delta_max, code_bits, null_code, nchunks, starts, init_last, out):
    """Write panel ``[r0, r1)`` tile by tile, its row chunks in parallel (chunk ``j`` of column
    block ``b`` at ``out[starts[j, b]:]``, after the chunks before it; see :func:`_tile_counts`).

    Entry layout (uint32, high to low): row increment (``32 - code_bits - col_bits`` bits), class
    code (``code_bits``), column within the block (``col_bits``). A row gap of ``delta_max`` or
    more is bridged by escape entries (increment ``delta_max``, the null code, coefficient 0).
    """
    col_bits = np.uint32(32 - code_bits - 6)
    dsh = np.uint32(32 - 6)
    colmask = np.uint32((1 << block_bits) - 1)
    base = offsets[0]
    esc = (np.uint32(delta_max) << dsh) | (np.uint32(null_code) << col_bits)
    n = r1 - r0
    for j in nb.prange(nchunks):
        ra = r0 + j * n // nchunks
        rb = r0 + (j + 1) * n // nchunks
        last = init_last[j].copy()
        pos = starts[j].copy()
        for a in range(ra, rb):
            for k in range(offsets[a - r0] - base, offsets[a - r0 + 1] - base):
                c = cols[k]
                b = c >> block_bits
                d = a - last[b]
                while d >= delta_max:
                    out[pos[b]] = esc
                    pos[b] += 1
                    d -= delta_max
                out[pos[b]] = (np.uint32(d) << dsh) | (np.uint32(codes[k]) << col_bits) | (c & colmask)
                pos[b] += 1
                last[b] = a


@nb.njit(parallel=True, cache=True, nogil=True)
def _scale(w, x, u):
    for i in nb.prange(x.shape[0]):
        u[i] = w[i] * x[i]


@nb.njit(parallel=True, cache=True, nogil=True)
def _matvec_tiled(tile_ptr, entries, nblk, panel_rows, block_bits, code_bits, coef, d1, d2, j1, j2, inv_w, u, x, y):
    """``y = D x + inv_w * sum_tiles coef * u[col]``; parallel over row panels, column blocks
    inner so that the block of ``u`` stays in cache while a tile is read."""
    R = x.shape[0]
    npan = (R + panel_rows - 1) // panel_rows
    col_bits = np.uint32(32 - code_bits - 6)
    dsh = np.uint32(32 - 6)
    colmask = np.uint32((1 << col_bits) - 1)
    codemask = np.uint32((1 << code_bits) - 1)
    for p in nb.prange(npan):
        r0 = p * panel_rows
        r1 = min(R, r0 + panel_rows)
        for a in range(r0, r1):
            y[a] = 0.0
        for b in range(nblk):
            ub = b << block_bits
            r = r0
            t = p * nblk + b
            for k in range(tile_ptr[t], tile_ptr[t + 1]):
                e = entries[k]
                r += e >> dsh
                y[r] += coef[(e >> col_bits) & codemask] * u[ub + (e & colmask)]
        for a in range(r0, r1):
            iw = inv_w[a]
            if iw == 0.0:
                y[a] = 0.0
            else:
                y[a] = (j1 * d1[a] + j2 * d2[a]) * x[a] + iw * y[a]


#: Bits of the row increment in a structure entry.
DELTA_BITS = 6
#: Default column block (``2**BLOCK_BITS`` representatives, 2 MiB of float64). Measured at 36 sites
#: (2 cores, Zen 4 with 1 MiB L2 and 32 MiB L3): 4.05 s per matvec with 18 bits against 4.92 s with
#: 16 bits (512 KiB blocks: four times as many tiles touch each output row's cache line, and the
#: escapes grow the entries from 6.66 to 7.13 GiB), although 16 bits won on a 30-site cluster.
BLOCK_BITS = 18
#: Largest default row panel (rows per task of the parallel matvec; 64 MiB of float64 output).
#: Each panel reads every column block of the input once, so fewer, taller panels read the input
#: vector fewer times; the output rows of a tile are visited in order (streamed). Measured at 36
#: sites in one run (2 cores, block 2^18): 5.64-5.99 s per matvec with 2^20-row panels (31
#: panels), 5.39-5.62 s with 2^21, 4.25-4.48 s with 2^22, 3.83-4.42 s with 2^23 (4 panels); the
#: build then holds one panel's row-major columns and codes, 2.3 GB at 2^23.
PANEL_ROWS = 1 << 23

#: Rows per call of the structure fill (a progress step).
FILL_ROWS = 1 << 20


def default_panel_rows(n_reps: int) -> int:
    """Rows per panel: at most :data:`PANEL_ROWS`, and at least two panels per thread so that
    every core gets work (at least 4096 rows)."""
    threads = max(1, nb.get_num_threads())
    return int(max(1 << 12, min(PANEL_ROWS, -(-n_reps // (2 * threads)))))


class SymmetricStructure:
    """J2- and sector-independent sparse structure of H in a :class:`SymmetricBasis`.

    Storage is cache-blocked: rows are cut into panels of :attr:`panel_rows` representatives and
    columns into blocks of ``2**block_bits``; the entries of one (panel, block) tile are stored
    in row order as uint32 words packing the row increment, the class code
    ``fam * 2P + z * P + p`` and the column within the block. The matvec reads the tiles of a
    panel block by block, so its random reads fall in a 2 MiB slice of the input vector that
    stays in the core's cache instead of in the whole vector (252 MB at 36 sites).

    Attributes:
        basis: The basis.
        tile_ptr: int64 ``(n_panels * n_blocks + 1,)``: start of each tile in :attr:`entries`.
        entries: uint32 ``(nnz + escapes,)`` packed entries.
        d1, d2: int8 ``(R,)``: aligned minus anti-aligned J1 / J2 bonds of each representative.
        nnz: Number of off-diagonal entries (anti-aligned bonds summed over representatives).
        block_bits, panel_rows, code_bits: The layout.
        seconds: Wall time of the build.
        phase_seconds: Its split: ``"fill"`` (representative search and index lookup of every
            entry), ``"tiles"`` (sorting the entries into tiles), ``"other"`` (row counts,
            allocation).
    """

    def __init__(
        self,
        basis: SymmetricBasis,
        *,
        progress: Callable[[str, float], None] | None = None,
        block_bits: int = BLOCK_BITS,
        panel_rows: int | None = None,
    ):
        """Build the structure.

        Args:
            basis: The symmetric basis.
            progress: Optional ``callback(phase, fraction)`` called after each slice of
                :data:`FILL_ROWS` rows.
            block_bits: log2 of the column block size.
            panel_rows: Rows per panel (default :func:`default_panel_rows`).

        Raises:
            MemoryError: more representatives than 32-bit indices can address.
        """
        t0 = time.perf_counter()
        self.basis = basis
        cluster = basis.cluster
        bi, bj, self.n_j1, self.n_j2 = bond_endpoints(cluster)
        reps = basis.representatives
        R = reps.shape[0]
        if R >= 2**32:
            raise MemoryError(f"{R:,} representatives do not fit 32-bit column indices")
        P = basis.n_point
        self.n_codes = 4 * P
        self.code_bits = max(1, math.ceil(math.log2(self.n_codes + 1)))  # + the null code
        col_bits = 32 - DELTA_BITS - self.code_bits
        self.block_bits = int(min(block_bits, col_bits))
        if panel_rows is None:
            panel_rows = default_panel_rows(R)
        self.panel_rows = int(panel_rows)
        counts, self.d1, self.d2 = row_counts(reps, bi, bj, self.n_j1)
        t_fill = t_tiles = 0.0
        bimg = bond_images(bi, bj, basis.T)
        self.nnz = int(counts.sum(dtype=np.int64))
        nblk = max(1, -(-R // (1 << self.block_bits)))
        npan = max(1, -(-R // self.panel_rows))
        self.n_blocks, self.n_panels = nblk, npan
        delta_max = (1 << DELTA_BITS) - 1
        # escapes: at most one per delta_max rows per tile, so this bound is never exceeded
        reserve = npan * nblk * (self.panel_rows // delta_max + 1)
        entries = np.empty(self.nnz + reserve, dtype=np.uint32)
        self.tile_ptr = np.zeros(npan * nblk + 1, dtype=np.int64)
        nchunks = max(1, nb.get_num_threads())
        tc = np.empty((nchunks, nblk), dtype=np.int64)
        first = np.empty((nchunks, nblk), dtype=np.int64)
        init_last = np.empty((nchunks, nblk), dtype=np.int64)
        pos = 0
        if progress:
            progress("structure", 0.0)
        for p in range(npan):
            r0, r1 = p * self.panel_rows, min(R, (p + 1) * self.panel_rows)
            offsets = np.zeros(r1 - r0 + 1, dtype=np.int64)
            np.cumsum(counts[r0:r1], dtype=np.int64, out=offsets[1:])
            cols = np.empty(offsets[-1], dtype=np.uint32)
            codes = np.empty(offsets[-1], dtype=np.uint8)
            # filled in slices of rows so that progress moves within a (tall) panel
            t = time.perf_counter()
            for s0 in range(r0, r1, FILL_ROWS):
                s1 = min(r1, s0 + FILL_ROWS)
                o = offsets[s0 - r0 : s1 - r0 + 1]
                _fill_panel(
                    s0, s1, reps, bi, bj, self.n_j1, basis.T, bimg, basis._low, basis._start, basis._shift, o, cols[o[0] :],
                    codes[o[0] :], 2 * P, P,
                )
                if progress:
                    progress("structure", s1 / R)
            t_fill += time.perf_counter() - t
            t = time.perf_counter()
            _tile_counts(r0, r1, offsets, cols, self.block_bits, nblk, delta_max, nchunks, tc, first, init_last)
            # tile b of the panel holds chunk 0's entries of block b, then chunk 1's, ...
            ends = pos + np.cumsum(tc.T.ravel()).reshape(nblk, nchunks)  # end of (b, j)
            starts = (ends - tc.T).T.copy()  # (nchunks, nblk)
            _tile_fill(
                r0, r1, offsets, cols, codes, self.block_bits, nblk, delta_max, self.code_bits, self.n_codes,
                nchunks, starts, init_last, entries,
            )
            self.tile_ptr[p * nblk + 1 : (p + 1) * nblk + 1] = ends[:, -1]
            pos = int(ends[-1, -1])
            t_tiles += time.perf_counter() - t
            del offsets, cols, codes
        del counts
        self.entries = entries[:pos]  # a view; the untouched reserve pages are never allocated
        del entries
        self.seconds = time.perf_counter() - t0
        self.phase_seconds = {"fill": t_fill, "tiles": t_tiles, "other": self.seconds - t_fill - t_tiles}

    @property
    def nbytes(self) -> int:
        """Memory of the structure arrays in bytes."""
        return sum(a.nbytes for a in (self.tile_ptr, self.entries, self.d1, self.d2))

    def sector_operator(self, sector, j2: float, j1: float = 1.0) -> "SectorOperator":
        """The Hamiltonian at ``(j1, j2)`` in ``sector`` (a label such as ``"A1+"`` or a Sector)."""
        return SectorOperator(self, sector, j2, j1)


class SectorOperator:
    """``H`` restricted to one zero-momentum sector; vectors are float64 ``(R,)`` over all
    representatives, zero on excluded ones.

    Attributes:
        structure: The :class:`SymmetricStructure`.
        sector: The :class:`~nqs_dilated.symmetry.Sector`.
        j1, j2: Couplings (Pauli convention).
        w: float64 ``(R,)``, ``sqrt(|Stab|)`` or 0 for excluded representatives.
        dimension: Number of kept representatives.
    """

    def __init__(self, structure: SymmetricStructure, sector, j2: float, j1: float = 1.0):
        basis = structure.basis
        self.structure = structure
        self.sector = basis.group.parse_sector(sector)
        self.j1, self.j2 = check_couplings(j1, j2)
        self.w = basis.sector_weights(self.sector)
        self.mask = self.w > 0
        self.dimension = int(np.count_nonzero(self.mask))
        with np.errstate(divide="ignore"):
            self.inv_w = np.where(self.mask, 1.0 / np.where(self.mask, self.w, 1.0), 0.0)
        chi = basis.class_characters(self.sector)  # (2P,), index z*P + p
        coef = np.zeros(1 << structure.code_bits, dtype=np.float64)  # the null code keeps 0
        J = (self.j1, self.j2)
        twoP = chi.shape[0]
        for fam in range(2):
            coef[fam * twoP : (fam + 1) * twoP] = 2.0 * J[fam] * chi
        self.coef = coef
        self._u = None
        self.n_matvec = 0

    @property
    def size(self) -> int:
        """Length ``R`` of the vectors."""
        return int(self.w.shape[0])

    def diagonal(self) -> np.ndarray:
        """Diagonal ``J1 d1 + J2 d2`` (0 on excluded representatives), float64 ``(R,)``."""
        s = self.structure
        return np.where(self.mask, self.j1 * s.d1.astype(np.float64) + self.j2 * s.d2.astype(np.float64), 0.0)

    def matvec(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``y = H x`` (float64 ``(R,)``; parallel over rows)."""
        s = self.structure
        x = np.ascontiguousarray(x, dtype=np.float64)
        if out is None:
            out = np.empty_like(x)
        if self._u is None or self._u.shape != x.shape:
            self._u = np.empty_like(x)
        _scale(self.w, x, self._u)
        _matvec_tiled(
            s.tile_ptr, s.entries, s.n_blocks, s.panel_rows, s.block_bits, s.code_bits, self.coef,
            s.d1, s.d2, self.j1, self.j2, self.inv_w, self._u, x, out,
        )
        self.n_matvec += 1
        return out

    def release(self) -> None:
        """Free the scratch vector."""
        self._u = None

    def to_dense(self) -> np.ndarray:
        """Dense matrix over the kept representatives (small clusters only; for tests)."""
        keep = np.nonzero(self.mask)[0]
        n = self.size
        M = np.zeros((keep.size, keep.size))
        e = np.zeros(n)
        for k, a in enumerate(keep):
            e[:] = 0.0
            e[a] = 1.0
            M[:, k] = self.matvec(e)[keep]
        return M
