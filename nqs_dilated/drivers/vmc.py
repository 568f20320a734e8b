"""Variational energy optimisation of the invariant dilated CNN with NetKet (VMC + SR).

``wave function (amplitude network x sign) -> MCState (MetropolisExchange, Sz conserved) ->
VMC_SR (SGD step, diagonal-shift schedule) -> energy, variance, R-hat, comparison with ED``.

Modes (:func:`make_wavefunction`):

* ``"full"``: the dilated CNN with the complex ``log_psi`` head (log-amplitude and phase from real
  parameters) learns amplitude and sign together; its phase is added to a Marshall-sign prior
  (``sign_prior="marshall"``, default) so the start is far from the uniform (ferromagnetic) state.
* ``"fixed-sign"``: the CNN gives the real log-amplitude (a one-logit ``"sign"`` head used as one
  real output) and the sign comes from a source (:func:`make_sign`): ``"exact"`` (exact ground
  state: sorted bit-code table on <= 24 sites, host callback beyond), ``"marshall"``, or the run
  directory of a supervised sign fit (``python -m nqs_dilated.fit``).

In both modes the readout kernel is redrawn with standard deviation ``readout_scale`` (default 1)
so ``log|psi|`` varies at the start (:func:`nqs_dilated.models.wavefunction.reinit_readout`).

SR follows Sorella (1998); NetKet's ``VMC_SR`` switches automatically to the minSR / NTK form
(Chen & Heyl, Nat. Phys. 2024; Rende et al. 2024) when parameters outnumber samples
(``use_ntk=None``); :func:`optimise` runs it as :class:`~nqs_dilated.drivers.minsr.VMC_MinSR`
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
(:func:`nqs_dilated.drivers.executors.execute_run_distributed`). The local-energy kernel and the
minSR step run per device (:mod:`~nqs_dilated.hamiltonian.bonds`, :mod:`~nqs_dilated.drivers.minsr`);
:func:`make_state` needs ``n_chains`` to be a multiple of the device count. Files (checkpoints,
the JSON log) are written by process 0 alone; parameters are replicated on every device.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
from netket.jax.sharding import extract_replicated
from netket.utils import struct

from ..config import check_vmc_model
from ..files import write_atomic
from ..lattice import Cluster
from ..models import make_model
from ..models.wavefunction import (
    CallbackSign,
    MarshallSign,
    NetworkSign,
    SignedLogPsi,
    TableSign,
    freeze_params,
    reinit_readout,
    sector_projection,
)
from .minsr import VMC_MinSR
from .progress import EnergyProgressBar

__all__ = [
    "MIN_SIGN_OVERLAP",
    "SIGN_MARGIN",
    "SignQualityError",
    "check_sign_fit",
    "checkpoint_guard",
    "checkpoint_seconds",
    "device_info",
    "GUARD_ENERGY_Z",
    "GUARD_MAX_REJECTIONS",
    "GUARD_VARIANCE_RATIO",
    "MAX_STEP",
    "MODES",
    "CheckpointError",
    "VMCResult",
    "energy_report",
    "exact_fidelity",
    "jacobian_mode_of",
    "load_checkpoint",
    "make_sign",
    "make_state",
    "make_wavefunction",
    "optimise",
    "save_checkpoint",
    "truncate_json_log",
]

#: VMC modes.
MODES = ("full", "fixed-sign")
#: Named sign sources (anything else must be a run directory of a sign fit).
SIGN_SOURCES = ("exact", "marshall")
#: Largest Sz = 0 dimension for which the exact sign is a lookup table (above: host callback).
TABLE_MAX_DIM = 3_000_000
#: Default bound on the Euclidean norm of one step's parameter change (:func:`optimise`).
MAX_STEP = 1.0


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unreadable, or written for another model / configuration."""


#: A learned sign whose test overlap lies below this is refused as a fixed sign or phase prior
#: (its wrongly signed |psi|^2 weight, (1 - overlap) / 2, would exceed a quarter).
MIN_SIGN_OVERLAP = 0.5
#: ... and so is one whose test overlap lies below the Marshall sign rule's on the same test set
#: by more than this.
SIGN_MARGIN = 0.01


class SignQualityError(ValueError):
    """A learned sign too poor to fix the sign (or seed the phase) of a VMC state."""


