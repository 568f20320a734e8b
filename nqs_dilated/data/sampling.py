"""Draws of configurations for the sign sets.

Uniform draws from the Sz = 0 space (:func:`uniform_sz0_configs`) and over its orbits
(:func:`uniform_orbit_configs`), ``|psi|^2`` draws moved by random group elements with their
signs checked against the sector's characters (:class:`_Drawer`), and the loop that draws until
a set is filled with configurations that pass a filter (:func:`_collect`).
"""

from __future__ import annotations

import numpy as np

from ..ed.bits import configs_to_codes
from ..ed.orbits import orbit_labels
from ..ed.state import GroundState
from ..symmetry import SymmetryGroup
from .orbits import move_configs

__all__ = ["uniform_orbit_configs", "uniform_sz0_configs"]


def uniform_sz0_configs(n: int, n_sites: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` configurations drawn uniformly from the Sz = 0 space (with replacement), int8 ``(n, N)``."""
    ranks = np.argsort(rng.random((n, n_sites)), axis=1)
    return np.where(ranks < n_sites // 2, 1, -1).astype(np.int8)


#: Uniform Sz = 0 candidates per round of :func:`uniform_orbit_configs`.
_ORBIT_CANDIDATES = 1 << 16


def uniform_orbit_configs(
    n: int, cluster, group: SymmetryGroup, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` configurations whose orbits are drawn uniformly (with replacement) among the
    orbits of the Sz = 0 space under space group x spin inversion, each a uniformly random member
    of its orbit.

    Rejection sampling: a uniform Sz = 0 configuration lies in orbit ``O`` with probability
    ``|O| / D``; accepting it with probability ``1 / |O|`` leaves every orbit equally likely, and
    the accepted configuration is uniform within its orbit (a representative moved by a random
    group element, as in the protocol of Westerhout et al. and Schurov et al.). About
    ``1 / |G'|`` of the candidates are accepted (1/288 on 6x6); one call draws at most
    :data:`_ORBIT_CANDIDATES` candidates (or ``n |G'|``, whichever is smaller), so it may return
    fewer than ``n`` configurations.

    Returns:
        int8 ``(M, N)`` configurations and uint64 ``(M,)`` their orbit labels
        (:func:`nqs_dilated.ed.basis.orbit_labels`), ``M <= n``.
    """
    n_sites = cluster.n_sites
    k = int(min(_ORBIT_CANDIDATES, max(n, 1) * 2 * len(group)))
    base = np.repeat(np.array([1, -1], dtype=np.int8), n_sites // 2)
    configs = rng.permuted(np.broadcast_to(base, (k, n_sites)), axis=1)
    labels, sizes = orbit_labels(cluster, configs_to_codes(configs), group, sizes=True)
    keep = rng.random(k) * sizes < 1.0
    return configs[keep][:n], labels[keep][:n]


class _Drawer:
    """Draws ``|psi|^2`` samples moved by random group elements, checking signs against characters."""

    def __init__(self, state: GroundState, group: SymmetryGroup, rng: np.random.Generator):
        self.state, self.group, self.rng = state, group, rng
        sector = state.info.sector
        self.characters = None if sector in ("full", "", None) else group.characters(sector)

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` moved configurations, their amplitudes and the amplitudes before the move."""
        configs, amps0 = self.state.sample(n, self.rng)
        elements = self.rng.integers(0, len(self.group), size=n)
        flips = self.rng.random(n) < 0.5
        moved = move_configs(configs, self.group.perms, elements, flips)
        amps = self.state.amplitude(moved)
        if self.characters is not None:
            chi = self.characters[flips.astype(np.int64), elements]
            big = (np.abs(amps0) > 0) & (np.abs(amps) > 0)
            bad = big & (np.sign(amps) != chi * np.sign(amps0))
            if np.any(bad):
                raise RuntimeError(
                    f"{int(bad.sum())} moved configurations have a sign that disagrees with the "
                    f"characters of sector {self.state.info.sector}: the state or the group is wrong"
                )
        return moved, amps, amps0


#: Most rounds of :func:`_collect` before it gives up on filling a set.
_MAX_ROUNDS = 1000

#: Largest number of draws per round of :func:`_collect` when it adapts to the acceptance.
_MAX_DRAW = 1 << 20


def _collect(draw, n: int, keep, what: str, adaptive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Call ``draw(k)`` until ``n`` configurations pass ``keep(configs, amps)``.

    ``k`` is the number still missing (at least 16); with ``adaptive`` it is divided by the
    acceptance seen so far (at most :data:`_MAX_DRAW`), so that a small acceptance (a test set of
    unseen orbits when the training orbits hold most of the weight) needs few rounds.
    """
    configs_out, amps_out, total, drawn = [], [], 0, 0
    for _ in range(_MAX_ROUNDS):
        if total >= n:
            break
        k = max(n - total, 16)
        if adaptive and drawn:
            k = int(min(_MAX_DRAW, max(k, 1.2 * k * drawn / max(total, 1))))
        configs, amps = draw(k)
        drawn += len(amps)
        ok = keep(configs, amps)
        configs, amps = configs[ok][: n - total], amps[ok][: n - total]
        configs_out.append(configs)
        amps_out.append(amps)
        total += len(amps)
    else:
        raise RuntimeError(
            f"could not draw {n} {what} configurations in {_MAX_ROUNDS} rounds: almost all draws "
            "are zero amplitudes or already used; lower eps or the set size"
        )
    if not configs_out:
        return np.zeros((0, 0), np.int8), np.zeros(0)
    return np.concatenate(configs_out), np.concatenate(amps_out)
