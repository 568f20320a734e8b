"""Symmetry-adapted exact ground states (zero momentum, point-group irrep, spin-inversion parity).

:func:`symmetric_ground_state` builds (or reuses) the :class:`~nqs_dilated.ed.basis.SymmetricBasis`
and the :class:`~nqs_dilated.ed.operator.SymmetricStructure` of a cluster, runs the two-pass
Lanczos of :mod:`nqs_dilated.ed.lanczos` in one sector or in every zero-momentum sector, and
returns a :class:`SymmetricGroundState`, which implements the
:class:`~nqs_dilated.ed.state.GroundState` interface on the full Sz = 0 space:

    psi(sigma) = c_b * chi(g) * sqrt(|Stab(b)| / |G'|)   for sigma = g b,

``b`` the representative of ``sigma``, ``|G'| = 2 N P`` (translations x point group x spin
inversion) and ``chi`` the sector character (real, ±1). Then ``sum_sigma psi^2 = sum_b c_b^2 = 1``.
Energies are in the Pauli convention (4x the S.S energy).

Method: A. W. Sandvik, AIP Conf. Proc. 1297, 135 (2010) (symmetric bases); Lanczos with two
passes (Y. Saad, Numerical Methods for Large Eigenvalue Problems, SIAM 2011).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from ..hamiltonian import check_couplings
from ..lattice import Cluster
from ..symmetry import Sector, SymmetryGroup, space_group
from .basis import SymmetricBasis, check_cluster, check_group
from .lanczos import lanczos_ground_state
from .lockstep import LockstepOperator, lanczos_lockstep
from .memory import LANCZOS_MEMORY_BUDGET, _check_memory, estimate_memory, lockstep_slots
from .memory import LOCKSTEP_MARGIN as LOCKSTEP_MARGIN
from .memory import estimate_counts as estimate_counts
from .memory import lockstep_bytes as lockstep_bytes
from .memory import require_memory as require_memory
from .operator import SymmetricStructure
from .state import GroundStateInfo
from .symmetric_state import SymmetricGroundState

__all__ = ["LANCZOS_MEMORY_BUDGET", "SymmetricGroundState", "estimate_memory", "symmetric_ground_state"]

#: Default Ritz residual at which a sector search ranks the sectors (see ``search_tol``).
SEARCH_TOL = 1e-4


def build_structure(
    cluster: Cluster,
    group: SymmetryGroup | None = None,
    *,
    progress: Callable[[str, float], None] | None = None,
    structure_cache: dict | None = None,
    check_memory: bool = True,
) -> SymmetricStructure:
    """Basis + Hamiltonian structure of a cluster (J2- and sector-independent), cached in
    ``structure_cache`` (a dict owned by the caller, keyed by the cluster's content hash).

    Raises:
        ValueError: more than 64 or an odd number of sites.
        SymmetryError: the group does not commute with the Hamiltonian.
        MemoryError: the estimate exceeds the available memory.
    """
    check_cluster(cluster)
    key = ("symmetric-structure", cluster.content_hash)
    if structure_cache is not None and key in structure_cache:
        return structure_cache[key]
    if group is None:
        group = space_group(cluster)
    check_group(cluster, group)
    if check_memory:
        _check_memory(cluster, group)
    basis = SymmetricBasis(cluster, group, progress=progress, check=False)
    structure = SymmetricStructure(basis, progress=progress)
    if structure_cache is not None:
        structure_cache[key] = structure
    return structure


def symmetric_ground_state(
    cluster: Cluster,
    j2: float,
    j1: float = 1.0,
    sector: str | Sector = "auto",
    *,
    progress: Callable[[str, float], None] | None = None,
    structure_cache: dict | None = None,
    group: SymmetryGroup | None = None,
    tol: float = 1e-8,
    search_tol: float = SEARCH_TOL,
    seed: int = 0,
    max_iter: int = 2000,
    check_memory: bool = True,
    scratch_dir: str | os.PathLike | None = None,
    initial: SymmetricGroundState | None = None,
    known_energies: dict[str, tuple[float, float]] | None = None,
    on_sector_energy: Callable[[str, float, float], None] | None = None,
    lower_bounds: dict[str, float] | None = None,
    upper_bounds: dict[str, float] | None = None,
    lockstep: bool | int = True,
) -> SymmetricGroundState:
    """Exact ground state of the J1-J2 model in the zero-momentum symmetric basis.

    Args:
        cluster: The cluster (even number of sites, at most 64).
        j2: J2 coupling; ``j1``: J1 coupling (Pauli convention).
        sector: ``"auto"`` (lowest energy over every zero-momentum sector, all of them reported
            in ``info.sector_energies``), a label such as ``"A1+"``, or a
            :class:`~nqs_dilated.symmetry.Sector`.
        progress: Optional ``callback(phase, value)``: fractions in ``[0, 1]`` for the basis and
            structure phases, the iteration number for ``"lanczos <sector>"``.
        structure_cache: Optional dict reused across calls (other J2, other sectors).
        group: The space group (default :func:`~nqs_dilated.symmetry.space_group`).
        tol: Absolute tolerance on ``||H psi - E psi||`` (see :mod:`nqs_dilated.ed.lanczos`).
        search_tol: With ``sector="auto"`` (a sector search): when a likely ground-state sector
            is known (that of ``initial`` unless ``upper_bounds`` put another provably lower, else
            the lowest of ``lower_bounds``; with ``lockstep=False`` also the group's first, A1+),
            it is converged first, with its vector; every other sector's lowest energy is
            computed without its vector (in lockstep, see ``lockstep``), stopping at a Ritz
            residual estimate of ``search_tol`` (energy error about ``search_tol**2 / gap``). Every sector whose energy lies within ``sqrt(search_tol)``
            of the lowest is converged to ``tol`` with its vector (unless it already is), and the
            lowest of those is the ground state, so a near-degenerate sector is never ranked on a
            loose estimate. The same margin covers an energy-only run that stops on the second
            of two nearly degenerate levels of its sector (measured once in 1260 runs on 4x4 and
            4x6 at ``search_tol = 1e-4``: 7.9e-4 above the lowest level).
        seed: Seed of the Lanczos start vector.
        max_iter: Maximum Lanczos iterations per pass.
        check_memory: Compare :func:`estimate_memory` with the available memory first.
        scratch_dir: Directory (on disk) for the pass-1 Lanczos vectors that do not fit in
            :data:`LANCZOS_MEMORY_BUDGET`, so the eigenvector needs no second Lanczos pass (about
            ``8 R`` bytes per iteration, deleted at the end; see :mod:`nqs_dilated.ed.lanczos`).
            ``None``: the vectors are recomputed (twice the matvecs, no disk).
        initial: A ground state of the same cluster at a nearby J2 (e.g. the previous point of a
            sweep). Lanczos in the sector of ``initial`` starts from its vector instead of a
            random one, which saves iterations; the result does not depend on it beyond ``tol``.
        known_energies: With ``sector="auto"``: search results (label -> ``(energy,
            residual)``, Pauli units) already computed for these
            couplings, ``search_tol`` and ``seed`` by an interrupted search (see
            :func:`nqs_dilated.ed.ground.ground_state`); those sectors are not searched again.
            Unknown labels raise.
        on_sector_energy: With ``sector="auto"``: ``callback(label, energy, residual)`` called
            after each sector's search, e.g. to checkpoint a long search.
        lower_bounds: With ``sector="auto"``: sound lower bounds (label -> energy, Pauli units)
            on sectors' lowest energies at these couplings, e.g. from searches at other J2
            (:func:`nqs_dilated.ed.bounds.sector_lower_bounds`). A sector whose bound lies
            above the lowest energy found so far by more than ``sqrt(search_tol)`` (the margin
            that also guards against an energy-only run that stopped on the second of two nearly
            degenerate levels) cannot hold the ground state and is skipped
            (reported in ``info.sector_lower_bounds``, absent from ``info.sector_energies``).
            Sectors without a bound are always computed. The sector of ``initial`` is converged
            first (its warm start makes it cheap, and in a sweep it usually holds the ground
            state again) unless another sector's upper bound lies below its lower bound; then,
            and without ``initial``, the sector with the lowest lower bound goes first.
        upper_bounds: With ``lower_bounds``: upper bounds on sectors' lowest energies at these
            couplings (:func:`nqs_dilated.ed.bounds.sector_upper_bounds`); they only order the
            sectors (see above).
        lockstep: With ``sector="auto"``: how the energy-only runs go. ``True`` (default): in
            lockstep (:func:`~nqs_dilated.ed.lockstep.lanczos_lockstep`), as many sectors at once
            as the available memory and the cache hold (:func:`lockstep_slots`: 16 bytes per
            representative and sector; 4 sectors at 36 sites, a freed slot taking the next
            sector), each step one pass over the structure for all of them; an integer sets
            that number; ``False`` runs them one after the other. Without ``initial`` and bounds every sector runs in lockstep and only the
            lowest (and those within the margin) are then converged with their vectors; with
            them the likely sector is converged first (see ``search_tol``) and the sectors its
            energy does not exclude run in lockstep. The energies are those of the one-by-one
            runs (same start vectors and stopping rule) up to rounding.

    Returns:
        The :class:`SymmetricGroundState`; ``info.gap`` is the second-lowest Ritz value minus E0
        within the ground-state sector (an upper bound to that sector's gap).

    Raises:
        ValueError: bad couplings, too many or an odd number of sites.
        SymmetryError: a bad sector label, or a group that does not commute with H.
        MemoryError: not enough memory for the basis, structure and solver.
        RuntimeError: no sector has states (cannot happen for a physical cluster).
    """
    t0 = time.perf_counter()
    j1, j2 = check_couplings(j1, j2)
    check_cluster(cluster)
    if group is None:
        group = space_group(cluster)
    if isinstance(sector, str) and sector.strip().lower() == "auto":
        sectors = group.sectors()
    else:
        sectors = [group.parse_sector(sector)]
    structure = build_structure(
        cluster, group, progress=progress, structure_cache=structure_cache, check_memory=check_memory
    )
    basis = structure.basis

    warm = None
    if initial is not None:
        if initial.cluster.content_hash != cluster.content_hash or initial.basis.n_reps != basis.n_reps:
            raise ValueError(
                f"initial state is a state of {initial.cluster.name} with {initial.basis.n_reps:,} "
                f"representatives, not of {cluster.name} ({basis.n_reps:,}): pass a state of the "
                "same cluster"
            )
        warm = (str(initial.sector), initial.coefficients)

    def run(op, want_vector, tol_):
        cb = None
        if progress:
            label = f"lanczos {op.sector}"
            cb = lambda it, theta, est: progress(label, float(it))  # noqa: E731
        # the solver works in the structure's graded order (sequential passes over the vectors)
        v0 = op.to_graded(warm[1]) if warm is not None and warm[0] == str(op.sector) else None
        res = lanczos_ground_state(
            op.graded_matvec,
            op.size,
            v0=v0,
            mask=op.mask,
            seed=seed,
            tol=tol_,
            max_iter=max_iter,
            want_vector=want_vector,
            progress=cb,
            memory_budget=LANCZOS_MEMORY_BUDGET,
            scratch_dir=scratch_dir,
        )
        if res.vector is not None:
            res.vector = op.from_graded(res.vector)
        op.release()
        return res

    search = len(sectors) > 1
    stol = max(tol, search_tol)
    margin = math.sqrt(stol)
    energies: dict[str, float] = {}
    residuals: dict[str, float] = {}
    if known_energies and search:
        for k, (e, r) in known_energies.items():
            label = str(group.parse_sector(k))
            energies[label], residuals[label] = float(e), float(r)

    def by_label(values):  # label -> float, labels in the group's spelling
        return {str(group.parse_sector(k)): float(v) for k, v in (values or {}).items()}

    bounds = by_label(lower_bounds) if search else {}
    if search:
        # the likely ground-state sector first (that of ``initial`` unless another is provably
        # lower, else the lowest bound, else the group's first, A1+), converged with its vector:
        # when it is the ground-state sector it needs no second run; then the others by
        # increasing bound (``initial``'s vector starts its own sector whenever that runs)
        labels = sorted((str(sec) for sec in sectors), key=lambda k: bounds.get(k, -math.inf))
        if warm is not None and warm[0] in labels:
            uppers = by_label(upper_bounds)
            floor = bounds.get(warm[0], -math.inf)
            below = [k for k in labels if uppers.get(k, math.inf) < floor]  # provably below warm
            first = min(below, key=uppers.get) if below else warm[0]
            labels.remove(first)
            labels.insert(0, first)
        sectors = [group.parse_sector(k) for k in labels]
    skipped: dict[str, float] = {}
    converged: dict[str, tuple] = {}  # label -> (LanczosResult with vector, dimension)
    nonempty = []

    def excluded(key):
        # skipped only with the margin: an energy-only Lanczos run can stop on the second of two
        # nearly degenerate levels (measured 8e-4 above the lowest on 4x6), which would lift a
        # bound built on such an energy by as much
        if energies and bounds.get(key, -math.inf) > min(energies.values()) + margin:
            skipped[key] = bounds[key]  # provably above an energy already found
            return True
        return False

    def record(key, r):
        energies[key] = float(r.energy)
        residuals[key] = float(r.residual)
        if on_sector_energy is not None:
            on_sector_energy(key, energies[key], residuals[key])

    todo = []  # sectors still to search, in order (empty ones are dropped where they are built)
    for sec in sectors:
        key = str(sec)
        (nonempty if key in energies else todo).append(key)
    if search and lockstep and todo and (warm is not None or bounds):
        # a likely sector is known (that of ``initial``, or the lowest bound): converged first
        # with its vector, so that the bounds can exclude others before they run
        key = todo.pop(0)
        op = structure.sector_operator(key, j2, j1)
        if op.dimension and not excluded(key):
            r = run(op, True, tol)
            converged[key] = (r, op.dimension)
            nonempty.append(key)
            record(key, r)
        del op
    if search and lockstep and todo:
        # every remaining sector's energy-only run in lockstep: one pass over the structure per
        # step for all of them (see nqs_dilated.ed.lockstep.lanczos_lockstep)
        lop = LockstepOperator(
            structure,
            todo,
            j2,
            j1,
            n_slots=min(len(todo), lockstep_slots(basis.n_reps, lockstep, structure.block_bits)),
        )
        order = [i for i, dim in enumerate(lop.dimensions) if dim]
        cb = None
        if progress:
            label = "lanczos lockstep " + ",".join(todo[i] for i in order)
            cb = lambda step, running: progress(label, float(step))  # noqa: E731

        def on_result(i, r):
            nonempty.append(todo[i])
            record(todo[i], r)

        lanczos_lockstep(
            lop,
            order,
            seed=seed,
            tol=stol,
            max_iter=max_iter,
            accept=lambda i: not excluded(todo[i]),
            on_result=on_result,
            progress=cb,
        )
        del lop
        todo = []
    # sector operators are made one at a time (each holds three R-vectors: weights and mask)
    for key in todo:
        if excluded(key):
            continue
        op = structure.sector_operator(key, j2, j1)
        if op.dimension == 0:
            continue
        nonempty.append(key)
        if search:
            if not energies:
                r = run(op, True, tol)
                converged[key] = (r, op.dimension)
            else:
                r = run(op, False, stol)
            record(key, r)
        del op
    if not nonempty:
        raise RuntimeError(f"no sector of {cluster.name} has states")
    if search:
        # every sector within the margin of the lowest is converged with its vector, so a
        # near-degenerate sector is never ranked on a search-tolerance estimate
        e_min = min(energies.values())
        candidates = sorted((k for k in energies if energies[k] <= e_min + margin), key=energies.get)
    else:
        candidates = nonempty
    res, best_key, dimension = None, None, 0
    for key in candidates:
        if key in converged:
            r, dim = converged.pop(key)
        else:
            op = structure.sector_operator(key, j2, j1)
            r, dim = run(op, True, tol), op.dimension
            del op
        if search:
            energies[key], residuals[key] = float(r.energy), float(r.residual)
        if res is None or r.energy < res.energy:
            res, best_key, dimension = r, key, dim
        del r
    converged.clear()
    info = GroundStateInfo(
        lattice=cluster.name,
        n_sites=cluster.n_sites,
        j1=j1,
        j2=j2,
        energy=float(res.energy),
        residual=float(res.residual),
        method="symmetric",
        sector=best_key,
        dimension=dimension,
        gap=None if res.second is None else float(res.second - res.energy),
        sector_energies=energies,
        sector_residuals=residuals,
        sector_lower_bounds=skipped,
        seconds=time.perf_counter() - t0,
    )
    return SymmetricGroundState(basis, best_key, res.vector, info)
