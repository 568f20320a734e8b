"""Supervised learning of ground-state signs (Westerhout et al., Nat. Commun. 11, 1593 (2020)).

:func:`train_sign` fits any Flax module whose ``apply(params, x)`` maps int8 ±1 configurations
``(B, N)`` to sign logits, ``(B, 2)`` (softmax over the classes of
:data:`nqs_dilated.data.SIGN_CLASSES`: class 0 = sign +1, class 1 = sign -1) or ``(B,)`` (one
logit of class 1, sigmoid), on the training set of :func:`nqs_dilated.data.make_datasets`.

Loss: the **unweighted** mean cross-entropy over the training samples, as in Westerhout et al.
The training configurations are already drawn with probability ``|psi|^2`` (with replacement), so
the unweighted mean over them is a Monte Carlo estimate of the ``|psi|^2``-weighted cross-entropy;
weighting again by ``|psi|^2`` would count the amplitudes twice.

Budget: a number of optimizer (Adam) **steps**, not epochs (:func:`training_budget`). The batches
are consecutive slices of one stream of training indices, the concatenation of a fresh
permutation of the training set per epoch, so every sample is used once per epoch and every batch
is full; the permutation of epoch ``e`` depends only on ``(seed, e)``. The batch size is capped
to a sixteenth of the training set (:func:`auto_batch_size`), so even a small training set gets
many steps per epoch. The steps between two validations run as one jitted ``jax.lax.scan``.
On CPU each step accumulates its gradient over micro-batches of :data:`CPU_MICRO_BATCH` samples
(forward and backward of one micro-batch at a time, so the gathered convolution patches stay in
cache; the same gradient up to float rounding), and evaluation runs in chunks of the same size.
On 2 cores ``benchmarks/sign_train.py`` measured the steps 1.07x (batch 1024) and 1.63x (batch
8192) faster than whole batches, and the forward pass of the 36-site network was 2.0x faster in
chunks of 128 than in one call on 8192 configurations.
Early stopping watches the validation loss (same unweighted cross-entropy on the validation set)
every ``eval_every`` steps and ends the run after ``patience`` steps without a lower one, but only
once the run has left its **initial plateau**: sign classifiers often sit for hundreds of steps at
the loss of the best constant prediction (the entropy of the training sign fractions, ``~ln 2``)
before they learn anything, and stopping them there reports a network that could learn the signs
as one that cannot. A run counts as
off the plateau from the first validation loss below ``(1 - PLATEAU_MARGIN)`` times that entropy
(:attr:`TrainResult.left_plateau_step`); a run that never leaves it uses its whole budget. The
parameters of the best validation point are returned. Everything is deterministic for a given
``seed`` (initialisation and batch order), and a run resumed from a :class:`TrainCheckpoint`
continues bit for bit as the uninterrupted run would.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from netket import jax as nkjax
from tqdm.auto import tqdm

from ..data import SignDataset, SignDatasets, class_to_sign, orbit_representatives, sign_to_class

__all__ = [
    "CPU_MICRO_BATCH",
    "DEFAULT_STEPS",
    "MAX_AUTO_BATCH",
    "MIN_AUTO_BATCH",
    "PLATEAU_MARGIN",
    "Budget",
    "TrainCheckpoint",
    "TrainResult",
    "auto_batch_size",
    "default_micro_batch",
    "plateau_loss",
    "predict_logits",
    "predict_signs",
    "train_sign",
    "training_budget",
]

#: Default budget in Adam steps (see :func:`training_budget`).
DEFAULT_STEPS = 4000
#: Bounds of the automatic batch size (the paper's code used 64 on small clusters, 8192 at 36 sites).
MIN_AUTO_BATCH, MAX_AUTO_BATCH = 32, 8192
#: Samples per micro-batch of the gradient and of evaluation on CPU (module docstring); on an
#: accelerator the whole batch is one micro-batch.
CPU_MICRO_BATCH = 128
#: Automatic evaluation interval: about this many validations per run.
N_EVALUATIONS = 100
#: A run has left its initial plateau once its validation loss is this fraction below the loss of the
#: best constant prediction (:func:`plateau_loss`); early stopping acts only after that (module docstring).
PLATEAU_MARGIN = 0.01


def plateau_loss(classes: np.ndarray) -> float:
    """Cross-entropy of the best constant prediction on labels ``classes`` (int ``(M,)``, 0/1): the
    entropy ``-sum_c p_c ln p_c`` of their class fractions, in nats (``ln 2`` for balanced signs)."""
    counts = np.bincount(np.asarray(classes, dtype=np.int64), minlength=2).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)))


def auto_batch_size(n_train: int) -> int:
    """Automatic batch size: the power of two nearest below ``n_train / 16``, clipped to
    ``[MIN_AUTO_BATCH, MAX_AUTO_BATCH]`` and to ``n_train``.

    At least 16 steps per epoch whenever the training set has 512 samples or more: 643 samples
    (16 sites, eps = 0.05) give 32, 27,041 (24 sites, eps = 0.01) give 1024, 315,549 (36 sites,
    eps = 0.01 of the representatives) give 8192.
    """
    if n_train < 1:
        raise ValueError(f"n_train must be >= 1, got {n_train}")
    b = 2 ** max(0, int(math.floor(math.log2(max(n_train / 16, 1)))))
    return int(min(max(b, MIN_AUTO_BATCH), MAX_AUTO_BATCH, n_train))


@dataclass(frozen=True)
class Budget:
    """The resolved training budget of one run (recorded in ``summary.json``).

    Attributes:
        steps: Adam steps at most.
        batch_size: Samples per step.
        epochs: ``steps * batch_size / n_train`` (passes over the training set; may be fractional).
        steps_per_epoch: ``n_train / batch_size``.
        eval_every: Steps between two validations (and possible checkpoints).
        patience: Early stopping: steps without a lower validation loss before the run ends,
            once it has left its initial plateau (module docstring; ``None``: never).
    """

    steps: int
    batch_size: int
    epochs: float
    steps_per_epoch: float
    eval_every: int
    patience: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_budget(
    n_train: int,
    *,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int | None = None,
    eval_every: int | None = None,
    patience: int | None = None,
) -> Budget:
    """Resolve the budget of a run on ``n_train`` training samples.

    Args:
        n_train: Training-set size.
        steps: Adam steps (default :data:`DEFAULT_STEPS`); ignored when ``epochs`` is given.
        epochs: Budget in passes over the training set instead: ``ceil(epochs * n_train / batch)`` steps.
        batch_size: Samples per step (default :func:`auto_batch_size`; reduced to ``n_train``).
        eval_every: Steps between validations (default ``ceil(steps / 100)``).
        patience: Steps without a lower validation loss before stopping, counted once the run
            has left its initial plateau (module docstring; ``None``: never; it is rounded up to
            whole validation intervals).

    Returns:
        :class:`Budget`.

    Raises:
        ValueError: a non-positive size, step count or interval.
    """
    if n_train < 1:
        raise ValueError(f"the training set is empty (n_train = {n_train})")
    batch = auto_batch_size(n_train) if batch_size is None else int(batch_size)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    batch = min(batch, n_train)
    if epochs is not None:
        if not epochs > 0:
            raise ValueError(f"epochs must be positive, got {epochs}")
        steps = int(math.ceil(epochs * n_train / batch))
    steps = DEFAULT_STEPS if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    every = max(1, math.ceil(steps / N_EVALUATIONS)) if eval_every is None else int(eval_every)
    if every < 1:
        raise ValueError(f"eval_every must be >= 1, got {every}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 step or None, got {patience}")
    return Budget(
        steps=steps,
        batch_size=batch,
        epochs=steps * batch / n_train,
        steps_per_epoch=n_train / batch,
        eval_every=min(every, steps),
        patience=patience,
    )


@dataclass
class TrainResult:
    """Outcome of :func:`train_sign`.

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


