"""Memory estimates and guards of the symmetric engine.

The estimated counts of representatives and structure entries of a cluster
(:func:`estimate_counts`), the peak memory of :func:`~nqs_dilated.ed.symmetric.symmetric_ground_state`
(:func:`estimate_memory`), the check against the available memory (:func:`require_memory`), and
the memory and width of a lockstep sector search (:func:`lockstep_bytes`, :func:`lockstep_slots`).
"""

from __future__ import annotations

import math

import psutil

from ..lattice import Cluster
from ..symmetry import SymmetryGroup, space_group
from .basis import check_cluster
from .layout import structure_bytes
from .lockstep import LOCKSTEP_ACC_BYTES

__all__ = ["LANCZOS_MEMORY_BUDGET", "estimate_memory"]


#: Bytes of memory for pass-1 Lanczos vectors; beyond it they go to ``scratch_dir``.
LANCZOS_MEMORY_BUDGET = 256 << 20


def estimate_memory(cluster: Cluster, group: SymmetryGroup | None = None) -> dict[str, int]:
    """Estimated peak memory of :func:`~nqs_dilated.ed.symmetric.symmetric_ground_state` in bytes.

    ``R ~ 1.05 * C(N, N/2) / |G'|`` representatives; ``nnz ~ R * n_bonds * N / (2 (N - 1))``
    off-diagonal entries (mean number of anti-aligned bonds of a random Sz = 0 configuration).

    Returns:
        ``{"representatives": R, "entries": nnz, "basis": ..., "structure": ..., "build": ...,
        "solver": ..., "total": ...}`` (counts and bytes); the build scratch and the solver are
        not held at the same time, so ``total = basis + structure + max(build, solver)``. A
        sector search in lockstep needs :func:`lockstep_bytes` in place of ``solver`` and
        narrows to what the available memory holds (:func:`lockstep_slots`).
    """
    check_cluster(cluster)
    if group is None:
        group = space_group(cluster)
    N = cluster.n_sites
    R, nnz = estimate_counts(cluster, 2 * len(group))
    P = group.n_point
    # codes and stabilizer counts, the enumeration's prefix tables, and the index lookup (at most
    # 2 R uint32 bucket starts and the uint16 low bits, see nqs_dilated.ed.lookup._lookup)
    basis = R * (8 + 2 * P) + (1 << min(N, 22)) * 8 * 2 + R * (2 * 4 + 2)
    # packed entries (+ the escape reserve), d1/d2 and the graded order; during the build only:
    # row counts, the inverse order and one panel's items (see nqs_dilated.ed.operator)
    structure, build = structure_bytes(R, nnz, P)
    # Lanczos vectors, scratch, weights, mask, a search's converged vectors (the first sector's and
    # the best so far), and the pass-1 vectors kept in memory (the rest go to the scratch
    # directory or are recomputed, see nqs_dilated.ed.lanczos)
    solver = 10 * 8 * R + R + min(LANCZOS_MEMORY_BUDGET, 8 * R * 2000)
    return {
        "representatives": R,
        "entries": nnz,
        "basis": basis,
        "structure": structure,
        "build": build,
        "solver": solver,
        "total": basis + structure + max(build, solver),
    }


def estimate_counts(cluster: Cluster, group_order: int) -> tuple[int, int]:
    """Estimated numbers of orbit representatives and of off-diagonal structure entries.

    ``R ~ 1.05 * C(N, N/2) / group_order`` (+1000 for small clusters); ``nnz ~ R * n_bonds * N /
    (2 (N - 1))``, the mean number of anti-aligned bonds of a random Sz = 0 configuration.
    """
    N = cluster.n_sites
    R = int(1.05 * math.comb(N, N // 2) / group_order) + 1000
    n_bonds = len(cluster.bonds("J1")) + len(cluster.bonds("J2"))
    return R, int(R * n_bonds * N / (2 * (N - 1)))


def require_memory(total: int, what: str, detail: str, hint: str = "") -> None:
    """Raise ``MemoryError("<what> about X GiB (<detail>) but only Y GiB are available<hint>")``
    when ``total`` bytes exceed the available memory (``what`` ends with its verb, e.g.
    ``"symmetric ED of triangular-6x6 needs"``)."""
    avail = psutil.virtual_memory().available
    if total > avail:
        raise MemoryError(
            f"{what} about {total / 2**30:.1f} GiB ({detail}) but only {avail / 2**30:.1f} GiB are available{hint}"
        )


#: Available memory a lockstep search leaves free (bytes) when it chooses its width.
LOCKSTEP_MARGIN = 1 << 30


def lockstep_bytes(n_reps: int, n_slots: int) -> int:
    """Bytes of a lockstep search over ``n_slots`` sectors at once: two float64 ``(R, K)``
    arrays, the start vector, and the per-representative sector bits and stabilizer orders
    (:func:`nqs_dilated.ed.lockstep.lanczos_lockstep`)."""
    return n_reps * (16 * n_slots + 8 + 3)


def lockstep_slots(n_reps: int, lockstep: bool | int = True, block_bits: int | None = None) -> int:
    """Sectors a lockstep search advances at once: ``lockstep`` itself when it is an integer,
    else as many as the available memory holds beyond :data:`LOCKSTEP_MARGIN` and, with the
    structure's ``block_bits``, as many as keep a step's accumulator within
    :data:`~nqs_dilated.ed.lockstep.LOCKSTEP_ACC_BYTES` per thread (at least 1).

    Raises:
        ValueError: an integer below 1.
    """
    if lockstep is True:
        free = psutil.virtual_memory().available - LOCKSTEP_MARGIN - lockstep_bytes(n_reps, 0)
        width = int(free // (16 * n_reps))
        if block_bits is not None:
            width = min(width, LOCKSTEP_ACC_BYTES // (8 << block_bits))
        return max(1, width)
    if isinstance(lockstep, bool) or int(lockstep) < 1:
        raise ValueError(f"lockstep must be True (width from memory) or a number of sectors >= 1, got {lockstep!r}")
    return int(lockstep)


def _check_memory(cluster: Cluster, group: SymmetryGroup) -> None:
    est = estimate_memory(cluster, group)
    require_memory(
        est["total"],
        f"symmetric ED of {cluster.name} needs",
        f"basis {est['basis'] / 2**30:.1f}, structure {est['structure'] / 2**30:.1f}, build scratch "
        f"{est['build'] / 2**30:.1f} or solver {est['solver'] / 2**30:.1f}; "
        f"~{est['representatives']:,} representatives, ~{est['entries']:,} entries",
    )
