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
(column ``b_e`` and class code ``fam * 2P + z * P + p``), with rows and columns in the graded
order of :mod:`nqs_dilated.ed.grading` and row blocks sorted by column (see
:class:`SymmetricStructure`), so that the matvec's random accesses stay in one core's cache and
its input vector is read as a stream over the few chain classes a block reaches.
Source: Sandvik, AIP Conf. Proc. 1297, 135 (2010), Sec. 4.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba as nb
import numpy as np

from ..hamiltonian import check_couplings
from ._bitops import bond_images
from .basis import SymmetricBasis
from .entries import _count_packed, _emit_packed, _fill_items, _sort_blocks, bond_endpoints, row_counts
from .grading import graded_order
from .layout import BLOCK_BITS as BLOCK_BITS
from .layout import PANEL_ROWS, code_bits, default_block_bits, escape_reserve, structure_bytes

__all__ = ["SectorOperator", "SymmetricStructure", "default_block_bits", "structure_bytes"]


@nb.njit(parallel=True, cache=True, nogil=True)
def _scale(w, x, u):
    for i in nb.prange(x.shape[0]):
        u[i] = w[i] * x[i]


@nb.njit(parallel=True, cache=True, nogil=True)
def _matvec_graded(blk_ptr, entries, block_bits, code_bits, coef, d1, d2, j1, j2, inv_w, u, x, y):
    """``y = D x + inv_w * (sum of coef * u[col])`` in the graded order, parallel over row
    blocks: a block's accumulator (``2**block_bits`` float64) stays in the core's cache while its
    entries are read in column order, so ``u`` is read as a stream, and only over the columns
    that the block's chain classes reach."""
    R = x.shape[0]
    bsh = np.uint32(block_bits)
    dsh = np.uint32(code_bits + block_bits)
    rowmask = np.uint32((1 << block_bits) - 1)
    codemask = np.uint32((1 << code_bits) - 1)
    for b in nb.prange(blk_ptr.shape[0] - 1):
        k0 = b << block_bits
        k1 = min(R, k0 + (1 << block_bits))
        acc = np.zeros(k1 - k0)
        c = 0
        for t in range(blk_ptr[b], blk_ptr[b + 1]):
            e = entries[t]
            c += e >> dsh
            acc[e & rowmask] += coef[(e >> bsh) & codemask] * u[c]
        for k in range(k0, k1):
            iw = inv_w[k]
            if iw == 0.0:
                y[k] = 0.0
            else:
                y[k] = (j1 * d1[k] + j2 * d2[k]) * x[k] + iw * acc[k - k0]


#: Rows per call of the structure fill (a progress step).
FILL_ROWS = 1 << 20


