"""Figures of the symmetric ED engine (not a test).

Usage:
    python benchmarks/ed_36.py [--j2 0.5] [--sector A1+] [--sweep 0:1.4:0.1] [--sweep-sector auto]
        [--skip-point] [--scratch DIR|none] [--skip-36] [--skip-24] [--skip-netket] [--max-iter N]
        [--tol 1e-8] [--searches-from runs/results/ed36/auto-j2=*.json] [--search one-by-one,lockstep]

* 36 sites (triangular-6x6), one J2, one sector, from nothing: wall time per phase (basis,
  structure, Lanczos), peak RSS, representatives, sector dimension, entries, matvec time,
  Lanczos iterations, E0 and E0/N (Pauli convention). ``--skip-point``: basis and structure only.
* ``--sweep``: then, reusing the basis and structure, the ground state at every J2 of the list
  or range, each computed (the store is neither read nor written for the states), each point's
  Lanczos started from the previous point's vector. With ``--sweep-sector auto`` (default) each
  point is a sector search bounded by the sector energies of the stored searches, or of the
  search results named by ``--searches-from`` (:mod:`nqs_dilated.ed.bounds`, any J2 including
  the point's own), and by the sectors computed
  at the sweep's earlier points: the previous point's sector is solved first (unless another
  sector is provably lower) and every sector provably above an energy found is skipped, so a
  point costs one sector solve unless a bound cannot decide. Printed: the time and Lanczos
  iterations of each point, skipped sectors with their bounds, the time in all (with and
  without the basis and structure), and the largest deviation of the local energies under
  NetKet's operator from E0 over 100 samples (an eigenstate check independent of our structure).
* The Lanczos vectors go to ``--scratch`` (default the ED store directory), so no second
  Lanczos pass is needed; ``--scratch none`` recomputes them (the two-pass route).
* ``--search one-by-one,lockstep``: then, reusing the basis and structure, the matvec time for
  1 vector against the lockstep step for 1, 2, 4 and 8 sectors, and the full sector search
  (``sector="auto"``, no bounds, no start vector: what a search from nothing costs after the
  build) in each mode: the energy-only runs one sector after the other (``lockstep=False``) or
  all sectors together (:func:`nqs_dilated.ed.lockstep.lanczos_lockstep`). Printed per mode: wall
  and CPU time, bytes written to disk, peak RSS of the phase, and every sector's energy with the
  largest difference between the modes; the from-nothing time is basis + structure + search.
* 24 sites (triangular-4x6): the engine (auto sector search) vs ``nk.exact.lanczos_ed`` on the
  full Sz = 0 space (about 5 min) with the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from nqs_dilated.cli.common import peak_rss_gib


def bench_36(
    j2: float,
    sector: str,
    tol: float,
    max_iter: int,
    sweep: str | None = None,
    scratch: str | None = None,
    sweep_sector: str = "auto",
    skip_point: bool = False,
    searches_from: list[str] | None = None,
    search: str | None = None,
) -> None:
    from nqs_dilated.ed.basis import SymmetricBasis
    from nqs_dilated.ed.lanczos import lanczos_ground_state
    from nqs_dilated.ed.operator import SymmetricStructure
    from nqs_dilated.ed.symmetric import LANCZOS_MEMORY_BUDGET, estimate_memory
    from nqs_dilated.lattice import load_lattice
    from nqs_dilated.symmetry import space_group

    # numba compiles the kernels on their first call after a change of the package (then they
    # come from its cache); do that on 16 sites so the timings below are those of a normal run
    t = time.perf_counter()
    small = load_lattice("triangular-4x4")
    op = SymmetricStructure(SymmetricBasis(small, space_group(small))).sector_operator(sector, j2)
    lanczos_ground_state(op.graded_matvec, op.size, mask=op.mask, tol=tol)
    print(f"[36] kernels ready (compiled or loaded from numba's cache) in {time.perf_counter() - t:.1f} s", flush=True)

    cluster = load_lattice("triangular-6x6")
    group = space_group(cluster)
    est = estimate_memory(cluster, group)
    print(
        f"[36] estimate: R~{est['representatives']:,}, entries~{est['entries']:,}, total~{est['total'] / 2**30:.2f} GiB",
        flush=True,
    )
    t = time.perf_counter()
    basis = SymmetricBasis(cluster, group)
    t_basis = time.perf_counter() - t
    print(
        f"[36] basis: {basis.n_reps:,} representatives in {t_basis:.1f} s (peak RSS {peak_rss_gib():.2f} GiB)",
        flush=True,
    )
    t = time.perf_counter()
    structure = SymmetricStructure(basis)
    t_struct = time.perf_counter() - t
    print(
        f"[36] structure: {structure.nnz:,} entries ({structure.nbytes / 2**30:.2f} GiB) in {t_struct:.1f} s "
        f"("
        + ", ".join(f"{k} {v:.1f} s" for k, v in structure.phase_seconds.items())
        + f"; peak RSS {peak_rss_gib():.2f} GiB)",
        flush=True,
    )
    N = cluster.n_sites
    if not skip_point:
        op = structure.sector_operator(sector, j2)
        print(f"[36] sector {op.sector}: dimension {op.dimension:,}", flush=True)
        x = np.where(op.mask, np.random.default_rng(0).standard_normal(op.size), 0.0)
        y = np.empty_like(x)
        op.graded_matvec(x, y)
        t = time.perf_counter()
        for _ in range(3):
            op.graded_matvec(x, y)
        t_mv = (time.perf_counter() - t) / 3
        print(f"[36] matvec: {t_mv:.2f} s (mean of 3, {structure.nnz / t_mv / 1e9:.2f} G entries/s)", flush=True)
        del x, y
        t = time.perf_counter()

        def cb(it, theta, est_res):
            if it % 10 == 0:
                print(
                    f"[36]   it {it}: E={theta:.10f} res~{est_res:.2e} ({time.perf_counter() - t:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        res = lanczos_ground_state(
            op.graded_matvec,
            op.size,
            mask=op.mask,
            tol=tol,
            max_iter=max_iter,
            progress=cb,
            memory_budget=LANCZOS_MEMORY_BUDGET,
            scratch_dir=scratch,
        )
        t_lz = time.perf_counter() - t
        print(
            f"[36] Lanczos: {res.n_iter} iterations, {res.n_matvec} matvecs, {t_lz:.1f} s "
            f"({t_lz / res.n_matvec:.2f} s per matvec with the vector updates), residual {res.residual:.2e} "
            f"(converged={res.converged}, Ritz vector from {res.ritz_from})\n"
            f"[36] Lanczos split: iterations {t_lz - res.ritz_seconds:.1f} s "
            f"({(t_lz - res.ritz_seconds) / res.n_matvec:.2f} s per matvec), "
            f"Ritz vector {res.ritz_seconds:.1f} s\n"
            f"[36] E0 = {res.energy:.12f}, E0/N = {res.energy / N:.12f} (J2={j2}, sector {op.sector}, Pauli)\n"
            f"[36] total {t_basis + t_struct + t_lz:.1f} s (basis {t_basis:.1f} + structure {t_struct:.1f} + "
            f"Lanczos {t_lz:.1f}), peak RSS {peak_rss_gib():.2f} GiB",
            flush=True,
        )
        del res, op
    if search:
        _bench_search(cluster, structure, j2, tol, max_iter, scratch, search.split(","), t_basis + t_struct)
    if not sweep:
        return
    from nqs_dilated.ed import store
    from nqs_dilated.ed.bounds import coupling_spectrum_bounds, sector_lower_bounds, sector_upper_bounds
    from nqs_dilated.ed.symmetric import symmetric_ground_state
    from nqs_dilated.experiments.resolve import j2_values
    from nqs_dilated.hamiltonian import heisenberg

    cache = {("symmetric-structure", cluster.content_hash): structure}
    t_sweep = time.perf_counter()
    # sound lower bounds on every sector from the stored sector searches (any J2, this one
    # included): sectors provably above an energy found are skipped, so each point solves its
    # ground-state sector (and any sector a bound cannot exclude)
    if sweep_sector != "auto":
        searches, source = [], "none"
    elif searches_from:
        searches, source = [store.search_from_json(path, cluster.name) for path in searches_from], "result files"
    else:
        searches, source = store.stored_searches(cluster, 1.0), "stored searches"
    spectrum = coupling_spectrum_bounds(cluster)
    print(
        f"[36 sweep] sector bounds from {source} at J2 = {[a for a, _ in searches]} "
        f"({time.perf_counter() - t_sweep:.0f} s to read and verify); J2-bond spectrum in "
        f"[{spectrum[0]:.6f}, {spectrum[1]:g}]",
        flush=True,
    )
    prev = None  # warm start from the previous J2's ground state (in its sector)
    t_solve = t_check = 0.0
    for j2_ in j2_values(sweep) if "," in sweep or ":" in sweep else [float(sweep)]:
        t = time.perf_counter()
        bounds = sector_lower_bounds(j2_, searches, spectrum) if searches else None
        uppers = sector_upper_bounds(j2_, searches) if searches else None
        its: dict[str, list[int]] = {}  # iterations of each Lanczos pass per sector
        gs = symmetric_ground_state(
            cluster,
            j2_,
            sector=sweep_sector,
            structure_cache=cache,
            initial=prev,
            scratch_dir=scratch,
            lower_bounds=bounds,
            upper_bounds=uppers,
            progress=_sweep_progress(t, its),
            tol=tol,
            max_iter=max_iter,
        )
        dt = time.perf_counter() - t
        t_solve += dt
        prev = gs
        # the sectors computed here bound the next points (as stored searches do in ground_state)
        if searches:
            searches.append(store.search_energies(gs.info))
        # independent check: local energies with NetKet's operator on |psi|^2 samples
        t = time.perf_counter()
        configs, _ = gs.sample(100, np.random.default_rng(0))
        dev = np.max(np.abs(gs.local_energies(heisenberg(cluster, j2_), configs) - gs.energy))
        t_check += time.perf_counter() - t
        others = ", ".join(f"{k} {v:.8f}" for k, v in sorted(gs.info.sector_energies.items(), key=lambda kv: kv[1]))
        skipped = ", ".join(
            f"{k} > {v:.4f}" for k, v in sorted(gs.info.sector_lower_bounds.items(), key=lambda kv: kv[1])
        )
        print(
            f"[36 sweep] J2={j2_:g}: E0 = {gs.energy:.12f}, E0/N = {gs.energy / N:.12f}, sector {gs.info.sector}, "
            f"residual {gs.residual:.1e}, {dt:.0f} s, Lanczos iterations {its}; "
            f"max |E_loc - E0| {dev:.1e} (NetKet operator, 100 samples, {time.perf_counter() - t:.0f} s); "
            f"computed: {others}; skipped by bound: {skipped or 'none'}",
            flush=True,
        )
        del gs
    del prev
    print(
        f"[36 sweep] {sweep}: {time.perf_counter() - t_sweep:.0f} s in all with the structure reused "
        f"(solves {t_solve:.0f} s, NetKet checks {t_check:.0f} s); from nothing "
        f"{t_basis + t_struct + time.perf_counter() - t_sweep:.0f} s (basis {t_basis:.0f} + structure "
        f"{t_struct:.0f} s); peak RSS {peak_rss_gib():.2f} GiB",
        flush=True,
    )


class _Phase:
    """Wall time, CPU time (all threads), bytes written to disk (``/proc/self/io``) and the peak
    RSS of a phase (the high-water mark reset at its start through ``/proc/self/clear_refs``)."""

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.wall, self.cpu, self.written = time.perf_counter(), time.process_time(), _io("write_bytes")
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.written = _io("write_bytes") - self.written
        self.peak = _vm("VmHWM") / 2**20

    def __str__(self):
        return f"wall {self.wall:.1f} s, CPU {self.cpu:.1f} s, written {self.written / 1e9:.2f} GB, peak RSS {self.peak:.2f} GiB"


def _io(key: str) -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def _vm(key: str) -> int:
    """KiB of a /proc/self/status field."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def _bench_search(cluster, structure, j2, tol, max_iter, scratch, modes, t_build) -> None:
    from nqs_dilated.ed.lockstep import LockstepOperator
    from nqs_dilated.ed.symmetric import symmetric_ground_state

    # matvec of one vector against a lockstep step of K sectors (both fused with nothing else)
    sectors = [str(sec) for sec in structure.basis.group.sectors()]
    op = structure.sector_operator(sectors[0], j2)
    x = np.where(op.mask, np.random.default_rng(0).standard_normal(op.size), 0.0)
    y = np.empty_like(x)
    op.graded_matvec(x, y)
    t = time.perf_counter()
    for _ in range(3):
        op.graded_matvec(x, y)
    t1 = (time.perf_counter() - t) / 3
    print(f"[36 search] matvec, 1 vector: {t1:.2f} s (mean of 3)", flush=True)
    del op, x, y
    for K in (1, 2, 4, 8):
        if K > len(sectors):
            break
        lop = LockstepOperator(structure, sectors[:K], j2)
        for k in range(K):
            lop.assign(k, k)
        v = np.random.default_rng(0).standard_normal((lop.size, K))
        for k in range(K):
            v[~lop.mask(k), k] = 0.0
        u = np.zeros_like(v)
        beta = np.zeros(K)
        lop.step(v, u, beta)
        t = time.perf_counter()
        for _ in range(2):
            lop.step(v, u, beta)
        tk = (time.perf_counter() - t) / 2
        print(
            f"[36 search] lockstep step, {K} sectors: {tk:.2f} s (mean of 2), {tk / K:.2f} s per sector, "
            f"{K * t1 / tk:.2f}x the one-vector matvecs it replaces",
            flush=True,
        )
        del lop, v, u
    found = {}
    cache = {("symmetric-structure", cluster.content_hash): structure}
    for mode in modes:
        its: dict[str, list[int]] = {}
        with _Phase() as ph:
            gs = symmetric_ground_state(
                cluster,
                j2,
                sector="auto",
                structure_cache=cache,
                scratch_dir=scratch,
                tol=tol,
                max_iter=max_iter,
                lockstep={"one-by-one": False, "lockstep": True}[mode],
                progress=_sweep_progress(time.perf_counter(), its),
            )
        found[mode] = gs.info
        print(
            f"[36 search] {mode}: {ph}; ground state {gs.info.sector}, E0 = {gs.energy:.10f}, residual {gs.residual:.1e}; "
            f"Lanczos iterations {its}; from nothing (basis + structure + search) {t_build + ph.wall:.0f} s = "
            f"{(t_build + ph.wall) / 60:.1f} min",
            flush=True,
        )
        del gs
    if len(found) > 1:
        a, b = (found[m] for m in modes[:2])
        for k in sorted(a.sector_energies, key=a.sector_energies.get):
            print(
                f"[36 search] {k}: {a.sector_energies[k]:.12f} ({modes[0]}, residual {a.sector_residuals[k]:.1e}) "
                f"{b.sector_energies[k]:.12f} ({modes[1]}, residual {b.sector_residuals[k]:.1e}), "
                f"difference {abs(a.sector_energies[k] - b.sector_energies[k]):.1e}",
                flush=True,
            )
        dmax = max(abs(a.sector_energies[k] - b.sector_energies[k]) for k in a.sector_energies)
        print(f"[36 search] largest sector-energy difference between the modes: {dmax:.1e}", flush=True)


