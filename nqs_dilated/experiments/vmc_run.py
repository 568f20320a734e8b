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

import json
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
from .config import COMMON_KEYS, SIGN_KEYS, FitConfig
from .options import model_options
from .plots import plot_vmc_run
from .resolve import resolve
from .rundir import CHECKPOINT, CONFIG, PARAMS, SUMMARY, RunDir
from .sign_source import check_sign_fit, sign_from_source

__all__ = ["PRETRAIN_CHECKPOINT", "build_state", "checkpoint_meta", "load_vmc_state", "run_vmc"]

#: Checkpoint of the amplitude fit of a pretrained run (kept until the run finishes).
PRETRAIN_CHECKPOINT = "pretrain-checkpoint.msgpack"
#: Size of the amplitude fit's unused test sets (only its training and validation sets are used).
PRETRAIN_N_TEST = 1000
#: Adam steps between two validations of the amplitude fit.
PRETRAIN_EVAL_EVERY = 100


def checkpoint_meta(cfg: FitConfig) -> dict:
    """What a checkpoint must match to be resumed: lattice, couplings, model, mode, sign, dtype."""
    return {
        "lattice": cfg.lattice,
        "j1": cfg.j1,
        "j2": cfg.j2,
        "model": cfg.model,
        "model_options": {k: list(v) if isinstance(v, tuple) else v for k, v in model_options(cfg).items()},
        "mode": cfg.mode,
        "sign_source": cfg.sign_source if cfg.mode == "fixed-sign" else None,
        "sign_prior": cfg.sign_prior if cfg.mode == "full" else None,
        "dtype": cfg.dtype,
        "exact": cfg.exact,
        "symmetrize": cfg.symmetrize,
    }


def sign_fit_config(cfg: FitConfig, out: str | Path) -> FitConfig:
    """The sign fit a chained VMC run ``cfg`` runs first (module docstring), into ``out/sign-fit``."""
    values = {k: getattr(cfg, k) for k in (*COMMON_KEYS, *SIGN_KEYS)}
    values.update(task="sign", lr=cfg.sign_lr, out=str(Path(out) / "sign-fit"))
    return resolve(values)