def check_sign_fit(path: str | Path, force: bool = False) -> dict:
    """Check that a finished sign fit is good enough to serve as a VMC sign.

    The fit's test overlap (``summary.json``) must reach :data:`MIN_SIGN_OVERLAP` and must not lie
    below the Marshall sign rule's overlap on the same test set by more than :data:`SIGN_MARGIN`:
    a fixed sign with more wrongly signed weight than the Marshall rule gives a worse energy than
    the Marshall rule, and the VMC run would report a meaningless error.

    Args:
        path: The sign fit's run directory.
        force: Return instead of raising when the fit is below a bound (``"forced": True``).

    Returns:
        ``{"test_overlap", "marshall_test_overlap", "split", "forced"}`` of the fit.

    Raises:
        SignQualityError: the fit is below either bound and not ``force`` (one line naming both
            figures and the fix).
        ValueError: no ``summary.json`` (an unfinished fit).
    """
    path = Path(path)
    summary_file = path / "summary.json"
    if not path.is_dir():
        raise ValueError(
            f"unknown sign source {str(path)!r}: use exact, marshall, fit or the run directory of a finished sign fit"
        )
    if not summary_file.is_file():
        raise ValueError(f"sign fit {path} is not finished (no summary.json); rerun it to completion first")
    s = json.loads(summary_file.read_text())
    overlap, marshall = float(s["test_overlap"]), float(s["marshall_test_overlap"])
    poor = overlap < MIN_SIGN_OVERLAP or overlap < marshall - SIGN_MARGIN
    figures = {
        "test_overlap": overlap,
        "marshall_test_overlap": marshall,
        "split": s.get("split", "configurations"),
        "forced": bool(poor and force),
    }
    if poor and not force:
        bound = (
            f"the Marshall sign rule's {marshall:.3f} on the same test set"
            if overlap < marshall - SIGN_MARGIN
            else f"the minimum {MIN_SIGN_OVERLAP}"
        )
        raise SignQualityError(
            f"sign fit {path} has test overlap {overlap:.3f}, below {bound} ({(1 - overlap) / 2:.0%} of the "
            "|psi|^2 weight wrongly signed): refit it (more data or steps), use --sign-source marshall, or pass "
            "--force-sign to use it anyway"
        )
    return figures


def make_sign(source: str, cluster: Cluster, ground=None, *, force: bool = False):
    """The fixed sign function named by ``source``.

    Args:
        source: ``"exact"`` (needs ``ground``), ``"marshall"``, or the path of a finished sign-fit
            run directory (``config.json`` + ``params.msgpack`` of ``python -m nqs_dilated.fit``).
        cluster: The cluster (grid for Marshall, geometry for a sign network).
        ground: The exact :class:`~nqs_dilated.ed.state.GroundState` (``"exact"`` only).
        force: Use a sign fit even when :func:`check_sign_fit` refuses it.

    Returns:
        A parameter-free Flax module returning ±1 (``MarshallSign``, ``TableSign``,
        ``CallbackSign`` or ``NetworkSign``).

    Raises:
        ValueError: unknown source (neither a name in :data:`SIGN_SOURCES` nor a run directory),
            ``"exact"`` without ``ground``; a run directory that is unfinished (no
            ``summary.json``), of another task or cluster, or whose parameters do not fit its model.
        SignQualityError: a sign fit below the bounds of :func:`check_sign_fit` (unless ``force``).
    """
    if source == "marshall":
        return MarshallSign.from_grid(cluster.grid)
    if source == "exact":
        if ground is None:
            raise ValueError("sign source 'exact' needs the exact ground state (ground=...)")
        if ground.enumerable and ground.dimension <= TABLE_MAX_DIM:
            codes, amps = ground.enumerate_codes()
            return TableSign.from_arrays(codes, np.sign(amps))
        return CallbackSign(fn=ground.sign)
    return _network_sign(Path(source), cluster, force)


