"""The anisotropic triangular J1-J2 Heisenberg Hamiltonian as a NetKet operator.

    H = J1 sum_{<ij> in J1 bonds} sigma_i . sigma_j + J2 sum_{<ij> in J2 bonds} sigma_i . sigma_j

with Pauli matrices (``sigma = 2 S``), so every energy is **four times** the S.S energy. On the
triangular lattice J1 bonds run along a1 and a2 and J2 bonds along a2 - a1: J2 = 0 is the
square-lattice Heisenberg model and J2 = J1 the isotropic triangular lattice.

:mod:`nqs_dilated.hamiltonian.bonds` holds the same Hamiltonian as a bond list
(:class:`~nqs_dilated.hamiltonian.bonds.HeisenbergBonds`) with a local-energy kernel for VMC; it is
imported on demand (it registers NetKet dispatch rules), not from here. Layer: this package imports
only :mod:`nqs_dilated.lattice`; ``ed``, ``models``, ``data`` and ``drivers`` import it.
"""

from __future__ import annotations

import math

import netket as nk

from ..lattice import Cluster

__all__ = ["CONVENTION", "check_couplings", "heisenberg", "sz0_hilbert"]

#: Energy convention of every number this package prints or stores (4x the S.S energy).
CONVENTION = "pauli"


def check_couplings(j1: float, j2: float) -> tuple[float, float]:
    """Validate couplings and return them as floats.

    Raises:
        ValueError: J1 is zero or not finite, or J2 is not finite.
    """
    try:
        j1, j2 = float(j1), float(j2)
    except (TypeError, ValueError):
        raise ValueError(f"couplings must be numbers, got J1={j1!r}, J2={j2!r}") from None
    if not math.isfinite(j1) or j1 == 0.0:
        raise ValueError(f"J1 must be finite and non-zero (it sets the energy unit), got {j1}")
    if not math.isfinite(j2):
        raise ValueError(f"J2 must be finite, got {j2}")
    return j1, j2


def sz0_hilbert(cluster: Cluster) -> nk.hilbert.Spin:
    """``Spin(1/2, N, total_sz=0)`` for the cluster (NetKet's local states are ``[+1, -1]``)."""
    return nk.hilbert.Spin(0.5, cluster.n_sites, total_sz=0)


def heisenberg(cluster: Cluster, j2: float, j1: float = 1.0, *, marshall: bool = False) -> nk.operator.LocalOperator:
    """NetKet Hamiltonian of the J1-J2 model on ``Spin(1/2, N, total_sz=0)``.

    Args:
        cluster: The cluster; its graph's edge colour 0 carries J1 and colour 1 carries J2.
        j2: J2 coupling (Pauli convention).
        j1: J1 coupling (default 1, the energy unit).
        marshall: Apply the Marshall sign rotation on J1 bonds (flips the sign of the exchange
            term on J1 bonds; the J1 sublattice must be bipartite). Off by default.

    Returns:
        ``netket.operator.Heisenberg``, ``H = J1 sum sigma.sigma + J2 sum sigma.sigma``
        (Pauli matrices, 4x the S.S energy).

    Raises:
        ValueError: bad couplings, or ``marshall=True`` on a cluster whose J1 bonds are not
            bipartite.
    """
    j1, j2 = check_couplings(j1, j2)
    n_colors = max(cluster.graph.edge_colors) + 1
    couplings = [j1, j2][:n_colors]
    sign_rule = [bool(marshall), False][:n_colors]
    return nk.operator.Heisenberg(sz0_hilbert(cluster), cluster.graph, J=couplings, sign_rule=sign_rule)