def run_vmc(
    cfg: FitConfig, *, progress: bool = True, report: Callable[[str], None] | None = None, force_sign: bool = False
) -> dict:
    """Run, resume or skip (finished) the VMC run described by ``cfg``.

    Args:
        cfg: The configuration (``task = "vmc"``).
        progress: Show NetKet's progress bar.
        report: Called with one line of text at each stage (``"resuming from step N"``, the
            devices); process 0 only.
        force_sign: Use a learned sign (source or prior) that
            :func:`~nqs_dilated.training.vmc.check_sign_fit` refuses (recorded in ``summary.json``
            as ``sign_check.forced``; not part of the run's identity, so a refused run is rerun
            with it in the same directory and reuses its chained fit).

    Returns:
        The summary (``summary.json``), with ``"skipped": True`` for a finished run; when the
        run stopped on ``timeout`` the summary is returned with ``"status": "timeout"`` but not
        written (rerun to resume from the checkpoint).

    Raises:
        ValueError: bad input, incl. ConfigError, RunDirError, CheckpointError and SignQualityError
            (a learned sign below the bounds of :func:`~nqs_dilated.training.vmc.check_sign_fit`).
        LatticeError: an unreadable lattice file.
        MemoryError: an ED that does not fit.
    """
    out = Path(cfg.out or cfg.default_out())
    config = {**cfg.to_dict(), "out": str(out)}
    run = RunDir(out, config)
    if run.finished:
        return {**json.loads((out / SUMMARY).read_text()), "skipped": True, "out": str(out)}
    t0 = time.perf_counter()
    main = jax.process_index() == 0  # over several processes, one writes the files
    say = report if report is not None and main else (lambda line: None)
    devices = device_info()
    if devices["sharding"]:
        say(
            f"samples sharded over {devices['devices']} {devices['platform']} devices in {devices['processes']} process(es)"
        )
    cluster = load_lattice(cfg.lattice)
    hamiltonian = heisenberg_bonds(cluster, cfg.j2, cfg.j1)
    # the sign source (fixed-sign) or phase prior (full): a name, a sign-fit directory, or "fit";
    # a learned sign is refused when poor (unless forced), before any work when it is given
    source = cfg.sign_source if cfg.mode == "fixed-sign" else cfg.sign_prior
    sign_check = None if source in ("exact", "marshall", "none", "fit") else check_sign_fit(source, force_sign)
    ground = ground_state(cluster, cfg.j2, cfg.j1, method=cfg.ed_method, sector=cfg.sector)
    fit = _run_sign_fit(cfg, run, say, progress) if cfg.chains_sign_fit else None
    if fit is not None:
        source = fit["out"]
        sign_check = check_sign_fit(source, force_sign)
    if sign_check is not None and sign_check["forced"]:
        say(f"warning: using the sign fit {source} below the quality bounds (--force-sign)")
    vstate = build_state(cfg, cluster, hamiltonian, ground, source)
    meta = checkpoint_meta(cfg)
    ckpt = out / CHECKPOINT
    start, seconds_before, guard_state, pretraining = 0, 0.0, None, None
    if main and not ckpt.exists() and not (out / PRETRAIN_CHECKPOINT).exists():
        run.start()
    if cfg.pretrain_eps:  # resumed (or reused when VMC has a checkpoint): its summary is wanted either way
        pretraining = _pretrain(cfg, run, ground, vstate, say, progress, main)
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
        n_iter=cfg.n_iter,
        lr=cfg.lr,
        diag_shift=cfg.diag_shift,
        diag_shift_final=cfg.diag_shift_final or None,
        lr_final=cfg.lr_final or None,
        start_step=start,
        log_prefix=out / "vmc",
        checkpoint=ckpt,
        checkpoint_every=cfg.checkpoint_every,
        meta=meta,
        timeout=cfg.timeout or None,
        show_progress=progress,
        seconds_before=seconds_before,
        guard_state=guard_state,
    )
    final = energy_report(vstate, hamiltonian, ground)
    peak = compare_peak(ground, vstate)  # S(q) at the exact peak, variational vs exact
    if main:
        run.log({"stage": "end", "step": result.steps, "status": result.status, **final})
    summary = {
        "task": "vmc",
        "lattice": cluster.name,
        "n_sites": cluster.n_sites,
        "j1": cfg.j1,
        "j2": cfg.j2,
        "convention": ground.info.convention,
        "model": cfg.model,
        "model_options": meta["model_options"],
        "mode": cfg.mode,
        "sign_source": meta["sign_source"],
        "sign_prior": meta["sign_prior"],
        "symmetrize": cfg.symmetrize,
        "sign_fit": fit,
        "sign_check": sign_check,
        "pretraining": pretraining,
        "structure_factor": peak,
        "n_params": n_params(vstate.parameters),
        "n_samples": cfg.n_samples if not cfg.exact else ground.dimension,
        "exact": cfg.exact,
        "n_iter": cfg.n_iter,
        "steps_done": result.steps,
        "resumed_from": start,
        "status": result.status,
        "sr_mode": result.sr_mode,
        "max_step": MAX_STEP,
        "restored_step": result.restored_step,
        "rejected_steps": result.rejected_steps,
        "seconds_per_iter": result.seconds_per_iter,
        # wall seconds of the optimisation steps behind the final state, over every invocation
        # (earlier ones up to their last checkpoint); "seconds" is this invocation alone
        "optimisation_seconds_total": seconds_before + result.seconds,
        **final,
        "devices": devices["devices"],
        "processes": devices["processes"],
        "platform": devices["platform"],
        "sharding": devices["sharding"],
        "ed_method": ground.info.method,
        "ed_sector": ground.info.sector,
        "seconds": time.perf_counter() - t0,
        "out": str(out),
    }
    if result.status == "timeout" or not main:
        return summary
    run.write_bytes(PARAMS, flax.serialization.to_bytes(jax.device_get(extract_replicated(vstate.variables))))
    try:
        plot_vmc_run(out, ed_energy=float(ground.energy), title=_title(cfg, cluster.name))
    except (FileNotFoundError, ValueError):  # no iteration logged (n_iter = 0)
        pass
    run.write_json(SUMMARY, summary)
    ckpt.unlink(missing_ok=True)  # a finished run is not resumed; params.msgpack holds its variables
    (out / PRETRAIN_CHECKPOINT).unlink(missing_ok=True)
    return summary


def build_state(cfg: FitConfig, cluster, hamiltonian, ground, source: str, *, n_samples: int | None = None):
    """The variational state a VMC configuration describes, at its initial parameters.

    Args:
        cfg: The VMC configuration.
        cluster, hamiltonian, ground: Its cluster, Hamiltonian and exact ground state.
        source: The sign source (fixed-sign) or phase prior (full): a name or a sign-fit run
            directory (a chained fit's ``<out>/sign-fit``), already checked.
        n_samples: Samples per expectation value instead of the configuration's.

    Returns:
        A NetKet ``MCState`` (``FullSumState`` with ``exact``).
    """
    sign, prior = None, None
    if cfg.mode == "fixed-sign":
        sign = sign_from_source(source, cluster, ground, force=True)
    else:
        prior = source if source in ("marshall", "none") else sign_from_source(source, cluster, force=True)
    dtype = jnp.float64 if cfg.dtype == "float64" else jnp.float32
    model = make_wavefunction(
        cluster,
        cfg.mode,
        sign,
        model=cfg.model,
        sign_prior=prior,
        param_dtype=dtype,
        symmetrize=cfg.symmetrize,
        sector=ground.info.sector,
        **model_options(cfg),
    )
    return make_state(
        hamiltonian,
        cluster,
        model,
        n_samples=n_samples or cfg.n_samples,
        n_chains=cfg.n_chains,
        chunk_size=cfg.chunk_size or None,
        seed=cfg.seed,
        exact=cfg.exact,
        readout_scale=None if cfg.model == "gcnn" else cfg.readout_scale,  # the G-CNN has no linear readout
    )


