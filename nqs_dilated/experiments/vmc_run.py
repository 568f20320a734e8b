"""One VMC run, from a configuration to a finished run directory (``--task vmc``).

``config -> Hamiltonian + exact ground state (store) -> sign -> wave function -> MCState ->
VMC_SR (checkpoints, resume) -> energy report vs ED -> run directory``; the Hamiltonian is
:func:`~nqs_dilated.hamiltonian.bonds.heisenberg_bonds` (fast local energies). Used by
``python -m nqs_dilated.fit --task vmc``; returns the summary and prints nothing itself.

Run directory: ``config.json``, ``provenance.json``, ``metrics.jsonl`` (one line at the start and
one at the end: energy report), ``vmc.log`` (NetKet ``JsonLog``: energy per iteration),
``checkpoint.msgpack`` (variables + step count; a rerun of the same configuration resumes from
it; a resumed run first drops from ``vmc.log`` the iterations logged after the checkpoint;
deleted when the run finishes),
``params.msgpack`` (final variables), ``plots/energy.png`` (and ``.pdf``: energy ± error per
iteration from ``vmc.log``, the ED energy as a line, :func:`~nqs_dilated.experiments.plots.plot_vmc_run`)
and ``summary.json`` (written last; ``max_step`` is the bound on one step's parameter change,
``rejected_steps`` how many steps the step guard undid and retried smaller, ``restored_step`` the
step whose parameters a run that ended on a non-finite energy was reset to, else null;
``devices``, ``processes``, ``platform`` and ``sharding``: the JAX devices the samples were
split over, :func:`~nqs_dilated.training.vmc.device_info`).

The chain sign fit -> VMC: with ``sign_source = "fit"`` (fixed-sign mode) or ``sign_prior = "fit"``
(full mode) the run first fits the sign structure at the configuration's ``eps`` (the supervised
protocol of :mod:`nqs_dilated.experiments.sign_run`: same lattice, couplings, model options, seed and
ED sector; its budget keys ``steps``, ``patience``, ...; Adam rate ``sign_lr``) into
``<out>/sign-fit`` (resumable; a finished fit is reused), then uses the fitted network as the fixed
sign (:class:`~nqs_dilated.models.wavefunction.NetworkSign`) or as the phase prior of the full
mode. ``summary.json`` then has ``sign_fit`` (its directory and test figures). The chain runs in
one process only (several processes: fit first, then pass its directory).

Several devices: nothing to configure here; NetKet shards the samples over every JAX device
that exists when it is imported (:mod:`nqs_dilated.training.vmc`). On one machine, e.g.
``XLA_FLAGS=--xla_force_host_platform_device_count=2 python -m nqs_dilated.fit --task vmc ...``
(CPU) or with several GPUs visible; ``n_chains`` must be a multiple of the device count. Over
several processes (one per GPU, possibly on several nodes) every process runs this same function
after ``jax.distributed.initialize()`` (:func:`~nqs_dilated.experiments.executors.execute_run_distributed`,
the sweep's ``slurm_tasks``); process 0 alone writes the run directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
from netket.jax.sharding import extract_replicated

from ..data import make_datasets
from ..ed.ground import ground_state
from ..hamiltonian.bonds import heisenberg_bonds
from ..lattice import load_lattice
from ..models import n_params
from ..observables import compare_peak
from ..training.amplitude import AmplitudeFit
from ..training.callbacks import CheckpointCallback
from ..training.progress import FitProgressBar
from ..training.vmc import MAX_STEP, energy_report, optimise
from ..training.vmc_checkpoint import checkpoint_guard, checkpoint_seconds, load_checkpoint
from ..training.wavefunction import device_info, make_state, make_wavefunction
from .plots import plot_vmc_run
from .results import VmcResult
from .rundir import CHECKPOINT, CONFIG, PARAMS, SUMMARY, RunDir, read_spec, read_summary
from .sign_source import check_sign_fit, sign_from_source
from .specs import RunSpec, Task

__all__ = ["PRETRAIN_CHECKPOINT", "build_state", "checkpoint_meta", "load_vmc_state", "run_vmc", "sign_fit_spec"]

#: Checkpoint of the amplitude fit of a pretrained run (kept until the run finishes).
PRETRAIN_CHECKPOINT = "pretrain-checkpoint.msgpack"
#: Size of the amplitude fit's unused test sets (only its training and validation sets are used).
PRETRAIN_N_TEST = 1000
#: Adam steps between two validations of the amplitude fit.
PRETRAIN_EVAL_EVERY = 100


def checkpoint_meta(spec: RunSpec) -> dict:
    """What a checkpoint must match to be resumed: lattice, couplings, model, mode, sign, dtype."""
    p, v = spec.problem, spec.vmc
    return {
        "lattice": p.lattice,
        "j1": p.j1,
        "j2": p.j2,
        "model": spec.model.name,
        "model_options": {k: list(x) if isinstance(x, tuple) else x for k, x in spec.model.options().items()},
        "mode": v.mode,
        "sign_source": v.sign_source,
        "sign_prior": v.sign_prior,
        "dtype": v.dtype,
        "exact": v.exact,
        "symmetrize": v.symmetrize,
    }


def sign_fit_spec(spec: RunSpec, out: str | Path) -> RunSpec:
    """The sign fit a chained VMC run ``spec`` runs first (module docstring), into ``out/sign-fit``."""
    return RunSpec(Task.SIGN, spec.problem, spec.model, spec.seed, sign=spec.sign, out=str(Path(out) / "sign-fit"))


def run_vmc(
    spec: RunSpec, *, progress: bool = True, report: Callable[[str], None] | None = None, force_sign: bool = False
) -> VmcResult:
    """Run, resume or skip (finished) the VMC run described by ``spec``.

    Args:
        spec: The run (task ``"vmc"``; :func:`~nqs_dilated.experiments.resolve.resolve`).
        progress: Show NetKet's progress bar.
        report: Called with one line of text at each stage (``"resuming from step N"``, the
            devices); process 0 only.
        force_sign: Use a learned sign (source or prior) that
            :func:`~nqs_dilated.training.vmc.check_sign_fit` refuses (recorded in ``summary.json``
            as ``sign_check.forced``; not part of the run's identity, so a refused run is rerun
            with it in the same directory and reuses its chained fit).

    Returns:
        The result (``summary.json``; the stored one, with ``skipped`` true, for a finished
        run); when the run stopped on ``timeout`` the result has ``status`` ``"timeout"`` and is
        not written (rerun to resume from the checkpoint).

    Raises:
        ValueError: bad input, incl. ConfigError, RunDirError, CheckpointError and SignQualityError
            (a learned sign below the bounds of :func:`~nqs_dilated.training.vmc.check_sign_fit`).
        LatticeError: an unreadable lattice file.
        MemoryError: an ED that does not fit.
    """
    p, v = spec.problem, spec.vmc
    out = spec.output()
    run = RunDir(out, spec)
    if run.finished:
        return VmcResult.from_json({**read_summary(out), "out": str(out)}, skipped=True)
    t0 = time.perf_counter()
    main = jax.process_index() == 0  # over several processes, one writes the files
    say = report if report is not None and main else (lambda line: None)
    devices = device_info()
    if devices["sharding"]:
        say(
            f"samples sharded over {devices['devices']} {devices['platform']} devices in {devices['processes']} process(es)"
        )
    cluster = load_lattice(p.lattice)
    hamiltonian = heisenberg_bonds(cluster, p.j2, p.j1)
    # the sign source (fixed-sign) or phase prior (full): a name, a sign-fit directory, or "fit";
    # a learned sign is refused when poor (unless forced), before any work when it is given
    source = v.source
    sign_check = None if source in ("exact", "marshall", "none", "fit") else check_sign_fit(source, force_sign)
    ground = ground_state(cluster, p.j2, p.j1, method=p.ed_method, sector=p.sector)
    fit = _run_sign_fit(spec, run, say, progress) if spec.chains_sign_fit else None
    if fit is not None:
        source = fit["out"]
        sign_check = check_sign_fit(source, force_sign)
    if sign_check is not None and sign_check["forced"]:
        say(f"warning: using the sign fit {source} below the quality bounds (--force-sign)")
    vstate = build_state(spec, cluster, hamiltonian, ground, source)
    meta = checkpoint_meta(spec)
    ckpt = out / CHECKPOINT
    start, seconds_before, guard_state, pretraining = 0, 0.0, None, None
    if main and not ckpt.exists() and not (out / PRETRAIN_CHECKPOINT).exists():
        run.start()
    if v.pretrain is not None:  # resumed (or reused when VMC has a checkpoint): its summary is wanted either way
        pretraining = _pretrain(spec, run, ground, vstate, say, progress, main)
    if ckpt.exists():
        start = load_checkpoint(ckpt, vstate, meta)
        seconds_before, guard_state = checkpoint_seconds(ckpt), checkpoint_guard(ckpt)
        say(f"resuming from step {start} ({ckpt})")
    else:
        start_report = energy_report(vstate, hamiltonian, ground, fidelity=False)
        if main:
            run.log({"stage": "start", "step": 0, **start_report})
    result = optimise(
        hamiltonian,
        vstate,
        n_iter=v.n_iter,
        lr=v.lr,
        diag_shift=v.diag_shift,
        diag_shift_final=v.diag_shift_final or None,
        lr_final=v.lr_final or None,
        start_step=start,
        log_prefix=out / "vmc",
        checkpoint=ckpt,
        checkpoint_every=v.checkpoint_every,
        meta=meta,
        timeout=v.timeout or None,
        show_progress=progress,
        seconds_before=seconds_before,
        guard_state=guard_state,
    )
    final = energy_report(vstate, hamiltonian, ground)
    peak = compare_peak(ground, vstate)  # S(q) at the exact peak, variational vs exact
    if main:
        run.log({"stage": "end", "step": result.steps, "status": result.status, **final})
    summary = VmcResult(
        lattice=cluster.name,
        n_sites=cluster.n_sites,
        j1=p.j1,
        j2=p.j2,
        convention=ground.info.convention,
        model=spec.model.name,
        model_options=meta["model_options"],
        mode=v.mode,
        sign_source=v.sign_source,
        sign_prior=v.sign_prior,
        symmetrize=v.symmetrize,
        sign_fit=fit,
        sign_check=sign_check,
        pretraining=pretraining,
        structure_factor=peak,
        n_params=n_params(vstate.parameters),
        n_samples=v.n_samples if not v.exact else ground.dimension,
        exact=v.exact,
        n_iter=v.n_iter,
        steps_done=result.steps,
        resumed_from=start,
        status=result.status,
        sr_mode=result.sr_mode,
        max_step=MAX_STEP,
        restored_step=result.restored_step,
        rejected_steps=result.rejected_steps,
        seconds_per_iter=result.seconds_per_iter,
        # wall seconds of the optimisation steps behind the final state, over every invocation
        # (earlier ones up to their last checkpoint); "seconds" is this invocation alone
        optimisation_seconds_total=seconds_before + result.seconds,
        **final,
        devices=devices["devices"],
        processes=devices["processes"],
        platform=devices["platform"],
        sharding=devices["sharding"],
        ed_method=ground.info.method,
        ed_sector=ground.info.sector,
        seconds=time.perf_counter() - t0,
        out=str(out),
    )
    if result.status == "timeout" or not main:
        return summary
    run.write_bytes(PARAMS, flax.serialization.to_bytes(jax.device_get(extract_replicated(vstate.variables))))
    try:
        plot_vmc_run(out, ed_energy=float(ground.energy), title=_title(spec, cluster.name))
    except (FileNotFoundError, ValueError):  # no iteration logged (n_iter = 0)
        pass
    run.write_json(SUMMARY, summary.to_json())
    ckpt.unlink(missing_ok=True)  # a finished run is not resumed; params.msgpack holds its variables
    (out / PRETRAIN_CHECKPOINT).unlink(missing_ok=True)
    return summary


def build_state(spec: RunSpec, cluster, hamiltonian, ground, source: str, *, n_samples: int | None = None):
    """The variational state a VMC spec describes, at its initial parameters.

    Args:
        spec: The VMC run.
        cluster, hamiltonian, ground: Its cluster, Hamiltonian and exact ground state.
        source: The sign source (fixed-sign) or phase prior (full): a name or a sign-fit run
            directory (a chained fit's ``<out>/sign-fit``), already checked.
        n_samples: Samples per expectation value instead of the configuration's.

    Returns:
        A NetKet ``MCState`` (``FullSumState`` with ``exact``).
    """
    v, m = spec.vmc, spec.model
    sign, prior = None, None
    if v.mode == "fixed-sign":
        sign = sign_from_source(source, cluster, ground, force=True)
    else:
        prior = source if source in ("marshall", "none") else sign_from_source(source, cluster, force=True)
    dtype = jnp.float64 if v.dtype == "float64" else jnp.float32
    model = make_wavefunction(
        cluster,
        v.mode,
        sign,
        model=m.name,
        sign_prior=prior,
        param_dtype=dtype,
        symmetrize=v.symmetrize,
        sector=ground.info.sector,
        **m.options(),
    )
    return make_state(
        hamiltonian,
        cluster,
        model,
        n_samples=n_samples or v.n_samples,
        n_chains=v.n_chains,
        chunk_size=v.chunk_size or None,
        seed=spec.seed,
        exact=v.exact,
        readout_scale=None if m.name == "gcnn" else v.readout_scale,  # the G-CNN has no linear readout
    )


def load_vmc_state(run_dir: str | Path, *, n_samples: int | None = None):
    """A finished VMC run directory's final state: ``(spec, ground, vstate)``.

    The configuration is read from ``config.json``, the exact ground state from the store (or the
    ED), the variables from ``params.msgpack``.

    Args:
        run_dir: The run directory of ``nqs-dilated vmc``.
        n_samples: Samples per expectation value (default the run's).

    Raises:
        ValueError: not a finished VMC run directory, or parameters that do not fit its model.
    """
    path = Path(run_dir)
    if not (path / CONFIG).is_file() or not (path / PARAMS).is_file():
        raise ValueError(f"{path} is not a finished VMC run directory (needs {CONFIG} and {PARAMS})")
    spec = read_spec(path)
    if spec.task != "vmc":
        raise ValueError(f"{path} is a {spec.task!r} run, not a VMC run")
    p = spec.problem
    cluster = load_lattice(p.lattice)
    ground = ground_state(cluster, p.j2, p.j1, method=p.ed_method, sector=p.sector)
    source = spec.vmc.source
    if source == "fit":
        source = str(path / "sign-fit")
    vstate = build_state(spec, cluster, heisenberg_bonds(cluster, p.j2, p.j1), ground, source, n_samples=n_samples)
    try:
        vstate.variables = flax.serialization.from_bytes(vstate.variables, (path / PARAMS).read_bytes())
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise ValueError(f"{path / PARAMS} does not fit the model of {path / CONFIG}: {err}") from None
    return spec, ground, vstate


def _pretrain(
    spec: RunSpec, run: RunDir, ground, vstate, say: Callable[[str], None], progress: bool, main: bool
) -> dict:
    """Fit the amplitude of ``vstate`` on the pretraining fraction of the exact data (in place),
    resuming from (and checkpointing to) ``pretrain-checkpoint.msgpack``; its figures for ``summary.json``."""
    pre = spec.vmc.pretrain
    datasets = make_datasets(
        ground,
        eps=pre.eps,
        eps_relative_to=pre.eps_relative_to,
        split="configurations",  # validation: a |psi|^2 sample of the whole space (amplitude module docstring)
        seed=spec.seed,
        n_test=PRETRAIN_N_TEST,
    )
    fit = AmplitudeFit(
        vstate.model, vstate.parameters, datasets, lr=pre.lr, seed=spec.seed, eval_every=PRETRAIN_EVAL_EVERY
    )
    ckpt = run.path / PRETRAIN_CHECKPOINT
    if ckpt.exists():
        fit.restore(ckpt.read_bytes())
        if main:  # records logged after the checkpoint come again
            run.truncate_log(lambda r: r.get("stage") != "pretrain" or r["step"] <= fit.step_count)
    callbacks = [CheckpointCallback(lambda d: run.write_bytes(PRETRAIN_CHECKPOINT, d.checkpoint().to_bytes()))]
    if main:
        callbacks.insert(0, lambda step, log_data, driver: run.log({"stage": "pretrain", **log_data}) or True)
    if progress:
        callbacks.append(FitProgressBar(pre.steps, desc="amplitude", key="val_loss"))
    fit.run(max(0, pre.steps - fit.step_count), callback=callbacks)
    result = fit.result()
    vstate.parameters = result.params
    say(
        f"amplitude fitted on {result.n_train:,} configurations (eps {pre.eps:g}): infidelity estimate "
        f"{result.infidelity_estimate:.3g} at step {result.best_step} ({result.seconds:.0f} s)"
    )
    return {k: v for k, v in result.to_json().items() if k != "history"} | {"eps": pre.eps}


def _run_sign_fit(spec: RunSpec, run: RunDir, say: Callable[[str], None], progress: bool) -> dict:
    """Run (or reuse) the chained sign fit; its directory and test figures for ``summary.json``."""
    if jax.process_count() > 1:
        raise ValueError(
            "a chained sign fit (sign source or prior 'fit') runs in one process: run "
            "`nqs-dilated sign` first and pass its run directory"
        )
    from .sign_run import run_sign_fit

    sign_spec = sign_fit_spec(spec, run.path)
    if not (run.path / CONFIG).exists():
        run.start()  # the directory holds this run before the fit writes into it
    say(f"sign fit at eps = {sign_spec.sign.eps:g} ({sign_spec.sign.eps_relative_to}) -> {sign_spec.out}")
    s = run_sign_fit(sign_spec, progress=progress)
    fit = {
        "out": s.out,
        "eps": s.eps,
        "eps_relative_to": s.eps_relative_to,
        "n_train": s.n_train,
        "test_accuracy": s.test_accuracy,
        "test_overlap": s.test_overlap,
        "marshall_test_overlap": s.marshall_test_overlap,
        "steps_run": s.steps_run,
        "best_step": s.best_step,
        "seconds": s.seconds,
    }
    say(
        f"sign fit {'reused' if s.skipped else 'done'}: test accuracy {s.test_accuracy:.4f}, overlap "
        f"{s.test_overlap:.4f} (Marshall sign {s.marshall_test_overlap:.4f})"
    )
    return fit


def _title(spec: RunSpec, lattice: str) -> str:
    v = spec.vmc
    sign = f", sign {Path(v.sign_source).name}" if v.mode == "fixed-sign" else ""
    return f"{lattice}, J2/J1 = {spec.problem.j2:g}, VMC {v.mode}{sign}, {spec.model.name}, seed {spec.seed}"