@dataclass
class TrainCheckpoint:
    """Everything :func:`train_sign` needs to continue a run exactly: the state at a validation point.

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
        """Serialize (Flax msgpack; the history as JSON text)."""
        tree = {
            "step": self.step,
            "params": self.params,
            "opt_state": self.opt_state,
            "best_params": self.best_params,
            "best_loss": self.best_loss,
            "best_step": self.best_step,
            "history": json.dumps(self.history),
            "seconds": self.seconds,
        }
        return flax.serialization.to_bytes(jax.device_get(tree))

    @classmethod
    def from_bytes(cls, data: bytes, params: Any, opt_state: Any) -> TrainCheckpoint:
        """Restore from :meth:`to_bytes` output, with ``params`` and ``opt_state`` as templates
        (the structure of the model and optimizer of the run).

        Raises:
            ValueError: the data does not match the templates (another model or optimizer).
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
        try:
            tree = flax.serialization.from_bytes(template, data)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint does not match this model and optimizer ({err})") from None
        shapes = lambda t: [np.shape(x) for x in jax.tree.leaves(t)]  # noqa: E731
        if shapes(tree["params"]) != shapes(params) or shapes(tree["opt_state"]) != shapes(opt_state):
            raise ValueError("checkpoint does not match this model and optimizer (parameter shapes differ)")
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


