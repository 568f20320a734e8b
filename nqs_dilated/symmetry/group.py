"""The space group of a coloured cluster: torus translations times the point group.

:func:`space_group` finds the point-group matrices that map every bond family onto one of the
same coupling and the torus onto itself, and builds the site permutations of every element
(:class:`SymmetryGroup`, checked with :func:`is_automorphism`); the group lists its zero-momentum
sectors, characters, momenta and little groups (:mod:`nqs_dilated.symmetry`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from ..lattice import Cluster
from .sectors import MomentumSector, Sector, SymmetryError, _irrep_name, _multiplication_table

__all__ = ["SymmetryGroup", "is_automorphism", "space_group"]


_NAMED_MATRICES = {
    "E": ((1, 0), (0, 1)),
    "C2": ((-1, 0), (0, -1)),
    "sigma": ((0, 1), (1, 0)),
    "sigma'": ((0, -1), (-1, 0)),
}


def is_automorphism(perm: np.ndarray, cluster: Cluster) -> bool:
    """Whether the site permutation maps every J1 bond to a J1 bond and every J2 bond to a J2 bond."""
    perm = np.asarray(perm)
    for coupling in ("J1", "J2"):
        bonds = cluster.bonds(coupling)
        original = {frozenset(b) for b in bonds.tolist()}
        mapped = {frozenset(b) for b in perm[bonds].tolist()}
        if original != mapped:
            return False
    return True


@dataclass(frozen=True, eq=False)
class SymmetryGroup:
    """Translations times point group of a cluster, with spin inversion as a flag.

    Attributes:
        cluster: The cluster.
        point_names: Names of the point-group elements (``"E"`` first).
        point_matrices: int64 ``(P, 2, 2)``, action on lattice coordinates.
        translations: int64 ``(N, N)``, translation ``t = d1 * L2 + d2`` moves site ``i`` to
            ``translations[t, i]`` (shift by ``d1 a1 + d2 a2``).
        point_perms: int64 ``(P, N)``, site permutations of the point-group elements.
        perms: int64 ``(N * P, N)``, element ``g = t * P + p`` is ``p`` followed by translation
            ``t``: ``perms[g] = translations[t][point_perms[p]]``.
    """

    cluster: Cluster
    point_names: tuple[str, ...]
    point_matrices: np.ndarray
    translations: np.ndarray
    point_perms: np.ndarray
    perms: np.ndarray

    @property
    def n_translations(self) -> int:
        return self.translations.shape[0]

    @property
    def n_point(self) -> int:
        return self.point_perms.shape[0]

    def __len__(self) -> int:
        """Number of space-group elements (without spin inversion)."""
        return self.perms.shape[0]

    @cached_property
    def point_irreps(self) -> dict[str, np.ndarray]:
        """Real one-dimensional irreps of the point group: name -> characters, float64 ``(P,)``
        (the little group of k = 0 is the whole point group)."""
        return self.little_irreps((0, 0))

    def sectors(self) -> list[Sector]:
        """All zero-momentum sectors: point-group irreps times spin parity ``(+1, -1)``."""
        return [Sector(name, parity) for name in self.point_irreps for parity in (1, -1)]

    def parse_sector(self, label: str | Sector) -> Sector:
        """Turn ``"A1+"`` (irrep name and spin parity sign) into a :class:`Sector`.

        Raises:
            SymmetryError: the label is not of that form or names an irrep the group lacks.
        """
        if isinstance(label, Sector):
            sector = label
        else:
            label = str(label).strip()
            if len(label) < 2 or label[-1] not in "+-":
                raise SymmetryError(
                    f"bad sector label {label!r}: write the point-group irrep followed by the "
                    f"spin-inversion parity, one of {[str(s) for s in self.sectors()]}"
                )
            sector = Sector(label[:-1], 1 if label[-1] == "+" else -1)
        if sector.irrep not in self.point_irreps or sector.spin_parity not in (1, -1):
            raise SymmetryError(
                f"sector {label!s} does not exist for {self.cluster.name} (point group "
                f"{', '.join(self.point_names)}); choose one of {[str(s) for s in self.sectors()]}"
            )
        return sector

    def characters(self, sector: Sector | str) -> np.ndarray:
        """Characters of every element with and without spin flip, float64 ``(2, len(self))``.

        ``characters(s)[z, t * P + p] = chi_irrep(p) * spin_parity**z`` (zero momentum).
        """
        sector = self.parse_sector(sector)
        chi_p = self.point_irreps[sector.irrep]
        chi = np.tile(chi_p, self.n_translations)
        return np.stack([chi, sector.spin_parity * chi])

    # ---------------------------------------------------------------------------------------
    # non-zero momenta

    def momenta(self) -> list[tuple[int, int]]:
        """All lattice momenta ``(m1, m2)`` of the torus (see :class:`MomentumSector`)."""
        L1, L2 = self.cluster.extent
        return [(m1, m2) for m1 in range(L1) for m2 in range(L2)]

    def _check_momentum(self, momentum) -> tuple[int, int]:
        L1, L2 = self.cluster.extent
        try:
            m1, m2 = (int(v) for v in momentum)
        except (TypeError, ValueError):
            raise SymmetryError(f"momentum must be two integers (m1, m2), got {momentum!r}") from None
        if not (0 <= m1 < L1 and 0 <= m2 < L2):
            raise SymmetryError(f"momentum ({m1}, {m2}) is outside 0 <= m1 < {L1}, 0 <= m2 < {L2}")
        return m1, m2

    def _transform_momentum(self, momentum: tuple[int, int], matrix: np.ndarray) -> tuple[int, int]:
        """``k'`` with ``k'.d = k.(M d)`` for every lattice vector ``d``, as integers ``(m1', m2')``.

        Raises:
            SymmetryError: ``M`` does not map the momentum lattice of the torus onto itself.
        """
        L = self.cluster.extent
        out = []
        for j in range(2):
            num = sum(Fraction(momentum[i] * int(matrix[i, j]), L[i]) for i in range(2)) * L[j]
            if num.denominator != 1:
                raise SymmetryError(f"point element {matrix.tolist()} does not preserve the momenta of the torus")
            out.append(int(num) % L[j])
        return out[0], out[1]

    def little_group(self, momentum) -> tuple[int, ...]:
        """Indices ``p`` of the point elements that leave ``k`` invariant (``k.(M_p d) = k.d``
        modulo ``2 pi`` for every ``d``); ``0`` (the identity) first."""
        m = self._check_momentum(momentum)
        return tuple(p for p in range(self.n_point) if self._transform_momentum(m, self.point_matrices[p]) == m)

    def little_irreps(self, momentum) -> dict[str, np.ndarray]:
        """Real one-dimensional irreps of the little group of ``k``: name -> float64 characters
        on the elements :meth:`little_group` lists."""
        idx = self.little_group(momentum)
        table = _multiplication_table(self.point_perms[list(idx)])
        names = tuple(self.point_names[p] for p in idx)
        irreps = {}
        for signs in itertools.product((1, -1), repeat=len(idx) - 1):
            chi = np.array((1,) + signs)
            if np.all(chi[:, None] * chi[None, :] == chi[table]):
                irreps[_irrep_name(names, chi)] = chi.astype(np.float64)
        return irreps

    def momentum_star(self, momentum) -> list[tuple[int, int]]:
        """Momenta with the same spectrum as ``k``: its images under the point group and ``-k``
        (time reversal: H is real), sorted."""
        m = self._check_momentum(momentum)
        L1, L2 = self.cluster.extent
        star = set()
        for M in self.point_matrices:
            k = self._transform_momentum(m, M)
            star.add(k)
            star.add(((-k[0]) % L1, (-k[1]) % L2))
        return sorted(star)

    def momentum_stars(self) -> list[tuple[int, int]]:
        """One momentum per star (the smallest), ``(0, 0)`` first."""
        seen, out = set(), []
        for k in self.momenta():
            if k not in seen:
                star = self.momentum_star(k)
                seen.update(star)
                out.append(star[0])
        return out

    def momentum_sectors(self, momentum) -> list[MomentumSector]:
        """Sectors at momentum ``k``: irreps of its little group times spin parity."""
        m = self._check_momentum(momentum)
        return [MomentumSector(m, name, parity) for name in self.little_irreps(m) for parity in (1, -1)]

    def parse_momentum_sector(self, label: str | MomentumSector) -> MomentumSector:
        """Turn ``"k=m1,m2:IRREP+"`` into a :class:`MomentumSector`.

        Raises:
            SymmetryError: the label is not of that form, or the momentum or irrep does not exist.
        """
        if isinstance(label, MomentumSector):
            sector = label
        else:
            text = str(label).strip()
            head, sep, tail = text.partition(":")
            try:
                if not (sep and head.startswith("k=") and len(tail) >= 2 and tail[-1] in "+-"):
                    raise ValueError
                m = tuple(int(v) for v in head[2:].split(","))
                if len(m) != 2:
                    raise ValueError
            except ValueError:
                raise SymmetryError(
                    f"bad momentum-sector label {text!r}: write k=m1,m2:IRREP followed by the spin-inversion "
                    f"parity, e.g. 'k=1,0:A+' (momentum 2 pi (m1/L1, m2/L2) in the reciprocal basis)"
                ) from None
            sector = MomentumSector(m, tail[:-1], 1 if tail[-1] == "+" else -1)
        m = self._check_momentum(sector.momentum)
        irreps = self.little_irreps(m)
        if sector.irrep not in irreps or sector.spin_parity not in (1, -1):
            raise SymmetryError(
                f"sector {label!s} does not exist for {self.cluster.name}: the little group of k={m[0]},{m[1]} "
                f"({', '.join(self.point_names[p] for p in self.little_group(m))}) has the irreps "
                f"{sorted(irreps)}; choose one of {[str(s) for s in self.momentum_sectors(m)]}"
            )
        return MomentumSector(m, sector.irrep, sector.spin_parity)

    def subgroup(self, point_indices) -> SymmetryGroup:
        """Translations times the point elements ``point_indices`` (the identity first), e.g. the
        little group of a momentum; same layout ``g = t * P' + p'``."""
        idx = [int(p) for p in point_indices]
        if not idx or idx[0] != 0:
            raise SymmetryError("a subgroup must list the identity (point element 0) first")
        pperms = self.point_perms[idx]
        perms = np.array([t[p] for t in self.translations for p in pperms])
        return SymmetryGroup(
            cluster=self.cluster,
            point_names=tuple(self.point_names[p] for p in idx),
            point_matrices=self.point_matrices[idx],
            translations=self.translations,
            point_perms=pperms,
            perms=perms,
        )


def _site_permutation(cluster: Cluster, matrix: np.ndarray, shift: np.ndarray) -> np.ndarray:
    L = np.asarray(cluster.extent)
    new = np.mod(cluster.grid @ np.asarray(matrix).T + shift, L)
    return cluster.site_of[new[:, 0], new[:, 1]]


def space_group(cluster: Cluster) -> SymmetryGroup:
    """Build the space group of the coloured cluster (see :mod:`nqs_dilated.symmetry`).

    Returns:
        The :class:`SymmetryGroup`; every element is verified with :func:`is_automorphism`.

    Raises:
        SymmetryError: an element fails the automorphism check (a bug or an inconsistent file).
    """
    L1, L2 = cluster.extent
    L = np.array([L1, L2])
    fams = [(np.array(f.coords), f.coupling) for f in cluster.bond_families]

    def maps_bonds(M):
        for d, c in fams:
            image = np.mod(M @ d, L)
            if not any(
                c2 == c and (np.array_equal(image, np.mod(d2, L)) or np.array_equal(image, np.mod(-d2, L)))
                for d2, c2 in fams
            ):
                return False
        return True

    def keeps_torus(M):
        return not np.any(np.mod(M @ np.array([L1, 0]), L)) and not np.any(np.mod(M @ np.array([0, L2]), L))

    found = []
    for entries in itertools.product((-1, 0, 1), repeat=4):
        M = np.array(entries).reshape(2, 2)
        if round(abs(np.linalg.det(M))) != 1 or not keeps_torus(M) or not maps_bonds(M):
            continue
        found.append(M)
    perms_seen = {}
    for M in found:
        perm = _site_permutation(cluster, M, np.zeros(2, dtype=np.int64))
        perms_seen.setdefault(perm.tobytes(), M)  # distinct matrices can coincide on tiny tori

    named = {k: np.array(v) for k, v in _NAMED_MATRICES.items()}
    names, mats, pperms = [], [], []

    def rank(M):  # named elements first, in the order E, C2, sigma, sigma'
        for k, v in enumerate(named.values()):
            if np.array_equal(v, M):
                return (k, ())
        return (len(named), tuple(M.ravel()))

    for M in sorted(perms_seen.values(), key=rank):
        name = next((k for k, v in named.items() if np.array_equal(v, M)), None)
        names.append(name or f"M{M.ravel().tolist()}")
        mats.append(M)
        pperms.append(_site_permutation(cluster, M, np.zeros(2, dtype=np.int64)))
    mats = np.array(mats)
    pperms = np.array(pperms)

    translations = np.array(
        [
            _site_permutation(cluster, np.eye(2, dtype=np.int64), np.array([d1, d2]))
            for d1 in range(L1)
            for d2 in range(L2)
        ]
    )
    perms = np.array([t[p] for t in translations for p in pperms])
    for perm in perms:
        if not is_automorphism(perm, cluster):
            raise SymmetryError(f"{cluster.name}: group element {perm.tolist()} is not an automorphism")
    if len({p.tobytes() for p in perms}) != len(perms):
        raise SymmetryError(f"{cluster.name}: translations and point group overlap; the torus is too small")
    return SymmetryGroup(
        cluster=cluster,
        point_names=tuple(names),
        point_matrices=mats,
        translations=translations,
        point_perms=pperms,
        perms=perms,
    )
