"""Supervised learning of ground-state signs (Westerhout et al., Nat. Commun. 11, 1593 (2020)).

:func:`train_sign` fits any Flax module whose ``apply(params, x)`` maps int8 ±1 configurations
``(B, N)`` to sign logits, ``(B, 2)`` (softmax over the classes of
:data:`nqs_dilated.data.SIGN_CLASSES`: class 0 = sign +1, class 1 = sign -1) or ``(B,)`` (one
logit of class 1, sigmoid), on the training set of :func:`nqs_dilated.data.make_datasets`.

Loss: the **unweighted** mean cross-entropy over the training samples, as in Westerhout et al.
The training configurations are already drawn with probability ``|psi|^2`` (with replacement), so
the unweighted mean over them is a Monte Carlo estimate of the ``|psi|^2``-weighted cross-entropy;
weighting again by ``|psi|^2`` would count the amplitudes twice.

Optimisation: Optax Adam, mini-batches of a fresh permutation of the training set every epoch.
The permutation is padded to a whole number of batches and the padding is masked out, so every
sample counts exactly once per epoch. One epoch is a single jitted function (``jax.lax.scan`` over
the batches); evaluation is a jitted forward pass over fixed-size chunks. Early stopping watches the
validation loss (same unweighted cross-entropy on the validation set) and returns the parameters of
the best epoch. Everything is deterministic for a given ``seed`` (initialisation and shuffling).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ..data import SignDataset, SignDatasets, class_to_sign, orbit_representatives, sign_to_class
from ..metrics import sign_metrics

__all__ = ["TrainResult", "predict_logits", "predict_signs", "train_sign"]


@dataclass
class TrainResult:
    """Outcome of :func:`train_sign`.

    Attributes:
        params: Parameters of the best epoch (lowest validation loss).
        history: One dict per epoch: ``epoch`` (1-based), ``loss`` (mean training CE of the
            epoch), ``val_loss``, ``val_accuracy``, ``val_weighted_accuracy``, ``val_overlap``,
            ``seconds`` (wall time since the start).
        best_epoch: Epoch of ``params`` (1-based; 0 if no epoch ran).
        metrics: Per split (``"train"``, ``"val"``, ``"test"`` or ``"test_uniform"`` and
            ``"test_weighted"``) the dict of :func:`nqs_dilated.metrics.sign_metrics` plus ``loss``,
            for the best parameters.
        stopped_early: Whether early stopping (or the callback) ended the run.
        seconds: Total wall time including the final evaluation.
        orbit_splits: Splits whose final metrics were evaluated once per orbit (``invariant_perms``).
    """

    params: Any
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0
    orbit_splits: list[str] = field(default_factory=list)


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


def _make_evaluator(model, chunk: int):
    """Jitted ``(params, x_chunk, classes_chunk) -> (ce, predicted class)`` on fixed-size chunks."""

    @jax.jit
    def run(params, x, classes):
        logits = model.apply(params, x)
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
    """Logits of ``configs`` (``(M, N)`` ±1) in jitted chunks of ``chunk``: ``(M, 2)`` or ``(M,)``."""
    configs = np.asarray(configs, dtype=np.int8)
    m = len(configs)
    size = max(1, min(chunk, m))
    fn = jax.jit(model.apply)
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


def _make_epoch(model, optimizer, n_train: int, batch_size: int):
    """Jitted epoch: shuffle, pad to whole batches (masked), ``lax.scan`` of Adam steps."""
    n_batches = max(1, math.ceil(n_train / batch_size))
    padded = n_batches * batch_size

    def batch_loss(params, xb, yb, mb):
        ce = _per_sample_ce(model.apply(params, xb), yb)
        return jnp.sum(ce * mb) / jnp.maximum(jnp.sum(mb), 1.0)

    grad_fn = jax.value_and_grad(batch_loss)

    @jax.jit
    def epoch(params, opt_state, key, x, y):
        perm = jax.random.permutation(key, n_train)
        idx = jnp.concatenate([perm, perm[: padded - n_train]]) if padded > n_train else perm
        mask = (jnp.arange(padded) < n_train).astype(jnp.float32)
        idx = idx.reshape(n_batches, batch_size)
        mask = mask.reshape(n_batches, batch_size)

        def step(carry, batch):
            params, opt_state = carry
            ib, mb = batch
            loss, grads = grad_fn(params, x[ib], y[ib], mb)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), (loss * jnp.sum(mb))

        (params, opt_state), weighted = jax.lax.scan(step, (params, opt_state), (idx, mask))
        return params, opt_state, jnp.sum(weighted) / n_train

    return epoch


def _build(model, lr, n_train, batch, chunk):
    optimizer = optax.adam(lr)
    return optimizer, _make_epoch(model, optimizer, n_train, batch), _make_evaluator(model, chunk)


_build_cached = functools.lru_cache(maxsize=16)(_build)


def _compiled(model, lr, n_train, batch, chunk):
    """Optimizer, jitted epoch and evaluator; reused across calls with equal arguments so that
    repeated trainings (seeds, sweeps) do not recompile. Unhashable modules are rebuilt each time."""
    try:
        return _build_cached(model, lr, n_train, batch, chunk)
    except TypeError:
        return _build(model, lr, n_train, batch, chunk)


def train_sign(
    model,
    datasets: SignDatasets,
    *,
    lr: float = 1e-3,
    batch_size: int = 1024,
    epochs: int = 200,
    patience: int | None = 20,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[dict, Any], bool | None] | None = None,
    eval_chunk: int = 8192,
    params: Any = None,
    invariant_perms: np.ndarray | None = None,
    orbit_min_size: int = 65_536,
) -> TrainResult:
    """Train a sign classifier on ``datasets.train`` with early stopping on ``datasets.val``.

    Args:
        model: Flax module; ``model.apply(params, x)`` with int8 ``x`` ``(B, N)`` returns logits
            ``(B, 2)`` or ``(B,)`` (module docstring for the class convention).
        datasets: Splits from :func:`nqs_dilated.data.make_datasets`.
        lr: Adam learning rate.
        batch_size: Mini-batch size (reduced to the training-set size when larger).
        epochs: Maximum number of epochs.
        patience: Stop after this many epochs without a lower validation loss (``None``: never).
        seed: Seed of initialisation and shuffling (``jax.random.PRNGKey(seed)``).
        progress: Show a tqdm bar on stderr with the loss and validation accuracy.
        callback: Called after every epoch as ``callback(record, params)`` with the history record
            and the current parameters; a true return value stops training.
        eval_chunk: Chunk size of the jitted evaluation (bounds memory).
        params: Initial parameters (default ``model.init`` with the seed).
        invariant_perms: Site permutations ``(G, N)`` the model is exactly invariant under (e.g.
            ``group.translations`` for the invariant CNNs). The final evaluation of a set of at
            least ``orbit_min_size`` configurations (the exhaustive test set) then runs the
            model once per orbit (:func:`nqs_dilated.data.orbit_representatives`) and copies the
            logits to the other members: the same metrics up to float rounding, ~G times faster.
            Training and the per-epoch validation are unchanged.
        orbit_min_size: Smallest set evaluated by orbits.

    Returns:
        :class:`TrainResult` with the parameters of the epoch of lowest validation loss.

    Raises:
        ValueError: bad hyperparameters, an empty training set, or logits of the wrong shape.
    """
    if not lr > 0 or batch_size < 1 or epochs < 0 or eval_chunk < 1:
        raise ValueError(f"need lr > 0, batch_size >= 1, epochs >= 0, eval_chunk >= 1; got {lr}, {batch_size}, {epochs}, {eval_chunk}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 or None, got {patience}")
    train, val = datasets.train, datasets.val
    if len(train) == 0:
        raise ValueError("the training set is empty")
    t0 = time.perf_counter()
    key_init, key_shuffle = jax.random.split(jax.random.PRNGKey(seed))
    x = jnp.asarray(train.configs, dtype=jnp.int8)
    y = jnp.asarray(sign_to_class(train.signs))
    if params is None:
        params = model.init(key_init, x[:1])
    _check_logits(model, params, x[:1])
    batch = min(batch_size, len(train))
    optimizer, epoch_fn, evaluate = _compiled(model, float(lr), len(train), batch, eval_chunk)
    opt_state = optimizer.init(params)

    history: list[dict] = []
    best = (math.inf, params, 0)
    stopped = False
    bar = tqdm(range(1, epochs + 1), desc="sign", file=sys.stderr, disable=not progress, leave=False)
    for ep in bar:
        key_shuffle, key = jax.random.split(key_shuffle)
        params, opt_state, loss = epoch_fn(params, opt_state, key, x, y)
        val_ce, val_pred = evaluate(params, val)
        m = sign_metrics(val_pred, val.signs, val.weights)
        record = {
            "epoch": ep,
            "loss": float(loss),
            "val_loss": float(np.mean(val_ce)),
            "val_accuracy": m["accuracy"],
            "val_weighted_accuracy": m["weighted_accuracy"],
            "val_overlap": m["overlap"],
            "seconds": time.perf_counter() - t0,
        }
        history.append(record)
        if record["val_loss"] < best[0]:
            best = (record["val_loss"], params, ep)
        bar.set_postfix(loss=f"{record['loss']:.4f}", val_acc=f"{record['val_accuracy']:.3f}")
        if callback is not None and callback(record, params):
            stopped = True
            break
        if patience is not None and ep - best[2] >= patience:
            stopped = True
            break
    bar.close()
    _, best_params, best_epoch = best
    metrics, orbit_splits = {}, []
    for name, ds in datasets.splits().items():
        if len(ds) == 0:
            continue
        if invariant_perms is not None and len(ds) >= orbit_min_size:
            ce, pred = _evaluate_by_orbits(model, best_params, ds, invariant_perms, eval_chunk)
            orbit_splits.append(name)
        else:
            ce, pred = evaluate(best_params, ds)
        metrics[name] = {**sign_metrics(pred, ds.signs, ds.weights), "loss": float(np.mean(ce))}
    return TrainResult(
        params=best_params,
        history=history,
        best_epoch=best_epoch,
        metrics=metrics,
        stopped_early=stopped,
        seconds=time.perf_counter() - t0,
        orbit_splits=orbit_splits,
    )
