"""Spin correlations and S(q) of exact ground states (routes: :mod:`nqs_dilated.observables`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ed.correlations import orbit_zz
from ..ed.state import GroundState
from ..lattice import Cluster
from .geometry import allowed_momenta, bond_displacement, displacements, point_maps, site_of_displacement

__all__ = [
    "ROUTES",
    "SINGLET_RTOL",
    "Correlations",
    "StructureFactor",
    "bond_energy",
    "correlations",
    "listed_correlators",
    "structure_factor",
]

#: Largest relative difference between the bond sum of the correlators and the ground-state
#: energy accepted for the singlet route (the symmetric ED converges E0 to ~1e-12 relative).
SINGLET_RTOL = 1e-8


@dataclass(frozen=True)
class Correlations:
    """Two-point spin correlations of a zero-momentum state, one entry per displacement.

    Attributes:
        cluster: Name of the cluster.
        displacements: int64 ``(N, 2)``, ``(d1, d2)`` in units of ``a1``, ``a2``, ``0 <= d_i < L_i``
            (row ``d1 * L2 + d2``, the index of the site at displacement ``d`` from site 0).
        vectors: float64 ``(N, 2)``, the shortest Cartesian vector ``r_d`` among the periodic images.
        zz: float64 ``(N,)``, ``<sigma^z_0 sigma^z_d>`` (Pauli; ``zz[0] = 1``).
        sigma: float64 ``(N,)``, ``<sigma_0 . sigma_d>`` (Pauli; ``sigma[0] = 3``).
        route: ``"listed"`` (exact exchange part) or ``"singlet"`` (``sigma = 3 zz``, checked).
        energy: The state's energy (Pauli convention), for the bond-sum check.
        bond_energy: ``sum_bonds J_b sigma(d_b)`` (Pauli), equal to ``energy`` for a singlet.
    """

    cluster: str
    displacements: np.ndarray
    vectors: np.ndarray
    zz: np.ndarray
    sigma: np.ndarray
    route: str
    energy: float
    bond_energy: float

    @property
    def s_dot_s(self) -> np.ndarray:
        """``<S_0 . S_d>`` (S.S convention: ``sigma / 4``), float64 ``(N,)``."""
        return self.sigma / 4.0

    def rows(self) -> list[dict]:
        """One dict per displacement (the rows of ``correlations.csv``)."""
        dist = np.hypot(self.vectors[:, 0], self.vectors[:, 1])
        return [
            {
                "d1": int(d[0]),
                "d2": int(d[1]),
                "x": float(v[0]),
                "y": float(v[1]),
                "distance": float(r),
                "zz": float(z),
                "sigma_sigma": float(s),
                "s_dot_s": float(s) / 4.0,
            }
            for d, v, r, z, s in zip(self.displacements, self.vectors, dist, self.zz, self.sigma)
        ]


@dataclass(frozen=True)
class StructureFactor:
    """``S(q)`` on the allowed momenta of a cluster (S.S units, module docstring).

    Attributes:
        m: int64 ``(N, 2)``, momentum indices ``(m1, m2)``, ``0 <= m_i < L_i``.
        q: float64 ``(N, 2)``, Cartesian ``q`` (``a1 = (1, 0)``), folded into the first Brillouin zone.
        s: float64 ``(N,)``, ``S(q)``.
    """

    m: np.ndarray
    q: np.ndarray
    s: np.ndarray

    @property
    def peak(self) -> int:
        """Index of the largest ``S(q)`` (the smallest ``(m1, m2)`` among equal maxima to 1e-12)."""
        top = np.max(self.s)
        return int(np.flatnonzero(self.s >= top - 1e-12 * max(1.0, abs(top)))[0])

    def rows(self) -> list[dict]:
        """One dict per momentum (the rows of ``structure_factor.csv``: ``m1, m2, qx, qy, S``)."""
        return [
            {"m1": int(m[0]), "m2": int(m[1]), "qx": float(q[0]), "qy": float(q[1]), "S": float(s)}
            for m, q, s in zip(self.m, self.q, self.s)
        ]


def listed_correlators(cluster: Cluster, codes: np.ndarray, amplitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(zz, sigma)``: ``<sigma^z_0 sigma^z_d>`` and ``<sigma_0 . sigma_d>`` (Pauli, pairs from the site
    at grid ``(0, 0)``) of the state with ``amplitudes`` on the listed ``codes`` (module docstring).

    Args:
        cluster: The cluster.
        codes: uint64 ``(D,)``, bit codes of the Sz = 0 space (any order; bit set = spin up).
        amplitudes: float64 ``(D,)``, real amplitudes (normalised here), e.g. learned signs times
            exact amplitudes.

    Returns:
        float64 ``(N,)`` each, one entry per displacement (row ``d1 * L2 + d2``), not averaged
        over point images.

    Raises:
        ValueError: arrays of different lengths, or a zero state.
    """
    codes = np.asarray(codes, dtype=np.uint64)
    amps = np.asarray(amplitudes, dtype=np.float64)
    if codes.shape != amps.shape:
        raise ValueError(f"codes {codes.shape} and amplitudes {amps.shape} differ in shape")
    norm = float(np.dot(amps, amps))
    if not norm > 0:
        raise ValueError("the amplitudes vanish")
    order = np.argsort(codes)
    codes, amps = codes[order], amps[order] / math.sqrt(norm)
    weights = amps**2
    site = site_of_displacement(cluster)
    one = np.uint64(1)
    bit0 = (codes >> np.uint64(site[0])) & one
    zz = np.empty(len(site))
    sigma = np.empty(len(site))
    for k, j in enumerate(site):
        anti = bit0 != ((codes >> np.uint64(j)) & one)
        zz[k] = float(np.sum(weights[~anti]) - np.sum(weights[anti]))
        if k == 0:
            sigma[k] = 3.0 * zz[k]
            continue
        flipped = codes[anti] ^ ((one << np.uint64(site[0])) | (one << np.uint64(j)))
        pos = np.minimum(np.searchsorted(codes, flipped), len(codes) - 1)
        partner = np.where(codes[pos] == flipped, amps[pos], 0.0)
        sigma[k] = zz[k] + 2.0 * float(np.sum(amps[anti] * partner))
    return zz, sigma


