"""The jitted pieces of the supervised sign fit: budget, batches, loss, Adam steps, evaluation.

Used by :class:`nqs_dilated.training.sign.SignFit` (its module docstring describes the loss, the
budget, the micro-batches and the plateau rule); :func:`predict_logits` and :func:`predict_signs`
apply a fitted sign network to any configurations.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from netket import jax as nkjax

from ..data import SignDataset, class_to_sign, orbit_representatives, sign_to_class

__all__ = [
    "CPU_MICRO_BATCH",
    "DEFAULT_STEPS",
    "MAX_AUTO_BATCH",
    "MIN_AUTO_BATCH",
    "PLATEAU_MARGIN",
    "BatchStream",
    "Budget",
    "auto_batch_size",
    "check_logits",
    "compiled",
    "default_micro_batch",
    "evaluate_by_orbits",
    "plateau_loss",
    "predict_logits",
    "predict_signs",
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


def _per_sample_ce(logits: jnp.ndarray, classes: jnp.ndarray) -> jnp.ndarray:
    """Cross-entropy per sample: softmax CE for ``(B, 2)`` logits, sigmoid BCE for ``(B,)``."""
    if logits.ndim == 2:
        return optax.softmax_cross_entropy_with_integer_labels(logits, classes)
    return optax.sigmoid_binary_cross_entropy(logits, classes.astype(logits.dtype))


def _predicted_classes(logits: jnp.ndarray) -> jnp.ndarray:
    if logits.ndim == 2:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return (logits > 0).astype(jnp.int32)


def check_logits(model, params, x) -> None:
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


def evaluate_by_orbits(model, params, dataset: SignDataset, perms: np.ndarray, chunk: int):
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


class BatchStream:
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


def compiled(model, lr, chunk, micro):
    """Optimizer, jitted steps and evaluator; reused across calls with equal arguments so that
    repeated trainings (seeds, sweeps) do not recompile. Unhashable modules are rebuilt each time."""
    try:
        return _build_cached(model, lr, chunk, micro)
    except TypeError:
        return _build(model, lr, chunk, micro)