def _network_sign(path: Path, cluster: Cluster, force: bool = False):
    from ..config import ConfigError, resolve
    from .options import model_options

    cfg_file, params_file = path / "config.json", path / "params.msgpack"
    if not (path.is_dir() and cfg_file.is_file() and params_file.is_file()):
        raise ValueError(
            f"unknown sign source {str(path)!r}: use one of {SIGN_SOURCES} or the run directory of a "
            "finished sign fit (with config.json and params.msgpack)"
        )
    values = json.loads(cfg_file.read_text())
    values.pop("out", None)
    try:
        cfg = resolve(values)
    except ConfigError as err:
        raise ValueError(f"{cfg_file}: {err}") from None
    if cfg.task != "sign":
        raise ValueError(f"{path} is a {cfg.task!r} run, not a sign fit")
    from ..lattice import load_lattice

    if load_lattice(cfg.lattice).content_hash != cluster.content_hash:
        raise ValueError(f"{path} was fitted on {cfg.lattice}, not on {cluster.name}")
    network = make_model(cfg.model, cluster, **model_options(cfg))
    x0 = jnp.ones((1, cluster.n_sites), jnp.int8)
    target = jax.eval_shape(network.init, jax.random.key(0), x0)
    try:
        params = flax.serialization.from_bytes(target, params_file.read_bytes())
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise ValueError(f"{params_file} does not match the model in {cfg_file}: {err}") from None
    # from_bytes keeps the stored arrays whatever their shapes: compare them with the model's
    shapes = jax.tree_util.tree_map(lambda t, a: tuple(t.shape) == tuple(np.shape(a)), target, params)
    if not all(jax.tree_util.tree_leaves(shapes)):
        raise ValueError(f"{params_file} does not match the model in {cfg_file} (parameter shapes differ)")
    check_sign_fit(path, force)
    return NetworkSign(network=network, frozen=freeze_params(params))


def make_wavefunction(
    cluster: Cluster,
    mode: str,
    sign=None,
    *,
    model: str = "dilated",
    sign_prior="marshall",
    param_dtype: Any = jnp.float64,
    symmetrize: bool = False,
    sector: str | None = None,
    **model_opts,
):
    """The variational wave function ``log psi`` for :class:`netket.vqs.MCState`.

    Args:
        cluster: The cluster.
        mode: ``"full"`` or ``"fixed-sign"`` (module docstring).
        sign: ``"fixed-sign"``: the sign module (:func:`make_sign`); ignored in ``"full"`` mode.
        model: ``"dilated"``, ``"cnn"`` (default ``"dilated"``), or ``"gcnn"`` in ``"fixed-sign"``
            mode: NetKet's G-CNN on the space group (:class:`~nqs_dilated.models.gcnn.SymmetricGCNN`,
            option ``features``), invariant like the ``|psi|`` of any one-dimensional sector.
        sign_prior: ``"full"`` mode: ``"marshall"`` (phase prior, default), ``"none"``, or a sign
            module (:func:`make_sign`, e.g. a fitted sign network) whose sign is the prior.
        param_dtype: Parameter dtype (default float64).
        symmetrize: Project onto a zero-momentum sector with the point group and spin inversion
            (:func:`~nqs_dilated.models.wavefunction.sector_projection`; ``2|P|`` network
            evaluations per configuration). ``"fixed-sign"``: the log-amplitude, with trivial
            characters (``|psi|`` of a ground state in a 1D irrep is invariant); ``"full"``: the
            whole ``log psi``, with the characters of ``sector``.
        sector: ``"full"`` mode with ``symmetrize``: the sector label, e.g. ``"A2+"`` (the exact
            ground state's, ``GroundState.info.sector``).
        **model_opts: Options of the CNN (``channels``, ``kernel_size``, ``dilations``, ``residual``).

    Returns:
        A :class:`SignedLogPsi`, or its projection (``symmetrize`` in ``"full"`` mode).

    Raises:
        ValueError: unknown mode, model or prior; fixed-sign without a sign; full mode with
            ``symmetrize`` but no sector; ``"gcnn"`` in full mode or with ``symmetrize`` (an
            invariant network needs no projection, and cannot carry the phase of a sector with
            non-trivial characters); invalid model options.
        SymmetryError: ``sector`` is not a zero-momentum sector of the cluster.
    """
    if mode not in MODES:
        raise ValueError(f"unknown VMC mode {mode!r}; use one of {MODES}")
    check_vmc_model(model, mode, symmetrize)
    if mode == "full":
        if isinstance(sign_prior, str) and sign_prior not in ("marshall", "none"):
            raise ValueError(f"unknown sign prior {sign_prior!r}; use 'marshall', 'none' or a sign module (make_sign)")
        if symmetrize and sector is None:
            raise ValueError("symmetrize in full mode needs the sector to project onto (e.g. sector='A1+')")
        net = make_model(model, cluster, head="log_psi", param_dtype=param_dtype, **model_opts)
        if sign_prior == "marshall":
            prior = MarshallSign.from_grid(cluster.grid)
        else:
            prior = None if sign_prior == "none" else sign_prior
        wavefunction = SignedLogPsi(amplitude=net, sign=prior)
        return sector_projection(wavefunction, cluster, sector) if symmetrize else wavefunction
    if sign is None:
        raise ValueError("fixed-sign mode needs a sign function (make_sign)")
    net = make_model(model, cluster, head="sign", sign_logits=1, param_dtype=param_dtype, **model_opts)
    if symmetrize:
        net = sector_projection(net, cluster)
    return SignedLogPsi(amplitude=net, sign=sign)


