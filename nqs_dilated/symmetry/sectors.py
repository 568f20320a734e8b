"""Symmetry sector labels and the names of the one-dimensional point-group irreps.

:class:`Sector` (zero momentum: irrep and spin-inversion parity, e.g. ``"A1+"``) and
:class:`MomentumSector` (lattice momentum, little-group irrep and parity, e.g. ``"k=3,0:A+"``),
the :class:`SymmetryError` raised for a bad label or a group that is not a symmetry, and the
multiplication table and Mulliken names from which the irreps of a point group are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MomentumSector", "Sector", "SymmetryError"]


class SymmetryError(ValueError):
    """A bad sector label or a group that is not a symmetry of the Hamiltonian."""


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
