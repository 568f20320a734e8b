"""VMC under the exact sign from an amplitude fitted to the exact state: optimiser or noise floor?

The G-CNN 16,16,16,16 amplitude fitted directly to |psi_ED| (``supervised.py --gcnn 16,16,16,16
--save-params``) reaches a relative energy error of 1.2e-2 at J2/J1 = 1.0 on triangular-4x6, while
VMC from a random start with the same network reaches 3.1e-2 in 288 iterations (``gcnn.sh``). This
script starts VMC (the same setting as ``gcnn.sh``: 1024 samples in 16 MetropolisExchange chains,
SGD lr 0.02, minSR with diagonal shift 0.01 -> 0.001, float32, seed 0) from the fitted parameters
and runs ``--n-iter`` iterations. If the energy stays at or below the fit's, random initialisation
is what VMC lacks (pretraining helps); if it rises towards the random-start value, the VMC
optimisation with this sampling and step size is the limit (its stationary point is worse).

    python runs/results/vmc-4x6-amplitude/pretrained-vmc.py [--n-iter 150] [--lr 0.02] [--exact-energy]

Writes ``pretrained-gcnn16-16-16-16[-lr<lr>][-it<n>]/`` beside this file: ``vmc.log`` (NetKet's
JsonLog), ``params.msgpack`` (the final parameters) and ``summary.json`` (energy report of the
start and the end: Monte Carlo energy, exact fidelity, times). ``--exact-energy`` adds the exact
variational energy ``<psi|H|psi>/<psi|psi>`` of both, summed over the whole Sz = 0 space with
NetKet's sparse matrix of the Hamiltonian (no sampling error; on 24 sites the matrix and the
first sum took 18 min on a shared core, peak RSS 16 GiB).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from nqs_dilated.ed.ground import ground_state
from nqs_dilated.files import write_atomic
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import n_params
from nqs_dilated.training.vmc import energy_report, optimise, psi_values
from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

here = Path(__file__).resolve().parent
p = argparse.ArgumentParser()
p.add_argument("--gcnn", default="16,16,16,16", help="features of the fitted G-CNN (names the params file)")
p.add_argument("--n-iter", type=int, default=150)
p.add_argument("--lr", type=float, default=0.02)
p.add_argument("--diag-shift", type=float, default=0.01)
p.add_argument("--diag-shift-final", type=float, default=0.001)
p.add_argument("--exact-energy", action="store_true", help="also sum <psi|H|psi> over the whole space")
args = p.parse_args()
features = tuple(int(f) for f in args.gcnn.split(","))
tag = "-".join(map(str, features))
params_file = here / f"supervised-gcnn{tag}.params.msgpack"
if not params_file.exists():
    p.error(f"{params_file} not found; run supervised.py --gcnn {args.gcnn} --save-params first")
out = here / (
    f"pretrained-gcnn{tag}"
    + (f"-lr{args.lr:g}" if args.lr != 0.02 else "")
    + (f"-it{args.n_iter}" if args.n_iter != 150 else "")
)
out.mkdir(exist_ok=True)

t0 = time.perf_counter()
cluster = load_lattice("triangular-4x6")
ground = ground_state(cluster, 1.0)
hamiltonian = heisenberg_bonds(cluster, 1.0)
sign = make_sign("exact", cluster, ground)
model = make_wavefunction(cluster, "fixed-sign", sign, model="gcnn", features=features, param_dtype=jnp.float32)
vstate = make_state(hamiltonian, cluster, model, n_samples=1024, n_chains=16, seed=0, readout_scale=None)
vstate.parameters = flax.serialization.from_bytes(vstate.parameters, params_file.read_bytes())


def exact_energy(vstate, matrix, states) -> float:
    """``<psi|H|psi> / <psi|psi>`` over all ``states`` (the Hilbert space's order of ``matrix``)."""
    psi = psi_values(vstate, states)
    return float(np.real(np.vdot(psi, matrix @ psi)) / np.real(np.vdot(psi, psi)))


matrix = hamiltonian.to_sparse() if args.exact_energy else None
states = np.asarray(hamiltonian.hilbert.all_states(), dtype=np.int8) if args.exact_energy else None
start = energy_report(vstate, hamiltonian, ground)
if args.exact_energy:
    start["exact_energy"] = exact_energy(vstate, matrix, states)
    start["exact_relative_error"] = abs(start["exact_energy"] - ground.energy) / abs(ground.energy)
print("start:", json.dumps(start), flush=True)
result = optimise(
    hamiltonian,
    vstate,
    n_iter=args.n_iter,
    lr=args.lr,
    diag_shift=args.diag_shift,
    diag_shift_final=args.diag_shift_final,
    log_prefix=out / "vmc",
)
end = energy_report(vstate, hamiltonian, ground)
if args.exact_energy:
    end["exact_energy"] = exact_energy(vstate, matrix, states)
    end["exact_relative_error"] = abs(end["exact_energy"] - ground.energy) / abs(ground.energy)
write_atomic(out / "params.msgpack", flax.serialization.to_bytes(jax.device_get(vstate.parameters)))
summary = {
    "lattice": cluster.name,
    "j2": 1.0,
    "convention": ground.info.convention,
    "gcnn_features": list(features),
    "n_parameters": n_params(vstate.parameters),
    "start_from": params_file.name,
    "n_iter": args.n_iter,
    "steps_done": result.steps,
    "status": result.status,
    "lr": args.lr,
    "diag_shift": args.diag_shift,
    "diag_shift_final": args.diag_shift_final,
    "n_samples": 1024,
    "n_chains": 16,
    "rejected_steps": result.rejected_steps,
    "seconds_per_iter": result.seconds_per_iter,
    "start": start,
    "end": end,
    "seconds": time.perf_counter() - t0,
}
write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
print("end:", json.dumps(end), flush=True)
