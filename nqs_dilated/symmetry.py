"""Space group of a coloured cluster, spin inversion, and zero-momentum sectors.

The group is built from the geometry of the :class:`~nqs_dilated.lattice.Cluster`: all ``N``
translations of the torus times the point group, the integer matrices ``M`` (acting on lattice
coordinates ``(n1, n2)``) that map every bond family onto a bond family of the same coupling and
the torus onto itself. For the anisotropic triangular lattice (J1 along a1, a2; J2 along a2 - a1)
on an ``L x L`` torus the point group has four elements:

* ``E``: identity;
* ``C2``: inversion (the 2-fold rotation), ``(n1, n2) -> (-n1, -n2)``;
* ``sigma``: the reflection exchanging a1 and a2, ``(n1, n2) -> (n2, n1)``;
* ``sigma'`` = ``C2 sigma``: ``(n1, n2) -> (-n2, -n1)``.

On an ``L1 x L2`` torus with ``L1 != L2`` only ``E`` and ``C2`` survive. Each element is checked
to be an automorphism of the coloured graph, and the whole set equals NetKet's
``graph.automorphisms()`` (tested).

Permutation convention: element ``g`` moves the spin on site ``i`` to site ``perm[g, i]``, so a
configuration transforms as ``(g.sigma)[perm[g, i]] = sigma[i]``. Spin inversion
``sigma -> -sigma`` commutes with everything and is kept as a separate flag.

Zero-momentum sectors are labelled by a one-dimensional real irrep of the point group and the
spin-inversion parity, written e.g. ``"A1+"`` (C2v: ``A1, A2, B1, B2`` with characters on
``(E, C2, sigma, sigma')`` of ``(1,1,1,1), (1,1,-1,-1), (1,-1,1,-1), (1,-1,-1,1)``; C2: ``A, B``).
The character of ``(translation, point element p, spin flip z)`` in sector ``(irrep, parity)``
is ``chi_irrep(p) * parity**z``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from .lattice import Cluster

__all__ = ["MomentumSector", "Sector", "SymmetryError", "SymmetryGroup", "is_automorphism", "space_group"]


class SymmetryError(ValueError):
    """A bad sector label or a group that is not a symmetry of the Hamiltonian."""


_NAMED_MATRICES = {
    "E": ((1, 0), (0, 1)),
    "C2": ((-1, 0), (0, -1)),
    "sigma": ((0, 1), (1, 0)),
    "sigma'": ((0, -1), (-1, 0)),
}

#: Mulliken names of the real 1D irreps for the point groups that occur, by characters on the
#: elements in the order E, C2, sigma, sigma' (absent elements dropped).
_IRREP_NAMES = {
    ("E", "C2", "sigma", "sigma'"): {
        (1, 1, 1, 1): "A1",
        (1, 1, -1, -1): "A2",
        (1, -1, 1, -1): "B1",
        (1, -1, -1, 1): "B2",
    },
    ("E", "C2"): {(1, 1): "A", (1, -1): "B"},
    ("E", "sigma"): {(1, 1): "A'", (1, -1): "A''"},
    ("E", "sigma'"): {(1, 1): "A'", (1, -1): "A''"},
    ("E",): {(1,): "A"},
}


@dataclass(frozen=True, order=True)
class Sector:
    """A zero-momentum symmetry sector.

    Attributes:
        irrep: Name of the one-dimensional point-group irrep, e.g. ``"A1"``.
        spin_parity: Eigenvalue ``+1`` or ``-1`` under global spin inversion.
    """

    irrep: str
    spin_parity: int

    def __str__(self) -> str:
        return f"{self.irrep}{'+' if self.spin_parity > 0 else '-'}"


@dataclass(frozen=True, order=True)
class MomentumSector:
    """A sector at lattice momentum ``k``: a one-dimensional irrep of the little group of ``k``
    and the spin-inversion parity.

    The momentum is given by integers ``(m1, m2)`` with ``k . (d1 a1 + d2 a2) = 2 pi (m1 d1 / L1
    + m2 d2 / L2)``; the character of ``g`` = (spin flip ``z``, then point element ``p`` of the
    little group, then translation ``(d1, d2)``) is ``exp(-i k.d) chi_irrep(p) parity**z``, and the
    states of the sector satisfy ``psi(g sigma) = chi(g) psi(sigma)`` (as at zero momentum; ``k``
    and ``-k`` have the same spectrum). Written ``"k=m1,m2:IRREP+"`` (e.g. ``"k=3,0:A+"``).

    Attributes:
        momentum: ``(m1, m2)``, ``0 <= m_i < L_i``.
        irrep: Name of the one-dimensional irrep of the little group.
        spin_parity: ``+1`` or ``-1``.
    """

    momentum: tuple[int, int]
    irrep: str
    spin_parity: int

    def __str__(self) -> str:
        m1, m2 = self.momentum
        return f"k={m1},{m2}:{self.irrep}{'+' if self.spin_parity > 0 else '-'}"


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


def _multiplication_table(perms: np.ndarray) -> np.ndarray:
    """``table[a, b] = c`` with ``perms[c] = perms[a][perms[b]]`` (apply ``b`` then ``a``)."""
    index = {p.tobytes(): k for k, p in enumerate(perms)}
    n = len(perms)
    table = np.empty((n, n), dtype=np.int64)
    for a in range(n):
        for b in range(n):
            table[a, b] = index[perms[a][perms[b]].tobytes()]
    return table


def _irrep_name(point_names: tuple[str, ...], chi: np.ndarray) -> str:
    order = [n for n in ("E", "C2", "sigma", "sigma'") if n in point_names]
    if set(order) == set(point_names):
        key = tuple(int(chi[point_names.index(n)]) for n in order)
        names = _IRREP_NAMES.get(tuple(order))
        if names and key in names:
            return names[key]
    return "chi(" + ",".join("+" if c > 0 else "-" for c in chi) + ")"


def _site_permutation(cluster: Cluster, matrix: np.ndarray, shift: np.ndarray) -> np.ndarray:
    L = np.asarray(cluster.extent)
    new = np.mod(cluster.grid @ np.asarray(matrix).T + shift, L)
    return cluster.site_of[new[:, 0], new[:, 1]]


def space_group(cluster: Cluster) -> SymmetryGroup:
    """Build the space group of the coloured cluster (see the module docstring).

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
