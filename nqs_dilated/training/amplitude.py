"""Amplitude fit: the log-amplitude of a VMC wave function fitted to exact amplitudes on eps of the data.

VMC of the frustrated 36-site model from a random start stops far above the ground state even with
the exact sign fixed; started from an amplitude already close to the exact one it goes much further
(``runs/results/vmc-6x6-pretrained/``). :class:`AmplitudeFit` gives that start from the package's
protocol: the training set of the sign fits (:func:`nqs_dilated.data.make_datasets`, ``eps`` of the
basis drawn with probability ``|psi_ED|^2``, orbit-disjoint validation set), now with the exact
amplitudes as labels, and the network VMC will optimise.

Loss: the batch variance of ``d(x) = Re log psi_theta(x) - log|psi_ED(x)|``. The normalisation
of ``psi_theta`` is free, so only the spread of ``d`` matters; on ``|psi_ED|^2``-distributed
configurations the fidelity is ``F = |E[e^d]|^2 / E[e^{2d}] = exp(-Var d) + O(d^3)``, so the
validation loss estimates the infidelity ``1 - F`` (``infidelity_estimate``) when the validation
set is a ``|psi_ED|^2`` sample of the whole space: build the sets with ``split="configurations"``
(the VMC run does). An orbit-disjoint validation set (the sign fits' default) holds only orbits the
training draws missed, rare ones, and its variance says little about the fidelity: on 4x4 at
J2/J1 = 1 (eps = 0.3) it rose while the fidelity of the state doubled. Adam on batches
from one stream of per-epoch permutations (:class:`~nqs_dilated.training.sign_steps.BatchStream`),
``eval_every`` steps as one jitted scan between validations, the parameters of the lowest
validation loss kept; the driver follows :mod:`nqs_dilated.training.driver` (callbacks, loggers,
:class:`~nqs_dilated.training.checkpoint.TrainCheckpoint`, bit-for-bit resume).

For a :class:`~nqs_dilated.models.wavefunction.SignedLogPsi` only its amplitude network is
evaluated (the fixed sign, a host callback at 36 sites, never enters the loss); any other module
is fitted through the real part of its ``log psi``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..data import SignDataset, SignDatasets
from ..models.wavefunction import SignedLogPsi
from .driver import FitDriver
from .sign_steps import BatchStream

__all__ = ["AmplitudeFit", "AmplitudeResult", "log_amplitude_fn"]


def log_amplitude_fn(model) -> tuple[Any, Any]:
    """``(apply, key)``: ``apply(params, x)`` is ``Re log psi`` of ``model`` (its amplitude network alone
    for a :class:`SignedLogPsi` with a parameter-free sign), ``key`` the entry of the wave function's
    parameters that ``apply`` takes (``"amplitude"``, or None for all of them)."""
    if isinstance(model, SignedLogPsi) and model.sign is not None:
        amp = model.amplitude
        return (lambda p, x: jnp.real(amp.apply({"params": p}, x))), "amplitude"
    return (lambda p, x: jnp.real(model.apply({"params": p}, x))), None


@dataclass
class AmplitudeResult:
    """Outcome of :meth:`AmplitudeFit.result`.

    Attributes:
        params: The wave function's parameters with the best fitted amplitude (lowest validation loss).
        history: One record per validation: ``step``, ``loss`` (mean batch variance of the block),
            ``val_loss`` (variance of ``d`` over the validation set), ``seconds``.
        best_step: Step of ``params``.
        infidelity_estimate: ``val_loss`` at ``best_step`` (module docstring).
        n_train, n_val: Sizes of the sets.
        stopped_early: Whether a callback (early stopping) ended the run.
        seconds: Wall time of the fit, over every invocation of a resumed run.
    """

    params: Any
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    infidelity_estimate: float = math.nan
    n_train: int = 0
    n_val: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict:
        """Everything but the parameters, JSON-able."""
        return {k: v for k, v in self.__dict__.items() if k != "params"}


class AmplitudeFit(FitDriver):
    """Fit ``Re log psi`` of ``model`` to ``log|psi_ED|`` of ``datasets`` (module docstring).

    Args:
        model: The wave function (e.g. :func:`~nqs_dilated.training.wavefunction.make_wavefunction`).
        params: Its parameters (``vstate.parameters``); the fitted entry is replaced, the rest kept.
        datasets: Sets of :func:`nqs_dilated.data.make_datasets`; their ``amplitudes`` (float64 ``(M,)``,
            normalised exact amplitudes) are the labels.
        lr: Adam learning rate.
        batch_size: Configurations per step (reduced to the training-set size).
        eval_every: Steps between validations (one iteration of :meth:`run`).
        seed: Seed of the batch order.
        eval_chunk: Configurations per jitted evaluation of the validation set.

    Attributes:
        left_plateau_step: Always 0 (no plateau rule: early stopping acts from the start).

    Raises:
        ValueError: a non-positive rate, batch, interval or chunk; an empty training or validation set.
    """

    def __init__(
        self,
        model,
        params: Any,
        datasets: SignDatasets,
        *,
        lr: float = 1e-3,
        batch_size: int = 1024,
        eval_every: int = 100,
        seed: int = 0,
        eval_chunk: int = 8192,
    ):
        if not (lr > 0 and batch_size >= 1 and eval_every >= 1 and eval_chunk >= 1):
            raise ValueError(
                f"need lr > 0 and batch_size, eval_every, eval_chunk >= 1; got {lr}, {batch_size}, {eval_every}, {eval_chunk}"
            )
        train, val = datasets.train, datasets.val
        if len(train) == 0 or len(val) == 0:
            raise ValueError(f"the amplitude fit needs training and validation data, got {len(train)} and {len(val)}")
        t0 = time.perf_counter()
        self.model, self.datasets, self.eval_every, self.eval_chunk = model, datasets, int(eval_every), int(eval_chunk)
        self.left_plateau_step = 0
        self._apply, self._key = log_amplitude_fn(model)
        self._full = params
        fitted = params[self._key] if self._key is not None else params
        self._optimizer = optax.adam(lr)
        self._start(fitted, self._optimizer.init(fitted), t0)
        self.batch_size = min(int(batch_size), len(train))
        self._x = jnp.asarray(train.configs, dtype=jnp.int8)
        self._y = jnp.asarray(_log_abs(train))
        self._stream = BatchStream(len(train), self.batch_size, seed)
        self._steps = jax.jit(self._make_steps())
        self._deviation = jax.jit(lambda p, x, y: self._apply(p, x) - y)

    def _make_steps(self):
        apply, optimizer = self._apply, self._optimizer

        def loss(p, x, y):
            d = apply(p, x) - y
            return jnp.mean((d - jnp.mean(d)) ** 2)

        def steps(params, opt_state, x, y, idx):
            def step(carry, ib):
                params, opt_state = carry
                value, grads = jax.value_and_grad(loss)(params, x[ib], y[ib])
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), value

            (params, opt_state), values = jax.lax.scan(step, (params, opt_state), idx)
            return params, opt_state, jnp.mean(values)

        return steps

    def deviation_variance(self, params: Any, dataset: SignDataset) -> float:
        """``Var d`` over ``dataset`` (module docstring) for the fitted entry ``params``."""
        m, size = len(dataset), min(self.eval_chunk, len(dataset))
        y = _log_abs(dataset)
        d = np.empty(m)
        for lo in range(0, m, size):  # the last chunk is padded: one compiled shape
            hi = min(lo + size, m)
            xs = np.ones((size, dataset.n_sites), np.int8)
            ys = np.zeros(size, np.float32)
            xs[: hi - lo], ys[: hi - lo] = dataset.configs[lo:hi], y[lo:hi]
            d[lo:hi] = np.asarray(self._deviation(params, jnp.asarray(xs), jnp.asarray(ys)))[: hi - lo]
        return float(np.var(d))

    def _advance(self, n_steps: int) -> dict:
        k = min(self.eval_every, n_steps)
        idx = jnp.asarray(self._stream.indices(self.step_count, k))
        self.params, self.opt_state, loss = self._steps(self.params, self.opt_state, self._x, self._y, idx)
        self.step_count += k
        record = {
            "step": self.step_count,
            "loss": float(loss),
            "val_loss": self.deviation_variance(self.params, self.datasets.val),
            "seconds": self.seconds(),
        }
        self._record(record)
        return record

    def full_params(self, fitted: Any) -> Any:
        """The wave function's parameters with ``fitted`` in place of the fitted entry."""
        if self._key is None:
            return fitted
        return {**self._full, self._key: fitted}

    def result(self) -> AmplitudeResult:
        """The best point of the fit (:class:`AmplitudeResult`)."""
        return AmplitudeResult(
            params=self.full_params(self.best_params),
            history=list(self.history),
            best_step=self.best_step,
            infidelity_estimate=self.best_loss,
            n_train=len(self.datasets.train),
            n_val=len(self.datasets.val),
            stopped_early=self.stopped_early,
            seconds=self.seconds(),
        )


def _log_abs(dataset: SignDataset) -> np.ndarray:
    """``log|psi_ED|`` of a set, float32 ``(M,)``.

    Raises:
        ValueError: a set without amplitudes, or with a zero amplitude.
    """
    amps = np.abs(np.asarray(dataset.amplitudes, dtype=np.float64))
    if amps.size and not np.all(amps > 0):
        raise ValueError("the amplitude fit needs non-zero exact amplitudes on every configuration of its sets")
    return np.log(amps).astype(np.float32)
