"""``ground_state``: one entry point to every exact-diagonalization route, with the store.

Routes:
    * ``"netket"``: :func:`nqs_dilated.ed.full.netket_ground_state`, NetKet's Lanczos on the full
      Sz = 0 space (no symmetries; at most 24 sites). The independent reference.
    * ``"symmetric"``: the symmetry-adapted engine (zero-momentum sectors, up to 64 sites as far
      as memory allows).
    * ``"auto"``: ``"symmetric"``.
"""

from __future__ import annotations

import os
import time

from ..files import check_writable_dir
from ..hamiltonian import check_couplings
from ..lattice import Cluster, load_lattice
from ..symmetry import space_group
from . import store
from .bounds import coupling_spectrum_bounds, sector_lower_bounds, sector_upper_bounds
from .full import FullSpaceGroundState, netket_ground_state
from .state import GroundState
from .symmetric import SEARCH_TOL, SymmetricGroundState, symmetric_ground_state

__all__ = ["METHODS", "ground_state"]

METHODS = ("auto", "netket", "symmetric")

_ROUTES = {"netket": FullSpaceGroundState, "symmetric": SymmetricGroundState}


def _method_name(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown ED method {method!r}; use one of {METHODS}")
    return "symmetric" if method == "auto" else method


def ground_state(
    lattice: str | Cluster,
    j2: float,
    j1: float = 1.0,
    *,
    method: str = "auto",
    sector: str = "auto",
    store_dir: str | os.PathLike | None = None,
    use_store: bool = True,
    progress=None,
    structure_cache: dict | None = None,
    initial: GroundState | None = None,
    searches: list[tuple[float, dict[str, tuple[float, float]]]] | None = None,
) -> GroundState:
    """Exact ground state of the J1-J2 model, from the store when present.

    Args:
        lattice: Cluster name (``"triangular-4x6"``), TOML path, or :class:`Cluster`.
        j2: J2 (Pauli convention, ``H = J1 sum sigma.sigma + J2 sum sigma.sigma``).
        j1: J1 (default 1).
        method: ``"auto"``, ``"netket"`` or ``"symmetric"`` (see the module docstring).
        sector: ``"auto"`` (lowest over all zero-momentum sectors) or a label such as ``"A1+"``
            (symmetric route only); the NetKet route always uses the full Sz = 0 space.
        store_dir: Store directory (default :func:`nqs_dilated.ed.store.store_dir`).
        use_store: Read and write the store (default True).
        progress: Optional progress callback passed to the symmetric engine.
        structure_cache: Optional dict owned by the caller in which the symmetric engine keeps
            the J2-independent basis and Hamiltonian structure, so that a sweep over J2 builds
            them once (at 36 sites they take minutes and about 7 GiB).
        initial: Optional symmetric ground state of the same cluster at a nearby J2 (the
            previous point of a sweep): Lanczos in its sector starts from its vector. Ignored by
            the NetKet route and when the state is loaded from the store.
        searches: Recorded sector searches of the same cluster and J1, at any J2 (this one
            included), as ``[(j2, {label: (energy, residual)}), ...]`` in Pauli units (e.g.
            :func:`nqs_dilated.ed.store.search_from_json` of the ``--json`` report of an earlier
            search): they bound the sectors of a search (``sector="auto"``) together with the
            stored searches, as below. Symmetric route only.

    The symmetric route keeps its Lanczos vectors beyond 256 MiB in an unnamed temporary file in
    the store directory (about 0.25 GB per iteration at 36 sites), so the eigenvector costs no
    second Lanczos pass.

    A request for an explicit sector is also served by a stored sector search (``"auto"``) at
    the same couplings whose ground state lies in that sector: it is the same state, converged
    to the same tolerance. Conversely, a sector search with no ``initial`` state starts Lanczos
    in a sector already stored at the same couplings from that stored vector (the first such
    sector in the group's order), so that sector costs a few iterations instead of ~100 at 36
    sites; the result does not depend on it beyond the tolerance.

    A sector search writes each sector's energy to a checkpoint beside its store file as soon as
    it is known (``<file>.search.json``). A search that was interrupted (killed, out of time)
    resumes from it: the finished sectors are not recomputed (the basis and structure are rebuilt).
    The checkpoint is removed once the result is stored.

    A sector search also reads the sector energies of every stored search of the same cluster and
    J1 at other J2 (:func:`nqs_dilated.ed.store.stored_searches`) and skips the sectors that
    provably lie above an energy it has found: each sector's lowest energy is concave in J2, which
    bounds it from below between and beside known points (:mod:`nqs_dilated.ed.bounds`). The
    skipped sectors and their bounds are in ``info.sector_lower_bounds``. In a sweep over J2 the
    points already done supply these bounds to the next.

    Returns:
        A :class:`~nqs_dilated.ed.state.GroundState`.

    Raises:
        ValueError: bad couplings, unknown method, a sector with the NetKet route, or a cluster
            too large for the chosen route.
        MemoryError: the symmetric engine's estimate does not fit in the available memory.
        NotWritableError: (a ValueError) the state must be computed and the store directory
            cannot be written.
    """
    cluster = lattice if isinstance(lattice, Cluster) else load_lattice(lattice)
    j1, j2 = check_couplings(j1, j2)
    name = _method_name(method)
    if name == "netket":
        if sector not in ("auto", "full"):
            raise ValueError(
                f"sector {sector!r} needs the symmetric ED; the NetKet route diagonalises the full "
                "Sz = 0 space (sector 'auto' or 'full')"
            )
        sector = "full"
    else:
        sector = str(sector)
    path = store.store_path(cluster, j1, j2, sector, name, store_dir)
    if use_store:
        candidates = [(path, sector)]
        if name == "symmetric" and sector != "auto":
            # a sector search that found this very sector holds the same state (same tol)
            candidates.append((store.store_path(cluster, j1, j2, "auto", name, store_dir), "auto"))
        for p, request in candidates:
            loaded = store.load_arrays(p, cluster, j1, j2, request, name)
            if loaded is None:
                continue
            info, arrays = loaded
            if request != sector and info.sector != str(space_group(cluster).parse_sector(sector)):
                continue
            state = _ROUTES[name].from_arrays(cluster, info, arrays)
            state.store_path, state.loaded = p, True
            return state
    if use_store:  # before the ED, not after it
        check_writable_dir(
            store.store_dir(store_dir),
            "store directory",
            "give a writable --store DIR (or $NQS_DILATED_STORE), or --no-store",
        )
    t0 = time.perf_counter()
    if name == "symmetric" and sector == "auto" and initial is None and use_store:
        initial = _stored_sector_state(cluster, j1, j2, store_dir)
    if name == "netket":
        state = netket_ground_state(cluster, j2, j1)
    else:
        known, checkpoint, bounds, uppers = None, None, None, None
        if sector == "auto":
            # the stored searches at other J2 (at this J2 the stored state was loaded above)
            found = [t for t in store.stored_searches(cluster, j1, name, store_dir) if t[0] != j2] if use_store else []
            found += list(searches or [])
            if found:
                bounds = sector_lower_bounds(j2, found, coupling_spectrum_bounds(cluster))
                uppers = sector_upper_bounds(j2, found)
        if use_store and sector == "auto":
            search = (cluster, j1, j2, name, SEARCH_TOL, 0)
            known = store.load_search(path, *search)
            done = dict(known)

            def checkpoint(label: str, energy: float, residual: float) -> None:
                done[label] = (energy, residual)
                store.save_search(path, *search, done)

        state = symmetric_ground_state(
            cluster,
            j2,
            j1,
            sector=sector,
            progress=progress,
            structure_cache=structure_cache,
            scratch_dir=store.store_dir(store_dir),
            initial=initial if isinstance(initial, SymmetricGroundState) else None,
            search_tol=SEARCH_TOL,
            seed=0,
            known_energies=known,
            on_sector_energy=checkpoint,
            lower_bounds=bounds,
            upper_bounds=uppers,
        )
    state.info.seconds = time.perf_counter() - t0
    if use_store:
        store.save_arrays(path, cluster, state.info, state.to_arrays(), sector_request=sector)
        store.clear_search(path)
    state.store_path, state.loaded = (path if use_store else None), False
    return state


def _stored_sector_state(cluster: Cluster, j1: float, j2: float, store_dir) -> SymmetricGroundState | None:
    """A stored explicit-sector symmetric ground state at these couplings, or ``None``."""
    for sec in space_group(cluster).sectors():
        p = store.store_path(cluster, j1, j2, str(sec), "symmetric", store_dir)
        loaded = store.load_arrays(p, cluster, j1, j2, str(sec), "symmetric")  # None if absent
        if loaded is not None:
            info, arrays = loaded
            return SymmetricGroundState.from_arrays(cluster, info, arrays)
    return None
