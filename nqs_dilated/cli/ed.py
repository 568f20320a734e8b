"""``nqs-dilated ed`` (alias ``python -m nqs_dilated.ed``): exact ground state of the J1-J2 model on a cluster.

The defaults (cluster, couplings, ED method and sector) are those of the sign fit and VMC
(:class:`~nqs_dilated.experiments.config.FitConfig`), and ``--help`` shows them. First prints the cluster and
the couplings, then one line as each ground state starts, then E0 and E0/N and E0/N in the Pauli convention (``H = J1 sum sigma.sigma + J2 sum sigma.sigma``) and
in the S.S convention (a quarter of it), the residual ``||H psi - E0 psi||``, the wall time, and
where the state is stored. ``--json`` prints one JSON object per J2 value instead (JSON lines).
``--j2`` takes one value, a list ``0,0.5,1.0`` or a range ``0:1.4:0.1``; the values are solved in
one process that builds the symmetric basis and Hamiltonian structure once. Progress bars for
the long phases (basis, structure, Lanczos iterations per sector) go to stderr.

Gaps: ``gap within sector A1+`` is the second Lanczos level of the ground-state sector minus E0
(``within Sz = 0`` for ``--method netket``, which diagonalises the whole Sz = 0 space); when a
sector search computed other sectors, ``gap to the lowest other sector`` is the lowest of their
energies minus E0 (JSON: ``gap``, ``gap_within``, ``gap_to_other_sector``, ``lowest_other_sector``).

Non-zero momenta (energies only, clusters up to about 30 sites): ``--sector k=1,0:A+`` gives the
lowest energy of one sector at momentum ``k``; ``--momenta all`` with ``--sector auto`` adds the
lowest energy of every sector at non-zero momentum (one momentum per star) under
``momentum_sector_energies`` and says whether the zero-momentum ground state is the ground state
of the cluster (``ground_state_at_zero_momentum``), with a warning on stderr when it is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..ed import store
from ..ed.ground import METHODS, ground_state
from ..ed.momentum import MomentumStructure, check_momenta_memory, momentum_sector_energies, momentum_sector_energy
from ..experiments.config import FitConfig
from ..experiments.observables_files import peak_row, write_observables, write_peaks
from ..experiments.resolve import j2_values
from ..files import check_writable_dir
from ..lattice import LatticeError, load_lattice
from ..observables import correlations, structure_factor
from ..symmetry import SymmetryError, space_group
from .common import attach_negative_values, fail, one_line_warnings, peak_rss_gib


class _Progress:
    """tqdm bars for the engine's ``progress(phase, value)`` callback: fractions for the basis
    and structure phases, iteration counts for ``"lanczos <sector>"``."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.phase = None
        self.bar = None

    def __call__(self, phase: str, value: float) -> None:
        kind = phase.split(":")[0]
        if kind != self.phase:
            self.close()
            self.phase = kind
            if kind.startswith("lanczos"):
                self.bar = tqdm(desc=f"{self.prefix}{kind}", unit="it", file=sys.stderr, leave=False)
            else:
                self.bar = tqdm(desc=f"{self.prefix}{kind}", total=100, unit="%", file=sys.stderr, leave=False)
        if kind.startswith("lanczos"):
            self.bar.update(int(value) - self.bar.n)
        else:
            self.bar.update(round(100 * value) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None
        self.phase = None


def build_parser(prog: str = "nqs-dilated ed") -> argparse.ArgumentParser:
    d = FitConfig()  # the defaults every task shares
    p = argparse.ArgumentParser(
        prog=prog,
        description="Exact ground state of the anisotropic triangular J1-J2 Heisenberg model "
        "(Pauli convention, 4x the S.S energy).",
    )
    add_arguments(p, d)
    return p


def add_arguments(p: argparse.ArgumentParser, d: FitConfig | None = None) -> None:
    """The options of ``nqs-dilated ed`` on ``p`` (defaults from :class:`FitConfig`, shown in ``--help``)."""
    d = d or FitConfig()
    p.add_argument(
        "--lattice",
        default=d.lattice,
        help=f"cluster name (shipped: triangular-4x4, triangular-4x6, triangular-6x6) or a TOML path (default {d.lattice})",
    )
    p.add_argument(
        "--j2",
        default=f"{d.j2:g}",
        help=f"J2 coupling (default {d.j2:g}; J1 = {d.j1:g} unless --j1): a value, a list 0,0.5,1.0 or a range start:stop:step",
    )
    p.add_argument("--j1", type=float, default=d.j1, help=f"J1 coupling (default {d.j1:g})")
    p.add_argument(
        "--method",
        choices=METHODS,
        default=d.ed_method,
        help=f"ED route: auto (= symmetric), netket (full Sz = 0 space, <= 24 sites) or symmetric (default {d.ed_method})",
    )
    p.add_argument(
        "--sector",
        default=d.sector,
        help="'auto' (search all zero-momentum sectors), e.g. 'A1+', or a non-zero-momentum sector "
        f"'k=m1,m2:IRREP+' (energy only) (default {d.sector})",
    )
    p.add_argument(
        "--momenta",
        choices=("zero", "all"),
        default="zero",
        help="with --sector auto: 'all' also computes every sector at non-zero momentum (one momentum "
        "per star; up to about 30 sites) and reports whether the ground state has zero momentum",
    )
    p.add_argument(
        "--store", default=None, help="store directory (default $NQS_DILATED_STORE or ~/.cache/nqs_dilated/ed)"
    )
    p.add_argument("--no-store", action="store_true", help="neither read nor write the store")
    p.add_argument(
        "--searches-from",
        nargs="+",
        default=None,
        metavar="JSON",
        help="with --sector auto: also bound the sectors by these recorded searches of the same cluster "
        "and J1 (the --json reports of earlier --sector auto runs, any J2), so that a scan skips the "
        "sectors they prove to lie above an energy found",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object per J2 value (the header lines go to stderr)"
    )
    p.add_argument(
        "--observables",
        action="store_true",
        help="also compute the spin correlations and S(q) of each ground state and write them to --out "
        "(correlations.csv, structure_factor.csv, a figure; peaks.csv for several J2 values)",
    )
    p.add_argument(
        "--out", default=None, help="directory of the --observables files (default runs/observables/<lattice>)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def main(argv: list[str] | None = None, prog: str = "nqs-dilated ed") -> int:
    args = build_parser(prog).parse_args(attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    with one_line_warnings():
        return run(args)


def run(args: argparse.Namespace) -> int:
    """Run ``nqs-dilated ed`` on parsed arguments (:func:`add_arguments`)."""
    if args.no_store and args.store is not None:
        return fail(f"--no-store and --store {args.store} contradict each other: give one of them")
    try:
        values = j2_values(args.j2)
        values = [values] if isinstance(values, float) else list(values)
        cluster = load_lattice(args.lattice)
    except (LatticeError, ValueError) as err:
        return fail(str(err))
    say = _header(cluster, values, args)
    if args.sector.strip().startswith("k="):
        return _momentum_sector(cluster, values, args)
    if args.out is not None and not args.observables:
        return fail(f"--out {args.out} is where --observables writes its files: add --observables, or drop --out")
    searches = None
    if args.searches_from:
        if args.sector.strip().lower() != "auto" or args.method == "netket":
            return fail(
                "--searches-from bounds the sectors of a symmetric sector search: it needs --sector auto "
                f"and --method auto or symmetric (got --sector {args.sector}, --method {args.method})"
            )
        try:
            searches = [store.search_from_json(path, cluster.name, args.j1) for path in args.searches_from]
        except (OSError, json.JSONDecodeError, ValueError) as err:
            return fail(f"--searches-from: {err}; give the --json reports of nqs-dilated ed --sector auto runs")
    out = Path(args.out or f"runs/observables/{cluster.name}")
    if args.observables:
        try:
            check_writable_dir(out, "output directory", "choose another --out")
        except ValueError as err:
            return fail(str(err))
    peaks = []
    if args.momenta == "all" and args.sector.strip().lower() != "auto":
        return fail(f"--momenta all needs --sector auto (got --sector {args.sector})")
    if args.momenta == "all":
        try:
            check_momenta_memory(cluster)  # before the zero-momentum search, not after it
        except MemoryError as err:
            return fail(str(err))
    momentum_structures: dict = {}
    structure_cache: dict = {}  # basis and structure built once for every J2 value
    state = None  # the previous J2's state: Lanczos in its sector starts from it
    for j2 in values:
        progress = None if args.quiet else _Progress(f"J2={j2:g} ")
        say(f"exact ground state at J2 = {j2:g} (method {args.method}, sector {args.sector}; store or ED) ...")
        t0 = time.perf_counter()
        try:
            state = ground_state(
                cluster,
                j2,
                args.j1,
                method=args.method,
                sector=args.sector,
                store_dir=args.store,
                use_store=not args.no_store,
                progress=progress,
                structure_cache=structure_cache,
                initial=state,
                searches=searches,
            )
            others = None
            if args.momenta == "all":
                others = momentum_sector_energies(
                    cluster, j2, args.j1, progress=progress, structures=momentum_structures
                )
        except (LatticeError, SymmetryError, ValueError, MemoryError) as err:
            return fail(str(err))
        finally:
            if progress is not None:
                progress.close()
        observables = None
        if args.observables:
            try:
                observables = _observables(cluster, state, out if len(values) == 1 else out / f"j2={j2:g}")
            except (ValueError, MemoryError) as err:
                return fail(str(err))
            peaks.append(observables)
        _report(cluster, state, time.perf_counter() - t0, args.json, others, observables)
    if len(peaks) > 1:
        write_peaks(out, peaks)
    return 0


def _observables(cluster, state, directory: Path) -> dict:
    """Correlations and S(q) of ``state`` written to ``directory``; the peak row (:func:`peak_row`)."""
    t0 = time.perf_counter()
    corr = correlations(state)
    sf = structure_factor(corr, cluster)
    title = f"{cluster.name}  J2/J1 = {state.info.j2:g}  ({state.info.sector})"
    write_observables(directory, corr, sf, title=title)
    return {**peak_row(state.info.j2, corr, sf), "seconds": time.perf_counter() - t0, "out": str(directory)}


def _header(cluster, values: list[float], args):
    """Print the cluster and couplings before any work (stderr with --json); return the printer."""
    stream = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    j2 = ", ".join(f"{v:g}" for v in values)
    say(f"ED: {cluster.name}  N = {cluster.n_sites}  J1 = {args.j1:g}  J2 = {j2}  (Pauli convention)")
    return say


def _gaps(info) -> dict:
    """The gap inside the ground state's own space and the gap to the lowest other sector."""
    within = "Sz = 0" if info.method == "netket" or info.sector == "full" else f"sector {info.sector}"
    others = {k: e for k, e in info.sector_energies.items() if k != info.sector}
    lowest = min(others, key=others.get, default=None)
    return {
        "gap_within": within,
        "lowest_other_sector": lowest,
        "gap_to_other_sector": None if lowest is None else others[lowest] - info.energy,
    }


def _momentum_sector(cluster, values, args) -> int:
    """``--sector k=...``: the lowest energy of one non-zero-momentum sector per J2 value."""
    structure = None
    for j2 in values:
        t0 = time.perf_counter()
        try:
            if structure is None:
                group = space_group(cluster)
                sector = group.parse_momentum_sector(args.sector)
                structure = MomentumStructure(cluster, sector.momentum, group)
            res = momentum_sector_energy(cluster, j2, sector, args.j1, group=group, structure=structure)
        except (SymmetryError, ValueError, MemoryError) as err:
            return fail(str(err))
        n = cluster.n_sites
        result = {
            "lattice": cluster.name,
            "n_sites": n,
            "j1": args.j1,
            "j2": j2,
            "convention": "pauli",
            "sector": str(res.sector),
            "energy": res.energy,
            "energy_per_site": res.energy / n,
            "energy_ss": res.energy / 4,
            "energy_per_site_ss": res.energy / 4 / n,
            "residual": res.residual,
            "dimension": res.dimension,
            "seconds": time.perf_counter() - t0,
            "peak_rss_gib": peak_rss_gib(),
        }
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(
                f"{cluster.name}  N = {n}  J1 = {args.j1:g}  J2 = {j2:g}  (sector {res.sector}, dim {res.dimension:,})"
            )
            print(f"  E_min  = {res.energy:.12f}   E_min/N = {res.energy / n:.12f}   (Pauli, sigma.sigma)")
            print(f"  residual ||H psi - E psi|| = {res.residual:.3e}; wall time {result['seconds']:.2f} s")
    return 0


def _report(cluster, state, seconds: float, as_json: bool, others: dict | None = None, obs: dict | None = None) -> None:
    info = state.info
    n = cluster.n_sites
    result = {
        "lattice": cluster.name,
        "n_sites": n,
        "j1": info.j1,
        "j2": info.j2,
        "convention": info.convention,
        "energy": info.energy,
        "energy_per_site": info.energy / n,
        "energy_ss": info.energy / 4,
        "energy_per_site_ss": info.energy / 4 / n,
        "residual": info.residual,
        "gap": info.gap,
        **_gaps(info),
        "method": info.method,
        "sector": info.sector,
        "sector_energies": info.sector_energies,
        "sector_residuals": info.sector_residuals,
        "sector_lower_bounds": info.sector_lower_bounds,
        "dimension": info.dimension,
        "seconds": seconds,
        "compute_seconds": info.seconds,
        "loaded_from_store": getattr(state, "loaded", False),
        "store_path": str(state.store_path) if getattr(state, "store_path", None) else None,
        "peak_rss_gib": peak_rss_gib(),
    }
    if others is not None:
        result["momentum_sector_energies"] = {k: r.energy for k, r in others.items()}
        lowest = min(others, key=lambda k: others[k].energy, default=None)
        result["lowest_momentum_sector"] = lowest
        # below E0 by more than the accuracy of both energies (residual tol 1e-8 squared / gap)
        at_zero = lowest is None or others[lowest].energy >= info.energy - 1e-9
        result["ground_state_at_zero_momentum"] = at_zero
        if not at_zero:
            print(
                f"warning: {cluster.name} at J2 = {info.j2:g}: sector {lowest} has E = {others[lowest].energy:.12f}, "
                f"below the zero-momentum ground state ({info.sector}, E0 = {info.energy:.12f}); the ground state "
                "of the cluster has non-zero momentum",
                file=sys.stderr,
            )
    if obs is not None:
        result["observables"] = obs
    if as_json:
        print(json.dumps(result), flush=True)
        return
    print(
        f"{cluster.name}  N = {n}  J1 = {info.j1:g}  J2 = {info.j2:g}  ({info.method}, sector {info.sector}, dim {info.dimension:,})"
    )
    print(f"  E0     = {info.energy:.12f}   E0/N = {info.energy / n:.12f}   (Pauli, sigma.sigma)")
    print(f"  E0     = {info.energy / 4:.12f}   E0/N = {info.energy / 4 / n:.12f}   (S.S = Pauli / 4)")
    if info.gap is not None:
        print(f"  gap within {result['gap_within']}: {info.gap:.6g} (Pauli)")
    if result["lowest_other_sector"] is not None:
        print(
            f"  gap to the lowest other sector ({result['lowest_other_sector']}): {result['gap_to_other_sector']:.6g} (Pauli)"
        )
    for label, e in sorted(info.sector_energies.items(), key=lambda kv: kv[1]):
        print(f"  sector {label:>5}: {e:.12f}")
    for label, e in sorted(info.sector_lower_bounds.items(), key=lambda kv: kv[1]):
        print(f"  sector {label:>5}: > {e:.6f} (bound from other J2; not computed)")
    if others is not None:
        for label, e in sorted(result["momentum_sector_energies"].items(), key=lambda kv: kv[1])[:5]:
            print(f"  sector {label:>12}: {e:.12f}")
        print(f"  ground state at zero momentum: {result['ground_state_at_zero_momentum']}")
    print(f"  residual ||H psi - E0 psi|| = {info.residual:.3e}")
    if obs is not None:
        print(
            f"  S(q) peak {obs['S_peak']:.6f} (S.S) at m = ({obs['m1']}, {obs['m2']}), q = ({obs['qx']:.4f}, {obs['qy']:.4f}); "
            f"bond sum of the correlators {obs['bond_energy']:.10f} ({obs['route']} route); {obs['seconds']:.1f} s -> {obs['out']}"
        )
    loaded = " (loaded from store)" if result["loaded_from_store"] else ""
    print(f"  wall time {seconds:.2f} s{loaded}, peak RSS {result['peak_rss_gib']:.2f} GiB")
    print(f"  stored at {result['store_path']}" if result["store_path"] else "  not stored (--no-store)", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
