"""Energy of finished fixed-exact-sign VMC states from many samples (a tighter error bar than the
1024-sample estimate each run ends with).

    python runs/results/vmc-6x6-pretrained/final-energy.py RUN_DIR ... [--n-samples 16384]

A RUN_DIR is a run directory of ``nqs-dilated vmc`` (``config.json``, ``params.msgpack`` with the
variables) or one written by ``pretrained.py`` (``summary.json``, ``params.msgpack`` with the
parameters). The state (the amplitude network times the exact sign) is rebuilt with the package,
sampled with ``--n-samples`` samples in 16 MetropolisExchange chains (seed 1, not the run's), and
``energy_report`` is written to ``RUN_DIR/final-energy-n<n-samples>.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import flax.serialization
import jax.numpy as jnp

from nqs_dilated.ed.ground import ground_state
from nqs_dilated.files import write_atomic
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.lattice import load_lattice
from nqs_dilated.training.vmc import energy_report
from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

p = argparse.ArgumentParser()
p.add_argument("runs", nargs="+", type=Path)
p.add_argument("--n-samples", type=int, default=16384)
args = p.parse_args()
for run in args.runs:
    t0 = time.perf_counter()
    if (run / "config.json").is_file():  # an nqs-dilated vmc run: params.msgpack holds the variables
        meta, variables = json.loads((run / "config.json").read_text()), True
        if meta["mode"] != "fixed-sign" or meta["sign_source"] != "exact" or meta["symmetrize"]:
            raise SystemExit(f"{run}: only fixed-sign runs with the exact sign, not symmetrised")
    else:  # a pretrained.py run: params.msgpack holds the parameters
        meta, variables = json.loads((run / "summary.json").read_text()), False
    lattice, j2, model_name = meta["lattice"], meta["j2"], meta.get("model", "dilated")
    opts = (
        {"features": tuple(meta["channels"])}
        if model_name == "gcnn"
        else {"channels": tuple(meta["channels"]), "dilations": tuple(meta["dilations"])}
    )
    cluster = load_lattice(lattice)
    ground = ground_state(cluster, j2)
    hamiltonian = heisenberg_bonds(cluster, j2)
    model = make_wavefunction(
        cluster, "fixed-sign", make_sign("exact", cluster, ground), model=model_name, param_dtype=jnp.float32, **opts
    )
    vstate = make_state(hamiltonian, cluster, model, n_samples=args.n_samples, n_chains=16, seed=1, readout_scale=None)
    data = (run / "params.msgpack").read_bytes()
    if variables:
        vstate.variables = flax.serialization.from_bytes(vstate.variables, data)
    else:
        vstate.parameters = flax.serialization.from_bytes(vstate.parameters, data)
    report = {
        **energy_report(vstate, hamiltonian, ground),
        "n_samples": args.n_samples,
        "seconds": time.perf_counter() - t0,
    }
    write_atomic(run / f"final-energy-n{args.n_samples}.json", json.dumps(report, indent=2) + "\n")
    print(run.name, json.dumps(report), flush=True)
