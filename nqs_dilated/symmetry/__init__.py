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

from .group import SymmetryGroup, is_automorphism, space_group
from .sectors import MomentumSector, Sector, SymmetryError

__all__ = ["MomentumSector", "Sector", "SymmetryError", "SymmetryGroup", "is_automorphism", "space_group"]