def make_state(
    hamiltonian,
    cluster: Cluster,
    model,
    *,
    n_samples: int = 1024,
    n_chains: int = 16,
    n_discard_per_chain: int | None = None,
    chunk_size: int | None = None,
    seed: int = 0,
    exact: bool = False,
    readout_scale: float | None = 1.0,
):
    """An :class:`~netket.vqs.MCState` with Metropolis exchange moves along the cluster's bonds.

    Exchange moves keep the total Sz (the Hilbert space is Sz = 0). With ``exact=True`` a
    :class:`~netket.vqs.FullSumState` over the whole Sz = 0 space instead (debugging, <= 24 sites).

    With several JAX devices (NetKet's sharding, module docstring) the chains are split evenly
    over them: ``n_chains / devices`` chains and ``n_samples / devices`` samples per device.

    Raises:
        ValueError: ``n_samples`` or ``n_chains`` not positive, ``n_samples`` not a multiple of
            ``n_chains``, ``n_chains`` not a multiple of the device count (sharded sampling),
            ``exact`` on a space too large to sum.
    """
    if n_chains <= 0 or n_samples <= 0:
        raise ValueError(f"n_samples and n_chains must be positive, got {n_samples}, {n_chains}")
    info = device_info()
    devices = info["devices"] if info["sharding"] else 1
    if not exact and n_chains % devices:
        raise ValueError(
            f"n_chains = {n_chains} is not a multiple of the {devices} JAX devices the samples are sharded over; "
            f"use e.g. n_chains = {math.ceil(n_chains / devices) * devices}"
        )
    if n_samples % n_chains:
        raise ValueError(
            f"n_samples = {n_samples} is not a multiple of n_chains = {n_chains}; every chain gives "
            f"the same number of samples: use e.g. n_samples = {math.ceil(n_samples / n_chains) * n_chains}"
        )
    hilbert = hamiltonian.hilbert
    if exact:
        if hilbert.n_states > TABLE_MAX_DIM:
            raise ValueError(
                f"exact (full-sum) mode needs <= {TABLE_MAX_DIM:,} states, the space has {hilbert.n_states:,}"
            )
        vstate = nk.vqs.FullSumState(hilbert, model, chunk_size=chunk_size, seed=seed)
    else:
        sampler = nk.sampler.MetropolisExchange(hilbert, graph=cluster.graph, n_chains=n_chains)
        vstate = nk.vqs.MCState(
            sampler,
            model,
            n_samples=n_samples,
            n_discard_per_chain=n_discard_per_chain,
            chunk_size=chunk_size,
            seed=seed,
            sampler_seed=seed + 1,
        )
    if readout_scale is not None:
        vstate.parameters = reinit_readout(vstate.parameters, jax.random.key(seed + 2), readout_scale)
    return vstate


def device_info() -> dict:
    """The devices NetKet shards the samples over: ``{"devices": jax.device_count(), "processes":
    jax.process_count(), "sharding": bool}`` (``sharding``: NetKet's ``NETKET_SHARDING`` is on and
    there is more than one device), ``"platform"`` (``"cpu"``, ``"gpu"``, ...)."""
    n = jax.device_count()
    return {
        "devices": n,
        "processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "sharding": bool(nk.config.netket_sharding) and n > 1,
    }


