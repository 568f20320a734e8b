"""Can the amplitude network represent |psi| at J2/J1 = 1.0 at all? Fit it to the exact state.

VMC with the exact sign fixed stops at a relative error of 1.8-2.8e-2 on triangular-4x6 at
J2/J1 = 1.0 (README.md). This separates what the ansatz can express from what the VMC
optimisation finds: the same amplitude network (``make_wavefunction(..., "fixed-sign")``: dilated
CNN, one real output = log|psi|, float32) is fitted to the exact ground state by Adam on batches
drawn from |psi_ED|^2 over the whole Sz = 0 space, minimising the batch variance of
``log|psi_theta(x)| - log|psi_ED(x)|`` (to second order in the error, the infidelity
``1 - F = Var_{|psi|^2}[log psi_theta - log psi_ED]``). The fitted amplitude times the exact sign
is then scored as VMC states are: exact fidelity over the whole space, and the energy, variance
and relative error from ``energy_report`` (MCState, MetropolisExchange, same Hamiltonian).

    python runs/results/vmc-4x6-amplitude/supervised.py [--channels 16,16,16] [--dilations 1,2,3]
        [--steps 6000] [--mlp 64] [--gcnn 8,8,8] [--save-params]

``--mlp H`` replaces the linear readout of the pooled features by ``Dense(H) -> ReLU -> Dense(1)``
(a script-local module, not a package model): with the linear readout, ``log|psi|`` is a sum over
sites of one function of each site's neighbourhood; the hidden layer makes it a nonlinear
function of the site averages. ``--dilations`` sets the dilation of each layer (its length, the
depth; as many channels as dilations, the channel list repeated if it is shorter). ``--gcnn F``
replaces the CNN by the package's G-CNN (NetKet's GCNN on the full space group, features ``F``,
one real invariant output used as ``log|psi|``; ``make_wavefunction(..., "fixed-sign",
model="gcnn")``), which is invariant under the point group as well as the translations. Writes
``supervised-c<channels>[-d<dilations>][-mlp<H>].json`` (``supervised-gcnn<F>.json``) beside
this file and prints the same figures. ``--save-params`` also writes the fitted parameters
(``<name>.params.msgpack``, Flax serialisation of ``vstate.parameters``), the start of
``pretrained-vmc.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from nqs_dilated.ed.ground import ground_state
from nqs_dilated.files import write_atomic
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import n_params
from nqs_dilated.models.conv import CircularConv
from nqs_dilated.models.dilated import grid_of
from nqs_dilated.models.wavefunction import SignedLogPsi
from nqs_dilated.training.vmc import energy_report
from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

here = Path(__file__).resolve().parent
p = argparse.ArgumentParser()
p.add_argument("--channels", default="16,16,16")
p.add_argument("--steps", type=int, default=6000)
p.add_argument("--batch", type=int, default=1024)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--n-samples", type=int, default=16384, help="MC samples of the final energy")
p.add_argument("--mlp", type=int, default=0, help="hidden units of a readout MLP after the pooling (0: linear readout)")
p.add_argument("--dilations", default="1,2,3", help="dilation of each CNN layer; its length is the depth")
p.add_argument("--gcnn", default="", help="features of a G-CNN amplitude instead of the CNN, e.g. 8,8,8")
p.add_argument("--save-params", action="store_true", help="also write <name>.params.msgpack (the fitted parameters)")
args = p.parse_args()
dilations = tuple(int(d) for d in args.dilations.split(","))
channels = tuple(int(c) for c in args.channels.split(","))
if len(channels) < len(dilations):
    channels = (channels * len(dilations))[: len(dilations)]
if len(channels) != len(dilations):
    p.error(f"{len(channels)} channels for {len(dilations)} dilations; give one channel count per layer")
gcnn = tuple(int(f) for f in args.gcnn.split(",")) if args.gcnn else ()

t0 = time.perf_counter()
cluster = load_lattice("triangular-4x6")
ground = ground_state(cluster, 1.0)
configs, amps = ground.enumerate()
weights = amps**2 / np.sum(amps**2)
log_abs = np.log(np.abs(amps))
hamiltonian = heisenberg_bonds(cluster, 1.0)


class PooledMLP(nn.Module):
    """The amplitude network's convolutions and mean pooling, then Dense(hidden) -> ReLU -> Dense(1)."""

    hidden: int

    @nn.compact
    def __call__(self, x):
        extent, grid = grid_of(cluster)
        h = jnp.asarray(x, jnp.float32)[..., None]
        for c, d in zip(channels, dilations):
            h = nn.relu(CircularConv(features=c, kernel_size=3, dilation=d, extent=extent, grid=grid)(h))
        h = nn.relu(nn.Dense(self.hidden)(jnp.mean(h, axis=-2)))
        return nn.Dense(1)(h)[..., 0]