def load_vmc_state(run_dir: str | Path, *, n_samples: int | None = None):
    """A finished VMC run directory's final state: ``(cfg, ground, vstate)``.

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
    values = json.loads((path / CONFIG).read_text())
    values.pop("out", None)
    cfg = resolve(values)
    if cfg.task != "vmc":
        raise ValueError(f"{path} is a {cfg.task!r} run, not a VMC run")
    cluster = load_lattice(cfg.lattice)
    ground = ground_state(cluster, cfg.j2, cfg.j1, method=cfg.ed_method, sector=cfg.sector)
    source = cfg.sign_source if cfg.mode == "fixed-sign" else cfg.sign_prior
    if source == "fit":
        source = str(path / "sign-fit")
    vstate = build_state(cfg, cluster, heisenberg_bonds(cluster, cfg.j2, cfg.j1), ground, source, n_samples=n_samples)
    try:
        vstate.variables = flax.serialization.from_bytes(vstate.variables, (path / PARAMS).read_bytes())
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise ValueError(f"{path / PARAMS} does not fit the model of {path / CONFIG}: {err}") from None
    return cfg, ground, vstate


def _pretrain(
    cfg: FitConfig, run: RunDir, ground, vstate, say: Callable[[str], None], progress: bool, main: bool
) -> dict:
    """Fit the amplitude of ``vstate`` on ``pretrain_eps`` of the exact data (in place), resuming
    from (and checkpointing to) ``pretrain-checkpoint.msgpack``; its figures for ``summary.json``."""
    datasets = make_datasets(
        ground,
        eps=cfg.pretrain_eps,
        eps_relative_to=cfg.eps_relative_to,
        split="configurations",  # validation: a |psi|^2 sample of the whole space (amplitude module docstring)
        seed=cfg.seed,
        n_test=PRETRAIN_N_TEST,
    )
    fit = AmplitudeFit(
        vstate.model, vstate.parameters, datasets, lr=cfg.pretrain_lr, seed=cfg.seed, eval_every=PRETRAIN_EVAL_EVERY
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
        callbacks.append(FitProgressBar(cfg.pretrain_steps, desc="amplitude", key="val_loss"))
    fit.run(max(0, cfg.pretrain_steps - fit.step_count), callback=callbacks)
    result = fit.result()
    vstate.parameters = result.params
    say(
        f"amplitude fitted on {result.n_train:,} configurations (eps {cfg.pretrain_eps:g}): infidelity estimate "
        f"{result.infidelity_estimate:.3g} at step {result.best_step} ({result.seconds:.0f} s)"
    )
    return {k: v for k, v in result.to_json().items() if k != "history"} | {"eps": cfg.pretrain_eps}


def _run_sign_fit(cfg: FitConfig, run: RunDir, say: Callable[[str], None], progress: bool) -> dict:
    """Run (or reuse) the chained sign fit; its directory and test figures for ``summary.json``."""
    if jax.process_count() > 1:
        raise ValueError(
            "a chained sign fit (sign source or prior 'fit') runs in one process: run "
            "`nqs-dilated sign` first and pass its run directory"
        )
    from .sign_run import run_sign_fit

    sign_cfg = sign_fit_config(cfg, run.path)
    if not (run.path / CONFIG).exists():
        run.start()  # the directory holds this run before the fit writes into it
    say(f"sign fit at eps = {sign_cfg.eps:g} ({sign_cfg.eps_relative_to}) -> {sign_cfg.out}")
    s = run_sign_fit(sign_cfg, progress=progress)
    keys = (
        "out",
        "eps",
        "eps_relative_to",
        "n_train",
        "test_accuracy",
        "test_overlap",
        "marshall_test_overlap",
        "steps_run",
        "best_step",
        "seconds",
    )
    fit = {k: s.get(k) for k in keys}
    say(
        f"sign fit {'reused' if s.get('skipped') else 'done'}: test accuracy {s['test_accuracy']:.4f}, overlap "
        f"{s['test_overlap']:.4f} (Marshall sign {s['marshall_test_overlap']:.4f})"
    )
    return fit


def _title(cfg: FitConfig, lattice: str) -> str:
    sign = f", sign {Path(cfg.sign_source).name}" if cfg.mode == "fixed-sign" else ""
    return f"{lattice}, J2/J1 = {cfg.j2:g}, VMC {cfg.mode}{sign}, {cfg.model}, seed {cfg.seed}"