def _per_sample_ce(logits: jnp.ndarray, classes: jnp.ndarray) -> jnp.ndarray:
    """Cross-entropy per sample: softmax CE for ``(B, 2)`` logits, sigmoid BCE for ``(B,)``."""
    if logits.ndim == 2:
        return optax.softmax_cross_entropy_with_integer_labels(logits, classes)
    return optax.sigmoid_binary_cross_entropy(logits, classes.astype(logits.dtype))


def _predicted_classes(logits: jnp.ndarray) -> jnp.ndarray:
    if logits.ndim == 2:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return (logits > 0).astype(jnp.int32)


def _check_logits(model, params, x) -> None:
    out = jax.eval_shape(lambda p, x: model.apply(p, x), params, x)
    b = x.shape[0]
    if out.shape not in ((b, 2), (b,)):
        raise ValueError(
            f"the model must return sign logits of shape (B, 2) or (B,), got {out.shape} for a "
            f"batch of {b}: build it with the 'sign' head"
        )


def default_micro_batch() -> int | None:
    """:data:`CPU_MICRO_BATCH` when JAX runs on the CPU, None (no micro-batches) on an accelerator."""
    return CPU_MICRO_BATCH if jax.default_backend() == "cpu" else None


def _chunked_apply(model, micro: int | None):
    """``(params, x (B, N)) -> logits``, evaluated in chunks of ``micro`` configurations
    (:func:`netket.jax.apply_chunked`; ``None``: in one piece)."""
    return nkjax.apply_chunked(model.apply, in_axes=(None, 0), chunk_size=micro, axis_0_is_sharded=False)


def _make_evaluator(model, chunk: int, micro: int | None = None):
    """Jitted ``(params, x_chunk, classes_chunk) -> (ce, predicted class)`` on fixed-size chunks,
    each run in micro-batches of ``micro``."""
    apply = _chunked_apply(model, micro)

    @jax.jit
    def run(params, x, classes):
        logits = apply(params, x)
        return _per_sample_ce(logits, classes), _predicted_classes(logits)

    def evaluate(params, dataset: SignDataset) -> tuple[np.ndarray, np.ndarray]:
        m = len(dataset)
        n_chunks = max(1, math.ceil(m / chunk))
        size = min(chunk, m)
        ce = np.empty(m)
        pred = np.empty(m, dtype=np.int32)
        classes = sign_to_class(dataset.signs)
        for k in range(n_chunks):
            lo, hi = k * size, min((k + 1) * size, m)
            xs = np.zeros((size, dataset.n_sites), np.int8) + 1
            ys = np.zeros(size, np.int32)
            xs[: hi - lo], ys[: hi - lo] = dataset.configs[lo:hi], classes[lo:hi]
            c, p = run(params, jnp.asarray(xs), jnp.asarray(ys))
            ce[lo:hi], pred[lo:hi] = np.asarray(c)[: hi - lo], np.asarray(p)[: hi - lo]
        return ce, class_to_sign(pred)

    return evaluate


