"""Spin correlations and the static structure factor of exact ground states.

For a state of zero momentum, ``<sigma_i . sigma_j>`` depends only on the displacement
``d = r_j - r_i``, so the ``N`` correlators ``C(d) = <sigma_0 . sigma_d>`` (Pauli convention;
``<S_0 . S_d> = C(d) / 4``) hold every two-point function of the cluster; a state in a
one-dimensional irrep of the point group also has ``C(R d) = C(d)`` for every point-group rotation
``R``, and the values returned are averaged over those images. The static structure factor is

    S(q) = (1/N) sum_{ij} exp(i q.(r_i - r_j)) <S_i . S_j> = sum_d cos(q.r_d) C(d) / 4,

on the cluster's allowed momenta ``q = (m1/L1) b1 + (m2/L2) b2`` (``a_i . b_j = 2 pi delta_ij``,
``a1 = (1, 0)``, ``a2 = (1/2, sqrt 3/2)``), in S.S units. Sum rule: ``S(0) = <S_tot^2> / N``,
zero for a singlet.

Two routes, chosen by the state:

* **Listed state** (the Sz = 0 space fits in memory: up to 24-28 sites): ``zz(d) = <sigma^z_0
  sigma^z_d>`` from ``|psi|^2`` and the exchange part ``2 <sigma^+_0 sigma^-_d + h.c.> = 2 sum_x
  psi(x) psi(x')`` (``x'``: spins 0 and ``d`` of ``x`` exchanged) from the amplitudes: exact,
  no assumption on the total spin.
* **Symmetric state** beyond that (36 sites): ``zz(d) = sum_a c_a^2 (1/N) sum_i s_i(a) s_{i+d}(a)``
  over the orbit representatives ``a`` (weight ``c_a^2`` per orbit; one bit translation and one
  popcount per representative and displacement; no expansion to the full space, no memory beyond
  the stored state), then ``C(d) = 3 zz(d)``, which holds for a singlet (spin-rotation
  invariance: ``<s^x s^x> = <s^y s^y> = <s^z s^z>``). The singlet is checked, not assumed: the
  bond sum ``sum_bonds J_b C(d_b)`` must reproduce the ground-state energy (relative
  :data:`SINGLET_RTOL`), which fails for any state whose exchange and Ising correlations differ on
  the bonds; a state that fails raises.

Source: the orbit weights are those of the symmetric basis (Sandvik, AIP Conf. Proc. 1297, 135
(2010), Sec. 4); ``S(q)`` as in e.g. Capriotti, Trumper, Sorella, PRL 82, 3899 (1999).
"""

from __future__ import annotations

from .exact import (
    ROUTES,
    SINGLET_RTOL,
    Correlations,
    StructureFactor,
    bond_energy,
    correlations,
    listed_correlators,
    structure_factor,
)
from .geometry import allowed_momenta
from .variational import MC_CHUNK_CONFIGS, MonteCarloCorrelations, compare_peak, mc_correlations, mc_structure_factor

__all__ = [
    "MC_CHUNK_CONFIGS",
    "ROUTES",
    "SINGLET_RTOL",
    "Correlations",
    "MonteCarloCorrelations",
    "StructureFactor",
    "allowed_momenta",
    "bond_energy",
    "compare_peak",
    "correlations",
    "listed_correlators",
    "mc_correlations",
    "mc_structure_factor",
    "structure_factor",
]