# ---------------------------------------------------------------- checkpoints


def _sampler_state_dict(vstate) -> dict | None:
    """The Markov chains and RNG key of an ``MCState`` as a state dict (``None`` for a full-sum
    state, or over several processes, where the chains are split between processes)."""
    if not isinstance(vstate, nk.vqs.MCState) or jax.process_count() > 1:
        return None
    return jax.device_get(flax.serialization.to_state_dict(vstate.sampler_state))


def save_checkpoint(
    path: str | Path, vstate, step: int, meta: dict, seconds: float = 0.0, guard: dict | None = None
) -> None:
    """Write ``{step, seconds, meta, variables, sampler_state, guard}`` (flax msgpack) atomically.

    ``step`` is the number of completed optimisation steps; ``seconds`` the wall seconds those
    steps took, over every invocation (read back by :func:`checkpoint_seconds`); ``meta`` a
    JSON-able description of the model and configuration, checked on :func:`load_checkpoint`;
    ``sampler_state`` the Markov chains and the sampler's RNG key after the last step (one
    process); ``guard`` the step guard's state (:meth:`_StepGuard.state_dict`). With them a
    resumed run continues the uninterrupted one exactly (the optimiser is plain SGD on a schedule
    of the step, the diagonal shift a schedule of the step). Over several processes every process
    must call it (the variables are replicated: each takes its local copy) and process 0 writes.
    """
    variables = jax.device_get(extract_replicated(vstate.variables))
    sampler = _sampler_state_dict(vstate)
    if jax.process_index() != 0:
        return
    payload = {
        "step": int(step),
        "seconds": float(seconds),
        "meta": json.dumps(meta, sort_keys=True),
        "variables": flax.serialization.to_state_dict(variables),
    }
    if sampler is not None:
        payload["sampler_state"] = sampler
    if guard is not None:
        payload["guard"] = guard
    write_atomic(Path(path), flax.serialization.msgpack_serialize(payload))


def truncate_json_log(path: str | Path, step: int) -> int:
    """Drop the iterations ``>= step`` from a NetKet ``JsonLog`` file, atomically (process 0).

    A run killed after its checkpoint at ``step`` completed steps has logged iterations past it;
    resuming from the checkpoint logs them again, so they are removed first. Every history (a
    JSON object with an ``"iters"`` list, at any depth) keeps the entries whose iteration is
    below ``step``, in each of its lists of the same length (nested ``real``/``imag`` too).

    Returns:
        The number of entries of ``"iters"`` lists removed (0 when the file does not exist).

    Raises:
        ValueError: the file is not a JSON object.
    """
    path = Path(path)
    if not path.exists() or jax.process_index() != 0:
        return 0
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a NetKet JSON log: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a NetKet JSON log (not a JSON object)")
    removed = 0

    def cut(node, keep=None):
        nonlocal removed
        if isinstance(node, dict):
            iters = node.get("iters")
            if isinstance(iters, list):
                keep = [i < step for i in iters]
                removed += keep.count(False)
            return {k: cut(v, keep) for k, v in node.items()}
        if isinstance(node, list) and keep is not None and len(node) == len(keep):
            return [v for v, k in zip(node, keep) if k]
        return node

    data = cut(data)
    if removed:
        write_atomic(path, json.dumps(data))
    return removed


def _read_checkpoint(path: Path) -> dict:
    try:
        return flax.serialization.msgpack_restore(path.read_bytes())
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None


def checkpoint_seconds(path: str | Path) -> float:
    """Wall seconds of the optimisation steps stored in a checkpoint (0 for checkpoints written
    before this was recorded).

    Raises:
        CheckpointError: unreadable file.
    """
    return float(_read_checkpoint(Path(path)).get("seconds", 0.0))


def checkpoint_guard(path: str | Path) -> dict | None:
    """The step guard's state stored in a checkpoint (``None`` when it holds none).

    Raises:
        CheckpointError: unreadable file.
    """
    return _read_checkpoint(Path(path)).get("guard")


