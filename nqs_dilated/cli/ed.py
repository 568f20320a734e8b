"""``python -m nqs_dilated.ed``: exact ground state of the J1-J2 model on a cluster.

Prints E0 and E0/N in the Pauli convention (``H = J1 sum sigma.sigma + J2 sum sigma.sigma``) and
in the S.S convention (a quarter of it), the residual ``||H psi - E0 psi||``, the wall time, and
where the state is stored. ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..ed.ground import METHODS, ground_state
from ..lattice import LatticeError, load_lattice
from ..symmetry import SymmetryError
from .common import fail, peak_rss_gib


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nqs_dilated.ed",
        description="Exact ground state of the anisotropic triangular J1-J2 Heisenberg model "
        "(Pauli convention, 4x the S.S energy).",
    )
    p.add_argument("--lattice", default="triangular-4x4", help="cluster name in lattices/ or a TOML path")
    p.add_argument("--j2", type=float, default=0.5, help="J2 coupling (J1 = 1 unless --j1)")
    p.add_argument("--j1", type=float, default=1.0, help="J1 coupling (default 1)")
    p.add_argument("--method", choices=METHODS, default="auto", help="ED route (default auto)")
    p.add_argument("--sector", default="auto", help="'auto' (search all zero-momentum sectors) or e.g. 'A1+'")
    p.add_argument("--store", default=None, help="store directory (default $NQS_DILATED_STORE or ~/.cache/nqs_dilated/ed)")
    p.add_argument("--no-store", action="store_true", help="neither read nor write the store")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        cluster = load_lattice(args.lattice)
        state = ground_state(
            cluster,
            args.j2,
            args.j1,
            method=args.method,
            sector=args.sector,
            store_dir=args.store,
            use_store=not args.no_store,
        )
    except (LatticeError, SymmetryError, ValueError, MemoryError) as err:
        return fail(str(err))
    seconds = time.perf_counter() - t0
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
        "method": info.method,
        "sector": info.sector,
        "sector_energies": info.sector_energies,
        "dimension": info.dimension,
        "seconds": seconds,
        "compute_seconds": info.seconds,
        "loaded_from_store": getattr(state, "loaded", False),
        "store_path": str(state.store_path) if getattr(state, "store_path", None) else None,
        "peak_rss_gib": peak_rss_gib(),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{cluster.name}  N = {n}  J1 = {info.j1:g}  J2 = {info.j2:g}  ({info.method}, sector {info.sector}, dim {info.dimension:,})")
    print(f"  E0     = {info.energy:.12f}   E0/N = {info.energy / n:.12f}   (Pauli, sigma.sigma)")
    print(f"  E0     = {info.energy / 4:.12f}   E0/N = {info.energy / 4 / n:.12f}   (S.S = Pauli / 4)")
    if info.gap is not None:
        print(f"  gap    = {info.gap:.6g} (Pauli, same space)")
    for label, e in sorted(info.sector_energies.items(), key=lambda kv: kv[1]):
        print(f"  sector {label:>5}: {e:.12f}")
    print(f"  residual ||H psi - E0 psi|| = {info.residual:.3e}")
    loaded = " (loaded from store)" if result["loaded_from_store"] else ""
    print(f"  wall time {seconds:.2f} s{loaded}, peak RSS {result['peak_rss_gib']:.2f} GiB")
    print(f"  stored at {result['store_path']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