class SymmetricStructure:
    """J2- and sector-independent sparse structure of H in a :class:`SymmetricBasis`.

    Rows and columns are stored in the graded order of :mod:`nqs_dilated.ed.grading`
    (representatives sorted by J2-chain class) and the rows cut into blocks of
    ``2**block_bits``. The entries of a block are sorted by column and stored as uint32 words
    packing the column increment, the class code ``fam * 2P + z * P + p`` and the row within the
    block. The matvec accumulates a block in a cache-resident buffer while it reads the scaled
    input vector as a stream, and in the graded order a block reaches only the chain classes
    next to its own, so most of that vector is skipped (at 36 sites the 252 MB vector is read
    once per block in the basis order, but about a fifth of it in the graded order; measured
    matvec times in ``benchmarks/ed_36.py``). Vectors given to and returned by the operators
    stay in the basis order.

    Attributes:
        basis: The basis.
        order: uint32 ``(R,)``: basis index of each row (and column) in the graded order.
        blk_ptr: int64 ``(n_blocks + 1,)``: start of each row block in :attr:`entries`.
        entries: uint32 ``(nnz + escapes,)`` packed entries.
        d1, d2: int8 ``(R,)``: aligned minus anti-aligned J1 / J2 bonds of each representative
            (graded order).
        nnz: Number of off-diagonal entries (anti-aligned bonds summed over representatives).
        block_bits, delta_bits, code_bits, panel_rows: The layout.
        seconds: Wall time of the build.
        phase_seconds: Its split: ``"order"`` (chain classes and the graded order), ``"fill"``
            (representative search and index lookup of every entry), ``"sort"`` (sorting each
            block by column and packing), ``"other"`` (row counts, allocation).
    """

    def __init__(
        self,
        basis: SymmetricBasis,
        *,
        progress: Callable[[str, float], None] | None = None,
        block_bits: int | None = None,
        panel_rows: int | None = None,
        delta_bits: int | None = None,
    ):
        """Build the structure.

        Args:
            basis: The symmetric basis.
            progress: Optional ``callback(phase, fraction)`` called after each slice of
                :data:`FILL_ROWS` rows.
            block_bits: log2 of the row block (default :func:`default_block_bits`).
            panel_rows: Rows filled and sorted together, a multiple of the block (default
                :data:`PANEL_ROWS` rounded up to one).
            delta_bits: Bits of the column increment, at most (and by default)
                ``32 - code_bits - block_bits``; fewer only to exercise the escapes in tests.

        Raises:
            ValueError: a layout that does not fit 32-bit words, or panels that are not a
                multiple of the block.
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
        self.code_bits = code_bits(P)
        self.block_bits = default_block_bits(R) if block_bits is None else int(block_bits)
        max_delta = 32 - self.code_bits - self.block_bits
        if self.block_bits < 1 or max_delta < 1:
            raise ValueError(
                f"block_bits={self.block_bits}: a row block needs 1 to {31 - self.code_bits} bits "
                f"({self.code_bits} bits of the 32-bit word hold the class code)"
            )
        self.delta_bits = max_delta if delta_bits is None else int(delta_bits)
        if not 1 <= self.delta_bits <= max_delta:
            raise ValueError(
                f"delta_bits={self.delta_bits} must lie in [1, {max_delta}] with block_bits={self.block_bits}"
            )
        block = 1 << self.block_bits
        self.panel_rows = int(-(-PANEL_ROWS // block) * block if panel_rows is None else panel_rows)
        if self.panel_rows <= 0 or self.panel_rows % block:
            raise ValueError(f"panel_rows={self.panel_rows} must be a positive multiple of the block ({block} rows)")
        counts, self.d1, self.d2 = row_counts(reps, bi, bj, self.n_j1)
        t = time.perf_counter()
        self.order = graded_order(reps, cluster, basis.group)
        pos = np.empty(R, dtype=np.uint32)
        pos[self.order] = np.arange(R, dtype=np.uint32)
        counts = counts[self.order]
        self.d1, self.d2 = self.d1[self.order], self.d2[self.order]
        t_order = time.perf_counter() - t
        t_fill = t_sort = 0.0
        bimg = bond_images(bi, bj, basis.T)
        self.nnz = int(counts.sum(dtype=np.int64))
        nblk = max(1, -(-R // block))
        self.n_blocks = nblk
        dmax = (1 << self.delta_bits) - 1
        # the untouched pages of the escape reserve are never allocated
        entries = np.empty(self.nnz + escape_reserve(R, nblk, self.delta_bits), dtype=np.uint32)
        self.blk_ptr = np.zeros(nblk + 1, dtype=np.int64)
        col_bits = max(1, int(R - 1).bit_length())
        pos_out = 0
        if progress:
            progress("structure", 0.0)
        for k0 in range(0, R, self.panel_rows):
            k1 = min(R, k0 + self.panel_rows)
            offsets = np.zeros(k1 - k0 + 1, dtype=np.int64)
            np.cumsum(counts[k0:k1], dtype=np.int64, out=offsets[1:])
            items = np.empty(offsets[-1], dtype=np.uint64)
            # filled in slices of rows so that progress moves within a (tall) panel
            t = time.perf_counter()
            for s0 in range(k0, k1, FILL_ROWS):
                s1 = min(k1, s0 + FILL_ROWS)
                o = offsets[s0 - k0 : s1 - k0 + 1]
                _fill_items(
                    s0,
                    s1,
                    self.order,
                    pos,
                    reps,
                    bi,
                    bj,
                    self.n_j1,
                    basis.T,
                    bimg,
                    basis._low,
                    basis._start,
                    basis._shift,
                    o,
                    items[o[0] :],
                    self.block_bits,
                    2 * P,
                    P,
                )
                if progress:
                    progress("structure", s1 / R)
            t_fill += time.perf_counter() - t
            t = time.perf_counter()
            b0 = k0 >> self.block_bits
            bounds = offsets[np.append(np.arange(0, k1 - k0, block), k1 - k0)]  # the panel's row blocks
            _sort_blocks(items, bounds, col_bits)
            words = np.empty(bounds.shape[0] - 1, dtype=np.int64)
            _count_packed(items, bounds, dmax, words)
            ends = pos_out + np.cumsum(words)
            _emit_packed(
                items,
                bounds,
                ends - words,
                self.delta_bits,
                self.code_bits,
                self.block_bits,
                self.n_codes,
                entries,
            )
            self.blk_ptr[b0 + 1 : b0 + 1 + words.shape[0]] = ends
            pos_out = int(ends[-1])
            t_sort += time.perf_counter() - t
            del offsets, items
        del counts, pos
        self.entries = entries[:pos_out]  # a view; the untouched reserve pages are never allocated
        del entries
        self.seconds = time.perf_counter() - t0
        self.phase_seconds = {
            "order": t_order,
            "fill": t_fill,
            "sort": t_sort,
            "other": self.seconds - t_order - t_fill - t_sort,
        }

    @property
    def nbytes(self) -> int:
        """Memory of the structure arrays in bytes."""
        return sum(a.nbytes for a in (self.blk_ptr, self.entries, self.d1, self.d2, self.order))

    def sector_operator(self, sector, j2: float, j1: float = 1.0) -> SectorOperator:
        """The Hamiltonian at ``(j1, j2)`` in ``sector`` (a label such as ``"A1+"`` or a Sector)."""
        return SectorOperator(self, sector, j2, j1)


class SectorOperator:
    """``H`` restricted to one zero-momentum sector; vectors are float64 ``(R,)`` over all
    representatives, zero on excluded ones.

    The operator acts in the graded order of its structure (:meth:`graded_matvec`, what the
    eigensolver calls: every pass over a vector is then sequential); :meth:`matvec` takes and
    returns vectors in the basis order (ascending codes), and :meth:`to_graded` /
    :meth:`from_graded` convert.

    Attributes:
        structure: The :class:`SymmetricStructure`.
        sector: The :class:`~nqs_dilated.symmetry.Sector`.
        j1, j2: Couplings (Pauli convention).
        w: float64 ``(R,)``, ``sqrt(|Stab|)`` or 0 for excluded representatives (graded order).
        mask: bool ``(R,)``, the kept representatives (graded order).
        dimension: Number of kept representatives.
    """

    def __init__(self, structure: SymmetricStructure, sector, j2: float, j1: float = 1.0):
        basis = structure.basis
        self.structure = structure
        self.sector = basis.group.parse_sector(sector)
        self.j1, self.j2 = check_couplings(j1, j2)
        self.w = basis.sector_weights(self.sector)[structure.order]
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

    def to_graded(self, v: np.ndarray) -> np.ndarray:
        """A vector ``(R,)`` in the basis order, in the graded order (a new array)."""
        return np.asarray(v)[self.structure.order]

    def from_graded(self, v: np.ndarray) -> np.ndarray:
        """A vector ``(R,)`` in the graded order, in the basis order (a new array)."""
        v = np.asarray(v)
        out = np.empty_like(v)
        out[self.structure.order] = v
        return out

    def diagonal(self) -> np.ndarray:
        """Diagonal ``J1 d1 + J2 d2`` (0 on excluded representatives), float64 ``(R,)`` in the
        graded order."""
        s = self.structure
        return np.where(self.mask, self.j1 * s.d1.astype(np.float64) + self.j2 * s.d2.astype(np.float64), 0.0)

    def graded_matvec(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``y = H x`` for float64 ``(R,)`` vectors in the graded order (parallel over row blocks)."""
        s = self.structure
        x = np.ascontiguousarray(x, dtype=np.float64)
        if out is None:
            out = np.empty_like(x)
        if self._u is None or self._u.shape != x.shape:
            self._u = np.empty_like(x)
        _scale(self.w, x, self._u)
        _matvec_graded(
            s.blk_ptr,
            s.entries,
            s.block_bits,
            s.code_bits,
            self.coef,
            s.d1,
            s.d2,
            self.j1,
            self.j2,
            self.inv_w,
            self._u,
            x,
            out,
        )
        self.n_matvec += 1
        return out

    def matvec(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``y = H x`` for float64 ``(R,)`` vectors in the basis order (two permutations around
        :meth:`graded_matvec`)."""
        y = self.from_graded(self.graded_matvec(self.to_graded(np.asarray(x, dtype=np.float64))))
        if out is None:
            return y
        out[...] = y
        return out

    def release(self) -> None:
        """Free the scratch vector."""
        self._u = None

    def to_dense(self) -> np.ndarray:
        """Dense matrix over the kept representatives, in the basis order (small clusters only;
        for tests)."""
        keep = np.nonzero(self.from_graded(self.mask))[0]
        n = self.size
        M = np.zeros((keep.size, keep.size))
        e = np.zeros(n)
        for k, a in enumerate(keep):
            e[:] = 0.0
            e[a] = 1.0
            M[:, k] = self.matvec(e)[keep]
        return M
