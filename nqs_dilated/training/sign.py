"""Supervised learning of ground-state signs (Westerhout et al., Nat. Commun. 11, 1593 (2020)).

:class:`SignFit` (a driver with NetKet's ``run(n_steps, out=..., callback=...)`` protocol,
:mod:`nqs_dilated.training.driver`) and its one-call form :func:`train_sign` fit any Flax module whose ``apply(params, x)`` maps int8 ±1 configurations
``(B, N)`` to sign logits, ``(B, 2)`` (softmax over the classes of
:data:`nqs_dilated.data.SIGN_CLASSES`: class 0 = sign +1, class 1 = sign -1) or ``(B,)`` (one
logit of class 1, sigmoid), on the training set of :func:`nqs_dilated.data.make_datasets`.

Loss: the **unweighted** mean cross-entropy over the training samples, as in Westerhout et al.
The training configurations are already drawn with probability ``|psi|^2`` (with replacement), so
the unweighted mean over them is a Monte Carlo estimate of the ``|psi|^2``-weighted cross-entropy;
weighting again by ``|psi|^2`` would count the amplitudes twice.

Budget: a number of optimizer (Adam) **steps**, not epochs
(:func:`~nqs_dilated.training.sign_steps.training_budget`). The batches
are consecutive slices of one stream of training indices, the concatenation of a fresh
permutation of the training set per epoch, so every sample is used once per epoch and every batch
is full; the permutation of epoch ``e`` depends only on ``(seed, e)``. The batch size is capped
to a sixteenth of the training set (:func:`~nqs_dilated.training.sign_steps.auto_batch_size`), so even a small training set gets
many steps per epoch. The steps between two validations run as one jitted ``jax.lax.scan``.
On CPU each step accumulates its gradient over micro-batches of :data:`~nqs_dilated.training.sign_steps.CPU_MICRO_BATCH` samples
(forward and backward of one micro-batch at a time, so the gathered convolution patches stay in
cache; the same gradient up to float rounding), and evaluation runs in chunks of the same size.
On 2 cores ``benchmarks/sign_train.py`` measured the steps 1.07x (batch 1024) and 1.63x (batch
8192) faster than whole batches, and the forward pass of the 36-site network was 2.0x faster in
chunks of 128 than in one call on 8192 configurations.
Early stopping watches the validation loss (same unweighted cross-entropy on the validation set)
every ``eval_every`` steps and ends the run after ``patience`` steps without a lower one
(:class:`~nqs_dilated.training.callbacks.PlateauEarlyStopping`), but only
once the run has left its **initial plateau**: sign classifiers often sit for hundreds of steps at
the loss of the best constant prediction (the entropy of the training sign fractions, ``~ln 2``)
before they learn anything, and stopping them there reports a network that could learn the signs
as one that cannot. A run counts as
off the plateau from the first validation loss below ``(1 - PLATEAU_MARGIN)`` times that entropy
(:data:`~nqs_dilated.training.sign_steps.PLATEAU_MARGIN`)
(:attr:`TrainResult.left_plateau_step`); a run that never leaves it uses its whole budget. The
parameters of the best validation point are returned. Everything is deterministic for a given
``seed`` (initialisation and batch order), and a run resumed from a :class:`TrainCheckpoint`
continues bit for bit as the uninterrupted run would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..data import SignDatasets, sign_to_class
from .callbacks import CheckpointCallback, PlateauEarlyStopping
from .checkpoint import TrainCheckpoint
from .driver import FitDriver
from .progress import FitProgressBar
from .sign_steps import (
    PLATEAU_MARGIN,
    BatchStream,
    Budget,
    check_logits,
    compiled,
    default_micro_batch,
    evaluate_by_orbits,
    plateau_loss,
    training_budget,
)

__all__ = ["SignFit", "TrainResult", "train_sign"]


@dataclass
class TrainResult:
    """Outcome of :meth:`SignFit.result` and :func:`train_sign`.

    Attributes:
        params: Parameters of the best validation point (lowest validation loss).
        history: One dict per validation: ``step`` (Adam steps done), ``epoch`` (passes over the
            training set, fractional), ``loss`` (mean training CE of the steps since the previous
            record), ``val_loss``, ``val_accuracy``, ``val_weighted_accuracy``, ``val_overlap`` (on
            the ``|psi|^2``-sampled validation set the plain means estimate the weighted figures:
            weighted accuracy = accuracy, overlap = 2 accuracy - 1, as for the sampled test set),
            ``seconds`` (wall time of the training so far, over every invocation of a resumed run).
        best_step: Step of ``params`` (0 if no step ran).
        budget: The resolved :class:`Budget`.
        metrics: Per split (``"train"``, ``"val"``, ``"test"`` or ``"test_uniform"`` and
            ``"test_weighted"``) the dict of :meth:`nqs_dilated.data.SignDataset.sign_metrics` plus
            ``loss``, for the best parameters (on the ``|psi|^2``-sampled splits the weighted figures
            are the plain-mean estimates).
        stopped_early: Whether early stopping (or the callback) ended the run.
        left_plateau_step: Step of the first validation loss below ``(1 - PLATEAU_MARGIN) *
            plateau_loss`` of the training labels (``None``: the run never left its initial
            plateau, so early stopping never acted).
        seconds: Wall time of this invocation including the final evaluation.
        orbit_splits: Splits whose final metrics were evaluated once per orbit (``invariant_perms``).
        resumed_from: Step of the checkpoint this invocation started from (0: a fresh start).
    """

    params: Any
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    budget: Budget | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    stopped_early: bool = False
    left_plateau_step: int | None = None
    seconds: float = 0.0
    orbit_splits: list[str] = field(default_factory=list)
    resumed_from: int = 0

    @property
    def best_epoch(self) -> float:
        """Passes over the training set at the best validation point."""
        return self.best_step / self.budget.steps_per_epoch if self.budget else 0.0


class SignFit(FitDriver):
    """The supervised sign fit as a driver (module docstring; loop protocol of
    :mod:`nqs_dilated.training.driver`).

    One iteration of :meth:`run` is ``budget.eval_every`` Adam steps as one jitted scan, then one
    validation, whose record (:attr:`TrainResult.history`) is the iteration's ``log_data``. The
    driver tracks the best validation point and the step at which the run left its initial
    plateau; early stopping is the callback :class:`~nqs_dilated.training.callbacks.PlateauEarlyStopping`.

    Args:
        model: Flax module; ``model.apply(params, x)`` with int8 ``x`` ``(B, N)`` returns logits
            ``(B, 2)`` or ``(B,)`` (module docstring for the class convention).
        datasets: Splits from :func:`nqs_dilated.data.make_datasets`.
        lr: Adam learning rate.
        steps, epochs, batch_size, eval_every, patience: The budget
            (:func:`~nqs_dilated.training.sign_steps.training_budget`; default 4000 steps at the
            automatic batch size; ``patience`` is recorded in :attr:`budget`, and acts through the callback).
        seed: Seed of initialisation (``jax.random.PRNGKey(seed)``) and batch order.
        params: Initial parameters (default ``model.init`` with the seed).
        eval_chunk: Chunk size of the jitted evaluation (bounds memory).
        invariant_perms: Site permutations ``(G, N)`` the model is exactly invariant under (e.g.
            ``group.translations`` for the invariant CNNs). The final evaluation (:meth:`result`)
            of a set of at least ``orbit_min_size`` configurations then runs the model once per
            orbit (:func:`nqs_dilated.data.orbit_representatives`) and copies the logits to the
            other members: the same metrics up to float rounding, ~G times faster.
        orbit_min_size: Smallest set evaluated by orbits.

    Attributes:
        budget: The resolved :class:`~nqs_dilated.training.sign_steps.Budget`.
        params, opt_state: Current parameters and Adam state.
        best_params, best_loss, best_step: The validation point of lowest validation loss so far.
        history: The validation records so far.
        left_plateau_step: Step of the first validation loss below the plateau bound (``None``: not yet).

    Raises:
        ValueError: bad hyperparameters, an empty training set, or logits of the wrong shape.
    """

    def __init__(
        self,
        model,
        datasets: SignDatasets,
        *,
        lr: float = 1e-3,
        steps: int | None = None,
        epochs: float | None = None,
        batch_size: int | None = None,
        eval_every: int | None = None,
        patience: int | None = None,
        seed: int = 0,
        params: Any = None,
        eval_chunk: int = 8192,
        invariant_perms: np.ndarray | None = None,
        orbit_min_size: int = 65_536,
    ):
        if not lr > 0 or eval_chunk < 1:
            raise ValueError(f"need lr > 0 and eval_chunk >= 1; got {lr}, {eval_chunk}")
        t0 = time.perf_counter()
        self.model, self.datasets = model, datasets
        self.eval_chunk, self.invariant_perms, self.orbit_min_size = eval_chunk, invariant_perms, orbit_min_size
        train = datasets.train
        self.budget = training_budget(
            len(train), steps=steps, epochs=epochs, batch_size=batch_size, eval_every=eval_every, patience=patience
        )
        key_init = jax.random.split(jax.random.PRNGKey(seed))[0]
        self._x = jnp.asarray(train.configs, dtype=jnp.int8)
        self._y = jnp.asarray(sign_to_class(train.signs))
        if params is None:
            params = model.init(key_init, self._x[:1])
        check_logits(model, params, self._x[:1])
        optimizer, self._run_steps, self._evaluate = compiled(model, float(lr), eval_chunk, default_micro_batch())
        self._start(params, optimizer.init(params), t0)  # the wall time includes initialisation
        self._stream = BatchStream(len(train), self.budget.batch_size, seed)
        self.plateau_below = (1.0 - PLATEAU_MARGIN) * plateau_loss(np.asarray(self._y))
        self.left_plateau_step: int | None = None

    def _restored(self) -> None:
        self.left_plateau_step = next((r["step"] for r in self.history if r["val_loss"] < self.plateau_below), None)

    def _advance(self, n_steps: int) -> dict:
        k = min(self.budget.eval_every, n_steps)
        idx = jnp.asarray(self._stream.indices(self.step_count, k))
        self.params, self.opt_state, loss = self._run_steps(self.params, self.opt_state, self._x, self._y, idx)
        self.step_count += k
        val = self.datasets.val
        val_ce, val_pred = self._evaluate(self.params, val)
        m = val.sign_metrics(val_pred)
        record = {
            "step": self.step_count,
            "epoch": self.step_count / self.budget.steps_per_epoch,
            "loss": float(loss),
            "val_loss": float(np.mean(val_ce)),
            "val_accuracy": m["accuracy"],
            "val_weighted_accuracy": m["weighted_accuracy"],
            "val_overlap": m["overlap"],
            "seconds": self.seconds(),
        }
        self._record(record)
        if self.left_plateau_step is None and record["val_loss"] < self.plateau_below:
            self.left_plateau_step = self.step_count
        return record

    def result(self) -> TrainResult:
        """Evaluate the best parameters on every split (:class:`TrainResult`)."""
        metrics, orbit_splits = {}, []
        for name, ds in self.datasets.splits().items():
            if len(ds) == 0:
                continue
            if self.invariant_perms is not None and len(ds) >= self.orbit_min_size:
                ce, pred = evaluate_by_orbits(self.model, self.best_params, ds, self.invariant_perms, self.eval_chunk)
                orbit_splits.append(name)
            else:
                ce, pred = self._evaluate(self.best_params, ds)
            metrics[name] = {**ds.sign_metrics(pred), "loss": float(np.mean(ce))}
        return TrainResult(
            params=self.best_params,
            history=self.history,
            best_step=self.best_step,
            budget=self.budget,
            metrics=metrics,
            stopped_early=self.stopped_early,
            left_plateau_step=self.left_plateau_step,
            seconds=time.perf_counter() - self._t0,
            orbit_splits=orbit_splits,
            resumed_from=self.resumed_from,
        )


def train_sign(
    model,
    datasets: SignDatasets,
    *,
    lr: float = 1e-3,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int | None = None,
    eval_every: int | None = None,
    patience: int | None = None,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[dict, Any], bool | None] | None = None,
    eval_chunk: int = 8192,
    params: Any = None,
    invariant_perms: np.ndarray | None = None,
    orbit_min_size: int = 65_536,
    resume: bytes | None = None,
    on_checkpoint: Callable[[TrainCheckpoint], None] | None = None,
) -> TrainResult:
    """Train a sign classifier on ``datasets.train`` with early stopping on ``datasets.val``: a
    :class:`SignFit` run over its whole budget with the usual callbacks.

    Args:
        model: As for :class:`SignFit` (so are ``lr``, ``steps``, ``epochs``, ``batch_size``,
            ``eval_every``, ``seed``, ``params``, ``eval_chunk``, ``invariant_perms``, ``orbit_min_size``).
        datasets: As for :class:`SignFit`.
        patience: Steps without a lower validation loss before stopping, once the run has left its
            initial plateau (:class:`~nqs_dilated.training.callbacks.PlateauEarlyStopping`; ``None``: never).
        progress: Show a tqdm bar on stderr with the loss and validation accuracy.
        callback: Called after every validation as ``callback(record, params)`` with the history
            record and the current parameters; a true return value stops training.
        resume: Bytes of a :class:`TrainCheckpoint` of the same run (same model, data, budget and
            seed): training continues from it and ends as the uninterrupted run would.
        on_checkpoint: Called with a :class:`TrainCheckpoint` after every validation (after
            ``callback``, unless it stopped the run); the caller decides whether to write it.

    Returns:
        :class:`TrainResult` with the parameters of the validation point of lowest validation loss.

    Raises:
        ValueError: bad hyperparameters, an empty training set, logits of the wrong shape, or a
            checkpoint of another model (:class:`~nqs_dilated.training.checkpoint.CheckpointError`).
    """
    fit = SignFit(
        model,
        datasets,
        lr=lr,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        eval_every=eval_every,
        patience=patience,
        seed=seed,
        params=params,
        eval_chunk=eval_chunk,
        invariant_perms=invariant_perms,
        orbit_min_size=orbit_min_size,
    )
    if resume is not None:
        fit.restore(resume)
    callbacks: list = []
    if progress:
        callbacks.append(FitProgressBar(fit.budget.steps))
    if callback is not None:
        callbacks.append(lambda step, log_data, driver: not callback(log_data, driver.params))
    if on_checkpoint is not None:
        callbacks.append(CheckpointCallback(lambda driver: on_checkpoint(driver.checkpoint())))
    if fit.budget.patience is not None:
        callbacks.append(PlateauEarlyStopping(fit.budget.patience))
    fit.run(fit.budget.steps - fit.step_count, callback=callbacks)
    return fit.result()
