"""Checkpoints of a VMC run: variables, Markov chains, step guard, step and time.

Written in the one format of :mod:`nqs_dilated.training.checkpoint`; with them a resumed
:func:`~nqs_dilated.training.vmc.optimise` continues the uninterrupted run exactly.
:func:`truncate_json_log` drops from NetKet's JSON log the iterations a killed run logged after
its last checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from netket.jax.sharding import extract_replicated
from netket.utils import struct

from ..files import write_atomic
from .checkpoint import CheckpointError, check_meta, read_checkpoint, restore_tree, write_checkpoint

__all__ = [
    "CheckpointError",
    "VmcCheckpointer",
    "checkpoint_guard",
    "checkpoint_seconds",
    "load_checkpoint",
    "save_checkpoint",
    "truncate_json_log",
]


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
    process); ``guard`` the step guard's state (:meth:`~nqs_dilated.training.callbacks.StepGuard.state_dict`). With them a
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
        "variables": variables,
    }
    if sampler is not None:
        payload["sampler_state"] = sampler
    if guard is not None:
        payload["guard"] = guard
    write_checkpoint(path, payload)


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


def checkpoint_seconds(path: str | Path) -> float:
    """Wall seconds of the optimisation steps stored in a checkpoint (0 for checkpoints written
    before this was recorded).

    Raises:
        CheckpointError: unreadable file.
    """
    return float(read_checkpoint(path).get("seconds", 0.0))


def checkpoint_guard(path: str | Path) -> dict | None:
    """The step guard's state stored in a checkpoint (``None`` when it holds none).

    Raises:
        CheckpointError: unreadable file.
    """
    return read_checkpoint(path).get("guard")


def load_checkpoint(path: str | Path, vstate, meta: dict) -> int:
    """Restore ``vstate.variables`` (and, where stored, its Markov chains and sampler RNG key)
    from ``path``; returns the number of completed steps.

    Raises:
        CheckpointError: unreadable file, different ``meta`` (another model or configuration),
            or variables whose structure or shapes do not match ``vstate``'s model.
    """
    path = Path(path)
    payload = read_checkpoint(path)
    check_meta(payload.get("meta", "{}"), meta, f"checkpoint {path}")
    target = vstate.variables
    variables = restore_tree(target, payload["variables"], f"checkpoint {path}")
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


class VmcCheckpointer(nk.callbacks.AbstractCallback, mutable=True):
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