sign = make_sign("exact", cluster, ground)
if gcnn:
    model = make_wavefunction(cluster, "fixed-sign", sign, model="gcnn", features=gcnn, param_dtype=jnp.float32)
elif args.mlp:
    model = SignedLogPsi(amplitude=PooledMLP(args.mlp), sign=sign)
else:
    model = make_wavefunction(
        cluster, "fixed-sign", sign, channels=channels, dilations=dilations, param_dtype=jnp.float32
    )
vstate = make_state(
    hamiltonian,
    cluster,
    model,
    n_samples=args.n_samples,
    n_chains=16,
    seed=0,
    readout_scale=1.0 if not (args.mlp or gcnn) else None,
)
params = vstate.parameters
amplitude = model.amplitude


def log_amp(p, x):
    return amplitude.apply({"params": p["amplitude"]}, x)


def loss(p, x, target):
    d = log_amp(p, x) - target
    return jnp.mean((d - jnp.mean(d)) ** 2)


opt = optax.adam(args.lr)


@jax.jit
def step(p, s, x, target):
    value, grads = jax.value_and_grad(loss)(p, x, target)
    updates, s = opt.update(grads, s, p)
    return optax.apply_updates(p, updates), s, value


rng = np.random.default_rng(0)
cdf = np.cumsum(weights)
state = opt.init(params)
history = []
for k in range(args.steps):
    idx = np.minimum(np.searchsorted(cdf, rng.random(args.batch) * cdf[-1]), len(cdf) - 1)
    params, state, value = step(params, state, jnp.asarray(configs[idx]), jnp.asarray(log_abs[idx], jnp.float32))
    if k % 500 == 0 or k == args.steps - 1:
        history.append((k, float(value)))
        print(f"step {k}: batch variance of the log-amplitude error {float(value):.4f}", flush=True)
fit_seconds = time.perf_counter() - t0

vstate.parameters = params
report = energy_report(vstate, hamiltonian, ground)
out = {
    "lattice": "triangular-4x6",
    "j2": 1.0,
    "channels": list(channels),
    "dilations": list(dilations),
    "mlp": args.mlp,
    "gcnn_features": list(gcnn),
    "n_parameters": n_params(params),
    "steps": args.steps,
    "batch": args.batch,
    "lr": args.lr,
    "history": history,
    "seconds": time.perf_counter() - t0,
    "fit_seconds": fit_seconds,
    "n_samples": args.n_samples,
    **report,
}
if gcnn:
    name = f"supervised-gcnn{'-'.join(map(str, gcnn))}"
else:
    name = f"supervised-c{'-'.join(map(str, channels))}"
    name += f"-d{''.join(map(str, dilations))}" if dilations != (1, 2, 3) else ""
    name += f"-mlp{args.mlp}" if args.mlp else ""
write_atomic(here / f"{name}.json", json.dumps(out, indent=2) + "\n")
if args.save_params:
    write_atomic(here / f"{name}.params.msgpack", flax.serialization.to_bytes(jax.device_get(params)))
print(json.dumps({k: v for k, v in out.items() if k != "history"}, indent=2))
