"""S(q) of finished VMC runs at the peak of the exact S(q), next to the exact value.

    python runs/results/observables/vmc-vs-exact.py RUN_DIR [RUN_DIR ...] [--n-samples 8192]

For each run directory of ``nqs-dilated vmc`` the final state is rebuilt
(:func:`nqs_dilated.experiments.vmc_run.load_vmc_state`) and sampled afresh with ``--n-samples``
samples; its S(q) at the exact peak (:func:`nqs_dilated.observables.compare_peak`) and its energy
are appended as one JSON line to ``vmc-vs-exact.jsonl`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from nqs_dilated.experiments.vmc_run import load_vmc_state
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.observables import compare_peak
from nqs_dilated.training.vmc import energy_report

here = Path(__file__).resolve().parent
p = argparse.ArgumentParser()
p.add_argument("runs", nargs="+", type=Path)
p.add_argument("--n-samples", type=int, default=8192)
args = p.parse_args()
for run in args.runs:
    t0 = time.perf_counter()
    spec, ground, vstate = load_vmc_state(run, n_samples=args.n_samples)
    report = energy_report(vstate, heisenberg_bonds(ground.cluster, spec.problem.j2, spec.problem.j1), ground)
    peak = compare_peak(ground, vstate)
    row = {
        "run": str(run),
        "lattice": spec.problem.lattice,
        "j2": spec.problem.j2,
        "mode": spec.vmc.mode,
        "sign_source": spec.vmc.sign_source,
        "n_samples": args.n_samples,
        "relative_error": report["relative_error"],
        "energy": report["energy"],
        "energy_error": report["energy_error"],
        "structure_factor": peak,
        "seconds": time.perf_counter() - t0,
    }
    with open(here / "vmc-vs-exact.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
