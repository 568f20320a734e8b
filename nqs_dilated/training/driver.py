"""The loop of NetKet's drivers for the fits that are not variational states (sign, amplitude).

NetKet's :class:`netket.driver.AbstractVariationalDriver` optimises a variational state one
Monte Carlo step at a time. The supervised fits of this package run blocks of many Adam steps as
one jitted ``jax.lax.scan`` between two validations, and have no variational state; they subclass
:class:`FitDriver` instead, which keeps NetKet's protocol so that the same callbacks and loggers
work on both:

* ``driver.run(n_steps, out=loggers, callback=callbacks)``; ``driver.step_count`` counts Adam
  steps over every call (a resumed driver starts at its checkpoint's step);
* one *iteration* of the loop is one block (:meth:`FitDriver._advance`): ``eval_every`` Adam
  steps and one validation, whose record is the iteration's ``log_data``;
* callbacks are :class:`netket.callbacks.AbstractCallback` objects (hooks ``on_run_start``,
  ``on_step_end(step, log_data, driver)``, ``on_run_end``, ``on_run_error``, in the order of their
  ``callback_order``; ``step`` is the number of Adam steps done) or legacy functions
  ``callback(step, log_data, driver) -> bool`` that stop the run by returning False, as in
  NetKet; any hook stops the run by raising :class:`netket.callbacks.StopRun` (NetKet's
  ``Timeout`` works as it is; its ``EarlyStopping`` and ``ConvergenceStopping`` read a Monte Carlo
  loss the fits do not have: use :class:`~nqs_dilated.training.callbacks.PlateauEarlyStopping`);
* loggers are :class:`netket.logging.AbstractLog` objects (e.g. ``RuntimeLog``, or ``JsonLog`` with
  ``save_params=False``), called as ``logger(step, log_data, None)`` after every iteration and
  flushed at the end of the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import netket as nk

from .checkpoint import TrainCheckpoint

__all__ = ["FitDriver", "LegacyCallback"]


class LegacyCallback(nk.callbacks.AbstractCallback):
    """A function ``callback(step, log_data, driver) -> bool`` as a callback: False stops the run."""

    fn: Any

    def __init__(self, fn: Callable[[int, dict, Any], bool]):
        self.fn = fn

    def on_step_end(self, step, log_data, driver):
        if not self.fn(step, log_data, driver):
            raise nk.callbacks.StopRun(f"callback {self.fn} requested to stop the run")


def _iterable(x) -> list:
    if x is None:
        return []
    if isinstance(x, Iterable) and not isinstance(x, (str, bytes, dict)):
        return list(x)
    return [x]


class FitDriver:
    """Base of the supervised fit drivers (module docstring).

    Holds the state every fit shares and checkpoints (:class:`~nqs_dilated.training.checkpoint.TrainCheckpoint`):
    parameters, optimiser state, step, the validation history and its best point, the wall time.
    A subclass calls :meth:`_start` with the initial parameters and its optimiser in ``__init__``,
    implements :meth:`_advance` (one iteration, ending with :meth:`_record` of its validation
    record) and may override :meth:`_restored`.

    Attributes:
        step_count: Optimisation steps done (over every ``run`` and the checkpoint resumed from).
        params, opt_state: Current parameters and optimiser state.
        best_params, best_loss, best_step: The validation point of lowest ``val_loss`` so far.
        history: The validation records so far (each with ``step``, ``val_loss`` and ``seconds``).
        resumed_from: Step of the checkpoint the driver was restored from (0: a fresh start).
        stopped_early: Whether a callback stopped the last ``run`` (``StopRun``).
    """

    step_count: int = 0
    stopped_early: bool = False

    def _start(self, params: Any, opt_state: Any, t0: float | None = None) -> None:
        self.params, self.opt_state = params, opt_state
        self.step_count, self.history = 0, []
        self.best_loss, self.best_params, self.best_step = math.inf, params, 0
        self.resumed_from, self._seconds_before = 0, 0.0
        self._t0 = time.perf_counter() if t0 is None else t0  # t0: when the driver's setup began

    def seconds(self) -> float:
        """Wall seconds of the fit so far, over every invocation of a resumed run."""
        return self._seconds_before + time.perf_counter() - self._t0

    def _record(self, record: dict) -> None:
        """Append a validation record and keep the best point."""
        self.history.append(record)
        if record["val_loss"] < self.best_loss:
            self.best_loss, self.best_params, self.best_step = record["val_loss"], self.params, self.step_count

    def checkpoint(self) -> TrainCheckpoint:
        """The state of the fit after its last validation."""
        seconds = self.history[-1]["seconds"] if self.history else self._seconds_before
        return TrainCheckpoint(
            self.step_count,
            self.params,
            self.opt_state,
            self.best_params,
            self.best_loss,
            self.best_step,
            list(self.history),
            seconds,
        )

    def restore(self, data: bytes) -> None:
        """Continue from the bytes of a :class:`~nqs_dilated.training.checkpoint.TrainCheckpoint` of
        the same run (same model, data, budget and seed): the fit then ends as the uninterrupted one would.

        Raises:
            CheckpointError: the checkpoint is not one, or is of another model or optimiser.
        """
        ck = TrainCheckpoint.from_bytes(data, self.params, self.opt_state)
        self.step_count, self.params, self.opt_state, self.history = ck.step, ck.params, ck.opt_state, ck.history
        self.best_loss, self.best_params, self.best_step = ck.best_loss, ck.best_params, ck.best_step
        self._seconds_before, self.resumed_from = ck.seconds, ck.step
        self._restored()

    def _restored(self) -> None:
        """Recompute derived state after :meth:`restore` (nothing by default)."""

    def _advance(self, n_steps: int) -> dict:
        """Run at most ``n_steps`` optimisation steps and return the log data of the iteration."""
        raise NotImplementedError

    def run(
        self,
        n_steps: int,
        out: Any = (),
        callback: Any = None,
    ) -> tuple:
        """Advance the fit by ``n_steps`` optimisation steps (fewer if a callback stops it).

        Args:
            n_steps: Steps to run, counted from :attr:`step_count`.
            out: A NetKet logger or an iterable of them.
            callback: A callback, a legacy callback function, or an iterable of them.

        Returns:
            The loggers, as NetKet's ``run`` does.

        Raises:
            ValueError: a negative ``n_steps``.
        """
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        loggers = tuple(_iterable(out))
        callbacks = [
            c if isinstance(c, nk.callbacks.AbstractCallback) else LegacyCallback(c) for c in _iterable(callback)
        ]
        callbacks.sort(key=lambda c: c.callback_order)
        target = self.step_count + n_steps
        self.stopped_early = False
        try:
            for c in callbacks:
                c.on_run_start(self.step_count, self)
            while self.step_count < target:
                log_data = self._advance(target - self.step_count)
                for log in loggers:
                    log(self.step_count, log_data, None)
                for c in callbacks:
                    c.on_step_end(self.step_count, log_data, self)
        except nk.callbacks.StopRun:
            self.stopped_early = True
        except BaseException as error:
            for c in callbacks:
                c.on_run_error(self.step_count, error, self)
            raise
        for c in callbacks:
            c.on_run_end(self.step_count, self)
        for log in loggers:
            log.flush(None)
        return loggers
