"""Sector energies at non-zero lattice momentum (complex characters).

At momentum ``k`` the symmetry left is ``G_k = (translations x little group P_k) x spin
inversion``. The orbit representatives of ``G_k`` are enumerated with the zero-momentum kernels of
:class:`~nqs_dilated.ed.basis.SymmetricBasis` run on the subgroup, and the orbit states

    |a~> = N_a^-1 sum_{g in G_k} chi(g) g|a>,   chi(t_d p z) = exp(-i k.d) chi_irrep(p) parity**z,

have ``N_a^2 = |G_k| sum_{h in Stab(a)} chi(h)``: ``|G_k| |Stab(a)|`` when ``chi`` is trivial on
the stabilizer, else the state vanishes and ``a`` is excluded. With ``s_e`` the configuration
``a`` with the spins of anti-aligned bond ``e`` exchanged and ``g_e s_e = b_e`` its
representative, ``<b~|H|a~> = sum_e 2 J_e chi(g_e) N_b / N_a``, so (H is Hermitian)

    (H x)_a = D_a x_a + (1 / w_a) sum_{e in row a} 2 J_e conj(chi(g_e)) w_b x_b,   w = sqrt(|Stab|).

The structure (column and element code ``(fam, z, p, d1, d2)`` per entry, compressed rows) is
J2- and irrep-independent; the lowest eigenvalue comes from ARPACK (``scipy.sparse.linalg.eigsh``
on a complex Hermitian ``LinearOperator``) with the residual measured explicitly. Energies only:
the :class:`~nqs_dilated.ed.state.GroundState` interface (real amplitudes, signs) is the
zero-momentum one. Memory is estimated before anything is allocated; at 36 sites a k != 0
structure (about 6e7 representatives, 3e9 entries) does not fit a 24 GiB machine and is refused.

Method: A. W. Sandvik, AIP Conf. Proc. 1297, 135 (2010), Sec. 4 (momentum states); Energies in
the Pauli convention (4x the S.S energy).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from ..hamiltonian import check_couplings
from ..lattice import Cluster
from ..symmetry import MomentumSector, SymmetryGroup, space_group
from ._bitops import apply_element, find_rep_element
from .basis import SymmetricBasis, _lookup, check_cluster
from .operator import bond_endpoints, row_counts
from .symmetric import estimate_counts, require_memory

__all__ = [
    "MomentumSectorResult",
    "MomentumStructure",
    "check_momenta_memory",
    "estimate_momentum_memory",
    "momentum_sector_energies",
    "momentum_sector_energy",
]


@nb.njit(parallel=True, cache=True)
def _fill_rows(reps, bi, bj, nb1, T, low, start, shift, indptr, cols, codes):
    """Columns and element codes ``(((fam * 2 + z) * P + p) * L1 + d1) * L2 + d2`` of every row."""
    one = np.uint64(1)
    L1 = T[1]
    L2 = T[2]
    P = T[3]
    for a in nb.prange(reps.shape[0]):
        x = reps[a]
        k = indptr[a]
        for e in range(bi.shape[0]):
            if ((x >> bi[e]) ^ (x >> bj[e])) & one:
                r, p, z, d1, d2 = find_rep_element(x ^ ((one << bi[e]) | (one << bj[e])), T)
                cols[k] = _lookup(r, low, start, shift)
                fam = 0 if e < nb1 else 1
                codes[k] = (((fam * 2 + z) * P + p) * L1 + d1) * L2 + d2
                k += 1


@nb.njit(parallel=True, cache=True)
def _stabilizer_character_sums(reps, T, chi, out):
    """``out[a] = sum_{h in Stab(a)} chi(h)`` and ``|Stab(a)|``; ``chi`` complex ``(2, P, L1, L2)``
    indexed ``[z, p, d1, d2]``."""
    L1 = T[1]
    L2 = T[2]
    P = T[3]
    for a in nb.prange(reps.shape[0]):
        x = reps[a]
        s = 0j
        n = 0
        for z in range(2):
            for p in range(P):
                for d1 in range(L1):
                    for d2 in range(L2):
                        if apply_element(x, d1, d2, p, z, T) == x:
                            s += chi[z, p, d1, d2]
                            n += 1
        out[a, 0] = s
        out[a, 1] = n


@nb.njit(parallel=True, cache=True)
def _matvec_rows(indptr, cols, codes, coef, diag, inv_w, u, x, y):
    for a in nb.prange(x.shape[0]):
        iw = inv_w[a]
        if iw == 0.0:
            y[a] = 0.0
            continue
        s = 0j
        for k in range(indptr[a], indptr[a + 1]):
            s += coef[codes[k]] * u[cols[k]]
        y[a] = diag[a] * x[a] + iw * s


def estimate_momentum_memory(cluster: Cluster, momentum, group: SymmetryGroup | None = None) -> dict[str, int]:
    """Estimated peak memory (bytes) of :func:`momentum_sector_energy` at ``momentum``.

    ``R ~ 1.05 C(N, N/2) / |G_k|`` representatives; per representative 8 (code) + 2 |P_k|
    (stabilizer counts) + 16 (lookup table) + 8 (row pointer) + 16 (character sums) bytes; 6 bytes
    per entry (int32 column, int16 code); complex128 vectors: ARPACK's ``ncv`` (at most 20) Lanczos
    vectors plus six work vectors.

    Returns:
        ``{"representatives", "entries", "total"}``.
    """
    check_cluster(cluster)
    if group is None:
        group = space_group(cluster)
    P = len(group.little_group(momentum))
    R, nnz = estimate_counts(cluster, 2 * cluster.n_sites * P)
    total = R * (8 + 2 * P + 16 + 8 + 16 + 2) + 6 * nnz + 16 * R * 26
    return {"representatives": R, "entries": nnz, "total": total}


def _check_memory(cluster: Cluster, momentum: tuple[int, int], group: SymmetryGroup) -> None:
    est = estimate_momentum_memory(cluster, momentum, group)
    require_memory(
        est["total"],
        f"the k={momentum[0]},{momentum[1]} sectors of {cluster.name} need",
        f"~{est['representatives']:,} representatives, ~{est['entries']:,} entries",
        "; non-zero momenta are computed with a stored structure, which fits up to about 30 sites",
    )


class MomentumStructure:
    """Basis of ``G_k``-orbit representatives and the J2-independent Hamiltonian structure at
    one momentum (shared by every irrep and parity of the little group).

    Attributes:
        group: The full space group; ``little``: the subgroup ``T x P_k``.
        momentum: ``(m1, m2)``.
        basis: :class:`~nqs_dilated.ed.basis.SymmetricBasis` of the little group.
        indptr: int64 ``(R + 1,)``; ``cols``: int32 ``(nnz,)``; ``codes``: int16 ``(nnz,)``.
        d1, d2: int8 ``(R,)``: aligned minus anti-aligned J1 / J2 bonds.
        seconds: Wall time of the build.
    """

    def __init__(self, cluster: Cluster, momentum, group: SymmetryGroup | None = None, *, check_memory: bool = True):
        """Enumerate the representatives and build the structure.

        Raises:
            ValueError: too many or an odd number of sites.
            SymmetryError: a momentum outside the torus.
            MemoryError: the estimate (printed with the available memory) does not fit.
        """
        t0 = time.perf_counter()
        check_cluster(cluster)
        if group is None:
            group = space_group(cluster)
        self.group = group
        self.momentum = group._check_momentum(momentum)
        if check_memory:
            _check_memory(cluster, self.momentum, group)
        self.little = group.subgroup(group.little_group(self.momentum))
        self.basis = SymmetricBasis(cluster, self.little, check=True)
        bi, bj, n_j1, _ = bond_endpoints(cluster)
        reps = self.basis.representatives
        R = reps.shape[0]
        counts, self.d1, self.d2 = row_counts(reps, bi, bj, n_j1)
        self.indptr = np.zeros(R + 1, dtype=np.int64)
        np.cumsum(counts, out=self.indptr[1:], dtype=np.int64)
        nnz = int(self.indptr[-1])
        self.cols = np.empty(nnz, dtype=np.int32)
        self.codes = np.empty(nnz, dtype=np.int16)
        _fill_rows(
            reps,
            bi,
            bj,
            n_j1,
            self.basis.T,
            self.basis._low,
            self.basis._start,
            self.basis._shift,
            self.indptr,
            self.cols,
            self.codes,
        )
        self.seconds = time.perf_counter() - t0

    def characters(self, sector: MomentumSector) -> np.ndarray:
        """``chi[z, p, d1, d2] = exp(-i k.d) chi_irrep(p) parity**z``, complex128 ``(2, P_k, L1, L2)``."""
        L1, L2 = self.group.cluster.extent
        m1, m2 = self.momentum
        phase = np.exp(-2j * np.pi * (m1 * np.arange(L1)[:, None] / L1 + m2 * np.arange(L2)[None, :] / L2))
        chi_p = self.group.little_irreps(self.momentum)[sector.irrep]
        return np.stack([chi_p[:, None, None] * phase, sector.spin_parity * chi_p[:, None, None] * phase])

    def weights(self, sector: MomentumSector) -> np.ndarray:
        """``sqrt(|Stab(a)|)`` where ``chi`` is trivial on the stabilizer, else 0; float64 ``(R,)``."""
        sums = np.empty((self.basis.n_reps, 2), dtype=np.complex128)
        _stabilizer_character_sums(self.basis.representatives, self.basis.T, self.characters(sector), sums)
        size = sums[:, 1].real
        keep = np.abs(sums[:, 0] - size) < 1e-8 * size
        return np.where(keep, np.sqrt(size), 0.0)


@dataclass
class MomentumSectorResult:
    """Lowest energy of one sector at momentum ``k``.

    Attributes:
        sector: The :class:`~nqs_dilated.symmetry.MomentumSector`.
        energy: Lowest eigenvalue (Pauli convention).
        residual: ``||H psi - E psi||`` of the normalised eigenvector.
        dimension: Number of representatives kept in the sector (0: the sector is empty and
            ``energy`` is ``inf``).
        seconds: Wall time (structure excluded when it was passed in).
    """

    sector: MomentumSector
    energy: float
    residual: float
    dimension: int
    seconds: float


def momentum_sector_energy(
    cluster: Cluster,
    j2: float,
    sector,
    j1: float = 1.0,
    *,
    group: SymmetryGroup | None = None,
    structure: MomentumStructure | None = None,
    tol: float = 1e-8,
    seed: int = 0,
) -> MomentumSectorResult:
    """Lowest energy of the J1-J2 Hamiltonian in a sector of any momentum.

    Args:
        cluster: The cluster (even number of sites, at most 64).
        j2: J2 coupling; ``j1``: J1 coupling (Pauli convention).
        sector: A :class:`~nqs_dilated.symmetry.MomentumSector` or a label ``"k=m1,m2:IRREP+"``.
        group: The space group (default :func:`~nqs_dilated.symmetry.space_group`).
        structure: A :class:`MomentumStructure` of the same momentum to reuse (other J2, other
            irreps); built when omitted.
        tol: Bound on the residual ``||H psi - E psi||``; a larger measured residual raises.
        seed: Seed of the start vector.

    Returns:
        :class:`MomentumSectorResult`.

    Raises:
        SymmetryError: a bad label, momentum or irrep.
        MemoryError: the structure does not fit in the available memory.
        RuntimeError: ARPACK did not reach ``tol``.
    """
    t0 = time.perf_counter()
    j1, j2 = check_couplings(j1, j2)
    if group is None:
        group = structure.group if structure is not None else space_group(cluster)
    sector = group.parse_momentum_sector(sector)
    if structure is None or structure.momentum != sector.momentum:
        structure = MomentumStructure(cluster, sector.momentum, group)
    s = structure
    w = s.weights(sector)
    keep = np.nonzero(w)[0]
    if keep.size == 0:
        return MomentumSectorResult(sector, math.inf, 0.0, 0, time.perf_counter() - t0)
    inv_w = np.zeros_like(w)
    inv_w[keep] = 1.0 / w[keep]
    diag = j1 * s.d1.astype(np.float64) + j2 * s.d2.astype(np.float64)
    chi = s.characters(sector)  # [z, p, d1, d2]
    J = np.array([j1, j2])
    coef = (2.0 * J[:, None, None, None, None] * np.conj(chi)[None]).ravel()  # code order (fam, z, p, d1, d2)
    R = s.basis.n_reps
    xf = np.zeros(R, dtype=np.complex128)
    uf = np.zeros(R, dtype=np.complex128)
    yf = np.zeros(R, dtype=np.complex128)

    def apply(v):
        xf[keep] = np.ravel(v)
        np.multiply(w, xf, out=uf)
        _matvec_rows(s.indptr, s.cols, s.codes, coef, diag, inv_w, uf, xf, yf)
        return yf[keep].copy()

    n = keep.size
    if n <= 400:
        H = np.column_stack([apply(col) for col in np.eye(n, dtype=np.complex128)])
        vals, vecs = np.linalg.eigh(0.5 * (H + H.conj().T))
        energy, vec = float(vals[0]), vecs[:, 0]
    else:
        op = LinearOperator((n, n), matvec=apply, dtype=np.complex128)
        rng = np.random.default_rng(seed)
        v0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        vals, vecs = eigsh(op, k=1, which="SA", v0=v0, tol=0.0)
        energy, vec = float(vals[0]), vecs[:, 0]
    vec = vec / np.linalg.norm(vec)
    residual = float(np.linalg.norm(apply(vec) - energy * vec))
    if residual > tol:
        raise RuntimeError(f"sector {sector}: the eigensolver stopped at residual {residual:.2e} > tol = {tol:g}")
    return MomentumSectorResult(sector, energy, residual, int(n), time.perf_counter() - t0)


def check_momenta_memory(cluster: Cluster, group: SymmetryGroup | None = None) -> None:
    """Refuse, before any work, a cluster where one non-zero momentum's structure would not fit.

    Raises:
        MemoryError: with the estimate and the available memory.
    """
    if group is None:
        group = space_group(cluster)
    for k in group.momentum_stars():
        if k != (0, 0):
            _check_memory(cluster, k, group)


def momentum_sector_energies(
    cluster: Cluster,
    j2: float,
    j1: float = 1.0,
    *,
    group: SymmetryGroup | None = None,
    tol: float = 1e-8,
    progress=None,
    structures: dict | None = None,
) -> dict[str, MomentumSectorResult]:
    """Lowest energy of every sector at non-zero momentum, one momentum per star (the others have
    the same spectrum, see :meth:`~nqs_dilated.symmetry.SymmetryGroup.momentum_star`).

    Args:
        cluster, j2, j1, group, tol: As in :func:`momentum_sector_energy`.
        progress: Optional ``callback(phase, fraction)`` called after each momentum.
        structures: Optional dict owned by the caller that keeps every momentum's
            :class:`MomentumStructure` for the next J2 (memory: all of them at once).

    Returns:
        ``{label: MomentumSectorResult}`` keyed ``"k=m1,m2:IRREP+"``; empty sectors are left out.

    Raises:
        MemoryError: a momentum's structure does not fit (checked before it is built).
    """
    if group is None:
        group = space_group(cluster)
    stars = [k for k in group.momentum_stars() if k != (0, 0)]
    check_momenta_memory(cluster, group)
    out = {}
    for i, k in enumerate(stars):
        key = (cluster.content_hash, k)
        if structures is not None and key in structures:
            structure = structures[key]
        else:
            structure = MomentumStructure(cluster, k, group, check_memory=False)
            if structures is not None:
                structures[key] = structure
        for sector in group.momentum_sectors(k):
            res = momentum_sector_energy(cluster, j2, sector, j1, group=group, structure=structure, tol=tol)
            if res.dimension:
                out[str(sector)] = res
        del structure
        if progress:
            progress("momenta", (i + 1) / len(stars))
    return out