def _evaluate_by_orbits(model, params, dataset: SignDataset, perms: np.ndarray, chunk: int):
    """``(ce, predicted signs)`` of an invariant model, evaluated on one configuration per orbit."""
    index, inverse = orbit_representatives(dataset.configs, perms)
    logits = predict_logits(model, params, dataset.configs[index], chunk)[inverse]
    logits = jnp.asarray(logits)
    ce = np.asarray(_per_sample_ce(logits, jnp.asarray(sign_to_class(dataset.signs))), dtype=np.float64)
    return ce, class_to_sign(np.asarray(_predicted_classes(logits)))


def predict_logits(model, params, configs: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Logits of ``configs`` (``(M, N)`` ±1) in jitted chunks of ``chunk``: ``(M, 2)`` or ``(M,)``
    (each chunk in micro-batches of :func:`default_micro_batch`)."""
    configs = np.asarray(configs, dtype=np.int8)
    m = len(configs)
    size = max(1, min(chunk, m))
    fn = jax.jit(_chunked_apply(model, default_micro_batch()))
    out = []
    for lo in range(0, m, size):  # the last chunk is padded: one compiled shape
        xs = np.ones((size, configs.shape[1]), np.int8)
        xs[: min(size, m - lo)] = configs[lo : lo + size]
        out.append(np.asarray(fn(params, jnp.asarray(xs)))[: min(size, m - lo)])
    return np.concatenate(out)


def predict_signs(model, params, configs: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Predicted signs ±1 (int8 ``(M,)``) of ``configs`` (class 0 = +1, class 1 = -1)."""
    logits = predict_logits(model, params, configs, chunk)
    return class_to_sign(np.asarray(_predicted_classes(jnp.asarray(logits))))


class _BatchStream:
    """Training indices of consecutive steps: the concatenation of one permutation per epoch,
    the permutation of epoch ``e`` drawn from ``numpy.random.default_rng([seed, e])``."""

    def __init__(self, n: int, batch: int, seed: int):
        self.n, self.batch, self.seed = n, batch, seed
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {e: p for e, p in self._perms.items() if e >= epoch - 1}
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n).astype(np.int32)
        return self._perms[epoch]

    def indices(self, step: int, k: int) -> np.ndarray:
        """Indices of steps ``step .. step + k - 1``, int32 ``(k, batch)``."""
        lo, hi = step * self.batch, (step + k) * self.batch
        parts, pos = [], lo
        while pos < hi:
            epoch, offset = divmod(pos, self.n)
            take = min(self.n - offset, hi - pos)
            parts.append(self._perm(epoch)[offset : offset + take])
            pos += take
        return np.concatenate(parts).reshape(k, self.batch)


