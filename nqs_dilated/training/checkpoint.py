"""One checkpoint format for every training loop (sign fit, amplitude fit, VMC).

A checkpoint is one dict of numbers, strings and parameter pytrees, stored as Flax msgpack
(:func:`flax.serialization.msgpack_serialize` of its state dict) and written atomically (a
temporary file renamed over the old one, so a run killed while writing keeps its last good
checkpoint). Each driver decides the keys it needs to continue bit for bit (parameters, optimiser
state, step, RNG or Markov-chain state, its best point); :func:`restore_tree` puts stored arrays
back into a template of the run's own structure and refuses one of another model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from ..files import write_atomic

__all__ = [
    "CheckpointError",
    "TrainCheckpoint",
    "checkpoint_bytes",
    "check_meta",
    "read_checkpoint",
    "restore_tree",
    "write_checkpoint",
]


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unreadable, or written for another model / configuration."""


def checkpoint_bytes(payload: dict[str, Any]) -> bytes:
    """The msgpack bytes of ``payload`` (arrays fetched from the devices first)."""
    return flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(jax.device_get(payload)))


def write_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (:func:`checkpoint_bytes`) to ``path`` atomically."""
    write_atomic(Path(path), checkpoint_bytes(payload))


def read_checkpoint(source: str | Path | bytes) -> dict[str, Any]:
    """The stored dict of a checkpoint file (or of its bytes).

    Raises:
        CheckpointError: the data is not a checkpoint (unreadable msgpack).
    """
    name = "checkpoint" if isinstance(source, bytes) else f"checkpoint {source}"
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return flax.serialization.msgpack_restore(data)
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise CheckpointError(f"cannot read {name}: {err}") from None


def restore_tree(template: Any, stored: Any, what: str = "checkpoint") -> Any:
    """``stored`` (a state dict) in the structure of ``template`` (arrays as stored).

    Raises:
        CheckpointError: the structure or a leaf's shape differs (another model or optimiser).
    """
    try:
        tree = flax.serialization.from_state_dict(template, stored)
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{what} does not match this model and optimizer ({err})") from None
    same = jax.tree_util.tree_map(lambda a, b: np.shape(a) == np.shape(b), template, tree)
    if not all(jax.tree_util.tree_leaves(same)):
        raise CheckpointError(f"{what} does not match this model and optimizer (parameter shapes differ)")
    return tree


def check_meta(stored: str, meta: dict, what: str = "checkpoint") -> None:
    """Check that the JSON text ``stored`` describes the same run as ``meta``.

    Raises:
        CheckpointError: the two differ (the message names the differing keys).
    """
    old = json.loads(stored or "{}")
    if old != json.loads(json.dumps(meta, sort_keys=True)):
        diff = sorted(k for k in set(old) | set(meta) if old.get(k) != meta.get(k))
        raise CheckpointError(f"{what} was written for a different model/configuration (differs in {diff})")


@dataclass
class TrainCheckpoint:
    """Everything a fit driver (:class:`~nqs_dilated.training.driver.FitDriver`) needs to continue a run
    exactly: its state at a validation point.

    Attributes:
        step: Adam steps done.
        params, opt_state: Current parameters and optimizer state.
        best_params, best_loss, best_step: The best validation point so far.
        history: The validation records so far.
        seconds: Training wall time so far (all invocations).
    """

    step: int
    params: Any
    opt_state: Any
    best_params: Any
    best_loss: float
    best_step: int
    history: list[dict]
    seconds: float

    def to_bytes(self) -> bytes:
        """Serialize (:mod:`nqs_dilated.training.checkpoint`; the history as JSON text)."""
        return checkpoint_bytes(
            {
                "step": self.step,
                "params": self.params,
                "opt_state": self.opt_state,
                "best_params": self.best_params,
                "best_loss": self.best_loss,
                "best_step": self.best_step,
                "history": json.dumps(self.history),
                "seconds": self.seconds,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, params: Any, opt_state: Any) -> TrainCheckpoint:
        """Restore from :meth:`to_bytes` output, with ``params`` and ``opt_state`` as templates
        (the structure of the model and optimizer of the run).

        Raises:
            CheckpointError: the data is not a checkpoint or does not match the templates (another
                model or optimizer).
        """
        template = {
            "step": 0,
            "params": params,
            "opt_state": opt_state,
            "best_params": params,
            "best_loss": 0.0,
            "best_step": 0,
            "history": "",
            "seconds": 0.0,
        }
        tree = restore_tree(template, read_checkpoint(data))
        return cls(
            step=int(tree["step"]),
            params=tree["params"],
            opt_state=tree["opt_state"],
            best_params=tree["best_params"],
            best_loss=float(tree["best_loss"]),
            best_step=int(tree["best_step"]),
            history=json.loads(tree["history"]),
            seconds=float(tree["seconds"]),
        )