def _sweep_progress(t0: float, its: dict[str, list[int]]):
    def cb(phase: str, value: float) -> None:
        if phase.startswith("lanczos"):
            passes = its.setdefault(phase.split()[1], [])
            if int(value) == 1 or not passes:  # a new Lanczos pass in this sector
                passes.append(0)
            passes[-1] = int(value)
        if phase.startswith("lanczos") and int(value) % 10 == 0:
            print(
                f"[36 sweep]   {phase} it {int(value)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True
            )

    return cb


def bench_24(j2: float, skip_netket: bool) -> None:
    import netket as nk

    from nqs_dilated.ed.symmetric import symmetric_ground_state
    from nqs_dilated.hamiltonian import heisenberg
    from nqs_dilated.lattice import load_lattice

    cluster = load_lattice("triangular-4x6")
    symmetric_ground_state(load_lattice("triangular-4x4"), j2)  # JIT warm-up
    t = time.perf_counter()
    gs = symmetric_ground_state(cluster, j2)
    t_ours = time.perf_counter() - t
    print(
        f"[24] engine: E0 = {gs.energy:.12f} in sector {gs.info.sector} (dim {gs.info.dimension:,}), "
        f"all sectors {t_ours:.2f} s, residual {gs.residual:.1e}",
        flush=True,
    )
    if skip_netket:
        return
    t = time.perf_counter()
    e = nk.exact.lanczos_ed(heisenberg(cluster, j2), k=1, compute_eigenvectors=True)[0][0]
    t_nk = time.perf_counter() - t
    print(
        f"[24] netket lanczos_ed: E0 = {e:.12f} in {t_nk:.1f} s; |dE| = {abs(e - gs.energy):.1e}; ratio {t_nk / t_ours:.0f}x",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--j2", type=float, default=0.5)
    ap.add_argument("--sector", default="A1+")
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--max-iter", type=int, default=2000)
    ap.add_argument("--sweep", default=None, help="36 sites: J2 list/range solved after the single point (auto sector)")
    ap.add_argument("--sweep-sector", default="auto", help="sector of the sweep points (default: the search)")
    ap.add_argument(
        "--searches-from",
        nargs="+",
        default=None,
        metavar="JSON",
        help="bound the sweep's sector searches by these search results (JSON of python -m nqs_dilated.ed "
        "--sector auto --json) instead of the stored searches",
    )
    ap.add_argument(
        "--scratch",
        default=None,
        help="directory for the pass-1 Lanczos vectors (default: the ED store directory); 'none': recompute them",
    )
    ap.add_argument(
        "--search",
        default=None,
        metavar="MODES",
        help="36 sites: then the full sector search in these modes (one-by-one, lockstep; comma-separated)",
    )
    ap.add_argument("--skip-36", action="store_true")
    ap.add_argument(
        "--skip-point", action="store_true", help="36 sites: no single point (basis and structure, then the sweep)"
    )
    ap.add_argument("--skip-24", action="store_true")
    ap.add_argument("--skip-netket", action="store_true")
    args = ap.parse_args()
    if not args.skip_24:
        # in a child process, so that NetKet's full-space Lanczos (about 18 GiB peak at 24 sites)
        # does not count in the 36-site peak RSS printed below
        import multiprocessing as mp

        child = mp.get_context("spawn").Process(target=bench_24, args=(args.j2, args.skip_netket))
        child.start()
        child.join()
    if not args.skip_36:
        from nqs_dilated.ed.store import store_dir

        scratch = None if args.scratch == "none" else (args.scratch or str(store_dir()))
        bench_36(
            args.j2,
            args.sector,
            args.tol,
            args.max_iter,
            args.sweep,
            scratch,
            args.sweep_sector,
            args.skip_point,
            args.searches_from,
            args.search,
        )


if __name__ == "__main__":
    main()
