"""Callbacks of the training loops, in NetKet's protocol (:class:`netket.callbacks.AbstractCallback`).

* :class:`PlateauEarlyStopping`: early stopping of the supervised fits, acting only once a run
  has left its initial plateau (:mod:`nqs_dilated.training.sign`);
* :class:`CheckpointCallback`: hands the driver to a writer every few iterations (each driver
  knows what its checkpoint holds, :mod:`nqs_dilated.training.checkpoint`);
* :class:`StepGuard`: VMC's guard against a step that makes the state blow up
  (:func:`nqs_dilated.training.vmc.optimise`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
from netket.jax.sharding import extract_replicated
from netket.utils import struct

__all__ = [
    "GUARD_ENERGY_Z",
    "GUARD_MAX_REJECTIONS",
    "GUARD_VARIANCE_RATIO",
    "CheckpointCallback",
    "PlateauEarlyStopping",
    "StepGuard",
]


class PlateauEarlyStopping(nk.callbacks.AbstractCallback, mutable=True):
    """Stop a fit after ``patience`` steps without a lower validation loss, counted only once the
    run has left its initial plateau (``driver.left_plateau_step`` is set: the first validation
    loss below ``(1 - PLATEAU_MARGIN)`` times the loss of the best constant prediction; see
    :mod:`nqs_dilated.training.sign`). Reads ``driver.best_step``; a driver without a plateau
    rule sets ``left_plateau_step = 0``.
    """

    patience: int = struct.field(pytree_node=False, serialize=False)

    def __init__(self, patience: int):
        if patience < 1:
            raise ValueError(f"patience must be >= 1 step, got {patience}")
        self.patience = int(patience)

    def on_step_end(self, step, log_data, driver):
        if driver.left_plateau_step is not None and step - driver.best_step >= self.patience:
            raise nk.callbacks.StopRun(f"no lower validation loss in {step - driver.best_step} steps")


class CheckpointCallback(nk.callbacks.AbstractCallback, mutable=True):
    """Call ``write(driver)`` after every ``every``-th iteration of the loop (``every = 1``: after
    each validation of a fit)."""

    write: Any = struct.field(pytree_node=False, serialize=False)
    every: int = struct.field(pytree_node=False, serialize=False)
    count: int = struct.field(pytree_node=False, serialize=False, default=0)

    def __init__(self, write: Callable[[Any], None], every: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.write, self.every, self.count = write, int(every), 0

    def on_step_end(self, step, log_data, driver):
        self.count += 1
        if self.count % self.every == 0:
            self.write(driver)


#: Step guard (:func:`optimise`): a step is rejected when the energy rises by more than
#: ``GUARD_ENERGY_Z`` combined standard errors or the variance grows more than ``GUARD_VARIANCE_RATIO``-fold
#: from one step to the next (never seen in a healthy 4x6 run: at most 3.6 and 2.4).
GUARD_ENERGY_Z = 5.0
GUARD_VARIANCE_RATIO = 100.0
#: Consecutive rejections before a step is taken anyway; each one quarters the step.
GUARD_MAX_REJECTIONS = 4


def _finite(stats) -> bool:
    return stats is not None and bool(np.all(np.isfinite(np.real(stats.mean)))) and bool(np.isfinite(stats.variance))


class StepGuard(nk.callbacks.AbstractCallback, mutable=True):
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
