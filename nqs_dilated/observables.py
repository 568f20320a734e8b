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

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from .ed._bitops import popcount64, translate
from .ed.basis import check_cluster
from .ed.state import GroundState
from .lattice import Cluster
from .symmetry import space_group

__all__ = [
    "ROUTES",
    "MC_CHUNK_CONFIGS",
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


def _basis_vectors(cluster: Cluster) -> np.ndarray:
    return np.asarray(cluster.basis_vectors, dtype=np.float64)


def _displacements(cluster: Cluster) -> tuple[np.ndarray, np.ndarray]:
    """``(d (N, 2) int, shortest Cartesian vector (N, 2))`` of every displacement of the torus."""
    L1, L2 = cluster.extent
    d = np.array([(i, j) for i in range(L1) for j in range(L2)], dtype=np.int64)
    a = _basis_vectors(cluster)
    shifts = np.array([(s1, s2) for s1 in (-1, 0, 1) for s2 in (-1, 0, 1)])
    vecs = np.empty((len(d), 2))
    for k, (i, j) in enumerate(d):
        images = ((i + L1 * shifts[:, 0])[:, None] * a[0]) + ((j + L2 * shifts[:, 1])[:, None] * a[1])
        vecs[k] = images[np.argmin(np.einsum("ij,ij->i", images, images))]
    return d, vecs


def _point_maps(cluster: Cluster) -> np.ndarray:
    """int64 ``(P, N)``: ``maps[p, k]`` is the index of the displacement ``R_p d_k`` (the linear part
    of point-group element ``p`` applied to displacement ``k``)."""
    L1, L2 = cluster.extent
    grid = np.asarray(cluster.grid, dtype=np.int64)
    index = {(int(g[0]), int(g[1])): s for s, g in enumerate(grid)}
    perms = np.asarray(space_group(cluster).point_perms, dtype=np.int64)
    origin = index[(0, 0)]
    maps = np.empty((len(perms), L1 * L2), dtype=np.int64)
    for p, perm in enumerate(perms):
        o = grid[perm[origin]]
        for k in range(L1 * L2):
            site = index[(k // L2, k % L2)]
            g = grid[perm[site]]
            maps[p, k] = ((g[0] - o[0]) % L1) * L2 + (g[1] - o[1]) % L2
    return maps


def _site_of_displacement(cluster: Cluster) -> np.ndarray:
    """int64 ``(N,)``: the site at displacement ``k`` from the site at grid ``(0, 0)``."""
    L1, L2 = cluster.extent
    grid = np.asarray(cluster.grid, dtype=np.int64)
    index = {(int(g[0]), int(g[1])): s for s, g in enumerate(grid)}
    return np.array([index[(k // L2, k % L2)] for k in range(L1 * L2)], dtype=np.int64)


@nb.njit(parallel=True, cache=True)
def _orbit_zz(reps, weights, L1, L2, T, n_chunks, out):
    """``out[c, k] = sum over representatives a of chunk c of w_a * sum_i s_i(a) s_{i+d_k}(a)``."""
    n = reps.shape[0]
    N = L1 * L2
    size = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        lo = c * size
        hi = min(n, lo + size)
        for a in range(lo, hi):
            w = weights[a]
            if w == 0.0:
                continue
            x = reps[a]
            for d1 in range(L1):
                for d2 in range(L2):
                    y = translate(x, d1, d2, T)
                    out[c, d1 * L2 + d2] += w * (N - 2 * np.float64(popcount64(x ^ y)))


def _symmetric_zz(state) -> np.ndarray:
    """``<sigma^z_0 sigma^z_d>`` per displacement from a symmetric state's representatives (not yet
    averaged over point images)."""
    basis = state.basis
    L1, L2 = state.cluster.extent
    weights = np.ascontiguousarray(state.coefficients**2)
    n_chunks = 64
    out = np.zeros((n_chunks, L1 * L2))
    _orbit_zz(basis.representatives, weights, L1, L2, basis.T, n_chunks, out)
    return out.sum(axis=0) / (L1 * L2)


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
    site = _site_of_displacement(cluster)
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


def _bond_displacement(cluster: Cluster, i: int, j: int) -> int:
    L1, L2 = cluster.extent
    gi, gj = np.asarray(cluster.grid[i]), np.asarray(cluster.grid[j])
    return int(((gj[0] - gi[0]) % L1) * L2 + (gj[1] - gi[1]) % L2)


def bond_energy(cluster: Cluster, sigma: np.ndarray, j2: float, j1: float = 1.0) -> float:
    """``sum_bonds J_b sigma(d_b)``: the energy (Pauli convention) of a translation-invariant state
    with correlators ``sigma`` (:attr:`Correlations.sigma`), over the bonds of the J1-J2 model
    (:meth:`nqs_dilated.lattice.Cluster.bonds`: J1 along ``a1`` and ``a2``, J2 along ``a2 - a1``)."""
    total = 0.0
    for name, coupling in (("J1", j1), ("J2", j2)):
        for i, j in cluster.bonds(name):
            total += coupling * float(sigma[_bond_displacement(cluster, int(i), int(j))])
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
    displacements, vectors = _displacements(cluster)
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
        check_cluster(cluster)
        zz, sigma = _symmetric_zz(state), None
    maps = _point_maps(cluster)
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
    return Correlations(cluster.name, displacements, vectors, zz, sigma, route, energy, bonds)


def allowed_momenta(cluster: Cluster) -> tuple[np.ndarray, np.ndarray]:
    """``(m (N, 2) int, q (N, 2) float)``: the momenta ``q = (m1/L1) b1 + (m2/L2) b2`` of the torus,
    each folded into the first Brillouin zone (the shortest of its images ``q + G``)."""
    L1, L2 = cluster.extent
    a = _basis_vectors(cluster)
    b = 2 * math.pi * np.linalg.inv(a).T  # rows b1, b2 with a_i . b_j = 2 pi delta_ij
    m = np.array([(i, j) for i in range(L1) for j in range(L2)], dtype=np.int64)
    q = (m[:, :1] / L1) * b[0] + (m[:, 1:] / L2) * b[1]
    shifts = np.array([(s1, s2) for s1 in (-1, 0, 1) for s2 in (-1, 0, 1)], dtype=np.float64) @ b
    images = q[:, None, :] + shifts[None, :, :]
    q = images[np.arange(len(q)), np.argmin(np.einsum("nij,nij->ni", images, images), axis=1)]
    return m, q


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


@dataclass(frozen=True)
class MonteCarloCorrelations:
    """``<sigma_0 . sigma_d>`` of a variational state estimated by Monte Carlo (NetKet), with errors.

    Attributes:
        cluster: Name of the cluster.
        displacements, vectors: As in :class:`Correlations`.
        sigma: float64 ``(N,)``, the mean of ``(1/N) sum_i sigma_i . sigma_{i+d}`` (Pauli).
        sigma_error: float64 ``(N,)``, its standard error (NetKet's ``error_of_mean``, from the
            autocorrelation of the chains).
    """

    cluster: str
    displacements: np.ndarray
    vectors: np.ndarray
    sigma: np.ndarray
    sigma_error: np.ndarray

    @property
    def s_dot_s(self) -> np.ndarray:
        """``<S_0 . S_d>`` (S.S convention), float64 ``(N,)``."""
        return self.sigma / 4.0


def _pair_operator(hilbert, pairs: list[tuple[int, int]], weights: list[float]):
    """``sum_k w_k sigma_{i_k} . sigma_{j_k}`` as a NetKet ``LocalOperator`` (Pauli)."""
    import netket as nk

    op = nk.operator.LocalOperator(hilbert, dtype=np.float64)
    dot = np.array([[1, 0, 0, 0], [0, -1, 2, 0], [0, 2, -1, 0], [0, 0, 0, 1]], dtype=np.float64)
    for (i, j), w in zip(pairs, weights):
        op += nk.operator.LocalOperator(hilbert, w * dot, [int(i), int(j)])
    return op


def _translated_pairs(cluster: Cluster, k: int) -> list[tuple[int, int]]:
    """The ``N`` pairs ``(i, i + d_k)`` of displacement ``k``."""
    L1, L2 = cluster.extent
    grid = np.asarray(cluster.grid, dtype=np.int64)
    index = {(int(g[0]), int(g[1])): s for s, g in enumerate(grid)}
    d1, d2 = divmod(k, L2)
    return [(s, index[((g[0] + d1) % L1, (g[1] + d2) % L2)]) for s, g in enumerate(grid)]


#: Connected configurations evaluated at once by the Monte Carlo estimates (samples per chunk times
#: the operator's connected elements): the S(q) operator of 36 sites has 1261, so the 1024 samples
#: of a VMC run at once would be 1.3 million network evaluations (33 GB for the 36-site CNN).
MC_CHUNK_CONFIGS = 1 << 15


def _expect(vstate, op):
    """``vstate.expect(op)`` with the samples in chunks of at most :data:`MC_CHUNK_CONFIGS`
    connected configurations (the state's own chunk size restored afterwards)."""
    n_samples = getattr(vstate, "n_samples", None)
    if n_samples is None:  # a full-sum state: its own chunking
        return vstate.expect(op)
    old = vstate.chunk_size
    chunk = max(1, MC_CHUNK_CONFIGS // max(1, op.max_conn_size))
    chunk = 1 << (chunk.bit_length() - 1)  # a power of two, which divides the power-of-two sample counts
    while vstate.n_samples_per_rank % chunk:
        chunk //= 2
    if old is None or old > chunk:
        vstate.chunk_size = chunk
    try:
        return vstate.expect(op)
    finally:
        vstate.chunk_size = old


def mc_correlations(vstate, cluster: Cluster) -> MonteCarloCorrelations:
    """``<sigma_0 . sigma_d>`` of a NetKet variational state on ``cluster``, each as the Monte Carlo
    mean of the translation average ``(1/N) sum_i sigma_i . sigma_{i+d}`` over ``vstate``'s samples
    (:meth:`netket.vqs.MCState.expect`; exact sums for a ``FullSumState``).

    Args:
        vstate: The variational state (Sz = 0 Hilbert space of ``cluster``).
        cluster: The cluster.

    Returns:
        :class:`MonteCarloCorrelations` (not averaged over point images: a variational state need
        not be point-group symmetric).
    """
    displacements, vectors = _displacements(cluster)
    n = cluster.n_sites
    means, errors = np.empty(n), np.empty(n)
    means[0], errors[0] = 3.0, 0.0
    for k in range(1, n):
        pairs = _translated_pairs(cluster, k)
        stats = _expect(vstate, _pair_operator(vstate.hilbert, pairs, [1.0 / n] * n))
        means[k] = float(np.real(stats.mean))
        errors[k] = float(np.nan_to_num(stats.error_of_mean))
    return MonteCarloCorrelations(cluster.name, displacements, vectors, means, errors)


def mc_structure_factor(vstate, cluster: Cluster, m: tuple[int, int]) -> tuple[float, float]:
    """``S(q)`` (S.S units) of a NetKet variational state at the momentum of indices ``m = (m1, m2)``,
    as the Monte Carlo mean of the operator ``(1/N) sum_ij cos(q.(r_i - r_j)) S_i . S_j`` over the
    state's samples: ``(mean, standard error)``.

    Raises:
        ValueError: ``m`` outside ``0 <= m_i < L_i``.
    """
    L1, L2 = cluster.extent
    if not (0 <= m[0] < L1 and 0 <= m[1] < L2):
        raise ValueError(f"momentum indices {m} outside the {L1}x{L2} torus")
    ms, qs = allowed_momenta(cluster)
    q = qs[int(m[0]) * L2 + int(m[1])]
    _, vectors = _displacements(cluster)
    n = cluster.n_sites
    pairs, weights = [], []
    for k in range(1, n):  # the d = 0 terms give the constant 3/4
        w = math.cos(float(q @ vectors[k])) / (4.0 * n)
        if abs(w) > 1e-15:
            pairs += _translated_pairs(cluster, k)
            weights += [w] * n
    stats = _expect(vstate, _pair_operator(vstate.hilbert, pairs, weights))
    return 0.75 + float(np.real(stats.mean)), float(np.nan_to_num(stats.error_of_mean))


def compare_peak(ground: GroundState, vstate) -> dict:
    """``S(q)`` of a variational state at the peak of the exact ``S(q)``, next to the exact value.

    Returns:
        ``{"m": [m1, m2], "q": [qx, qy], "exact": S_exact, "variational": S_var, "error": its standard
        error}`` (S.S units; :func:`correlations`, :func:`mc_structure_factor`).

    Raises:
        ValueError: as :func:`correlations`.
    """
    cluster = ground.cluster
    exact = structure_factor(correlations(ground), cluster)
    k = exact.peak
    m = (int(exact.m[k, 0]), int(exact.m[k, 1]))
    mean, error = mc_structure_factor(vstate, cluster, m)
    return {
        "m": list(m),
        "q": [float(exact.q[k, 0]), float(exact.q[k, 1])],
        "exact": float(exact.s[k]),
        "variational": mean,
        "error": error,
    }
