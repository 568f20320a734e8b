"""Time of one VMC_SR iteration: our invariant dilated CNN vs NetKet's GCNN, same lattice and samples.

Every wave function runs in the same process through the same code path
(:func:`nqs_dilated.training.vmc.make_state` with MetropolisExchange on Sz = 0, then ``VMC_SR`` with
an SGD step and NetKet's automatic SR / minSR choice): the dilated CNN in ``full`` mode (complex
``log_psi`` head, Marshall prior) and ``netket.models.GCNN`` on the cluster's space group (real
parameters, complex output). Each model is timed in two set-ups:

* ``before``: the original path, float64 parameters, NetKet's ``Heisenberg`` operator (generic
  kernel: ``1 + n_bonds`` padded connected configurations per sample), ``chunk_size`` 1024;
* ``after``: float32 parameters, :func:`nqs_dilated.hamiltonian.bonds.heisenberg_bonds` (only the
  anti-aligned bonds are evaluated, in chunks of ``hamiltonian.bonds.DEFAULT_CHUNK``), no state chunking,
  and :class:`nqs_dilated.training.minsr.VMC_MinSR` (NetKet's minSR step with the Gram matrix
  computed by symmetric blocks).

After ``--warmup`` iterations (compilation), ``--iters`` iterations are timed: the median and best
wall time, the median CPU time of this process (``time.process_time``: on a machine shared with
other jobs the wall time counts their share of the core, the CPU time does not), the parameter
count, the SR mode NetKet chose and the energy of the last iteration. The header gives the load
average and how many cores the process may use (``taskset``); ``XLA_FLAGS`` is printed as set, and
the number of JAX devices the samples are sharded over (e.g. ``XLA_FLAGS=--xla_force_host_platform_device_count=2``).

Default (heavy, ~10 minutes on one core: do not run beside another memory-hungry job):
``triangular-6x6`` (36 sites), J2 = 0.5, 1024 samples, 16 chains, CNN channels 32,32,32 with
dilations 1,2,3, GCNN features 8,8,8, both set-ups. ``--quick``: ``triangular-4x4``, 128 samples,
channels 4,4 (dilations 1,2), GCNN features 2,2, two timed iterations: a smoke test.

Usage: python benchmarks/vmc_36.py [--quick] [--setups before,after] [--models dilated,gcnn]
    [--lattice triangular-6x6] [--n-samples 1024] [--n-chains 16] [--channels 32,32,32]
    [--dilations 1,2,3] [--gcnn-features 8,8,8] [--warmup 2] [--iters 5]
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

from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.hamiltonian.bonds import DEFAULT_CHUNK, heisenberg_bonds
from nqs_dilated.lattice import load_lattice
from nqs_dilated.training.minsr import GRAM_BLOCKS, VMC_MinSR
from nqs_dilated.training.wavefunction import device_info, make_state, make_wavefunction

#: Set-ups: (parameter dtype, operator, MCState chunk size, driver).
SETUPS = {
    "before": (jnp.float64, "netket", 1024, "VMC_SR"),
    "after": (jnp.float32, "bonds", None, "VMC_MinSR"),
}


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def time_vmc(name, ham, cluster, model, chunk_size, driver_name, args) -> dict:
    vs = make_state(
        ham,
        cluster,
        model,
        n_samples=args.n_samples,
        n_chains=args.n_chains,
        chunk_size=chunk_size,
        seed=0,
        readout_scale=1.0 if name == "dilated" else None,
    )
    if driver_name == "VMC_MinSR":
        driver = VMC_MinSR(ham, optax.sgd(0.01), diag_shift=0.01, variational_state=vs, on_the_fly=False)
    else:
        driver = nk.driver.VMC_SR(ham, optax.sgd(0.01), diag_shift=0.01, variational_state=vs)
    driver.run(args.warmup, show_progress=False)
    jax.block_until_ready(vs.parameters)
    wall, cpu = [], []
    for _ in range(args.iters):
        t0, c0 = time.perf_counter(), time.process_time()
        driver.run(1, show_progress=False)
        jax.block_until_ready(vs.parameters)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "n_params": vs.n_parameters,
        "ntk": bool(getattr(driver, "use_ntk", False)),
        "median_s": statistics.median(wall),
        "best_s": min(wall),
        "cpu_s": statistics.median(cpu),
        "energy": float(driver._loss_stats.mean.real),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes on 4x4 (smoke test)")
    p.add_argument("--setups", default="before,after", help="comma-separated subset of before,after")
    p.add_argument("--models", default="dilated,gcnn", help="comma-separated subset of dilated,gcnn")
    p.add_argument("--lattice", default="triangular-6x6")
    p.add_argument("--j2", type=float, default=0.5)
    p.add_argument("--n-samples", type=int, default=1024)
    p.add_argument("--n-chains", type=int, default=16)
    p.add_argument("--channels", type=_ints, default=(32, 32, 32))
    p.add_argument("--dilations", type=_ints, default=(1, 2, 3))
    p.add_argument("--gcnn-features", type=_ints, default=(8, 8, 8))
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    if args.quick:
        args.lattice, args.n_samples, args.n_chains = "triangular-4x4", 128, 8
        args.channels, args.dilations, args.gcnn_features = (4, 4), (1, 2), (2, 2)
        args.warmup, args.iters = 1, 2
    setups = [s for s in args.setups.split(",") if s]
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(setups) - set(SETUPS)) + sorted(set(models) - {"dilated", "gcnn"})
    if unknown:
        p.error(f"unknown set-ups/models {unknown}")

    cluster = load_lattice(args.lattice)
    operators = {"netket": heisenberg(cluster, args.j2), "bonds": heisenberg_bonds(cluster, args.j2)}
    print(
        f"{cluster.name} ({cluster.n_sites} sites)  J2 = {args.j2:g}  {args.n_samples} samples, "
        f"{args.n_chains} chains  jax {jax.__version__} netket {nk.__version__}  "
        f"{jax.devices()[0].platform} x {jax.device_count()} (samples sharded: {device_info()['sharding']})  "
        f"cores usable {len(os.sched_getaffinity(0))} of {os.cpu_count()}  "
        f"load average {os.getloadavg()[0]:.1f}  XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    )
    print(
        f"  before: float64, NetKet Heisenberg ({operators['netket'].max_conn_size} padded connections), "
        "chunk 1024, NetKet VMC_SR (automatic: on-the-fly NTK)"
    )
    print(
        f"  after:  float32, HeisenbergBonds (anti-aligned bonds only, chunks of {DEFAULT_CHUNK}), "
        f"VMC_MinSR (dense Jacobian, Gram matrix in {GRAM_BLOCKS}x{GRAM_BLOCKS} symmetric blocks)"
    )
    print(
        f"{'model':<24}{'setup':<8}{'params':>9}{'SR':>7}{'median s/it':>13}{'best s/it':>11}"
        f"{'CPU s/it':>10}{'E (Pauli)':>12}"
    )
    for name in models:
        for setup in setups:
            dtype, op, chunk, driver_name = SETUPS[setup]
            chunk = min(chunk, args.n_samples) if chunk else None  # NetKet's SR needs chunk | n_samples
            if name == "dilated":
                label = f"dilated CNN {','.join(map(str, args.channels))}"
                model = make_wavefunction(
                    cluster, "full", channels=args.channels, dilations=args.dilations, param_dtype=dtype
                )
            else:
                label = f"NetKet GCNN {','.join(map(str, args.gcnn_features))}"
                model = nk.models.GCNN(
                    symmetries=cluster.graph,
                    layers=len(args.gcnn_features),
                    features=args.gcnn_features,
                    param_dtype=dtype,
                    complex_output=True,
                )
            r = time_vmc(name, operators[op], cluster, model, chunk, driver_name, args)
            print(
                f"{label:<24}{setup:<8}{r['n_params']:>9,}{'minSR' if r['ntk'] else 'SR':>7}"
                f"{r['median_s']:>13.3f}{r['best_s']:>11.3f}{r['cpu_s']:>10.3f}{r['energy']:>12.4f}",
                flush=True,
            )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
