"""Symmetry-adapted basis of the Sz = 0 space: orbit representatives under G x Z2.

The group is ``G' = (translations x point group) x spin inversion`` of a
:class:`~nqs_dilated.symmetry.SymmetryGroup`. Every orbit of ``G'`` on the Sz = 0 configurations
is represented by its smallest ``uint64`` code. The basis is sector-independent: it stores the
representatives (ascending) and, per representative, the number of stabilizer elements in each
class ``(spin flip z, point element p)``. At zero momentum all characters are ``chi(p) * s**z``,
so these counts are all a sector needs: the orbit state

    |a~> = sqrt(|Stab(a)| / |G'|) * sum_{sigma in orbit(a)} chi(g_sigma) |sigma>

(``g_sigma a = sigma``) exists iff ``chi`` is trivial on ``Stab(a)``, i.e.
``sum_{h in Stab(a)} chi(h) = |Stab(a)|``; otherwise the projection vanishes (norm 0) and the
representative is excluded from the sector.

Method: symmetric bases with representatives and stabilizers as in A. W. Sandvik,
"Computational studies of quantum spin systems", AIP Conf. Proc. 1297, 135 (2010), Sec. 4.
The group action uses bit operations (see :mod:`nqs_dilated.ed._bitops`); the minimum over
translations is pruned by the top row (row ``L1 - 1``, the most significant bits): the smallest
image must start with the smallest rotation of any row, so only (row, rotation) pairs reaching it
need a full word. Enumeration fixes the top rows (only necklace-minimal top rows whose other rows
and spin-flipped rows cannot rotate below them), walks the remaining bits with Gosper's hack and
keeps codes that are not larger than any image (early exit); it runs in two parallel passes
(count, then fill at prefix-summed offsets).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba as nb
import numpy as np

from ..lattice import Cluster
from ..symmetry import SymmetryError, SymmetryGroup, is_automorphism, space_group
from ._bitops import make_tables
from ._enumeration import _check_reps, _scan_units, _stab_all
from .bits import MAX_SITES
from .lookup import _apply_many, _find_many
from .lookup import _lookup as _lookup
from .lookup import bucket_rank as bucket_rank
from .orbits import orbit_labels

__all__ = ["SymmetricBasis", "check_cluster", "check_group", "orbit_labels"]


def check_cluster(cluster: Cluster) -> None:
    """Raise a clear error if the cluster cannot be handled by the symmetric engine.

    Raises:
        ValueError: more than 64 sites, an odd number of sites (no Sz = 0 sector), or rows longer
            than 16 sites.
    """
    N = cluster.n_sites
    if N > MAX_SITES:
        raise ValueError(
            f"{cluster.name} has {N} sites; the symmetric ED engine stores configurations in "
            f"64-bit codes and handles at most {MAX_SITES} sites"
        )
    if N % 2:
        raise ValueError(f"{cluster.name} has an odd number of sites ({N}); there is no Sz = 0 sector")
    if cluster.extent[1] > 16:
        raise ValueError(f"{cluster.name}: rows of {cluster.extent[1]} sites are too long (at most 16)")


def check_group(cluster: Cluster, group: SymmetryGroup) -> None:
    """Check that ``group`` is a symmetry of the Hamiltonian of ``cluster`` and has the layout
    the bit kernels assume.

    Every element of ``group.perms`` must be an automorphism of the coloured graph (J1 bonds to
    J1 bonds, J2 bonds to J2 bonds), so that it commutes with H; the translations must be the
    torus translations ``t = d1 * L2 + d2`` and ``perms[t * P + p] = translations[t][point_perms[p]]``.

    Raises:
        SymmetryError: an element does not commute with the Hamiltonian, or the group layout is
            not translations x point group.
    """
    if group.cluster is not cluster and group.cluster.content_hash != cluster.content_hash:
        raise SymmetryError(f"the group was built for {group.cluster.name}, not {cluster.name}")
    for g, perm in enumerate(np.asarray(group.perms)):
        if not is_automorphism(perm, cluster):
            raise SymmetryError(
                f"group element {g} of {cluster.name} is not an automorphism of the coloured graph "
                "(it maps a J1 bond to a non-J1 bond or a J2 bond to a non-J2 bond), so it does not "
                "commute with the Hamiltonian; use symmetry.space_group(cluster)"
            )
    L1, L2 = cluster.extent
    grid = cluster.grid
    expected = np.array(
        [cluster.site_of[(grid[:, 0] + d1) % L1, (grid[:, 1] + d2) % L2] for d1 in range(L1) for d2 in range(L2)]
    )
    if not np.array_equal(np.asarray(group.translations), expected):
        raise SymmetryError("group translations are not the torus translations t = d1 * L2 + d2")
    P = group.n_point
    perms = np.asarray(group.perms)
    for t in range(len(expected)):
        for p in range(P):
            if not np.array_equal(perms[t * P + p], expected[t][group.point_perms[p]]):
                raise SymmetryError("group elements are not ordered as g = t * P + p")
    if not np.array_equal(group.point_perms[0], np.arange(cluster.n_sites)):
        raise SymmetryError("the first point-group element must be the identity")


@nb.njit(inline="always", cache=True)
def stab_projection(stab, b, chi):
    """``(|Stab(b)|, sum_h chi(h))`` over the stabilizer of representative ``b`` (class counts
    ``stab[b]``, characters ``chi`` by class): the sector keeps ``b`` when the two are equal."""
    size = 0
    proj = 0
    for c in range(stab.shape[1]):
        size += np.int64(stab[b, c])
        proj += np.int64(stab[b, c]) * chi[c]
    return size, proj


@nb.njit(parallel=True, cache=True)
def _sector_weights(stab, chi, out):
    """``out[b] = sqrt(|Stab(b)|)`` if ``sum_h chi(h) = |Stab(b)|`` over the stabilizer, else 0."""
    for b in nb.prange(stab.shape[0]):
        size, proj = stab_projection(stab, b, chi)
        out[b] = np.sqrt(np.float64(size)) if proj == size else 0.0


class SymmetricBasis:
    """Orbit representatives of the Sz = 0 space under translations x point group x spin flip.

    Sector-independent; build once per cluster and reuse for every J2 and sector.

    Attributes:
        cluster: The cluster.
        group: The :class:`~nqs_dilated.symmetry.SymmetryGroup` (``|G| = N P`` without spin
            inversion; the orbits are under ``G' = G x Z2``, ``|G'| = 2 N P``).
        representatives: uint64 ``(R,)``, ascending; each is the smallest code of its orbit.
        stab_counts: uint8 ``(R, 2 P)``; ``stab_counts[b, z * P + p]`` is the number of
            stabilizer elements of representative ``b`` with spin flip ``z`` and point element
            ``p`` (any translation).
        seconds: Wall time of the enumeration (0 when restored).
    """

    def __init__(
        self,
        cluster: Cluster,
        group: SymmetryGroup | None = None,
        *,
        representatives: np.ndarray | None = None,
        stab_counts: np.ndarray | None = None,
        progress: Callable[[str, float], None] | None = None,
        check: bool = True,
    ):
        """Enumerate the representatives (or adopt given ones).

        Args:
            cluster: The cluster (at most 64 sites, even).
            group: Its space group; default :func:`~nqs_dilated.symmetry.space_group`.
            representatives: uint64 ``(R,)`` sorted representatives from a previous build (e.g.
                from a store); the stabilizer counts are recomputed. Checked to be
                representatives when ``check``.
            stab_counts: uint8 ``(R, 2 P)`` stabilizer counts of the given representatives (as
                :attr:`stab_counts`); recomputed when omitted.
            progress: Optional ``callback(phase, fraction)``.
            check: Verify the group against the Hamiltonian (and given representatives).

        Raises:
            ValueError: too many or an odd number of sites; given representatives that are not
                sorted orbit minima.
            SymmetryError: the group does not commute with the Hamiltonian.
        """
        import time

        check_cluster(cluster)
        if group is None:
            group = space_group(cluster)
        if check:
            check_group(cluster, group)
        self.cluster = cluster
        self.group = group
        self.n_sites = cluster.n_sites
        self.n_point = group.n_point
        self.T = make_tables(cluster.n_sites, cluster.extent, np.asarray(group.point_perms, dtype=np.int64))
        t0 = time.perf_counter()
        if representatives is None:
            self.representatives, self.stab_counts = self._enumerate(progress)
        else:
            reps = np.ascontiguousarray(representatives, dtype=np.uint64)
            if reps.size > 1 and not np.all(reps[1:] > reps[:-1]):
                raise ValueError("representatives must be strictly increasing")
            if check and _check_reps(reps, self.T):
                raise ValueError("given codes are not orbit representatives of this cluster's group")
            if stab_counts is not None:
                stab = np.ascontiguousarray(stab_counts, dtype=np.uint8)
                if stab.shape != (reps.size, 2 * self.n_point):
                    raise ValueError(f"stab_counts must have shape {(reps.size, 2 * self.n_point)}, got {stab.shape}")
            else:
                stab = np.zeros((reps.size, 2 * self.n_point), dtype=np.uint8)
                _stab_all(reps, self.T, stab)
            self.representatives, self.stab_counts = reps, stab
        self.seconds = time.perf_counter() - t0
        self._build_lookup()

    # ----------------------------------------------------------------------------------------
    @property
    def n_reps(self) -> int:
        """Number of representatives ``R`` (all orbits, before any sector selection)."""
        return int(self.representatives.shape[0])

    @property
    def group_order(self) -> int:
        """``|G'| = 2 N P``: translations x point group x spin inversion."""
        return 2 * len(self.group)

    @property
    def stabilizer_sizes(self) -> np.ndarray:
        """``|Stab(b)|`` per representative, int64 ``(R,)``."""
        return self.stab_counts.sum(axis=1, dtype=np.int64)

    def class_characters(self, sector) -> np.ndarray:
        """Characters of the classes ``(z, p)`` in ``sector``, float64 ``(2 P,)`` indexed ``z * P + p``."""
        sector = self.group.parse_sector(sector)
        chi_p = self.group.point_irreps[sector.irrep]
        return np.concatenate([chi_p, sector.spin_parity * chi_p]).astype(np.float64)

    def sector_weights(self, sector) -> np.ndarray:
        """``w[b] = sqrt(|Stab(b)|)`` if ``chi`` is trivial on ``Stab(b)``, else 0; float64 ``(R,)``."""
        chi = self.class_characters(sector).astype(np.int64)
        out = np.empty(self.n_reps, dtype=np.float64)
        _sector_weights(self.stab_counts, chi, out)  # no (R, 2P) int64 temporary (2 GiB at 36 sites)
        return out

    def sector_dimension(self, sector) -> int:
        """Number of representatives kept in ``sector``."""
        return int(np.count_nonzero(self.sector_weights(sector)))

    def find_representatives(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Representatives of arbitrary codes.

        Args:
            codes: uint64 ``(B,)``.

        Returns:
            ``(index, p, z)``: int64 ``(B,)`` index into :attr:`representatives` (-1 when the code
            is not in the Sz = 0 space of the cluster), and int64 ``(B,)`` point element / spin
            flip of a group element ``h`` with ``h(code) = representatives[index]``.
        """
        codes = np.ascontiguousarray(codes, dtype=np.uint64).ravel()
        idx = np.empty(codes.shape, dtype=np.int64)
        p = np.empty(codes.shape, dtype=np.int64)
        z = np.empty(codes.shape, dtype=np.int64)
        if codes.size:
            _find_many(codes, self.n_sites // 2, self.T, self._low, self._start, self._shift, idx, p, z)
        return idx, p, z

    def apply(self, codes, d1, d2, p, z) -> np.ndarray:
        """Apply group elements (spin flip ``z``, then point element ``p``, then translation
        ``d1 a1 + d2 a2``) to codes; all arguments broadcast to ``(B,)``; returns uint64 ``(B,)``."""
        codes, d1, d2, p, z = np.broadcast_arrays(
            np.asarray(codes, dtype=np.uint64),
            np.asarray(d1, dtype=np.int64),
            np.asarray(d2, dtype=np.int64),
            np.asarray(p, dtype=np.int64),
            np.asarray(z, dtype=np.int64),
        )
        out = np.empty(codes.shape, dtype=np.uint64)
        _apply_many(*(np.ascontiguousarray(a).ravel() for a in (codes, d1, d2, p, z)), self.T, out.ravel())
        return out

    # ----------------------------------------------------------------------------------------
    def _build_lookup(self) -> None:
        reps = self.representatives
        R = reps.shape[0]
        top = int(reps[-1]) if R else 0
        target = max(2 * R, 1024)
        shift = 0
        while (top >> shift) + 2 > target:
            shift += 1
        self._shift = np.uint64(shift)
        nkeys = (top >> shift) + 1
        counts = (
            np.bincount((reps >> self._shift).astype(np.int64), minlength=nkeys) if R else np.zeros(nkeys, np.int64)
        )
        start = np.zeros(nkeys + 1, dtype=np.uint32)
        np.cumsum(counts, out=start[1:], dtype=np.uint32) if R < 2**32 else None
        self._start = start
        self._low = (reps & np.uint64((1 << shift) - 1)).astype(np.uint16 if shift <= 16 else np.uint32)

    def _units(self):
        """Prefix units: fixed top rows with the necklace / spin-flip filter."""
        T = self.T
        N, L1, L2 = T[0], T[1], T[2]
        rowmask = (1 << L2) - 1
        minrot = T[8]
        kfix = min(2, L1 - 1) if L1 > 1 else 0
        nlow = N - kfix * L2
        half = N // 2
        prefixes = [(0, 0)]  # (prefix value over kfix rows, top row)
        if kfix >= 1:
            prefixes = []
            for t in range(1 << L2):
                if minrot[t] != t or minrot[t ^ rowmask] < t:
                    continue
                allowed = [r for r in range(1 << L2) if minrot[r] >= t and minrot[r ^ rowmask] >= t]
                partial = [(t, t)]
                for _ in range(kfix - 1):
                    partial = [((v << L2) | r, t) for v, _t in partial for r in allowed]
                prefixes.extend(partial)
        pres, tops, k1s, niters = [], [], [], []
        for v, t in prefixes:
            k1 = half - bin(v).count("1")
            if 0 <= k1 <= nlow:
                pres.append(v << nlow)
                tops.append(t if kfix else 0)
                k1s.append(k1)
                niters.append(math.comb(nlow, k1))
        nlowrows = L1 - kfix
        if kfix == 0:
            tops = [0] * len(pres)  # no prefix filter; the kernel filters nothing with t = 0
        return (
            np.array(pres, dtype=np.uint64),
            np.array(tops, dtype=np.int64),
            np.array(k1s, dtype=np.int64),
            np.array(niters, dtype=np.int64),
            nlow,
            nlowrows,
        )

    def _enumerate(self, progress):
        pres, tops, k1s, niters, nlow, nlowrows = self._units()
        nunits = pres.shape[0]
        order = np.argsort(-niters, kind="stable").astype(np.int64)
        counts = np.zeros(nunits, dtype=np.int64)
        offsets = np.zeros(nunits, dtype=np.int64)
        dummy_r = np.zeros(1, dtype=np.uint64)
        dummy_s = np.zeros((1, 2 * self.n_point), dtype=np.uint8)
        if progress:
            progress("basis: count", 0.0)
        _scan_units(
            pres,
            tops,
            k1s,
            niters,
            order,
            nlow,
            nlowrows,
            self.T,
            dummy_r,
            dummy_s,
            offsets,
            counts,
            False,
            nb.get_num_threads(),
        )
        R = int(counts.sum())
        offsets[1:] = np.cumsum(counts)[:-1]
        reps = np.empty(R, dtype=np.uint64)
        stab = np.zeros((R, 2 * self.n_point), dtype=np.uint8)
        if progress:
            progress("basis: fill", 0.5)
        counts2 = np.zeros(nunits, dtype=np.int64)
        _scan_units(
            pres,
            tops,
            k1s,
            niters,
            order,
            nlow,
            nlowrows,
            self.T,
            reps,
            stab,
            offsets,
            counts2,
            True,
            nb.get_num_threads(),
        )
        if not np.array_equal(counts, counts2):
            raise RuntimeError("representative enumeration is not reproducible (internal error)")
        if progress:
            progress("basis: done", 1.0)
        return reps, stab

    def __repr__(self) -> str:
        return f"SymmetricBasis({self.cluster.name}, R={self.n_reps:,}, |G'|={self.group_order})"