def _make_steps(model, optimizer, micro: int | None = None):
    """Jitted ``(params, opt_state, x, y, idx (k, B)) -> (params, opt_state, mean loss)``: ``k``
    Adam steps as one ``lax.scan``; each step's gradient accumulated over micro-batches of
    ``micro`` samples (None: the whole batch at once)."""

    def summed_loss(params, xb, yb):
        return jnp.sum(_per_sample_ce(model.apply(params, xb), yb))

    summed_grad = jax.value_and_grad(summed_loss)

    def grad_fn(params, xb, yb):
        """Mean loss and its gradient over the batch, one micro-batch at a time."""
        b = xb.shape[0]
        if micro is None or b <= micro:
            loss, grads = summed_grad(params, xb, yb)
        else:
            full = (b // micro) * micro

            def accumulate(acc, chunk):
                loss, grads = summed_grad(params, *chunk)
                return jax.tree_util.tree_map(jnp.add, acc, (loss, grads)), None

            shapes = jax.eval_shape(summed_grad, params, xb[:micro], yb[:micro])
            zero = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)
            chunks = (xb[:full].reshape(-1, micro, *xb.shape[1:]), yb[:full].reshape(-1, micro))
            (loss, grads), _ = jax.lax.scan(accumulate, zero, chunks)
            if full < b:
                rest = summed_grad(params, xb[full:], yb[full:])
                loss, grads = jax.tree_util.tree_map(jnp.add, (loss, grads), rest)
        return loss / b, jax.tree_util.tree_map(lambda g: g / b, grads)

    @jax.jit
    def steps(params, opt_state, x, y, idx):
        def step(carry, ib):
            params, opt_state = carry
            loss, grads = grad_fn(params, x[ib], y[ib])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), idx)
        return params, opt_state, jnp.mean(losses)

    return steps


def _build(model, lr, chunk, micro):
    optimizer = optax.adam(lr)
    return optimizer, _make_steps(model, optimizer, micro), _make_evaluator(model, chunk, micro)


_build_cached = functools.lru_cache(maxsize=16)(_build)


