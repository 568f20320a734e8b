"""36-site VMC under the exact sign from an amplitude first fitted to eps of exact data.

VMC with the exact sign fixed stops at a relative energy error of 5.6e-2 (J2/J1 = 1.0) and
1.3e-2 (1.3) on triangular-6x6 from a random start, with SGD steps 0.02 and 0.005 alike
(``../vmc-6x6-frustrated/``). On 24 sites an amplitude fitted to the whole exact state and then
optimised by VMC at a small step reached 7.1e-3 (``../vmc-4x6-amplitude/``). This script does the
same at 36 sites with only a fraction of the exact data, the package's protocol: the training set
of the sign fits (``make_datasets``: ``eps`` of the representatives drawn with probability
``|psi_ED|^2`` and moved by random space-group elements and spin inversion), now with the exact
amplitudes as labels.

1. The amplitude network of fixed-sign VMC (``make_wavefunction(..., "fixed-sign")``: dilated
   CNN, one real output = log|psi|, float32) is fitted by Adam on minibatches of the training set,
   minimising the batch variance of ``log|psi_theta(x)| - log|psi_ED(x)|`` (on |psi|^2-distributed
   configurations this is, to second order, the infidelity ``1 - F``; the validation set's value
   is reported as ``infidelity_estimate``).
2. The fitted amplitude times the exact sign is scored like a VMC state (``energy_report``).
3. VMC (1024 samples in 16 MetropolisExchange chains, minSR, diagonal shift 0.01 -> 0.001) runs
   ``--n-iter`` iterations from it with SGD step ``--lr`` (to ``--lr-final``).

    python runs/results/vmc-6x6-pretrained/pretrained.py --j2 1.0 [--eps 0.005] [--steps 4000]
        [--n-iter 200] [--lr 0.005] [--lr-final 0] [--channels 32,32,32] [--lattice triangular-6x6]
        [--gcnn 16,16,16,16]

``--continue-from RUN_DIR`` skips the fit and starts VMC from the final parameters of an earlier
run of this script (same network options), writing ``<RUN_DIR name>+lr<lr>[-<lr_final>]-it<n_iter>/``.
``--gcnn F`` replaces the dilated CNN by the package's G-CNN (NetKet's GCNN on the full space
group, features ``F``, one real invariant output used as log|psi|).

Writes ``<lattice>_j2=<J2>_eps<eps>_{c<channels>|gcnn<F>}-lr<lr>[-<lr_final>]-it<n_iter>/`` beside this file: ``fit.json``
(fit history, validation figures), ``vmc.log`` (NetKet's JsonLog), ``params.msgpack`` (final
parameters) and ``summary.json`` (energy reports of the fitted start and the end, times).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from nqs_dilated.data import make_datasets
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.files import write_atomic
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import n_params
from nqs_dilated.training.vmc import energy_report, optimise
from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

here = Path(__file__).resolve().parent
p = argparse.ArgumentParser()
p.add_argument("--lattice", default="triangular-6x6")
p.add_argument("--j2", type=float, required=True)
p.add_argument("--eps", type=float, default=0.005, help="training fraction of the representatives")
p.add_argument("--channels", default="32,32,32")
p.add_argument("--dilations", default="1,2,3")
p.add_argument("--gcnn", default="", help="features of a G-CNN amplitude instead of the CNN, e.g. 16,16,16,16")
p.add_argument("--steps", type=int, default=4000, help="Adam steps of the amplitude fit")
p.add_argument("--batch", type=int, default=1024)
p.add_argument("--fit-lr", type=float, default=1e-3)
p.add_argument("--n-iter", type=int, default=200, help="VMC iterations after the fit")
p.add_argument("--lr", type=float, default=0.005)
p.add_argument("--lr-final", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
p.add_argument(
    "--continue-from",
    type=Path,
    default=None,
    help="a run directory of this script: skip the fit and start VMC from its final parameters",
)
args = p.parse_args()
channels = tuple(int(c) for c in args.channels.split(","))
dilations = tuple(int(d) for d in args.dilations.split(","))
gcnn = tuple(int(f) for f in args.gcnn.split(",")) if args.gcnn else ()
net = f"gcnn{'-'.join(map(str, gcnn))}" if gcnn else f"c{'-'.join(map(str, channels))}"
name = f"{args.lattice}_j2={args.j2:g}_eps{args.eps:g}_{net}"
name += f"-lr{args.lr:g}" + (f"-{args.lr_final:g}" if args.lr_final else "") + f"-it{args.n_iter}"
if args.continue_from is not None:
    name = f"{args.continue_from.resolve().name}+{name.rsplit('_', 1)[-1]}"
out = here / name
out.mkdir(exist_ok=True)

t0 = time.perf_counter()
cluster = load_lattice(args.lattice)
ground = ground_state(cluster, args.j2)
hamiltonian = heisenberg_bonds(cluster, args.j2)
sign = make_sign("exact", cluster, ground)
if gcnn:
    model = make_wavefunction(cluster, "fixed-sign", sign, model="gcnn", features=gcnn, param_dtype=jnp.float32)
else:
    model = make_wavefunction(
        cluster, "fixed-sign", sign, channels=channels, dilations=dilations, param_dtype=jnp.float32
    )
vstate = make_state(
    hamiltonian, cluster, model, n_samples=1024, n_chains=16, seed=args.seed, readout_scale=None if gcnn else 1.0
)


def fit_amplitude(vstate) -> dict:
    """Fit the amplitude of ``vstate`` to the exact amplitudes of the sign-fit training set (in place)."""
    t_load = time.perf_counter()
    sets = make_datasets(ground, eps=args.eps, eps_relative_to="representatives", seed=args.seed, n_test=1000)
    train, val = sets.train, sets.val
    print(
        f"{cluster.name} J2/J1 = {args.j2:g}: {len(train)} training, {len(val)} validation configurations "
        f"({time.perf_counter() - t_load:.0f} s)",
        flush=True,
    )
    amplitude = vstate.model.amplitude
    opt = optax.adam(args.fit_lr)

    def loss(params, x, target):
        d = amplitude.apply({"params": params["amplitude"]}, x) - target
        return jnp.mean((d - jnp.mean(d)) ** 2)

    @jax.jit
    def step(params, opt_state, x, target):
        value, grads = jax.value_and_grad(loss)(params, x, target)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    x_val, y_val = jnp.asarray(val.configs), jnp.asarray(np.log(np.abs(val.amplitudes)), jnp.float32)
    val_loss = jax.jit(lambda params: loss(params, x_val, y_val))
    x_train = train.configs
    y_train = np.log(np.abs(train.amplitudes)).astype(np.float32)
    rng = np.random.default_rng(args.seed)
    params = vstate.parameters
    opt_state = opt.init(params)
    history = []
    t_fit = time.perf_counter()
    for k in range(args.steps):
        idx = rng.integers(0, len(y_train), size=args.batch)
        params, opt_state, value = step(params, opt_state, jnp.asarray(x_train[idx]), jnp.asarray(y_train[idx]))
        if k % 250 == 0 or k == args.steps - 1:
            history.append({"step": k, "train": float(value), "val": float(val_loss(params))})
            print(f"fit step {k}: batch variance {float(value):.4f}, validation {history[-1]['val']:.4f}", flush=True)
    vstate.parameters = params
    return {
        "n_train": len(train),
        "n_val": len(val),
        "eps": args.eps,
        "steps": args.steps,
        "batch": args.batch,
        "fit_lr": args.fit_lr,
        "history": history,
        "infidelity_estimate": history[-1]["val"],
        "fit_seconds": time.perf_counter() - t_fit,
    }


if args.continue_from is not None:  # VMC goes on from the end of an earlier run: no fit, no data
    vstate.parameters = flax.serialization.from_bytes(
        vstate.parameters, (args.continue_from / "params.msgpack").read_bytes()
    )
    fit = json.loads((args.continue_from / "fit.json").read_text())
    fit_seconds = 0.0
else:
    fit = fit_amplitude(vstate)
    fit_seconds = fit["fit_seconds"]
    write_atomic(out / "fit.json", json.dumps(fit, indent=2) + "\n")
start = energy_report(vstate, hamiltonian, ground)
print("fitted:", json.dumps(start), flush=True)
result = optimise(
    hamiltonian,
    vstate,
    n_iter=args.n_iter,
    lr=args.lr,
    lr_final=args.lr_final or None,
    diag_shift=0.01,
    diag_shift_final=0.001,
    log_prefix=out / "vmc",
)
end = energy_report(vstate, hamiltonian, ground)
write_atomic(out / "params.msgpack", flax.serialization.to_bytes(jax.device_get(vstate.parameters)))
summary = {
    "lattice": cluster.name,
    "j2": args.j2,
    "convention": ground.info.convention,
    "sector": ground.info.sector,
    "model": "gcnn" if gcnn else "dilated",
    "channels": list(gcnn or channels),
    "dilations": [] if gcnn else list(dilations),
    "n_parameters": n_params(vstate.parameters),
    "eps": args.eps,
    "n_train": fit["n_train"],
    "infidelity_estimate": fit["infidelity_estimate"],
    "fit_seconds": fit_seconds,
    "n_iter": args.n_iter,
    "steps_done": result.steps,
    "status": result.status,
    "lr": args.lr,
    "lr_final": args.lr_final,
    "diag_shift": 0.01,
    "diag_shift_final": 0.001,
    "n_samples": 1024,
    "n_chains": 16,
    "rejected_steps": result.rejected_steps,
    "vmc_seconds": result.seconds,
    "seconds_per_iter": result.seconds_per_iter,
    "start": start,
    "end": end,
    "seconds": time.perf_counter() - t0,
    "continued_from": str(args.continue_from) if args.continue_from is not None else None,
    "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
}
write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
print("end:", json.dumps(end), flush=True)
