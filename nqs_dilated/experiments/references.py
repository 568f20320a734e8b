"""The exact references of a sweep: one ground state per J2 (from the store), and the Marshall sign rule's overlap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..ed.ground import ground_state
from ..lattice import load_lattice
from ..metrics import overlap
from ..models.wavefunction import MarshallSign
from ..observables import correlations, structure_factor
from .sweep_plan import SweepPlan

__all__ = ["marshall_overlap", "reference_states"]


def marshall_overlap(state, *, n_samples: int = 20_000, seed: int = 0, chunk: int = 1 << 20) -> float:
    """Overlap of the exact signs with the Marshall sign rule, ``sum |psi|^2 s_M s / sum |psi|^2``.

    The Marshall rule (:class:`~nqs_dilated.models.wavefunction.MarshallSign`) is exact at
    J2 = 0, where the J1 bonds form a bipartite square lattice; the overlap measures how far
    frustration has moved the signs away from it. Exact over the whole Sz = 0 space when the
    state can be listed (<= 24 sites), else estimated from ``n_samples`` ``|psi|^2`` draws.
    """
    sign_model = MarshallSign.from_grid(state.cluster.grid)
    if state.enumerable and state.dimension <= 2**24:
        configs, amps = state.enumerate()
        marshall = np.concatenate(
            [np.asarray(sign_model.apply({}, configs[k : k + chunk])) for k in range(0, len(configs), chunk)]
        )
        return overlap(marshall, np.sign(amps), amps**2)
    configs, amps = state.sample(n_samples, np.random.default_rng(seed))
    return float(np.mean(np.asarray(sign_model.apply({}, configs)) * np.sign(amps)))


def reference_states(plan: SweepPlan, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Exact ground state of every J2 of the plan, from the store or computed once, here.

    Uses :func:`nqs_dilated.ed.ground.ground_state` with the plan's lattice, J1, ED method and
    sector, so the runs find the same states in the store. One state is held at a time; the
    J2-independent basis and structure of the symmetric engine are built once for all J2 values
    (``structure_cache``) and released on return, before any run starts.

    Returns:
        One dict per J2 (the rows of ``ed.csv``): ``j2``, ``j1``, ``lattice``, ``n_sites``,
        ``energy`` and ``energy_per_site`` (Pauli convention), ``sector``, ``sector_energies``
        (per-site energies of every sector searched), ``method``, ``residual``, ``gap``,
        ``dimension``, ``marshall_overlap``, ``sq_peak_m1``, ``sq_peak_m2``, ``sq_peak_qx``,
        ``sq_peak_qy``, ``sq_peak`` (position and height of the peak of the exact S(q), S.S units,
        :mod:`nqs_dilated.observables`), ``ed_seconds`` (of the original computation),
        ``convention``, ``store`` (file name).

    Raises:
        ValueError, MemoryError: from the ED (a cluster or sector the route cannot do).
    """
    ref = plan.reference.problem
    cluster = load_lattice(ref.lattice)
    rows = []
    structure_cache: dict = {}
    state = None  # the previous J2's state: Lanczos in its sector starts from it
    for j2 in plan.j2:
        if progress is not None:
            progress(f"exact ground state at J2/J1 = {j2:g}")
        state = ground_state(
            cluster, j2, ref.j1, method=ref.ed_method, sector=ref.sector, structure_cache=structure_cache, initial=state
        )
        info = state.info
        sq = structure_factor(correlations(state), cluster)
        k = sq.peak
        rows.append(
            {
                "j2": float(j2),
                "j1": float(ref.j1),
                "lattice": cluster.name,
                "n_sites": cluster.n_sites,
                "energy": info.energy,
                "energy_per_site": info.energy / cluster.n_sites,
                "sector": info.sector,
                "sector_energies": {k: v / cluster.n_sites for k, v in (info.sector_energies or {}).items()},
                "method": info.method,
                "residual": info.residual,
                "gap": info.gap,
                "dimension": info.dimension,
                "marshall_overlap": marshall_overlap(state),
                "sq_peak_m1": int(sq.m[k, 0]),
                "sq_peak_m2": int(sq.m[k, 1]),
                "sq_peak_qx": float(sq.q[k, 0]),
                "sq_peak_qy": float(sq.q[k, 1]),
                "sq_peak": float(sq.s[k]),
                "ed_seconds": info.seconds,
                "convention": info.convention,
                "store": Path(state.store_path).name if getattr(state, "store_path", None) else "",
            }
        )
    return rows