def load_checkpoint(path: str | Path, vstate, meta: dict) -> int:
    """Restore ``vstate.variables`` (and, where stored, its Markov chains and sampler RNG key)
    from ``path``; returns the number of completed steps.

    Raises:
        CheckpointError: unreadable file, different ``meta`` (another model or configuration),
            or variables whose structure or shapes do not match ``vstate``'s model.
    """
    path = Path(path)
    payload = _read_checkpoint(path)
    stored = json.loads(payload.get("meta", "{}"))
    if stored != json.loads(json.dumps(meta, sort_keys=True)):
        diff = sorted(k for k in set(stored) | set(meta) if stored.get(k) != meta.get(k))
        raise CheckpointError(f"checkpoint {path} was written for a different model/configuration (differs in {diff})")
    target = vstate.variables
    try:
        variables = flax.serialization.from_state_dict(target, payload["variables"])
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"checkpoint {path} does not match the model: {err}") from None
    same = jax.tree_util.tree_map(lambda a, b: np.shape(a) == np.shape(b), target, variables)
    if not all(jax.tree_util.tree_leaves(same)):
        raise CheckpointError(f"checkpoint {path} does not match the model (parameter shapes differ)")
    vstate.variables = jax.tree_util.tree_map(lambda a, b: jnp.asarray(b, dtype=a.dtype), target, variables)
    stored_sampler = payload.get("sampler_state")
    if stored_sampler is not None and _sampler_state_dict(vstate) is not None:
        current = vstate.sampler_state
        try:
            restored = flax.serialization.from_state_dict(current, stored_sampler)
            same = jax.tree_util.tree_map(lambda a, b: np.shape(a) == np.shape(b), current, restored)
            if not all(jax.tree_util.tree_leaves(same)):
                raise ValueError("shapes differ")
        except Exception as err:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {path}: its sampler state does not fit the sampler ({err})") from None
        vstate.sampler_state = jax.tree_util.tree_map(
            lambda a, b: jax.device_put(jnp.asarray(b, dtype=a.dtype), getattr(a, "sharding", None)), current, restored
        )
    return int(payload["step"])


class _Checkpointer(nk.callbacks.AbstractCallback, mutable=True):
    """Save a checkpoint every ``every`` completed steps and at the end of the run (finite loss only)."""

    path: Path = struct.field(pytree_node=False)
    meta: dict = struct.field(pytree_node=False)
    every: int = struct.field(pytree_node=False)
    seconds_before: float = struct.field(pytree_node=False, default=0.0)
    t0: float = struct.field(pytree_node=False, serialize=False, default=0.0)
    last_finite: bool = struct.field(pytree_node=False, serialize=False, default=True)

    guard: Any = struct.field(pytree_node=False, serialize=False, default=None)

    def __init__(self, path: Path, meta: dict, every: int, seconds_before: float = 0.0, guard=None):
        self.path, self.meta, self.every = path, meta, every
        self.seconds_before = float(seconds_before)
        self.t0 = time.perf_counter()
        self.last_finite = True
        self.guard = guard

    def _save(self, driver, done: int) -> None:
        guard = self.guard.state_dict() if self.guard is not None else None
        save_checkpoint(self.path, driver.state, done, self.meta, self._seconds(), guard=guard)

    def _seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.t0

    def on_step_end(self, step, log_data, driver):
        stats = driver._loss_stats
        self.last_finite = stats is None or bool(np.all(np.isfinite(np.real(stats.mean))))
        done = driver.step_count + 1
        if self.every > 0 and done % self.every == 0 and self.last_finite:
            self._save(driver, done)

    def on_run_end(self, step, driver):
        if self.last_finite:
            self._save(driver, driver.step_count)


#: Step guard (:func:`optimise`): a step is rejected when the energy rises by more than
#: ``GUARD_ENERGY_Z`` combined standard errors or the variance grows more than ``GUARD_VARIANCE_RATIO``-fold
#: from one step to the next (never seen in a healthy 4x6 run: at most 3.6 and 2.4).
GUARD_ENERGY_Z = 5.0
GUARD_VARIANCE_RATIO = 100.0
#: Consecutive rejections before a step is taken anyway; each one quarters the step.
GUARD_MAX_REJECTIONS = 4


