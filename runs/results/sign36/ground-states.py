"""Exact 36-site ground states for the sign study, written to the ED store as sector searches.

Each J2 is a sector search (``sector="auto"``) bounded by the sector energies of the recorded
36-site searches ``runs/results/ed36/auto-j2={0,0.5,1.0,1.3}.json`` and by the points already done
(:mod:`nqs_dilated.ed.bounds`). With ``--own`` a recorded search at the same J2 counts too, so
only the sector it found lowest is computed again (its eigenvector was not kept); the basis and structure built once, each point warm-started from
the previous one. The result is stored under the ``"auto"`` key, so that a sweep's
``ground_state(sector="auto")`` loads it.

    python runs/results/sign36/ground-states.py 0.5 1.0
    python runs/results/sign36/ground-states.py --own 1.3
"""

import sys
import time
from pathlib import Path

import numpy as np

from nqs_dilated.ed import store
from nqs_dilated.ed.bounds import coupling_spectrum_bounds, sector_lower_bounds, sector_upper_bounds
from nqs_dilated.ed.symmetric import symmetric_ground_state
from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.lattice import load_lattice

root = Path(__file__).resolve().parents[3]

cluster = load_lattice("triangular-6x6")
files = sorted((root / "runs/results/ed36").glob("auto-j2=*.json"))
searches = [store.search_from_json(p, cluster.name) for p in files]
spectrum = coupling_spectrum_bounds(cluster)
cache: dict = {}
prev = None
own = "--own" in sys.argv[1:]
for j2 in [float(v) for v in sys.argv[1:] if v != "--own"]:
    path = store.store_path(cluster, 1.0, j2, "auto", "symmetric")
    if store.load_arrays(path, cluster, 1.0, j2, "auto", "symmetric") is not None:
        print(f"J2 = {j2}: already stored ({path.name})", flush=True)
        continue
    t = time.perf_counter()
    others = [s for s in searches if own or s[0] != j2]
    gs = symmetric_ground_state(
        cluster,
        j2,
        sector="auto",
        structure_cache=cache,
        initial=prev,
        scratch_dir=store.store_dir(),
        lower_bounds=sector_lower_bounds(j2, others, spectrum),
        upper_bounds=sector_upper_bounds(j2, others),
    )
    gs.info.seconds = time.perf_counter() - t
    store.save_arrays(path, cluster, gs.info, gs.to_arrays(), sector_request="auto")
    searches.append(store.search_energies(gs.info))
    configs, _ = gs.sample(100, np.random.default_rng(0))
    dev = np.max(np.abs(gs.local_energies(heisenberg(cluster, j2), configs) - gs.energy))
    print(
        f"J2 = {j2}: sector {gs.info.sector}, E0 = {gs.energy:.10f} (Pauli), residual {gs.residual:.2e}, "
        f"{gs.info.seconds:.0f} s, skipped by bound {sorted(gs.info.sector_lower_bounds)}, "
        f"max |E_loc - E0| (NetKet operator, 100 samples) {dev:.1e}",
        flush=True,
    )
    prev = gs
