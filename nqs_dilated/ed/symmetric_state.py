"""A zero-momentum ground state stored as coefficients on orbit representatives.

:class:`SymmetricGroundState` implements the :class:`~nqs_dilated.ed.state.GroundState`
interface on the full Sz = 0 space from the coefficients ``c_b`` of one sector of a
:class:`~nqs_dilated.ed.basis.SymmetricBasis`:

    psi(sigma) = c_b * chi(g) * sqrt(|Stab(b)| / |G'|)   for sigma = g b,

``b`` the representative of ``sigma``, ``|G'| = 2 N P`` (translations x point group x spin
inversion) and ``chi`` the sector character (real, ±1), so ``sum_sigma psi^2 = sum_b c_b^2 = 1``.
"""

from __future__ import annotations

import math

import numpy as np
import psutil

from ..lattice import Cluster
from ..symmetry import Sector, SymmetryGroup
from ._enumeration import _sz0_codes
from .basis import SymmetricBasis
from .state import GroundState, GroundStateInfo, fix_global_sign, sz0_dimension

__all__ = ["SymmetricGroundState"]


class SymmetricGroundState(GroundState):
    """A ground state stored as coefficients on orbit representatives.

    Attributes:
        cluster: The cluster.
        basis: The :class:`SymmetricBasis` (representatives and stabilizer counts).
        sector: The :class:`~nqs_dilated.symmetry.Sector`.
        coefficients: float64 ``(R,)``, ``sum c^2 = 1``, zero on representatives excluded from
            the sector; global sign fixed by the rule of :mod:`nqs_dilated.ed.state`.
        info: :class:`~nqs_dilated.ed.state.GroundStateInfo`.
    """

    def __init__(self, basis: SymmetricBasis, sector: Sector | str, coefficients: np.ndarray, info: GroundStateInfo):
        """Wrap coefficients (normalised and sign-fixed here).

        Raises:
            ValueError: wrong length or a zero vector.
            SymmetryError: bad sector label.
        """
        self.basis = basis
        self.cluster = basis.cluster
        self.sector = basis.group.parse_sector(sector)
        c = np.array(coefficients, dtype=np.float64)
        if c.shape != (basis.n_reps,):
            raise ValueError(f"coefficients must have shape ({basis.n_reps},), got {c.shape}")
        w = basis.sector_weights(self.sector)
        c[w == 0] = 0.0
        nrm = np.sqrt(np.dot(c, c))
        if not np.isfinite(nrm) or nrm == 0:
            raise ValueError("coefficients vanish in this sector")
        c /= nrm
        self._scale = w / math.sqrt(basis.group_order)  # |psi(b)| = |c_b| * scale_b
        # psi at a representative is c_b * scale_b, and the representative is the smallest code
        # of its orbit, so the rule applied to the representatives is the rule on the full space.
        c *= fix_global_sign(basis.representatives, c * self._scale)
        self.coefficients = c
        self._chi = basis.class_characters(self.sector)
        self.info = info

    # ----------------------------------------------------------------------------------------
    def amplitude_codes(self, codes: np.ndarray) -> np.ndarray:
        """Amplitudes of bit codes, uint64 ``(B,)`` -> float64 ``(B,)`` (0 outside Sz = 0)."""
        codes = np.asarray(codes, dtype=np.uint64)
        shape = codes.shape
        idx, p, z = self.basis.find_representatives(codes.ravel())
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        amp = self.coefficients[safe] * self._scale[safe] * self._chi[z * self.basis.n_point + p]
        return np.where(ok, amp, 0.0).reshape(shape)

    def sample_codes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes drawn with probability ``|psi|^2``: an orbit ``b`` with probability
        ``c_b^2``, then a uniformly random element of ``G'`` applied to ``b`` (uniform on the
        orbit). uint64 ``(n,)``."""
        n = int(n)
        if n < 0:
            raise ValueError(f"number of samples must be >= 0, got {n}")
        cum = np.cumsum(self.coefficients**2)
        b = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
        b = np.minimum(b, len(cum) - 1)
        L1, L2 = self.cluster.extent
        d1 = rng.integers(0, L1, n)
        d2 = rng.integers(0, L2, n)
        p = rng.integers(0, self.basis.n_point, n)
        z = rng.integers(0, 2, n)
        return self.basis.apply(self.basis.representatives[b], d1, d2, p, z)

    def enumerate_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """All Sz = 0 codes ascending with their amplitudes (at most 2^31 states; in practice
        <= 28 sites), uint64 ``(D,)`` and float64 ``(D,)``.

        Raises:
            MemoryError: the Sz = 0 space is too large to list.
        """
        N = self.n_sites
        D = sz0_dimension(N)
        if D >= 2**31 or D * 24 > psutil.virtual_memory().available:
            raise MemoryError(f"the Sz = 0 space of {self.cluster.name} has {D:,} states; it cannot be listed")
        codes = np.empty(D, dtype=np.uint64)
        _sz0_codes(N, N // 2, D, codes)
        return codes, self.amplitude_codes(codes)

    # ----------------------------------------------------------------------------------------
    @property
    def n_representatives(self) -> int:
        """Number of orbit representatives kept in the sector (the sector dimension)."""
        return int(self.info.dimension)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for the store: ``representatives`` (uint64 ``(R,)``), ``stab_counts`` (uint8
        ``(R, 2P)``) and ``coefficients`` (float64 ``(R,)``); the sector is ``info.sector``."""
        return {
            "representatives": self.basis.representatives,
            "stab_counts": self.basis.stab_counts,
            "coefficients": self.coefficients,
        }

    @classmethod
    def from_arrays(
        cls,
        cluster: Cluster,
        info: GroundStateInfo,
        arrays: dict[str, np.ndarray],
        *,
        group: SymmetryGroup | None = None,
        check: bool = True,
    ) -> SymmetricGroundState:
        """Rebuild a state from :meth:`to_arrays` output (stabilizer counts recomputed if absent).

        Raises:
            ValueError: inconsistent arrays; SymmetryError: bad sector.
        """
        basis = SymmetricBasis(
            cluster,
            group,
            representatives=arrays["representatives"],
            stab_counts=arrays.get("stab_counts"),
            check=check,
        )
        return cls(basis, info.sector, arrays["coefficients"], info)

    def __repr__(self) -> str:
        return (
            f"SymmetricGroundState({self.cluster.name}, J2={self.info.j2}, sector={self.sector}, "
            f"E0={self.energy:.12f}, dim={self.info.dimension:,})"
        )