def _finite(stats) -> bool:
    return stats is not None and bool(np.all(np.isfinite(np.real(stats.mean)))) and bool(np.isfinite(stats.variance))


class _StepGuard(nk.callbacks.AbstractCallback, mutable=True):
    """Undo a step that made the state blow up and retry it smaller; reset a run that ends on a
    non-finite energy to its last good parameters.

    NetKet measures the energy of the parameters each update produced. If it is non-finite, rose
    by more than :data:`GUARD_ENERGY_Z` combined standard errors, or its variance grew more than
    :data:`GUARD_VARIANCE_RATIO`-fold, the previous parameters and Markov chains are put back and
    the attempt is rejected: NetKet samples the previous parameters again and computes a new
    update, which is scaled by 1/4 per rejection (after the ``clip_norm`` clip) and the scale
    doubles back to 1 over the following steps. Only if the restored parameters themselves fail
    the test :data:`GUARD_MAX_REJECTIONS` times in a row is an attempt accepted as it is (a
    non-finite energy then stops the run through ``InvalidLossStopping``).
    """

    prev_parameters: Any = struct.field(pytree_node=False, serialize=False, default=None)
    prev_stats: Any = struct.field(pytree_node=False, serialize=False, default=None)
    prev_step: int = struct.field(pytree_node=False, serialize=False, default=-1)
    prev_sampler_state: Any = struct.field(pytree_node=False, serialize=False, default=None)
    scale: float = struct.field(pytree_node=False, serialize=False, default=1.0)
    in_a_row: int = struct.field(pytree_node=False, serialize=False, default=0)
    rejected: int = struct.field(pytree_node=False, serialize=False, default=0)
    restored_step: Any = struct.field(pytree_node=False, serialize=False, default=None)
    max_step: Any = struct.field(pytree_node=False, serialize=False, default=None)
    lr: Any = struct.field(pytree_node=False, serialize=False, default=None)

    def __init__(self, max_step: float | None = None, lr=None):
        # the optimiser's clip (update norm <= max_step, i.e. direction norm <= max_step / lr(step)),
        # applied here before the scale; lr: a number or an optax schedule of the step
        self.max_step, self.lr = max_step, lr
        self.prev_parameters, self.prev_stats, self.prev_step, self.prev_sampler_state = None, None, -1, None
        self.scale, self.in_a_row, self.rejected, self.restored_step = 1.0, 0, 0, None

    def state_dict(self) -> dict:
        """What a resumed run needs to guard exactly as the uninterrupted one: the parameters and
        energy statistics of the last accepted step, the step scale and the counters (the chains
        of the last accepted step are the sampler state of the checkpoint itself)."""
        stats = self.prev_stats
        return {
            "prev_parameters": None
            if self.prev_parameters is None
            else flax.serialization.to_state_dict(
                jax.device_get(
                    jax.tree_util.tree_map(
                        lambda x: extract_replicated(x) if isinstance(x, jax.Array) else x, self.prev_parameters
                    )
                )
            ),
            "prev_stats": None
            if stats is None
            else {
                "mean_real": float(np.real(stats.mean)),
                "mean_imag": float(np.imag(stats.mean)),
                "error_of_mean": float(stats.error_of_mean),
                "variance": float(stats.variance),
            },
            "prev_step": int(self.prev_step),
            "scale": float(self.scale),
            "in_a_row": int(self.in_a_row),
            "rejected": int(self.rejected),
        }

    def restore(self, state: dict, vstate) -> None:
        """Continue from :meth:`state_dict` (``vstate`` already restored from the same checkpoint)."""
        if state.get("prev_parameters") is not None:
            target = vstate.parameters
            self.prev_parameters = jax.tree_util.tree_map(
                lambda a, b: jnp.asarray(b, dtype=a.dtype),
                target,
                flax.serialization.from_state_dict(target, state["prev_parameters"]),
            )
        if state.get("prev_stats") is not None:
            st = state["prev_stats"]
            self.prev_stats = nk.stats.Stats(
                mean=complex(st["mean_real"], st["mean_imag"]),
                error_of_mean=st["error_of_mean"],
                variance=st["variance"],
            )
        self.prev_step = int(state.get("prev_step", -1))
        self.prev_sampler_state = getattr(vstate, "sampler_state", None)
        self.scale, self.in_a_row = float(state.get("scale", 1.0)), int(state.get("in_a_row", 0))
        self.rejected = int(state.get("rejected", 0))

    def _blew_up(self, stats) -> bool:
        if not _finite(stats):
            return True
        prev = self.prev_stats
        rise = float(np.real(stats.mean) - np.real(prev.mean))
        err = math.hypot(float(prev.error_of_mean), float(stats.error_of_mean))
        return rise > GUARD_ENERGY_Z * err or float(stats.variance) > GUARD_VARIANCE_RATIO * float(prev.variance)

    def on_compute_update_end(self, step, log_data, driver):
        stats = driver._loss_stats
        if self.prev_stats is not None and self.in_a_row < GUARD_MAX_REJECTIONS and self._blew_up(stats):
            driver.state.parameters = self.prev_parameters  # undo the last update, retry it smaller
            if self.prev_sampler_state is not None:  # chains back where they were (not frozen)
                driver.state.sampler_state = self.prev_sampler_state
            self.scale /= 4.0
            self.in_a_row += 1
            self.rejected += 1
            return True
        self.in_a_row = 0
        if _finite(stats):  # JAX arrays are immutable: keeping references is enough
            self.prev_parameters, self.prev_stats, self.prev_step = driver.state.parameters, stats, driver.step_count
            self.prev_sampler_state = getattr(driver.state, "sampler_state", None)
        return False

    def before_parameter_update(self, step, log_data, driver):
        if self.scale < 1.0:
            factor = self.scale
            if self.max_step is not None:  # clip first, so that the scale is not undone by the clip
                lr = float(self.lr(driver.step_count)) if callable(self.lr) else float(self.lr)
                norm = float(optax.tree.norm(driver._dp))
                factor *= min(1.0, self.max_step / (lr * norm)) if norm > 0 else 1.0
            driver._dp = jax.tree_util.tree_map(lambda x: x * factor, driver._dp)
            self.scale = min(1.0, 2.0 * self.scale)

    def on_run_end(self, step, driver):
        if not _finite(driver._loss_stats) and self.prev_parameters is not None:
            driver.state.parameters = self.prev_parameters
            self.restored_step = self.prev_step


