"""The Hamiltonian of several zero-momentum sectors applied in one pass over the structure.

:class:`LockstepOperator` holds, per representative, the bits of the sectors that keep it and
its stabilizer order, and per slot the coefficients of its sector; its :meth:`~LockstepOperator.step`
applies ``H`` to one interleaved column per sector, fused with the Lanczos three-term update, in
the scaled coordinates that :func:`~nqs_dilated.ed.lockstep.lanczos_lockstep` works in. The
numba kernels of that step (for several sectors and for one) and of the sector bits are here too.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..hamiltonian import check_couplings
from .basis import stab_projection
from .operator import SymmetricStructure

__all__ = ["LockstepOperator"]


@nb.njit(parallel=True, cache=True, nogil=True)
def _lockstep_step(
    blk_ptr, entries, block_bits, code_bits, coef, d1, d2, j1, j2, stab, inv_tab, keep, bits, beta, v, u, alpha
):
    """One fused Lanczos step for ``K`` sectors at once, vectors interleaved ``(R, K)`` in the
    scaled coordinates of :class:`LockstepOperator`: ``u[:, k] = H~_k v[:, k] - beta[k] u[:, k]``
    in place, and ``alpha[b, k]`` the block ``b`` part of ``<v[:, k], u[:, k]>`` (weights
    ``inv_tab[stab] = 1 / |Stab|``).

    ``H~_k = W H_k W^-1`` (``W = diag sqrt(|Stab|)``) has the off-diagonal entries ``coef``
    without any scale: the class code of an entry selects the coefficient of every sector at once
    (``coef[code, k]``, ``2 J chi_k``), and a row is kept in sector ``k`` when bit ``bits[k]`` of
    ``keep`` is set. One pass over the structure serves all ``K`` sectors; the block's
    accumulator is ``2**block_bits * K`` float64."""
    R = stab.shape[0]
    K = v.shape[1]
    bsh = np.uint32(block_bits)
    dsh = np.uint32(code_bits + block_bits)
    rowmask = np.uint32((1 << block_bits) - 1)
    codemask = np.uint32((1 << code_bits) - 1)
    for b in nb.prange(blk_ptr.shape[0] - 1):
        k0 = b << block_bits
        k1 = min(R, k0 + (1 << block_bits))
        acc = np.zeros((k1 - k0, K))
        c = 0
        for t in range(blk_ptr[b], blk_ptr[b + 1]):
            e = entries[t]
            c += e >> dsh
            r = e & rowmask
            code = (e >> bsh) & codemask
            for k in range(K):
                acc[r, k] += coef[code, k] * v[c, k]
        for k in range(K):
            alpha[b, k] = 0.0
        for a in range(k0, k1):
            d = j1 * d1[a] + j2 * d2[a]
            m = keep[a]
            iw2 = inv_tab[stab[a]]
            for k in range(K):
                if (m >> bits[k]) & 1:
                    y = d * v[a, k] + acc[a - k0, k] - beta[k] * u[a, k]
                else:
                    y = 0.0
                u[a, k] = y
                alpha[b, k] += v[a, k] * y * iw2


@nb.njit(parallel=True, cache=True, nogil=True)
def _lockstep_step1(
    blk_ptr, entries, block_bits, code_bits, coef, d1, d2, j1, j2, stab, inv_tab, keep, bit, beta, v, u, alpha
):
    """:func:`_lockstep_step` for one sector on flat vectors (the interleaved kernel's loop over
    sectors costs about twice the time per entry with one sector). Its block loop is that of
    ``nqs_dilated.ed.operator._matvec_graded``, read straight from ``v`` (scaled coordinates need
    no scale), written out in both: as a shared inline helper the one-sector matvec measured
    1-2 % slower (4x6, one thread, four interleaved runs each: 1.23-1.25 against 1.20-1.23 ns per
    entry), and the matvec is the ED's hot loop."""
    R = stab.shape[0]
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
            acc[e & rowmask] += coef[(e >> bsh) & codemask] * v[c]
        part = 0.0
        for a in range(k0, k1):
            if (keep[a] >> bit) & 1:
                y = (j1 * d1[a] + j2 * d2[a]) * v[a] + acc[a - k0] - beta * u[a]
            else:
                y = 0.0
            u[a] = y
            part += v[a] * y * inv_tab[stab[a]]
        alpha[b] = part


