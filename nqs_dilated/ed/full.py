"""Ground states on the full Sz = 0 space through NetKet's Lanczos (``nk.exact.lanczos_ed``).

This is the independent reference route: no symmetries, NetKet builds the sparse matrix of the
whole Sz = 0 space. It is practical up to 24 sites (measured here: ~270 s to build the 24-site
matrix with 1.0e8 non-zeros, ~25 s for ``eigsh``); larger clusters need the symmetry-adapted
engine (:mod:`nqs_dilated.ed.symmetric`).
"""

from __future__ import annotations

import time

import netket as nk
import numpy as np

from ..hamiltonian import check_couplings, heisenberg
from ..lattice import Cluster
from .bits import configs_to_codes
from .state import GroundState, GroundStateInfo, fix_global_sign, sz0_dimension

__all__ = ["FullSpaceGroundState", "NETKET_MAX_SITES", "netket_ground_state"]

#: Largest cluster the NetKet route accepts: 24 sites is ~2.7e6 states and ~1e8 non-zeros.
NETKET_MAX_SITES = 24


class FullSpaceGroundState(GroundState):
    """A ground state stored as the full Sz = 0 vector, indexed by sorted bit codes.

    Args:
        cluster: The cluster.
        codes: uint64 ``(D,)`` all Sz = 0 codes in increasing order.
        vector: float64 ``(D,)`` normalised amplitudes in the same order (global sign fixed).
        info: Energies and provenance.
    """

    def __init__(self, cluster: Cluster, codes: np.ndarray, vector: np.ndarray, info: GroundStateInfo):
        self.cluster = cluster
        self.codes = np.asarray(codes, dtype=np.uint64)
        self.vector = np.asarray(vector, dtype=np.float64)
        self.info = info
        self._cdf = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays that :meth:`from_arrays` turns back into the state (for the store)."""
        return {"codes": self.codes, "vector": self.vector}

    @classmethod
    def from_arrays(cls, cluster: Cluster, info: GroundStateInfo, arrays: dict[str, np.ndarray]):
        """Rebuild a state written by :meth:`to_arrays`."""
        return cls(cluster, arrays["codes"], arrays["vector"], info)

    def amplitude_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.uint64)
        idx = np.searchsorted(self.codes, codes)
        idx_c = np.minimum(idx, len(self.codes) - 1)
        found = self.codes[idx_c] == codes
        return np.where(found, self.vector[idx_c], 0.0)

    def sample_codes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self._cdf is None:
            cdf = np.cumsum(self.vector**2)
            self._cdf = cdf / cdf[-1]
        idx = np.searchsorted(self._cdf, rng.random(n), side="right")
        return self.codes[np.minimum(idx, len(self.codes) - 1)]

    def enumerate_codes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.codes, self.vector


class _Prebuilt:
    """Hands ``lanczos_ed`` a sparse matrix already built, so it is built only once."""

    def __init__(self, matrix):
        self._matrix = matrix

    def to_sparse(self):
        return self._matrix


def netket_ground_state(cluster: Cluster, j2: float, j1: float = 1.0) -> FullSpaceGroundState:
    """Ground state of the J1-J2 model by ``nk.exact.lanczos_ed`` on the full Sz = 0 space.

    Also computes the first excited level of the Sz = 0 space and stores the gap.

    Args:
        cluster: The cluster (at most :data:`NETKET_MAX_SITES` sites).
        j2: J2 (Pauli convention); ``j1`` the J1 coupling (default 1).

    Returns:
        :class:`FullSpaceGroundState` with ``info.residual = ||H psi - E0 psi||``.

    Raises:
        ValueError: bad couplings, or a cluster larger than 24 sites (use the symmetric ED,
            ``method="symmetric"``, which handles up to 36 sites and beyond).
    """
    j1, j2 = check_couplings(j1, j2)
    if cluster.n_sites > NETKET_MAX_SITES:
        raise ValueError(
            f"{cluster.name} has {cluster.n_sites} sites: NetKet's full-space Lanczos stops at "
            f"{NETKET_MAX_SITES} (its Sz = 0 space would have {sz0_dimension(cluster.n_sites):,} "
            "states); use the symmetry-adapted ED (method='symmetric') for this cluster"
        )
    t0 = time.perf_counter()
    H = heisenberg(cluster, j2, j1)
    sparse = H.to_sparse()  # built once: used by lanczos_ed and for the residual
    energies, vecs = nk.exact.lanczos_ed(_Prebuilt(sparse), k=2, compute_eigenvectors=True, scipy_args={"tol": 1e-14})
    order = np.argsort(energies)
    energies, vecs = energies[order], vecs[:, order]
    psi = vecs[:, 0] / np.linalg.norm(vecs[:, 0])
    residual = float(np.linalg.norm(sparse @ psi - energies[0] * psi))
    codes = configs_to_codes(H.hilbert.all_states())
    perm = np.argsort(codes)
    codes, psi = codes[perm], psi[perm]
    psi = psi * fix_global_sign(codes, psi)
    info = GroundStateInfo(
        lattice=cluster.name,
        n_sites=cluster.n_sites,
        j1=j1,
        j2=j2,
        energy=float(energies[0]),
        residual=residual,
        method="netket",
        sector="full",
        dimension=int(H.hilbert.n_states),
        gap=float(energies[1] - energies[0]),
        seconds=time.perf_counter() - t0,
    )
    return FullSpaceGroundState(cluster, codes, psi, info)