# ---------------------------------------------------------------- optimisation


def jacobian_mode_of(model) -> str:
    """``"real"`` for a fixed-sign :class:`SignedLogPsi` (real log-amplitude network times a
    parameter-free sign), ``"complex"`` for anything else (NetKet's ``mode`` of ``VMC_SR``)."""
    if isinstance(model, SignedLogPsi) and model.sign is not None:
        amp = model.amplitude
        while hasattr(amp, "module") and not hasattr(amp, "head"):  # a projection (sector_projection)
            chi = getattr(amp, "characters", None)
            if getattr(amp, "parity", 1) < 0 or (chi is not None and np.any(np.asarray(chi.wrapped) < 0)):
                return "complex"
            amp = amp.module
        if getattr(amp, "head", None) == "sign" and getattr(amp, "sign_logits", None) == 1:
            return "real"
    return "complex"


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
    :class:`~nqs_dilated.drivers.minsr.VMC_MinSR` (NetKet's ``VMC_SR`` with a cheaper Gram
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
    :data:`GUARD_ENERGY_Z` standard errors, its variance grew more than
    :data:`GUARD_VARIANCE_RATIO`-fold or it became non-finite, and retries it smaller
    (:class:`_StepGuard`; ``VMCResult.rejected_steps``); a run that still ends on a non-finite
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
    guard = _StepGuard(max_step, lr_schedule) if guard_steps else None
    if guard is not None and guard_state is not None:
        guard.restore(guard_state, vstate)
    callbacks = [nk.callbacks.InvalidLossStopping()] + ([guard] if guard is not None else [])
    if timeout:
        callbacks.append(nk.callbacks.Timeout(timeout))
    if show_progress:  # NetKet's own bar shows the complex mean (-44.849-0.000j): ours its real part
        callbacks.append(EnergyProgressBar(n_iter))  # resumed: continues at start_step
    if checkpoint is not None:
        callbacks.insert(0, _Checkpointer(Path(checkpoint), meta or {}, checkpoint_every, seconds_before, guard))
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
