"""The :class:`GroundState` interface shared by every exact-diagonalization route.

Later parts (sign datasets, VMC references, sweeps) only use this interface, so they do not know
whether the state came from NetKet's Lanczos on the full Sz = 0 space or from the
symmetry-adapted engine.

Conventions:
    * Energies are in the Pauli convention, ``H = J1 sum sigma_i.sigma_j + J2 sum sigma_i.sigma_j``,
      four times the S.S energy.
    * Configurations are ``(B, N)`` arrays with entries ±1 (``+1`` = spin up); amplitudes are
      real float64 and the state is normalised over the Sz = 0 space.
    * Global sign: the amplitude of largest magnitude is positive; ties are broken by the smallest
      bit code (bit ``i`` set when spin ``i`` is up).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field

import numpy as np

from ..hamiltonian import CONVENTION
from ..lattice import Cluster
from .bits import codes_to_configs, configs_to_codes

__all__ = ["CONVENTION", "SIGN_TIE_RTOL", "GroundState", "GroundStateInfo", "fix_global_sign", "sz0_dimension"]

#: Relative tolerance for ties of the largest amplitude in the global sign rule.
SIGN_TIE_RTOL = 1e-10


def fix_global_sign(codes: np.ndarray, amplitudes: np.ndarray) -> float:
    """Sign ``±1`` that makes the largest-magnitude amplitude positive.

    Ties (within :data:`SIGN_TIE_RTOL` relative) go to the smallest code, so the rule is reproducible across
    routes that order configurations differently.

    Args:
        codes: uint64 ``(M,)`` bit codes.
        amplitudes: float64 ``(M,)`` amplitudes of those codes.
    """
    mags = np.abs(amplitudes)
    top = mags.max()
    candidates = np.flatnonzero(mags >= top * (1 - SIGN_TIE_RTOL))
    k = candidates[np.argmin(codes[candidates])]
    return 1.0 if amplitudes[k] > 0 else -1.0


def sz0_dimension(n_sites: int) -> int:
    """Dimension ``C(N, N/2)`` of the Sz = 0 space of ``N`` spins 1/2 (``N`` even)."""
    if n_sites % 2:
        raise ValueError(f"Sz = 0 needs an even number of sites, got {n_sites}")
    return math.comb(n_sites, n_sites // 2)


@dataclass
class GroundStateInfo:
    """Scalar facts about a computed ground state, as stored and printed.

    Attributes:
        lattice: Cluster name.
        n_sites: Number of sites N.
        j1, j2: Couplings (Pauli convention).
        energy: Ground-state energy E0 (Pauli convention).
        residual: ``||H psi - E0 psi||`` of the normalised state.
        method: ``"netket"`` (full-space Lanczos) or ``"symmetric"``.
        sector: Sector label (``"full"`` for the unsymmetrised Sz = 0 space).
        dimension: Dimension of the space diagonalised (sector or Sz = 0 space).
        gap: ``E1 - E0`` in the same space when computed, else ``None``.
        sector_energies: Lowest energy of each sector from a sector search (may be empty).
        sector_residuals: Residual of each entry of :attr:`sector_energies` (the Ritz estimate
            of an energy-only search, or the explicit residual of a converged sector).
        sector_lower_bounds: Sectors a search skipped because a sound lower bound on their
            lowest energy (from searches at other J2, :mod:`nqs_dilated.ed.bounds`) lay above an
            energy found; label -> that bound (Pauli).
        seconds: Wall time of the computation (not of loading).
    """

    lattice: str
    n_sites: int
    j1: float
    j2: float
    energy: float
    residual: float
    method: str
    sector: str = "full"
    dimension: int = 0
    gap: float | None = None
    sector_energies: dict[str, float] = field(default_factory=dict)
    sector_residuals: dict[str, float] = field(default_factory=dict)
    sector_lower_bounds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    convention: str = CONVENTION


class GroundState(abc.ABC):
    """An exact ground state on the Sz = 0 space of a cluster.

    Attributes:
        cluster: The cluster.
        info: Energies, residual and provenance (:class:`GroundStateInfo`).
    """

    cluster: Cluster
    info: GroundStateInfo

    @property
    def energy(self) -> float:
        """Ground-state energy, Pauli convention."""
        return self.info.energy

    @property
    def residual(self) -> float:
        """``||H psi - E psi||`` of the normalised state."""
        return self.info.residual

    @property
    def n_sites(self) -> int:
        return self.cluster.n_sites

    @property
    def dimension(self) -> int:
        """Dimension ``D = C(N, N/2)`` of the full Sz = 0 space (the eps convention of the data)."""
        return sz0_dimension(self.n_sites)

    @property
    def enumerable(self) -> bool:
        """Whether :meth:`enumerate` can list the whole Sz = 0 space (at most 2^31 states)."""
        return self.dimension < 2**31

    @abc.abstractmethod
    def amplitude_codes(self, codes: np.ndarray) -> np.ndarray:
        """Amplitudes of bit codes, uint64 ``(B,)`` -> float64 ``(B,)`` (0 outside Sz = 0)."""

    @abc.abstractmethod
    def sample_codes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` bit codes drawn with probability ``|psi|^2``, with replacement, uint64 ``(n,)``."""

    @abc.abstractmethod
    def enumerate_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """All Sz = 0 codes in increasing order with their amplitudes, uint64 ``(D,)``, float64 ``(D,)``."""

    def amplitude(self, configs: np.ndarray) -> np.ndarray:
        """Amplitudes psi(sigma) of ±1 configurations ``(B, N)`` -> float64 ``(B,)``.

        Configurations outside the Sz = 0 space get amplitude 0.

        Raises:
            ValueError: wrong number of sites or entries other than ±1.
        """
        configs = np.asarray(configs)
        if configs.ndim != 2 or configs.shape[1] != self.n_sites:
            raise ValueError(f"configs must have shape (B, {self.n_sites}), got {configs.shape}")
        return self.amplitude_codes(configs_to_codes(configs))

    def sign(self, configs: np.ndarray) -> np.ndarray:
        """Signs of the amplitudes, int8 ``(B,)`` in ``{-1, 0, +1}``."""
        return np.sign(self.amplitude(configs)).astype(np.int8)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` configurations with probability ``|psi|^2`` (with replacement).

        Args:
            n: Number of samples (>= 0).
            rng: NumPy generator; the draw is deterministic given its state.

        Returns:
            ``(configs, amplitudes)``: int8 ``(n, N)`` with entries ±1 and float64 ``(n,)``.
        """
        if n < 0:
            raise ValueError(f"number of samples must be >= 0, got {n}")
        codes = self.sample_codes(int(n), rng)
        return codes_to_configs(codes, self.n_sites), self.amplitude_codes(codes)

    def local_energies(self, operator, configs: np.ndarray) -> np.ndarray:
        """Local energies ``E_loc(s) = sum_s' <s|O|s'> psi(s') / psi(s)`` of a NetKet operator.

        For an exact eigenstate of ``O`` every ``E_loc(s)`` equals the eigenvalue, whatever ``s``;
        with configurations from :meth:`sample` this checks a state that cannot be listed (36
        sites) against NetKet's own operator, independently of the engine that produced it.

        Args:
            operator: A NetKet discrete operator on this cluster's Hilbert space (e.g.
                :func:`nqs_dilated.hamiltonian.heisenberg`, Pauli convention).
            configs: int8 ±1 configurations ``(B, N)`` with non-zero amplitude.

        Returns:
            float64 ``(B,)``.

        Raises:
            ValueError: wrong shape, or a configuration whose amplitude is 0.
        """
        configs = np.asarray(configs, dtype=np.int8)
        psi = self.amplitude(configs)
        if np.any(psi == 0):
            raise ValueError("local energies need configurations with non-zero amplitude (use sample())")
        conn, mels = operator.get_conn_padded(configs)
        B, C, N = conn.shape
        psi_conn = self.amplitude(conn.reshape(B * C, N)).reshape(B, C)
        return np.real((mels * psi_conn).sum(axis=1)) / psi

    def enumerate(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole Sz = 0 space: int8 configurations ``(D, N)`` and amplitudes ``(D,)``.

        Raises:
            MemoryError: the space is too large to list (36 sites); sample instead.
        """
        if not self.enumerable or self.dimension * (self.n_sites + 16) > 8 * 2**30:
            raise MemoryError(
                f"the Sz = 0 space of {self.cluster.name} has {self.dimension:,} states; it cannot "
                "be listed in memory: use sample() or amplitude() instead"
            )
        codes, amps = self.enumerate_codes()
        return codes_to_configs(codes, self.n_sites), amps