@nb.njit(parallel=True, cache=True, nogil=True)
def _lockstep_sector_bits(stab_counts, order, chis, keep, stab):
    """In the graded order: bit ``s`` of ``keep[g]`` set when sector ``s`` (characters
    ``chis[s]``, int64 ``(S, 2P)``) keeps the representative, and ``stab[g] = |Stab|``."""
    for g in nb.prange(order.shape[0]):
        b = order[g]
        size = 0
        m = 0
        for s in range(chis.shape[0]):
            size, proj = stab_projection(stab_counts, b, chis[s])
            if proj == size:
                m |= 1 << s
        keep[g] = m
        stab[g] = size


class LockstepOperator:
    """``H`` in several zero-momentum sectors at once, for the lockstep sector search.

    The operator applies the Hamiltonian of every sector of a list to the columns of one
    interleaved float64 ``(R, K)`` array (``K`` slots, graded order) in a single pass over the
    structure, fused with the Lanczos three-term update (:meth:`step`). A slot holds one sector
    and can be given another (:meth:`assign`) when its sector is done, so ``K`` can be smaller
    than the number of sectors. Columns of the vectors must vanish on the representatives their
    sector excludes (:meth:`mask`).

    The vectors are in **scaled coordinates**: ``x~ = W x`` with ``W = diag sqrt(|Stab|)`` and
    ``x`` the coefficients on the orthonormal orbit states of
    :class:`~nqs_dilated.ed.operator.SectorOperator`. Then ``H~ = W H W^-1`` has the structure's
    coefficients as they are (no per-entry scale) and is self-adjoint in the inner product
    ``<x~, y~> = sum x~ y~ / |Stab|``, the one :meth:`step` and
    :func:`~nqs_dilated.ed.lockstep.lanczos_lockstep` use: the Lanczos coefficients, hence the
    energies, are those of ``H`` (:meth:`to_scaled` and :meth:`from_scaled` convert).

    Attributes:
        structure: The :class:`~nqs_dilated.ed.operator.SymmetricStructure`.
        sectors: The :class:`~nqs_dilated.symmetry.Sector` list; ``sectors[s]`` is bit ``s`` of
            :attr:`keep`.
        j1, j2: Couplings (Pauli convention).
        keep: uint8/uint16/uint32/uint64 ``(R,)``: bit ``s`` set when sector ``s`` keeps the
            representative (graded order).
        stab: uint16 ``(R,)``: stabilizer order ``|Stab|`` of each representative (graded order).
        dimensions: Number of kept representatives per sector.
    """

    def __init__(self, structure: SymmetricStructure, sectors, j2: float, j1: float = 1.0, n_slots: int | None = None):
        """Args:
            structure: The structure.
            sectors: Sector labels or :class:`~nqs_dilated.symmetry.Sector` objects (at most 64).
            j2, j1: Couplings (Pauli convention).
            n_slots: Columns of the vectors (default: one per sector).

        Raises:
            ValueError: no sectors, more than 64, or ``n_slots`` outside ``[1, len(sectors)]``.
            SymmetryError: a bad sector label.
        """
        basis = structure.basis
        self.structure = structure
        self.sectors = [basis.group.parse_sector(sec) for sec in sectors]
        S = len(self.sectors)
        if not 1 <= S <= 64:
            raise ValueError(f"a lockstep operator takes 1 to 64 sectors, got {S}")
        self.n_slots = S if n_slots is None else int(n_slots)
        if not 1 <= self.n_slots <= S:
            raise ValueError(f"n_slots={self.n_slots} must lie in [1, {S}] (the number of sectors)")
        self.j1, self.j2 = check_couplings(j1, j2)
        chis = np.stack([basis.class_characters(sec) for sec in self.sectors]).astype(np.int64)
        self._chi = chis.astype(np.float64)
        dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= S)
        R = structure.order.shape[0]
        self.keep = np.empty(R, dtype=dtype)
        self.stab = np.empty(R, dtype=np.uint16)
        _lockstep_sector_bits(basis.stab_counts, structure.order, chis, self.keep, self.stab)
        self.dimensions = [int(np.count_nonzero((self.keep >> np.asarray(s, dtype=dtype)) & 1)) for s in range(S)]
        # sqrt(|Stab|) and 1 / |Stab| by table (0 is never a stabilizer order)
        orders = np.arange(int(self.stab.max()) + 1, dtype=np.float64)
        orders[0] = 1.0
        self._w_tab = np.sqrt(orders)
        self.inv_tab = 1.0 / orders
        self._coef = np.zeros((1 << structure.code_bits, self.n_slots), dtype=np.float64)
        self._bits = np.zeros(self.n_slots, dtype=np.int64)

    @property
    def size(self) -> int:
        """Number of representatives ``R`` (rows of the vectors)."""
        return int(self.stab.shape[0])

    def to_scaled(self, x: np.ndarray) -> np.ndarray:
        """``sqrt(|Stab|) x`` for float64 ``(R,)`` or ``(R, K)`` in the graded order (a new array)."""
        w = self._w_tab[self.stab]
        return x * (w if x.ndim == 1 else w[:, None])

    def from_scaled(self, x: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_scaled` (a new array)."""
        w = self._w_tab[self.stab]
        return x / (w if x.ndim == 1 else w[:, None])

    def mask(self, s: int) -> np.ndarray:
        """bool ``(R,)``: the representatives sector ``s`` keeps (graded order)."""
        return ((self.keep >> self.keep.dtype.type(s)) & 1).astype(bool)

    def assign(self, slot: int, s: int) -> None:
        """Put sector ``s`` (index into :attr:`sectors`) in column ``slot``."""
        twoP = self._chi.shape[1]
        J = (self.j1, self.j2)
        self._coef[:, slot] = 0.0  # the null code keeps 0
        for fam in range(2):
            self._coef[fam * twoP : (fam + 1) * twoP, slot] = 2.0 * J[fam] * self._chi[s]
        self._bits[slot] = s  # the sector's bit in keep

    def compact(self, keep_slots) -> None:
        """Restrict the operator to the columns ``keep_slots`` (ascending), in that order; the
        caller compacts its vectors the same way
        (:func:`~nqs_dilated.ed.lockstep.compact_columns`)."""
        keep_slots = np.asarray(keep_slots, dtype=np.int64)
        self._coef = np.ascontiguousarray(self._coef[:, keep_slots])
        self._bits = self._bits[keep_slots]
        self.n_slots = len(keep_slots)

    def step(self, v: np.ndarray, u: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """``u[:, k] = H~_k v[:, k] - beta[k] u[:, k]`` in place for every slot ``k`` (scaled
        coordinates); returns ``<v[:, k], u[:, k]>`` (weights ``1 / |Stab|``), float64 ``(K,)``,
        summed over row blocks in a fixed order, so it does not depend on the number of threads.

        Args:
            v, u: float64 C-contiguous ``(R, K)`` in the graded order.
            beta: float64 ``(K,)``.

        Raises:
            ValueError: vectors of the wrong shape or layout.
        """
        s = self.structure
        K = self.n_slots
        if v.shape != (self.size, K) or u.shape != v.shape or not (v.flags.c_contiguous and u.flags.c_contiguous):
            raise ValueError(
                f"lockstep vectors must be C-contiguous float64 ({self.size}, {K}), got {v.shape}, {u.shape}"
            )
        alpha = np.empty((s.blk_ptr.shape[0] - 1, K), dtype=np.float64)
        layout = (s.blk_ptr, s.entries, s.block_bits, s.code_bits)
        rows = (s.d1, s.d2, self.j1, self.j2, self.stab, self.inv_tab, self.keep)
        if K == 1:
            coef = np.ascontiguousarray(self._coef[:, 0])
            one = np.empty(alpha.shape[0])
            _lockstep_step1(*layout, coef, *rows, self._bits[0], float(beta[0]), v.reshape(-1), u.reshape(-1), one)
            alpha[:, 0] = one
        else:
            beta = np.asarray(beta, dtype=np.float64)
            _lockstep_step(*layout, self._coef, *rows, self._bits, beta, v, u, alpha)
        return alpha.sum(axis=0)
