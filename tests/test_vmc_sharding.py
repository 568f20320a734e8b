"""VMC with the samples sharded over several JAX devices (NetKet's ``NETKET_SHARDING``).

JAX fixes its devices when it starts, so each case runs in a fresh Python process with
``XLA_FLAGS=--xla_force_host_platform_device_count=D`` (CPU "devices"): :func:`_worker` below,
run as ``python tests/test_vmc_sharding.py PART OUT``, once with one device and once with two,
at the same time. ``kernel``: our two sharded pieces alone (the local-energy kernel and the
minSR update, on the network's own parameters and fixed samples split over the devices) give the
same numbers (to rounding). Slow (a process takes 30-90 s on a shared 2-core machine, most of it
building and sampling the ``MCState``): ``fixed``, the same through NetKet's ``MCState`` (local
energies, energy, minSR update), with the sampled samples and the chains split over both devices;
``optimise``, a short optimisation reaches the same energy within its statistical error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

N_CHAINS, N_SAMPLES, N_ITER = 16, 128, 8
#: Samples of the final energy estimate.
N_REPORT = 1024
#: Wall seconds a worker may take (two of them share the cores).
WORKER_TIMEOUT = 400


def _worker(part: str, out: Path) -> None:
    """What is compared between one and two devices, written to ``out`` (``.npz`` + ``.json``)."""
    import jax
    import jax.numpy as jnp
    import netket as nk
    from jax.flatten_util import ravel_pytree

    from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
    from nqs_dilated.lattice import load_lattice
    from nqs_dilated.training.minsr import minsr_update
    from nqs_dilated.training.vmc import energy_report, optimise
    from nqs_dilated.training.wavefunction import device_info, make_state, make_wavefunction

    t0 = time.perf_counter()
    cluster = load_lattice("triangular-4x4")
    ham = heisenberg_bonds(cluster, 0.5)
    model = make_wavefunction(cluster, "full", channels=(4, 4), dilations=(1, 2))
    n = cluster.n_sites
    if part == "kernel":  # no MCState: the model's parameters, fixed samples split over the mesh "S"
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as P

        from nqs_dilated.hamiltonian.bonds import local_energy_kernel

        x = jax.device_put(
            jnp.asarray(_fixed_samples(n).reshape(-1, n)), NamedSharding(Mesh(jax.devices(), ("S",)), P("S"))
        )
        variables = model.init(jax.random.key(0), x[:1])
        eloc = jax.jit(local_energy_kernel, static_argnums=(0,))(model.apply, variables, x, ham)
        update, _ = minsr_update(model.apply, variables["params"], {}, x, eloc, 1e-2, mode="complex")
        info = {**device_info(), "eloc_devices": len(eloc.sharding.device_set), "seconds": time.perf_counter() - t0}
        np.savez(out.with_suffix(".npz"), eloc=np.asarray(eloc), update=np.asarray(ravel_pytree(update)[0]))
        out.with_suffix(".json").write_text(json.dumps(info))
        return
    vs = make_state(ham, cluster, model, n_samples=N_SAMPLES, n_chains=N_CHAINS, seed=0)
    sharding = vs.samples.sharding
    info = {
        **device_info(),
        "samples_devices": len(sharding.device_set),
        "samples_spec": str(getattr(sharding, "spec", None)),
        "samples_shards": [list(s.data.shape) for s in vs.samples.addressable_shards],
        "chains_shards": [list(s.data.shape) for s in vs.sampler_state.σ.addressable_shards],
    }
    if part == "optimise":
        res = optimise(ham, vs, n_iter=N_ITER, lr=0.05, diag_shift=1e-2)
        vs.n_samples = N_REPORT
        report = energy_report(vs, ham)
        info.update(
            sr_mode=res.sr_mode,
            energy=report["energy"],
            energy_error=report["energy_error"],
            seconds_per_iter=res.seconds_per_iter,
            seconds=time.perf_counter() - t0,
        )
        out.with_suffix(".json").write_text(json.dumps(info))
        return
    x = jax.device_put(jnp.asarray(_fixed_samples(n).reshape(N_CHAINS, N_SAMPLES // N_CHAINS, n)), sharding)
    vs._samples = x  # NetKet's cached samples: local_estimators and expect use them
    local = vs.local_estimators(ham)
    eloc = local.data
    stats = nk.stats.statistics(local)  # what vs.expect(ham) returns, without compiling it again
    update, _ = minsr_update(vs._apply_fun, vs.parameters, vs.model_state, x.reshape(-1, n), eloc, 1e-2, mode="complex")
    info.update(eloc_devices=len(eloc.sharding.device_set), seconds=time.perf_counter() - t0)
    np.savez(
        out.with_suffix(".npz"),
        eloc=np.asarray(eloc),
        mean=np.asarray(stats.mean),
        error=np.asarray(stats.error_of_mean),
        update=np.asarray(ravel_pytree(update)[0]),
    )
    out.with_suffix(".json").write_text(json.dumps(info))


def _fixed_samples(n: int) -> np.ndarray:
    """The same samples in every process: ``N_SAMPLES`` random Sz = 0 configurations (NumPy, int8)."""
    rng = np.random.default_rng(7)
    return np.array([rng.permutation(np.repeat(np.array([1, -1], np.int8), n // 2)) for _ in range(N_SAMPLES)])


def _start(part: str, out: Path, devices: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "NETKET_SHARDING": "1",
    }
    env.pop("NETKET_EXPERIMENTAL_SHARDING_CPU", None)
    return subprocess.Popen(
        [sys.executable, __file__, part, str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _run_both(part: str, d: Path, here: bool = False) -> dict:
    """``{devices: (arrays, info)}`` for one and two devices (the two workers run concurrently).

    ``here``: compute the one-device case in this process (when it has one device), which saves
    the start of a second Python and JAX beside the two-device worker."""
    import jax

    here = here and jax.device_count() == 1
    procs = {k: _start(part, d / f"{part}{k}", k) for k in ((2,) if here else (1, 2))}
    if here:
        _worker(part, d / f"{part}1")
    out = {}
    if here:
        out[1] = dict(np.load(d / f"{part}1.npz")), json.loads((d / f"{part}1.json").read_text())
    for k, proc in procs.items():
        try:
            log, _ = proc.communicate(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate()
        assert proc.returncode == 0, f"{k} device(s):\n{log[-3000:]}"
        npz = d / f"{part}{k}.npz"
        out[k] = (dict(np.load(npz)) if npz.exists() else {}), json.loads((d / f"{part}{k}.json").read_text())
    return out


def test_sharded_kernel_and_minsr_update_agree_with_one_device(tmp_path):
    results = _run_both("kernel", tmp_path, here=True)
    (a, one), (b, two) = results[1], results[2]
    assert one["devices"] == 1 and not one["sharding"]
    assert two["devices"] == 2 and two["sharding"] and two["eloc_devices"] == 2  # computed per device
    np.testing.assert_allclose(b["eloc"], a["eloc"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(b["update"], a["update"], rtol=0, atol=1e-10 * np.max(np.abs(a["update"])))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return _run_both("fixed", tmp_path_factory.mktemp("sharding"), here=True)


@pytest.mark.slow
def test_samples_and_chains_are_split_over_two_devices(results):
    one, two = results[1][1], results[2][1]
    assert one["devices"] == 1 and not one["sharding"]
    assert two["devices"] == 2 and two["sharding"] and two["processes"] == 1
    assert two["samples_devices"] == 2 and two["eloc_devices"] == 2 and "S" in two["samples_spec"]
    # 16 chains of 8 samples: 8 chains (64 samples) per device
    assert two["chains_shards"] == [[N_CHAINS // 2, 16]] * 2
    assert two["samples_shards"] == [[N_CHAINS // 2, N_SAMPLES // N_CHAINS, 16]] * 2
    assert one["samples_shards"] == [[N_CHAINS, N_SAMPLES // N_CHAINS, 16]]


@pytest.mark.slow
def test_same_samples_same_local_energies_energy_and_update(results):
    (a, _), (b, _) = results[1], results[2]
    np.testing.assert_allclose(b["eloc"], a["eloc"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(b["mean"], a["mean"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(b["error"], a["error"], rtol=1e-10)
    scale = np.max(np.abs(a["update"]))
    np.testing.assert_allclose(b["update"], a["update"], rtol=0, atol=1e-10 * scale)


@pytest.mark.slow
def test_short_optimisation_agrees_within_statistical_error(tmp_path):
    results = _run_both("optimise", tmp_path)
    one, two = results[1][1], results[2][1]
    assert two["sharding"] and two["samples_devices"] == 2
    assert one["sr_mode"] == two["sr_mode"] == "minSR/NTK"  # 128 samples < 198 parameters
    for info in (one, two):
        assert np.isfinite(info["energy"]) and info["energy_error"] > 0
    z = abs(one["energy"] - two["energy"]) / np.hypot(one["energy_error"], two["energy_error"])
    print(
        f"\n1 device: E = {one['energy']:.6f} +- {one['energy_error']:.6f}, {one['seconds_per_iter']:.3f} s/it, "
        f"{one['seconds']:.1f} s; 2 devices: E = {two['energy']:.6f} +- {two['energy_error']:.6f}, "
        f"{two['seconds_per_iter']:.3f} s/it, {two['seconds']:.1f} s; z = {z:.2f}"
    )
    assert z < 4, (one, two)


if __name__ == "__main__":
    _worker(sys.argv[1], Path(sys.argv[2]))


# --- several processes: one task per device, joined by jax.distributed (submitit) -------------------


def test_executors_module_does_not_start_jax():
    """A submitit job unpickles execute_run_distributed before jax.distributed may start: importing
    the module must import neither JAX nor NetKet."""
    code = "import sys, nqs_dilated.experiments.executors; print(sorted({'jax', 'netket'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out


def test_distributed_arguments_from_the_job_environment(monkeypatch):
    from nqs_dilated.experiments.executors import PORT_BASE, PORT_RANGE, distributed_arguments

    class Env:
        job_id, hostnames, num_tasks, global_rank, local_rank = "4242", ["gpu017", "gpu018"], 8, 5, 1

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    args = distributed_arguments(Env(), gpus=True)
    host, port = args.pop("coordinator_address").split(":")
    assert host == "gpu017" and PORT_BASE <= int(port) < PORT_BASE + PORT_RANGE
    assert args == {"num_processes": 8, "process_id": 5, "local_device_ids": [1]}
    assert distributed_arguments(Env())["local_device_ids"] is None  # CPU: every local device
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # SLURM bound one GPU to the task: use it
    assert distributed_arguments(Env(), gpus=True)["local_device_ids"] is None


def test_slurm_job_of_several_tasks(tmp_path, monkeypatch):
    """One sbatch job per run with nodes x tasks-per-node tasks (srun starts them), each running
    execute_run_distributed; built without a cluster (stand-in sbatch/srun, as in test_sweep)."""
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "bin").mkdir()
    for cmd in ("sbatch", "srun"):
        (tmp_path / "bin" / cmd).write_text("#!/bin/sh\nexit 1\n")
        (tmp_path / "bin" / cmd).chmod(0o755)
    from submitit.slurm.slurm import _make_sbatch_string

    from nqs_dilated.experiments.config import ConfigError
    from nqs_dilated.experiments.executors import SubmititPool, execute_run, execute_run_distributed
    from nqs_dilated.experiments.sweep_config import SweepConfig, resolve_sweep

    sweep = SweepConfig(executor="slurm", slurm_cpus=4, slurm_nodes=2, slurm_tasks_per_node=4, slurm_gpus_per_node=4)
    pool = SubmititPool("slurm", tmp_path / "jobs", sweep)
    script = _make_sbatch_string(
        command="python -m x", folder=str(tmp_path / "jobs"), **pool.executor._executor.parameters
    )
    for line in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--cpus-per-task=4", "srun"):
        assert line in script, script
    submitted = []
    monkeypatch.setattr(pool.executor, "submit", lambda fn, *args: submitted.append((fn, args)) or _Done())
    assert pool.submit({"task": "vmc"}).result() == "task 0"
    assert submitted == [(execute_run_distributed, ({"task": "vmc"}, False, True))]
    pool.shutdown()  # the Pool interface, as for one task
    one = SubmititPool("slurm", tmp_path / "jobs", SweepConfig(executor="slurm"))
    monkeypatch.setattr(one.executor, "submit", lambda fn, *args: submitted.append((fn, args)))
    one.submit({"task": "vmc"})
    assert submitted[-1] == (execute_run, ({"task": "vmc"},))
    with pytest.raises(ConfigError, match="need --task vmc and a submitit executor"):
        resolve_sweep({"task": "vmc", "j2": "0,1"}, {"slurm_tasks_per_node": 2})  # local executor
    with pytest.raises(ConfigError, match="need --task vmc"):
        resolve_sweep({"task": "sign", "j2": "0,1"}, {"executor": "slurm", "slurm_tasks_per_node": 2})
    with pytest.raises(ConfigError, match="tasks per node must be >= 1"):
        resolve_sweep({"task": "vmc", "j2": "0,1"}, {"executor": "slurm", "slurm_tasks_per_node": 0})


class _Done:
    def done(self):
        return True

    def results(self):
        return ["task 0", "task 1"]


@pytest.mark.slow
def test_vmc_run_over_two_processes_with_submitit_local(tmp_path, monkeypatch):
    """Two local tasks (processes) of one CPU device each, joined by jax.distributed: the same
    run as in one process, written once by process 0."""
    from nqs_dilated.experiments.executors import SubmititPool, execute_run
    from nqs_dilated.experiments.resolve import resolve
    from nqs_dilated.experiments.sweep_config import SweepConfig

    values = {
        "task": "vmc",
        "lattice": "triangular-4x4",
        "j2": 0.0,
        "mode": "fixed-sign",
        "sign_source": "marshall",
        "channels": [4, 4],
        "dilations": [1, 2],
        "n_iter": 4,
        "n_samples": 128,
        "n_chains": 8,
        "checkpoint_every": 2,
    }
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    pool = SubmititPool(
        "submitit-local",
        tmp_path / "jobs",
        SweepConfig(executor="submitit-local", slurm_tasks_per_node=2, slurm_time_min=10),
    )
    two = pool.submit(resolve({**values, "out": str(tmp_path / "two")}).to_json()).result()
    assert two.processes == 2 and two.devices == 2 and two.sharding and two.steps_done == 4
    written = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert written["energy"] == two.energy and (tmp_path / "two" / "plots" / "energy.png").is_file()
    assert json.loads((tmp_path / "two" / "vmc.log").read_text())["Energy"]["iters"] == [0, 1, 2, 3]
    one = execute_run(resolve({**values, "out": str(tmp_path / "one")}).to_json())
    assert one.processes == 1
    z = abs(one.energy - two.energy) / np.hypot(one.energy_error, two.energy_error)
    print(
        f"\n1 process: E = {one.energy:.6f} +- {one.energy_error:.6f}; 2 processes: "
        f"E = {two.energy:.6f} +- {two.energy_error:.6f} ({two.seconds:.1f} s)"
    )
    assert z < 4
