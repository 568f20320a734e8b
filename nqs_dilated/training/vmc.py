"""Variational energy optimisation of the invariant dilated CNN with NetKet (VMC + SR).

``wave function (amplitude network x sign) -> MCState (MetropolisExchange, Sz conserved) ->
VMC_SR (SGD step, diagonal-shift schedule) -> energy, variance, R-hat, comparison with ED``.

The wave functions and states come from :mod:`nqs_dilated.training.wavefunction` (modes
``"full"`` and ``"fixed-sign"``); checkpoints and the step guard from
:mod:`nqs_dilated.training.vmc_checkpoint` and :mod:`nqs_dilated.training.callbacks`.

SR follows Sorella (1998); NetKet's ``VMC_SR`` switches automatically to the minSR / NTK form
(Chen & Heyl, Nat. Phys. 2024; Rende et al. 2024) when parameters outnumber samples
(``use_ntk=None``); :func:`optimise` runs it as :class:`~nqs_dilated.training.minsr.VMC_MinSR`
(dense Jacobian, Gram matrix by symmetric blocks) with the Jacobian in ``"real"`` mode in
fixed-sign mode. Local energies come from the Hamiltonian's kernel: with
:func:`nqs_dilated.hamiltonian.bonds.heisenberg_bonds` only anti-aligned bonds are evaluated.
Energies are in the Pauli convention (4x the S.S energy). Nothing here prints (NetKet itself
prints its automatic choices and an early stop).

Several devices: NetKet shards the Markov chains and the samples over all JAX devices whenever
there is more than one (``NETKET_SHARDING``, on by default since NetKet 3.17; a mesh with the
axis ``"S"`` is set when ``netket`` is imported, so the devices must exist by then): on CPU, for
tests, ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (or ``NETKET_EXPERIMENTAL_SHARDING_CPU=2``)
before Python starts; on GPUs, every visible GPU (``CUDA_VISIBLE_DEVICES``); over several processes
(nodes), ``jax.distributed.initialize()`` before ``netket`` is imported
(:func:`nqs_dilated.experiments.executors.execute_run_distributed`). The local-energy kernel and the
minSR step run per device (:mod:`~nqs_dilated.hamiltonian.bonds`, :mod:`~nqs_dilated.training.minsr`);
:func:`~nqs_dilated.training.wavefunction.make_state` needs ``n_chains`` to be a multiple of the device count. Files (checkpoints,
the JSON log) are written by process 0 alone; parameters are replicated on every device.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import netket as nk
import numpy as np
import optax

from .callbacks import StepGuard
from .minsr import VMC_MinSR
from .progress import EnergyProgressBar
from .vmc_checkpoint import VmcCheckpointer, truncate_json_log
from .wavefunction import TABLE_MAX_DIM, jacobian_mode_of

__all__ = [
    "MAX_STEP",
    "VMCResult",
    "energy_report",
    "exact_fidelity",
    "optimise",
    "psi_values",
]

#: Default bound on the Euclidean norm of one step's parameter change (:func:`optimise`).
MAX_STEP = 1.0


def _decay(start: float, end: float | None, n_iter: int):
    """``start`` (a constant) when ``end`` is None, else an exponential decay to ``end`` over
    ``n_iter`` steps (an optax schedule of the step)."""
    if end is None or n_iter == 0:
        return start
    return optax.exponential_decay(start, transition_steps=n_iter, decay_rate=end / start)


@dataclass
class VMCResult:
    """Outcome of :func:`optimise`: steps done, why it stopped, seconds, per-iteration time."""

    steps: int
    status: str  # "finished", "timeout" or "invalid_loss"
    seconds: float
    seconds_per_iter: float
    sr_mode: str
    restored_step: int | None = None
    """``invalid_loss``: the step whose parameters (last finite energy) the state was reset to."""
    rejected_steps: int = 0
    """Steps undone and retried smaller by the step guard."""


def optimise(
    hamiltonian,
    vstate,
    *,
    n_iter: int,
    lr: float = 0.02,
    diag_shift: float = 1e-2,
    diag_shift_final: float | None = None,
    lr_final: float | None = None,
    start_step: int = 0,
    log_prefix: str | Path | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 50,
    meta: dict | None = None,
    timeout: float | None = None,
    use_ntk: bool | None = None,
    jacobian_mode: str | None = None,
    max_step: float | None = MAX_STEP,
    guard_steps: bool = True,
    show_progress: bool = False,
    seconds_before: float = 0.0,
    guard_state: dict | None = None,
) -> VMCResult:
    """Run ``n_iter - start_step`` VMC_SR steps with an SGD step of size ``lr``.

    The diagonal shift decays exponentially from ``diag_shift`` to ``diag_shift_final`` over
    ``n_iter`` steps (constant when ``diag_shift_final`` is None), as an optax schedule of the
    driver's step count (so a resumed run continues the schedule); the SGD step likewise from
    ``lr`` to ``lr_final`` (constant when None), counted from step 0 of the run, resumed or not. The driver is
    :class:`~nqs_dilated.training.minsr.VMC_MinSR` (NetKet's ``VMC_SR`` with a cheaper Gram
    matrix); ``use_ntk=None`` lets NetKet choose minSR (NTK) when parameters outnumber samples.
    ``jacobian_mode=None`` takes :func:`jacobian_mode_of` the model: ``"real"`` in fixed-sign
    mode (the phase is a constant ``0`` or ``pi`` per configuration, so only ``Re log psi`` has a
    gradient and the NTK is ``N_s x N_s`` instead of ``2 N_s x 2 N_s``: the same update at a
    quarter of the cost), ``"complex"`` otherwise. Metrics go to NetKet's ``JsonLog``
    (``log_prefix + ".log"``); checkpoints to ``checkpoint``. Stops early on a non-finite energy
    (``InvalidLossStopping``) or after ``timeout`` seconds (``Timeout``).

    Step control: ``max_step`` bounds the Euclidean norm of one step's parameter change
    (``optax.clip_by_global_norm(max_step)`` on the SGD update, i.e. ``max_step / lr`` on the SR direction; default
    :data:`MAX_STEP`, None: no bound). The minSR direction ``O^T (O O^T + lambda)^-1 dv`` grows
    with the spread of the local energies (``dv``) and, through the small eigenvalues of the Gram
    matrix, as the diagonal shift ``lambda`` decays; one outsized step makes the state so peaked
    that the next local energies overflow (NaN, in float32 first) or every Metropolis chain
    freezes on one configuration (zero variance, zero gradient: the run never moves again). On
    4x4 at J2 = 1 with 128 samples, ``lambda = 1e-3`` and ``lr = 0.05`` both happen within 15
    steps without the bound and neither with it (``tests/test_vmc.py``). The bound does not
    suffice on 4x6 in full mode (a step of norm < 1 froze the state at J2 = 1), so
    ``guard_steps`` (default True) also undoes a step after which the energy rose by more than
    :data:`~nqs_dilated.training.callbacks.GUARD_ENERGY_Z` standard errors, its variance grew more than
    :data:`~nqs_dilated.training.callbacks.GUARD_VARIANCE_RATIO`-fold or it became non-finite, and retries it smaller
    (:class:`~nqs_dilated.training.callbacks.StepGuard`; ``VMCResult.rejected_steps``); a run that still ends on a non-finite
    energy is reset to the parameters of the last step with a finite one
    (``VMCResult.restored_step``). ``seconds_before``: wall seconds of the ``start_step`` steps
    already done (from :func:`checkpoint_seconds`), added to the time stored in new checkpoints.
    Resuming (``start_step > 0``) appends to the JSON log after dropping its iterations
    ``>= start_step`` (:func:`truncate_json_log`: logged by a run killed after its checkpoint);
    ``guard_state`` (:func:`checkpoint_guard`) restores the step guard of the checkpoint, so that
    with the chains :func:`load_checkpoint` restored the resumed run repeats the uninterrupted one.

    Returns:
        :class:`VMCResult`.

    Raises:
        ValueError: non-positive ``lr``, ``lr_final``, ``diag_shift`` or ``max_step``; ``n_iter`` <
            ``start_step``; unknown ``jacobian_mode``.
    """
    if not (lr > 0 and math.isfinite(lr)) or (lr_final is not None and not (lr_final > 0 and math.isfinite(lr_final))):
        raise ValueError(f"lr must be positive, got {lr}, {lr_final}")
    if not diag_shift > 0 or (diag_shift_final is not None and not diag_shift_final > 0):
        raise ValueError(f"diag_shift must be positive, got {diag_shift}, {diag_shift_final}")
    if n_iter < start_step:
        raise ValueError(f"n_iter = {n_iter} < {start_step} steps already done")
    if max_step is not None and not (max_step > 0 and math.isfinite(max_step)):
        raise ValueError(f"max_step must be positive (or None), got {max_step}")
    if jacobian_mode is None:
        jacobian_mode = jacobian_mode_of(vstate.model)
    elif jacobian_mode not in ("real", "complex"):
        raise ValueError(f"jacobian_mode must be 'real', 'complex' or None, got {jacobian_mode!r}")
    schedule = _decay(diag_shift, diag_shift_final, n_iter)
    lr_schedule = _decay(lr, lr_final, n_iter)  # of the driver's step count, like the diagonal shift
    # optax counts the updates of this run only: shift its count by the steps already done
    optimizer = optax.sgd((lambda k: lr_schedule(k + start_step)) if callable(lr_schedule) else lr)
    if max_step is not None:
        optimizer = optax.chain(optimizer, optax.clip_by_global_norm(max_step))
    if isinstance(vstate, nk.vqs.FullSumState):
        driver = nk.driver.VMC(
            hamiltonian,
            optimizer,
            variational_state=vstate,
            preconditioner=nk.optimizer.SR(diag_shift=schedule, holomorphic=False),
        )
        sr_mode = "SR (full sum)"
    else:
        driver = VMC_MinSR(
            hamiltonian,
            optimizer,
            diag_shift=schedule,
            variational_state=vstate,
            use_ntk=use_ntk,
            mode=jacobian_mode,
            on_the_fly=False,
        )
        sr_mode = "minSR/NTK" if getattr(driver, "use_ntk", False) else "SR"
    driver._step_count = int(start_step)
    guard = StepGuard(max_step, lr_schedule) if guard_steps else None
    if guard is not None and guard_state is not None:
        guard.restore(guard_state, vstate)
    callbacks = [nk.callbacks.InvalidLossStopping()] + ([guard] if guard is not None else [])
    if timeout:
        callbacks.append(nk.callbacks.Timeout(timeout))
    if show_progress:  # NetKet's own bar shows the complex mean (-44.849-0.000j): ours its real part
        callbacks.append(EnergyProgressBar(n_iter))  # resumed: continues at start_step
    if checkpoint is not None:
        callbacks.insert(0, VmcCheckpointer(Path(checkpoint), meta or {}, checkpoint_every, seconds_before, guard))
    loggers = []
    if log_prefix is not None:
        mode = "append" if start_step > 0 else "write"
        if start_step > 0:  # iterations logged after the checkpoint would come again
            truncate_json_log(f"{log_prefix}.log", start_step)
        loggers.append(nk.logging.JsonLog(str(log_prefix), mode, save_params=False, write_every=1))
    n = n_iter - start_step
    t0 = time.perf_counter()
    if n > 0:
        driver.run(n, out=loggers, callback=callbacks, show_progress=False)
    for log in loggers:
        log.flush(driver.state)
    seconds = time.perf_counter() - t0
    steps = driver.step_count
    energy = driver._loss_stats.mean if driver._loss_stats is not None else 0.0
    if not np.isfinite(np.real(energy)):
        status = "invalid_loss"
    elif steps < n_iter:
        status = "timeout"
    else:
        status = "finished"
    return VMCResult(
        steps,
        status,
        seconds,
        seconds / max(steps - start_step, 1),
        sr_mode,
        restored_step=guard.restored_step if guard is not None else None,
        rejected_steps=guard.rejected if guard is not None else 0,
    )


# ---------------------------------------------------------------- comparison with ED


def psi_values(vstate, configs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """``psi(x)`` of ``vstate`` on ``configs`` ``(M, N)``, complex128 ``(M,)``, unnormalised
    (scaled so that the largest ``|psi|`` is 1); ``log psi`` is evaluated in chunks of ``chunk``."""
    logs = np.concatenate(
        [np.asarray(vstate.log_value(jnp.asarray(configs[i : i + chunk]))) for i in range(0, len(configs), chunk)]
    )
    return np.exp((logs - np.max(logs.real)).astype(np.complex128))


def exact_fidelity(vstate, ground, chunk: int = 65536) -> float:
    """``|<psi_var|psi_ED>|^2 / (<psi_var|psi_var> <psi_ED|psi_ED>)`` over the whole Sz = 0 space.

    ``log psi`` is evaluated on :meth:`GroundState.enumerate` configurations in chunks
    (:func:`psi_values`; no ``to_array`` of the full Hilbert space needed). Raises ``MemoryError``
    on 36 sites.
    """
    configs, amps = ground.enumerate()
    psi = psi_values(vstate, configs, chunk)
    overlap = np.vdot(psi, amps)
    return float(np.abs(overlap) ** 2 / (np.vdot(psi, psi).real * np.dot(amps, amps)))


def energy_report(vstate, hamiltonian, ground=None, *, fidelity: bool = True) -> dict:
    """Energy of ``vstate`` (fresh samples) and its comparison with the exact ground state.

    Returns:
        ``energy``, ``energy_error``, ``variance``, ``r_hat`` (NaN for a full-sum state),
        ``energy_per_site``; with ``ground``: ``ed_energy``, ``relative_error``
        ``|E_var - E_ED| / |E_ED|`` and, on enumerable clusters with ``fidelity``, ``fidelity``.
    """
    if isinstance(vstate, nk.vqs.MCState):
        vstate.reset()
    stats = vstate.expect(hamiltonian)
    n = hamiltonian.hilbert.size
    out = {
        "energy": float(np.real(stats.mean)),
        "energy_error": float(stats.error_of_mean),
        "variance": float(stats.variance),
        "r_hat": float(getattr(stats, "R_hat", float("nan"))),
        "energy_per_site": float(np.real(stats.mean)) / n,
    }
    if ground is not None:
        out["ed_energy"] = float(ground.energy)
        out["relative_error"] = abs(out["energy"] - ground.energy) / abs(ground.energy)
        if fidelity and ground.enumerable and ground.dimension <= TABLE_MAX_DIM:
            out["fidelity"] = exact_fidelity(vstate, ground)
    return out
