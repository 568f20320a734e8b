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

with ``y[a] = 0`` for representatives excluded from the sector (``w[a] = 0``). The structure keeps
one CSR row per representative (all of them, sector-independently): ``d1``, ``d2`` (int8) and one
entry per anti-aligned bond, a uint32 packing the column ``b_e`` (low bits) and a code
``fam * 2P + z * P + p`` (high bits); if the column does not fit, codes go to a separate uint8
array. Source: Sandvik, AIP Conf. Proc. 1297, 135 (2010), Sec. 4.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numba as nb
import numpy as np

from ..hamiltonian import check_couplings
from ._bitops import find_rep
from .basis import SymmetricBasis

__all__ = ["SectorOperator", "SymmetricStructure"]


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


@nb.njit(parallel=True, cache=True)
def _fill_rows(start, stop, reps, bi, bj, nb1, T, table, shift, rowptr, entries, codes, colbits, twoP, P, packed):
    """Fill rows ``[start, stop)`` in chunks of 512 rows.

    Per chunk: (1) representative search for every anti-aligned bond (compute-bound), (2) the
    prefix-table loads and (3) the short binary searches, as separate tight loops over
    independent entries so that the cache misses of the index lookup overlap.
    """
    one = np.uint64(1)
    CH = 512
    nchunks = (stop - start + CH - 1) // CH
    for ch in nb.prange(nchunks):
        a0 = start + ch * CH
        a1 = min(stop, a0 + CH)
        k0 = rowptr[a0]
        nk = rowptr[a1] - k0
        rbuf = np.empty(nk, dtype=np.uint64)
        lo = np.empty(nk, dtype=np.int64)
        hi = np.empty(nk, dtype=np.int64)
        cbuf = np.empty(nk, dtype=np.uint8)
        k = 0
        for a in range(a0, a1):
            x = reps[a]
            for e in range(bi.shape[0]):
                if ((x >> bi[e]) ^ (x >> bj[e])) & one:
                    r, p, z = find_rep(x ^ ((one << bi[e]) | (one << bj[e])), T)
                    rbuf[k] = r
                    fam = 0 if e < nb1 else 1
                    cbuf[k] = fam * twoP + z * P + p
                    k += 1
        for k in range(nk):
            key = rbuf[k] >> shift
            lo[k] = table[key]
            hi[k] = table[key + np.uint64(1)]
        for k in range(nk):
            l_ = lo[k]
            h_ = hi[k]
            code = rbuf[k]
            # the representative is known to exist, so a one-element bucket needs no read
            while h_ - l_ > 1:
                mid = (l_ + h_) >> 1
                if reps[mid] <= code:
                    l_ = mid
                else:
                    h_ = mid
            if packed:
                entries[k0 + k] = np.uint32(l_) | (np.uint32(cbuf[k]) << np.uint32(colbits))
            else:
                entries[k0 + k] = np.uint32(l_)
                codes[k0 + k] = cbuf[k]


@nb.njit(parallel=True, cache=True)
def _scale(w, x, u):
    for i in nb.prange(x.shape[0]):
        u[i] = w[i] * x[i]


@nb.njit(parallel=True, cache=True)
def _matvec_packed(rowptr, entries, colbits, coef, d1, d2, j1, j2, inv_w, u, x, y):
    colmask = np.uint32((1 << colbits) - 1)
    sh = np.uint32(colbits)
    for a in nb.prange(x.shape[0]):
        iw = inv_w[a]
        if iw == 0.0:
            y[a] = 0.0
            continue
        acc = 0.0
        for k in range(rowptr[a], rowptr[a + 1]):
            ent = entries[k]
            acc += coef[ent >> sh] * u[ent & colmask]
        y[a] = (j1 * d1[a] + j2 * d2[a]) * x[a] + iw * acc


@nb.njit(parallel=True, cache=True)
def _matvec_split(rowptr, entries, codes, coef, d1, d2, j1, j2, inv_w, u, x, y):
    for a in nb.prange(x.shape[0]):
        iw = inv_w[a]
        if iw == 0.0:
            y[a] = 0.0
            continue
        acc = 0.0
        for k in range(rowptr[a], rowptr[a + 1]):
            acc += coef[codes[k]] * u[entries[k]]
        y[a] = (j1 * d1[a] + j2 * d2[a]) * x[a] + iw * acc


