"""Supervised sign driver: learning the Marshall sign at J2 = 0, determinism, heads, early stopping."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import marshall_sign

from nqs_dilated.data import make_datasets, sign_to_class
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.training import sign_steps
from nqs_dilated.training.sign import TrainResult, train_sign
from nqs_dilated.training.sign_steps import (
    DEFAULT_STEPS,
    PLATEAU_MARGIN,
    auto_batch_size,
    plateau_loss,
    predict_signs,
    training_budget,
)


class MLP(nn.Module):
    """Test fixture: one hidden layer with cosine activation (can express a parity such as the
    Marshall sign with a single unit), then ``logits`` outputs."""

    hidden: int = 32
    """Width of the hidden layer (default 32)."""
    logits: int = 2
    """2 for ``(B, 2)`` softmax logits, 1 for a ``(B,)`` sigmoid logit (default 2)."""

    @nn.compact
    def __call__(self, x):
        x = x.astype(jnp.float32)
        h = jnp.cos(nn.Dense(self.hidden)(x))
        out = nn.Dense(self.logits)(h)
        return out if self.logits == 2 else out[..., 0]


@pytest.fixture(scope="module")
def state_j0():
    return ground_state("triangular-4x4", 0.0)


@pytest.fixture(scope="module")
def datasets(state_j0, group_4x4):
    return make_datasets(state_j0, group_4x4, eps=0.1, seed=0)


def test_exact_state_obeys_marshall(state_j0):
    configs, amps = state_j0.enumerate()
    np.testing.assert_array_equal(np.sign(amps), marshall_sign(state_j0.cluster, configs))


def test_learns_marshall_sign(datasets, state_j0):
    result = train_sign(MLP(), datasets, lr=1e-2, batch_size=128, epochs=100, patience=300, progress=False)
    assert isinstance(result, TrainResult)
    test = result.metrics["test"]
    assert test["n"] == len(datasets.test)
    assert test["accuracy"] > 0.9, result.metrics  # chance: 0.5
    assert test["weighted_accuracy"] > 0.9 and test["overlap"] > 0.8
    pred = predict_signs(MLP(), result.params, datasets.test.configs)
    marshall = marshall_sign(state_j0.cluster, datasets.test.configs)
    assert np.mean(pred == marshall) == pytest.approx(test["accuracy"])
    h = result.history
    every = result.budget.eval_every
    assert [r["step"] for r in h] == [every * (k + 1) for k in range(len(h) - 1)] + [h[-1]["step"]]
    assert {"loss", "val_loss", "val_accuracy", "val_weighted_accuracy", "val_overlap", "epoch"} <= set(h[0])
    assert result.best_step == h[int(np.argmin([r["val_loss"] for r in h]))]["step"]
    assert h[-1]["loss"] < h[0]["loss"]


def test_deterministic(datasets):
    runs = [train_sign(MLP(hidden=8), datasets, epochs=3, batch_size=64, seed=4, progress=False) for _ in range(2)]
    for a, b in zip(jax.tree.leaves(runs[0].params), jax.tree.leaves(runs[1].params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert runs[0].history[-1]["loss"] == runs[1].history[-1]["loss"]
    other = train_sign(MLP(hidden=8), datasets, epochs=3, batch_size=64, seed=5, progress=False)
    assert not np.array_equal(jax.tree.leaves(other.params)[0], jax.tree.leaves(runs[0].params)[0])


def test_one_logit_head_and_sampled_test_sets(state_j0, group_4x4):
    ds = make_datasets(state_j0, group_4x4, eps=0.1, seed=1, exhaustive=False, n_test=2000)
    result = train_sign(MLP(logits=1), ds, lr=1e-2, batch_size=128, epochs=15, patience=None, progress=False)
    assert set(result.metrics) == {"train", "val", "test_uniform", "test_weighted"}
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert not result.stopped_early and result.history[-1]["step"] == result.budget.steps
    assert result.budget.steps == int(np.ceil(15 * len(ds.train) / 128))


def test_early_stopping_and_callback(datasets):
    seen = []

    def callback(record, params):
        seen.append(record["step"])
        return len(seen) == 4

    result = train_sign(MLP(hidden=8), datasets, steps=500, eval_every=10, callback=callback, progress=False)
    assert seen == [10, 20, 30, 40] and result.stopped_early
    # a large learning rate: the loss leaves its plateau at once, then stalls; patience (in steps) ends the run
    result = train_sign(MLP(hidden=8), datasets, lr=0.3, steps=2000, eval_every=5, patience=30, progress=False)
    assert result.stopped_early and result.history[-1]["step"] == result.best_step + 30
    assert result.left_plateau_step is not None and result.left_plateau_step <= result.best_step
    assert result.history[-1]["step"] < 2000


def test_no_early_stopping_on_the_initial_plateau(datasets):
    """Random signs cannot be learned: the validation loss stays at the constant prediction's
    (ln 2 for balanced signs), and early stopping never ends such a run (module docstring)."""
    rng = np.random.default_rng(0)

    def scrambled(ds):
        return dataclasses.replace(ds, signs=rng.choice(np.array([-1, 1], dtype=np.int8), len(ds)))

    noise = dataclasses.replace(datasets, train=scrambled(datasets.train), val=scrambled(datasets.val))
    result = train_sign(MLP(hidden=8), noise, lr=1e-3, steps=300, eval_every=10, patience=30, progress=False)
    assert result.left_plateau_step is None and not result.stopped_early
    assert result.history[-1]["step"] == 300  # the whole budget, 270 steps past the patience
    plateau = plateau_loss(sign_to_class(noise.train.signs))
    assert min(r["val_loss"] for r in result.history) >= (1 - PLATEAU_MARGIN) * plateau
    # the learnable signs leave the plateau within the same budget
    learned = train_sign(MLP(hidden=8), datasets, lr=1e-2, steps=300, eval_every=10, patience=30, progress=False)
    assert learned.left_plateau_step is not None


def test_plateau_loss_is_the_entropy_of_the_class_fractions():
    assert plateau_loss(np.array([0, 1] * 50)) == pytest.approx(np.log(2))
    assert plateau_loss(np.array([0, 0, 0, 1])) == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    assert plateau_loss(np.zeros(7, dtype=int)) == 0.0


@pytest.mark.parametrize("batch", [300, 64])
def test_micro_batches_give_the_whole_batch_gradient(datasets, batch):
    """One SGD step with the gradient accumulated over micro-batches of 128 (300 = 2 x 128 + a
    remainder of 44; 64: a single micro-batch) moves the parameters as the whole-batch gradient."""
    model = MLP()
    x = jnp.asarray(datasets.train.configs[:batch], jnp.int8)
    y = jnp.asarray(sign_to_class(datasets.train.signs[:batch]))
    params = model.init(jax.random.PRNGKey(1), x[:1])
    optimizer = optax.sgd(1.0)
    idx = jnp.arange(batch, dtype=jnp.int32)[None]
    moved = {}
    for micro in (None, 128):
        steps = sign_steps._make_steps(model, optimizer, micro)
        new, _, loss = steps(params, optimizer.init(params), x, y, idx)
        moved[micro] = (jax.tree_util.tree_map(jnp.subtract, new, params), float(loss))
    assert moved[None][1] == pytest.approx(moved[128][1], rel=1e-6)
    for whole, chunked in zip(jax.tree_util.tree_leaves(moved[None][0]), jax.tree_util.tree_leaves(moved[128][0])):
        assert float(jnp.max(jnp.abs(whole))) > 0
        np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-7)


def test_rejects_wrong_logit_shape(datasets):
    class Wrong(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(x.astype(jnp.float32))

    with pytest.raises(ValueError, match="logits"):
        train_sign(Wrong(), datasets, epochs=1, progress=False)


def test_budget_rules():
    """Automatic batch: the power of two below n_train / 16 within [32, 8192]; epochs -> steps."""
    assert [auto_batch_size(n) for n in (10, 644, 27_041, 31_555, 315_549)] == [10, 32, 1024, 1024, 8192]
    b = training_budget(644)
    assert (b.steps, b.batch_size, b.eval_every, b.patience) == (DEFAULT_STEPS, 32, DEFAULT_STEPS // 100, None)
    assert b.epochs == pytest.approx(DEFAULT_STEPS * 32 / 644)
    b = training_budget(1000, epochs=3, batch_size=64)
    assert b.steps == 47 and b.eval_every == 1
    with pytest.raises(ValueError, match="steps"):
        training_budget(100, steps=0)
    with pytest.raises(ValueError, match="empty"):
        training_budget(0)


def test_resume_from_checkpoint_ends_as_uninterrupted(datasets):
    """A run stopped after its third validation and resumed from that checkpoint ends with the
    same parameters, history and metrics as the uninterrupted run of the same seed."""
    kw = dict(lr=3e-3, steps=120, eval_every=20, batch_size=64, patience=60, seed=3, progress=False)
    full = train_sign(MLP(hidden=8), datasets, **kw)
    saved = []
    train_sign(
        MLP(hidden=8),
        datasets,
        **kw,
        on_checkpoint=lambda ck: saved.append(ck.to_bytes()),
        callback=lambda record, params: len(saved) == 3,
    )
    resumed = train_sign(MLP(hidden=8), datasets, **kw, resume=saved[-1])
    assert resumed.resumed_from == 60
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]
    assert strip(resumed.history) == strip(full.history)
    assert resumed.metrics == full.metrics and resumed.best_step == full.best_step
    with pytest.raises(ValueError, match="checkpoint"):
        train_sign(MLP(hidden=16), datasets, **kw, resume=saved[-1])
