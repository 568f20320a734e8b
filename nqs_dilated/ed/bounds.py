"""Sound bounds on each sector's lowest energy at one J2, from sector searches at other J2.

For fixed J1 the Hamiltonian is ``H(J2) = J1 H1 + J2 H2`` with ``H2 = sum_{J2 bonds} sigma_i . sigma_j``
(Pauli convention). In a symmetry sector s the lowest energy

    E_s(J2) = min_{psi in s, |psi| = 1} <psi| J1 H1 |psi> + J2 <psi| H2 |psi>

is a minimum of linear functions of J2, hence concave (the Hellmann-Feynman slope ``<H2>`` does
not increase with J2). Two consequences give lower bounds from energies known at other couplings:

* Between two known points ``a < J2 < b`` the function lies above its chord:
  ``E_s(J2) >= ((b - J2) E_s(a) + (J2 - a) E_s(b)) / (b - a)``.
* From one known point ``a``, since ``H(J2) = H(a) + (J2 - a) H2``:
  ``E_s(J2) >= E_s(a) + (J2 - a) lambda_min(H2)`` for ``J2 > a`` and
  ``E_s(J2) >= E_s(a) - (a - J2) lambda_max(H2)`` for ``J2 < a``.

A sector whose bound lies above an energy already found at J2 cannot hold the ground state, so a
sector search (:func:`nqs_dilated.ed.symmetric.symmetric_ground_state` with ``lower_bounds``)
skips it. A known energy enters as ``theta - r`` (Ritz value minus its residual): some eigenvalue
of the sector lies within ``r`` of ``theta``, and it is the sector's lowest for a Lanczos run from a
random start (the standard assumption of every Lanczos search, including an unbounded one).
``lambda_min(H2)`` is the sum of the exact ground energies of the connected components of the J2
bonds (decoupled chains on the anisotropic triangular lattice; NetKet's Lanczos on each), the
spectrum of each ``sigma . sigma`` lying in ``[-3, 1]`` bounds everything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from ..lattice import Cluster

__all__ = ["COMPONENT_ED_MAX_SITES", "coupling_spectrum_bounds", "sector_lower_bounds", "sector_upper_bounds"]

COMPONENT_ED_MAX_SITES = 16
"""Largest connected component of the J2 bonds diagonalised exactly (2^16 states); a larger one is
bounded by ``-3`` per bond."""


def coupling_spectrum_bounds(cluster: Cluster, coupling: str = "J2") -> tuple[float, float]:
    """Bounds ``(lo, hi)`` on the spectrum of ``sum_{bonds of coupling} sigma_i . sigma_j`` (Pauli).

    ``lo`` is exact when every connected component of those bonds has at most
    :data:`COMPONENT_ED_MAX_SITES` sites and no repeated bond (then it is the sum of the
    components' ground energies, from ``nk.exact.lanczos_ed`` on each component's full Hilbert
    space); otherwise a component contributes ``-3`` per bond. ``hi`` is the number of bonds (every
    bond's largest eigenvalue, +1, reached together by the fully polarised states).

    Args:
        cluster: The cluster.
        coupling: ``"J2"`` (default) or ``"J1"``.

    Returns:
        ``(lo, hi)``, floats in Pauli units per unit coupling.
    """
    import netket as nk
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    bonds = cluster.bonds(coupling)
    if len(bonds) == 0:
        return 0.0, 0.0
    n = cluster.n_sites
    graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    lo = 0.0
    for comp in np.unique(label[bonds[:, 0]]):
        sites = np.flatnonzero(label == comp)
        edges = bonds[label[bonds[:, 0]] == comp]
        pairs = {tuple(sorted(e)) for e in edges.tolist()}
        if len(sites) > COMPONENT_ED_MAX_SITES or len(pairs) != len(edges):
            lo -= 3.0 * len(edges)
            continue
        local = {int(s): i for i, s in enumerate(sites)}
        g = nk.graph.Graph(edges=[(local[i], local[j]) for i, j in pairs], n_nodes=len(sites))
        hilbert = nk.hilbert.Spin(0.5, N=len(sites))
        # NetKet's Heisenberg is J sum sigma.sigma with Pauli matrices; no Marshall rotation
        op = nk.operator.Heisenberg(hilbert, g, J=1.0, sign_rule=False)
        lo += float(np.min(nk.exact.lanczos_ed(op, k=1)))
    return lo, float(len(bonds))


def sector_lower_bounds(
    j2: float,
    searches: Iterable[tuple[float, Mapping[str, tuple[float, float]]]],
    spectrum: tuple[float, float],
) -> dict[str, float]:
    """Lower bound on every sector's lowest energy at ``j2`` from searches at other J2 (same J1).

    Args:
        j2: The coupling of the bound.
        searches: ``(j2_a, {label: (energy, residual)})`` of sector searches at the same J1 and
            cluster (Pauli units). Entries at ``j2`` itself count too (then the bound is
            ``energy - residual``).
        spectrum: ``(lambda_min, lambda_max)`` bounds on the J2-bond operator
            (:func:`coupling_spectrum_bounds`).

    Returns:
        Label -> the largest of the one-point and chord bounds (see the module docstring), for
        every label that appears in at least one search. Pauli units.
    """
    lo, hi = spectrum
    bounds: dict[str, float] = {}
    for label, known in _known_points(searches).items():
        points = [(a, low) for a, _, low in known]
        best = -math.inf
        for a, e in points:
            best = max(best, e + (j2 - a) * lo if j2 >= a else e - (a - j2) * hi)
        for a, ea in points:
            for b, eb in points:
                if a < j2 < b:
                    best = max(best, ((b - j2) * ea + (j2 - a) * eb) / (b - a))
        bounds[label] = best
    return bounds


def sector_upper_bounds(
    j2: float, searches: Iterable[tuple[float, Mapping[str, tuple[float, float]]]]
) -> dict[str, float]:
    """Upper bound on every sector's lowest energy at ``j2`` from searches at other J2 (same J1).

    A concave function lies below the extension of any of its chords beyond the chord's ends:
    for ``a < b < J2``, ``E_s(J2) <= E_s(b) + (J2 - b) (E_s(b) - E_s(a)) / (b - a)`` (and the
    mirror image for ``J2 < a < b``). A search at ``j2`` itself gives its Ritz value. Known
    energies enter on the safe side: the Ritz value ``theta`` (an upper bound) where the
    extension grows with the energy, ``theta - r`` where it falls.

    Args:
        j2: The coupling of the bound.
        searches: ``(j2_a, {label: (energy, residual)})`` as for :func:`sector_lower_bounds`.

    Returns:
        Label -> the smallest such bound, for the labels that have one (Pauli units).
    """
    bounds: dict[str, float] = {}
    for label, points in _known_points(searches).items():
        best = math.inf
        for a, hi_a, lo_a in points:
            if a == j2:
                best = min(best, hi_a)
            for b, hi_b, lo_b in points:
                if a < b < j2:  # E(j2) <= E(b) + t (E(b) - E(a)), t = (j2 - b) / (b - a) > 0
                    t = (j2 - b) / (b - a)
                    best = min(best, (1 + t) * hi_b - t * lo_a)
                elif j2 < a < b:  # E(j2) <= E(a) + t (E(a) - E(b)), t = (a - j2) / (b - a) > 0
                    t = (a - j2) / (b - a)
                    best = min(best, (1 + t) * hi_a - t * lo_b)
        if best < math.inf:
            bounds[label] = best
    return bounds


def _known_points(
    searches: Iterable[tuple[float, Mapping[str, tuple[float, float]]]],
) -> dict[str, list[tuple[float, float, float]]]:
    """Label -> ``[(j2, theta, theta - |r|), ...]``: each known energy with its safe lower end."""
    known: dict[str, list[tuple[float, float, float]]] = {}
    for a, energies in searches:
        for label, (e, r) in energies.items():
            known.setdefault(str(label), []).append((float(a), float(e), float(e) - abs(float(r))))
    return known