class SymmetricStructure:
    """J2- and sector-independent sparse structure of H in a :class:`SymmetricBasis`.

    Attributes:
        basis: The basis.
        rowptr: int64 ``(R + 1,)`` CSR row pointers (one entry per anti-aligned bond).
        entries: uint32 ``(nnz,)``; column index in the low ``colbits`` bits, class code
            ``fam * 2P + z * P + p`` in the high bits (if :attr:`packed`), else only the column.
        codes: uint8 ``(nnz,)`` class codes when not :attr:`packed` (else empty).
        d1, d2: int8 ``(R,)``: aligned minus anti-aligned J1 / J2 bonds of each representative.
        packed: Whether codes are packed into :attr:`entries`.
        colbits: Number of column bits in a packed entry.
        seconds: Wall time of the build.
    """

    def __init__(self, basis: SymmetricBasis, *, progress: Callable[[str, float], None] | None = None, n_blocks: int | None = None):
        """Build the structure.

        Args:
            basis: The symmetric basis.
            progress: Optional ``callback(phase, fraction)`` called between blocks of rows.
            n_blocks: Number of row blocks (progress granularity); default by size.
        """
        t0 = time.perf_counter()
        self.basis = basis
        cluster = basis.cluster
        b1 = cluster.bonds("J1")
        b2 = cluster.bonds("J2")
        bonds = np.concatenate([b1, b2]).astype(np.uint64)
        self.n_j1 = len(b1)
        self.n_j2 = len(b2)
        bi = np.ascontiguousarray(bonds[:, 0])
        bj = np.ascontiguousarray(bonds[:, 1])
        reps = basis.representatives
        R = reps.shape[0]
        P = basis.n_point
        self.n_codes = 4 * P
        code_bits = max(1, math.ceil(math.log2(self.n_codes)))
        self.colbits = 32 - code_bits
        self.packed = R < (1 << self.colbits)
        if R >= 2**32:
            raise MemoryError(f"{R:,} representatives do not fit 32-bit column indices")
        counts = np.empty(R, dtype=np.int64)
        self.d1 = np.empty(R, dtype=np.int8)
        self.d2 = np.empty(R, dtype=np.int8)
        _count_rows(reps, bi, bj, self.n_j1, counts, self.d1, self.d2)
        self.rowptr = np.zeros(R + 1, dtype=np.int64)
        np.cumsum(counts, out=self.rowptr[1:])
        del counts
        nnz = int(self.rowptr[-1])
        self.entries = np.empty(nnz, dtype=np.uint32)
        self.codes = np.empty(0 if self.packed else nnz, dtype=np.uint8)
        if n_blocks is None:
            n_blocks = max(1, min(100, nnz // 20_000_000))
        edges = np.linspace(0, R, n_blocks + 1).astype(np.int64)
        if progress:
            progress("structure", 0.0)
        for k in range(n_blocks):
            _fill_rows(
                edges[k], edges[k + 1], reps, bi, bj, self.n_j1, basis.T, basis._start, basis._shift, self.rowptr,
                self.entries, self.codes, self.colbits, 2 * P, P, self.packed,
            )
            if progress:
                progress("structure", (k + 1) / n_blocks)
        self.seconds = time.perf_counter() - t0

    @property
    def nnz(self) -> int:
        """Number of off-diagonal entries (anti-aligned bonds summed over representatives)."""
        return int(self.entries.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory of the structure arrays in bytes."""
        return sum(a.nbytes for a in (self.rowptr, self.entries, self.codes, self.d1, self.d2))

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
        coef = np.zeros(1 << (32 - structure.colbits) if structure.packed else 256, dtype=np.float64)
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
        if s.packed:
            _matvec_packed(s.rowptr, s.entries, s.colbits, self.coef, s.d1, s.d2, self.j1, self.j2, self.inv_w, self._u, x, out)
        else:
            _matvec_split(s.rowptr, s.entries, s.codes, self.coef, s.d1, s.d2, self.j1, self.j2, self.inv_w, self._u, x, out)
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