def _compiled(model, lr, chunk, micro):
    """Optimizer, jitted steps and evaluator; reused across calls with equal arguments so that
    repeated trainings (seeds, sweeps) do not recompile. Unhashable modules are rebuilt each time."""
    try:
        return _build_cached(model, lr, chunk, micro)
    except TypeError:
        return _build(model, lr, chunk, micro)


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
    """Train a sign classifier on ``datasets.train`` with early stopping on ``datasets.val``.

    Args:
        model: Flax module; ``model.apply(params, x)`` with int8 ``x`` ``(B, N)`` returns logits
            ``(B, 2)`` or ``(B,)`` (module docstring for the class convention).
        datasets: Splits from :func:`nqs_dilated.data.make_datasets`.
        lr: Adam learning rate.
        steps, epochs, batch_size, eval_every, patience: The budget (:func:`training_budget`;
            default :data:`DEFAULT_STEPS` steps at the automatic batch size, no early stopping).
        seed: Seed of initialisation (``jax.random.PRNGKey(seed)``) and batch order.
        progress: Show a tqdm bar on stderr with the loss and validation accuracy.
        callback: Called after every validation as ``callback(record, params)`` with the history
            record and the current parameters; a true return value stops training.
        eval_chunk: Chunk size of the jitted evaluation (bounds memory).
        params: Initial parameters (default ``model.init`` with the seed).
        invariant_perms: Site permutations ``(G, N)`` the model is exactly invariant under (e.g.
            ``group.translations`` for the invariant CNNs). The final evaluation of a set of at
            least ``orbit_min_size`` configurations (the exhaustive test set) then runs the
            model once per orbit (:func:`nqs_dilated.data.orbit_representatives`) and copies the
            logits to the other members: the same metrics up to float rounding, ~G times faster.
        orbit_min_size: Smallest set evaluated by orbits.
        resume: Bytes of a :class:`TrainCheckpoint` of the same run (same model, data, budget and
            seed): training continues from it and ends as the uninterrupted run would.
        on_checkpoint: Called with a :class:`TrainCheckpoint` after every validation (after
            ``callback``, unless it stopped the run); the caller decides whether to write it.

    Returns:
        :class:`TrainResult` with the parameters of the validation point of lowest validation loss.

    Raises:
        ValueError: bad hyperparameters, an empty training set, logits of the wrong shape, or a
            checkpoint of another model.
    """
    if not lr > 0 or eval_chunk < 1:
        raise ValueError(f"need lr > 0 and eval_chunk >= 1; got {lr}, {eval_chunk}")
    train, val = datasets.train, datasets.val
    budget = training_budget(
        len(train), steps=steps, epochs=epochs, batch_size=batch_size, eval_every=eval_every, patience=patience
    )
    t0 = time.perf_counter()
    key_init = jax.random.split(jax.random.PRNGKey(seed))[0]
    x = jnp.asarray(train.configs, dtype=jnp.int8)
    y = jnp.asarray(sign_to_class(train.signs))
    if params is None:
        params = model.init(key_init, x[:1])
    _check_logits(model, params, x[:1])
    optimizer, run_steps, evaluate = _compiled(model, float(lr), eval_chunk, default_micro_batch())
    opt_state = optimizer.init(params)
    stream = _BatchStream(len(train), budget.batch_size, seed)

    step, history, best, seconds0 = 0, [], (math.inf, params, 0), 0.0
    if resume is not None:
        ck = TrainCheckpoint.from_bytes(resume, params, opt_state)
        step, params, opt_state, history = ck.step, ck.params, ck.opt_state, ck.history
        best, seconds0 = (ck.best_loss, ck.best_params, ck.best_step), ck.seconds
    resumed_from = step
    stopped = False
    plateau_below = (1.0 - PLATEAU_MARGIN) * plateau_loss(np.asarray(y))
    left_plateau = next((r["step"] for r in history if r["val_loss"] < plateau_below), None)
    bar = tqdm(
        total=budget.steps, initial=step, desc="sign", unit="step", file=sys.stderr, disable=not progress, leave=False
    )
    while step < budget.steps:
        k = min(budget.eval_every, budget.steps - step)
        params, opt_state, loss = run_steps(params, opt_state, x, y, jnp.asarray(stream.indices(step, k)))
        step += k
        val_ce, val_pred = evaluate(params, val)
        m = val.sign_metrics(val_pred)
        record = {
            "step": step,
            "epoch": step / budget.steps_per_epoch,
            "loss": float(loss),
            "val_loss": float(np.mean(val_ce)),
            "val_accuracy": m["accuracy"],
            "val_weighted_accuracy": m["weighted_accuracy"],
            "val_overlap": m["overlap"],
            "seconds": seconds0 + time.perf_counter() - t0,
        }
        history.append(record)
        if record["val_loss"] < best[0]:
            best = (record["val_loss"], params, step)
        if left_plateau is None and record["val_loss"] < plateau_below:
            left_plateau = step
        bar.update(k)
        bar.set_postfix(loss=f"{record['loss']:.4f}", val_acc=f"{record['val_accuracy']:.3f}")
        if callback is not None and callback(record, params):
            stopped = True
            break
        if on_checkpoint is not None:
            on_checkpoint(
                TrainCheckpoint(step, params, opt_state, best[1], best[0], best[2], list(history), record["seconds"])
            )
        if budget.patience is not None and left_plateau is not None and step - best[2] >= budget.patience:
            stopped = True
            break
    bar.close()
    _, best_params, best_step = best
    metrics, orbit_splits = {}, []
    for name, ds in datasets.splits().items():
        if len(ds) == 0:
            continue
        if invariant_perms is not None and len(ds) >= orbit_min_size:
            ce, pred = _evaluate_by_orbits(model, best_params, ds, invariant_perms, eval_chunk)
            orbit_splits.append(name)
        else:
            ce, pred = evaluate(best_params, ds)
        metrics[name] = {**ds.sign_metrics(pred), "loss": float(np.mean(ce))}
    return TrainResult(
        params=best_params,
        history=history,
        best_step=best_step,
        budget=budget,
        metrics=metrics,
        stopped_early=stopped,
        left_plateau_step=left_plateau,
        seconds=time.perf_counter() - t0,
        orbit_splits=orbit_splits,
        resumed_from=resumed_from,
    )