def bond_energy(cluster: Cluster, sigma: np.ndarray, j2: float, j1: float = 1.0) -> float:
    """``sum_bonds J_b sigma(d_b)``: the energy (Pauli convention) of a translation-invariant state
    with correlators ``sigma`` (:attr:`Correlations.sigma`), over the bonds of the J1-J2 model
    (:meth:`nqs_dilated.lattice.Cluster.bonds`: J1 along ``a1`` and ``a2``, J2 along ``a2 - a1``)."""
    total = 0.0
    for name, coupling in (("J1", j1), ("J2", j2)):
        for i, j in cluster.bonds(name):
            total += coupling * float(sigma[bond_displacement(cluster, int(i), int(j))])
    return total


#: Routes of :func:`correlations`.
ROUTES = ("auto", "listed", "singlet")


def correlations(state: GroundState, route: str = "auto") -> Correlations:
    """The spin correlations ``<sigma_0 . sigma_d>`` and ``<sigma^z_0 sigma^z_d>`` of a zero-momentum
    ground state (module docstring for the two routes).

    Args:
        state: An exact ground state (:func:`nqs_dilated.ed.ground.ground_state`).
        route: ``"auto"`` (listed where the Sz = 0 space fits, else by orbits as a singlet),
            ``"listed"`` or ``"singlet"`` (a symmetric-basis state only).

    Returns:
        :class:`Correlations`, averaged over the point-group images of each displacement.

    Raises:
        ValueError: an unknown route; a route the state does not allow; a state whose
            Ising correlators do not reproduce its energy as a singlet's would (``sigma = 3 zz``
            fails the bond-sum check by more than :data:`SINGLET_RTOL`).
    """
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; use one of {ROUTES}")
    cluster = state.cluster
    info = state.info
    disp, vectors = displacements(cluster)
    by_orbits = hasattr(state, "basis") and hasattr(state, "coefficients")
    listable = state.enumerable and state.dimension < 2**31
    if route == "auto":
        route = "listed" if listable else "singlet"
    if route == "listed" and not listable:
        raise ValueError(f"the Sz = 0 space of {cluster.name} cannot be listed: use route 'singlet'")
    if route == "singlet" and not by_orbits:
        raise ValueError(f"route 'singlet' reads a symmetric-basis state; got {type(state).__name__}")
    if route == "listed":
        zz, sigma = listed_correlators(cluster, *state.enumerate_codes())
    else:
        zz, sigma = orbit_zz(state), None
    maps = point_maps(cluster)
    zz = zz[maps].mean(axis=0)
    sigma = 3.0 * zz if sigma is None else sigma[maps].mean(axis=0)
    energy = float(state.energy)
    bonds = bond_energy(cluster, sigma, info.j2, info.j1)
    if route == "singlet" and abs(bonds - energy) > SINGLET_RTOL * abs(energy):
        raise ValueError(
            f"{cluster.name} J2/J1 = {info.j2:g}: the bond sum of 3 <sz sz> is {bonds:.10f}, not E0 = {energy:.10f}: "
            "the state is not a singlet, so its exchange correlators are not 2 <sz sz>; they need the listed route "
            "(clusters whose Sz = 0 space fits in memory)"
        )
    return Correlations(cluster.name, disp, vectors, zz, sigma, route, energy, bonds)


def structure_factor(corr: Correlations, cluster: Cluster) -> StructureFactor:
    """``S(q) = sum_d cos(q . r_d) <S_0 . S_d>`` on the allowed momenta (module docstring).

    Raises:
        ValueError: correlations of another cluster.
    """
    if corr.cluster != cluster.name:
        raise ValueError(f"correlations of {corr.cluster} given for {cluster.name}")
    m, q = allowed_momenta(cluster)
    s = np.cos(q @ corr.vectors.T) @ corr.s_dot_s
    return StructureFactor(m, q, s)
