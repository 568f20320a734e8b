"""Time of one VMC_SR iteration: our invariant dilated CNN vs NetKet's GCNN, same lattice and samples.

Both wave functions run in the same process through the same code path
(:func:`nqs_dilated.drivers.vmc.make_state` with MetropolisExchange on Sz = 0, then ``VMC_SR`` with
an SGD step and NetKet's automatic SR / minSR choice): the dilated CNN in ``full`` mode (complex
``log_psi`` head, Marshall prior, float64) and ``netket.models.GCNN`` on the cluster's space group
(real parameters, complex output, float64). After ``--warmup`` iterations (compilation), the
median and best of ``--iters`` timed iterations are printed, with the parameter count and the SR
mode NetKet chose.

Default (heavy: do not run beside another memory-hungry job): ``triangular-6x6`` (36 sites), 1024
samples, CNN channels 32,32,32 with dilations 1,2,3, GCNN features 8,8,8.
``--quick``: ``triangular-4x4``, 128 samples, channels 4,4 (dilations 1,2), GCNN features 2,2,
two timed iterations: a smoke test of the script.

Usage: python benchmarks/vmc_36.py [--quick] [--lattice triangular-6x6] [--n-samples 1024]
    [--channels 32,32,32] [--dilations 1,2,3] [--gcnn-features 8,8,8] [--chunk-size 1024] [--iters 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import netket as nk
import optax

from nqs_dilated.drivers.vmc import make_state, make_wavefunction
from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import n_params


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def time_vmc(name, ham, cluster, model, args) -> dict:
    vs = make_state(
        ham, cluster, model, n_samples=args.n_samples, n_chains=args.n_chains,
        chunk_size=args.chunk_size or None, seed=0, readout_scale=1.0 if name == "dilated" else None,
    )
    driver = nk.driver.VMC_SR(ham, optax.sgd(0.01), diag_shift=0.01, variational_state=vs)
    driver.run(args.warmup, show_progress=False)
    jax.block_until_ready(vs.parameters)
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        driver.run(1, show_progress=False)
        jax.block_until_ready(vs.parameters)
        times.append(time.perf_counter() - t0)
    return {
        "model": name, "n_params": vs.n_parameters, "ntk": bool(getattr(driver, "use_ntk", False)),
        "median_s": statistics.median(times), "best_s": min(times),
        "energy": float(driver._loss_stats.mean.real),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes on 4x4 (smoke test)")
    p.add_argument("--lattice", default="triangular-6x6")
    p.add_argument("--j2", type=float, default=0.5)
    p.add_argument("--n-samples", type=int, default=1024)
    p.add_argument("--n-chains", type=int, default=16)
    p.add_argument("--channels", type=_ints, default=(32, 32, 32))
    p.add_argument("--dilations", type=_ints, default=(1, 2, 3))
    p.add_argument("--gcnn-features", type=_ints, default=(8, 8, 8))
    p.add_argument("--chunk-size", type=int, default=1024)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    if args.quick:
        args.lattice, args.n_samples, args.n_chains = "triangular-4x4", 128, 8
        args.channels, args.dilations, args.gcnn_features = (4, 4), (1, 2), (2, 2)
        args.chunk_size, args.warmup, args.iters = 0, 1, 2

    cluster = load_lattice(args.lattice)
    ham = heisenberg(cluster, args.j2)
    cnn = make_wavefunction(cluster, "full", channels=args.channels, dilations=args.dilations)
    gcnn = nk.models.GCNN(
        symmetries=cluster.graph, layers=len(args.gcnn_features), features=args.gcnn_features,
        param_dtype=jnp.float64, complex_output=True,
    )
    print(
        f"{cluster.name} ({cluster.n_sites} sites)  J2 = {args.j2:g}  {args.n_samples} samples, "
        f"{args.n_chains} chains, chunk {args.chunk_size or 'none'}  jax {jax.__version__} "
        f"netket {nk.__version__}  {jax.devices()[0].platform}  XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    )
    print(f"{'model':<26}{'params':>9}{'SR':>8}{'median s/it':>13}{'best s/it':>11}{'E (Pauli)':>13}")
    for name, label, model in (
        ("dilated", f"dilated CNN {','.join(map(str, args.channels))}", cnn),
        ("gcnn", f"NetKet GCNN {','.join(map(str, args.gcnn_features))}", gcnn),
    ):
        r = time_vmc(name, ham, cluster, model, args)
        print(
            f"{label:<26}{r['n_params']:>9,}{'minSR' if r['ntk'] else 'SR':>8}{r['median_s']:>13.3f}"
            f"{r['best_s']:>11.3f}{r['energy']:>13.4f}"
        )


if __name__ == "__main__":
    main()
