"""Tests of nqs_dilated.models: invariance on every translation, conv equivalence, heads, errors."""

from __future__ import annotations

from functools import cache

import flax.linen as nn
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import (
    CircularConv,
    InvariantDilatedCNN,
    grid_of,
    make_model,
    n_params,
    permutation_group,
)
from nqs_dilated.symmetry import space_group

SMALL = ("triangular-4x4", "triangular-4x6")


@cache
def cluster(name):
    return load_lattice(name)


@cache
def group(name):
    return space_group(cluster(name))


def configs(n_sites, shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(*shape, n_sites))


def transform_all(x, perms):
    """``out[g, ..., perms[g, i]] = x[..., i]`` for every permutation ``g``."""
    inverse = np.argsort(perms, axis=1)  # inverse[g, perms[g, i]] = i
    return np.stack([x[..., inv] for inv in inverse])


def init_apply(model, x, seed=0):
    params = model.init(jax.random.key(seed), x)
    return params, model.apply(params, x)


# Models claiming translation invariance; the default dilations wrap both axes of 4x6 at some layer.
INVARIANT_CASES = [
    ("dilated", dict(kernel_size=2, dilations=(1, 2, 3), channels=(8, 8, 8), residual=True)),
    ("dilated", dict(dilations=(1, 2, 2), channels=(8, 8, 8), head="log_psi")),
    ("cnn", dict(channels=(8, 8), sign_logits=1)),
    ("gcnn", dict(features=(4, 4))),
]


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("model_name,cfg", INVARIANT_CASES)
def test_invariant_under_every_translation(name, model_name, cfg):
    c = cluster(name)
    model = make_model(model_name, c, param_dtype=jnp.float64, **cfg)
    x = configs(c.n_sites, (8,), seed=1)
    xt = transform_all(x, group(name).translations)  # (N, 8, N), xt[0] = x
    params = model.init(jax.random.key(0), x[:1])
    yt = jax.jit(model.apply)(params, xt)
    y = yt[0]
    assert yt.shape[:2] == (c.n_sites, 8)
    assert np.std(np.asarray(y)) > 1e-6  # the test is not trivially passed by a constant
    np.testing.assert_allclose(yt, np.broadcast_to(y, yt.shape), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", SMALL)
def test_gcnn_invariant_under_whole_space_group(name):
    c = cluster(name)
    model = make_model("gcnn", c, features=(4, 4), param_dtype=jnp.float64)
    x = configs(c.n_sites, (4,), seed=2)
    params = model.init(jax.random.key(0), x[:1])
    yt = jax.jit(model.apply)(params, transform_all(x, group(name).perms))
    y = yt[0]
    np.testing.assert_allclose(yt, np.broadcast_to(y, yt.shape), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", SMALL)
def test_gcnn_group_equals_automorphisms(name):
    c = cluster(name)
    ours = {tuple(p) for p in np.asarray(permutation_group(c))}
    netket = {tuple(p) for p in np.asarray(c.graph.automorphisms())}
    assert ours == netket
    assert ours == {tuple(p) for p in group(name).perms}


@pytest.mark.parametrize("name", SMALL)
def test_dense_is_not_invariant(name):
    c = cluster(name)
    model = make_model("dense", c, hidden=(32,), param_dtype=jnp.float64)
    x = configs(c.n_sites, (8,), seed=3)
    params = model.init(jax.random.key(0), x[:1])
    yt = jax.jit(model.apply)(params, transform_all(x, group(name).translations))
    y = yt[0]
    assert np.max(np.abs(yt - y[None])) > 1e-3


@pytest.mark.parametrize(
    "name,kernel_size,dilation",
    [("triangular-4x6", k, d) for k, d in [(1, 1), (2, 3), (3, 1), (3, 2), (3, 3), (4, 2)]]
    + [("triangular-6x6", 3, 2), ("triangular-6x6", 3, 3)],
)
def test_gather_conv_equals_flax_circular_conv(name, kernel_size, dilation):
    c = cluster(name)
    extent, grid = grid_of(c)
    c_in, c_out = 3, 5
    x = jax.random.normal(jax.random.key(4), (2, 7, c.n_sites, c_in), dtype=jnp.float64)
    ours = CircularConv(c_out, kernel_size, dilation, extent, grid, param_dtype=jnp.float64)
    params = jax.jit(ours.init)(jax.random.key(5), x)
    params = jax.tree_util.tree_map(lambda p: p + 0.1, params)  # non-zero bias
    reference = nn.Conv(
        c_out,
        (kernel_size, kernel_size),
        kernel_dilation=dilation,
        padding="CIRCULAR",
        param_dtype=jnp.float64,
    )
    # Site order -> grid with the cluster's own map, and back.
    on_grid = x[..., c.site_of, :].reshape(14, *c.extent, c_in)
    expected = jax.jit(reference.apply)(params, on_grid).reshape(2, 7, *c.extent, c_out)
    expected = expected[..., c.grid[:, 0], c.grid[:, 1], :]
    np.testing.assert_allclose(jax.jit(ours.apply)(params, x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model_name", ["dilated", "cnn", "dense", "gcnn"])
def test_int8_and_batch_shapes(model_name):
    c = cluster("triangular-4x4")
    cfg = dict(dilations=(1, 1)) if model_name == "dilated" else {}
    cfg |= dict(features=(4,)) if model_name == "gcnn" else {}
    cfg |= dict(channels=(4, 4)) if model_name in ("dilated", "cnn") else {}
    model = make_model(model_name, c, **cfg)
    x = configs(c.n_sites, (3, 5), seed=6)
    params = model.init(jax.random.key(0), x[0])
    apply = jax.jit(model.apply)
    y_int8 = apply(params, x)
    y_float = apply(params, x.astype(np.float32))
    y_flat = apply(params, x.reshape(15, -1))
    assert x.dtype == np.int8
    assert y_int8.shape == (3, 5, 2) and y_flat.shape == (15, 2)
    np.testing.assert_allclose(y_int8, y_float, rtol=1e-6)
    np.testing.assert_allclose(y_int8.reshape(15, 2), y_flat, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_name", ["dilated", "dense", "gcnn"])
def test_heads(model_name):
    c = cluster("triangular-4x4")
    base = dict(dilations=(1, 1), channels=(4, 4)) if model_name == "dilated" else {}
    base |= dict(features=(4,)) if model_name == "gcnn" else {}
    x = configs(c.n_sites, (3,), seed=7)
    one_logit, log_psi = (
        make_model(model_name, c, sign_logits=1, **base),
        make_model(model_name, c, head="log_psi", **base),
    )
    one = jax.eval_shape(lambda x: init_apply(one_logit, x)[1], x)
    log_psi = jax.eval_shape(lambda x: init_apply(log_psi, x)[1], x)
    assert one.shape == (3,) and one.dtype == jnp.float32
    assert log_psi.shape == (3,) and log_psi.dtype == jnp.complex64


def test_cnn_is_dilated_cnn_with_unit_dilations():
    c = cluster("triangular-4x6")
    cnn = make_model("cnn", c, channels=(4, 4, 4))
    assert isinstance(cnn, InvariantDilatedCNN) and cnn.dilations == (1, 1, 1)
    same = InvariantDilatedCNN.from_cluster(c, channels=(4, 4, 4), dilations=(1, 1, 1))
    x = configs(c.n_sites, (5,), seed=8)
    params = cnn.init(jax.random.key(0), x)
    np.testing.assert_array_equal(cnn.apply(params, x), same.apply(params, x))


BAD = [
    ("dilated", dict(dilations=(1, 2, 4)), "dilation 4 x"),  # 4 x 2 > 6, the longest side of 4x6
    ("dilated", dict(dilations=(1, 3)), "len\\(dilations\\)"),
    ("dilated", dict(channels=(), dilations=()), "channels is empty"),
    ("dilated", dict(channels=(8, 0), dilations=(1, 1)), "channels must be positive"),
    ("dilated", dict(kernel_size=0, dilations=(1, 1, 1)), "kernel_size must be a positive"),
    ("dilated", dict(dilations=(1, 0, 1)), "dilations must be positive"),
    ("dilated", dict(dilations=(1, 1, 1), head="amplitude"), "unknown head"),
    ("dilated", dict(dilations=(1, 1, 1), sign_logits=3), "sign_logits"),
    ("cnn", dict(dilations=(1, 2, 1)), "all dilations 1"),
    ("cnn", dict(kernel_size=8), "dilation 1 x"),
    ("dense", dict(hidden=(0,)), "hidden sizes"),
    ("dense", dict(head="phase"), "unknown head"),
    ("gcnn", dict(features=()), "features is empty"),
    ("gcnn", dict(sign_logits=0), "sign_logits"),
    ("dilated", dict(widths=(4,)), "no option"),
    ("resnet", dict(), "unknown model"),
]


@pytest.mark.parametrize("model_name,cfg,match", BAD)
def test_bad_configurations_raise(model_name, cfg, match):
    with pytest.raises(ValueError, match=match):
        make_model(model_name, cluster("triangular-4x6"), **cfg)


def test_bad_grid_raises():
    with pytest.raises(ValueError, match="grid has"):
        InvariantDilatedCNN(extent=(4, 4), grid=((0, 0), (0, 1)), dilations=(1, 1, 1))
    with pytest.raises(ValueError, match="repeats a cell"):
        InvariantDilatedCNN(extent=(1, 2), grid=((0, 0), (0, 0)), channels=(2,), dilations=(1,), kernel_size=1)


def test_log_psi_head_works_with_mcstate():
    c = cluster("triangular-4x4")
    model = make_model("dilated", c, channels=(4, 4), dilations=(1, 1), head="log_psi", param_dtype=jnp.float64)
    hilbert = nk.hilbert.Spin(0.5, c.n_sites, total_sz=0)
    sampler = nk.sampler.MetropolisExchange(hilbert, graph=c.graph, n_chains=8)
    state = nk.vqs.MCState(sampler, model, n_samples=64, n_discard_per_chain=4, seed=0, sampler_seed=1)
    energy = state.expect(nk.operator.Heisenberg(hilbert, c.graph))
    assert np.isfinite(energy.mean.real)
    assert state.samples.dtype == np.int8


def expected_params(model_name, n_sites, cfg):
    n_out = cfg.get("sign_logits", 2) if cfg.get("head", "sign") == "sign" else 2
    if model_name in ("dilated", "cnn"):
        k, chans = cfg.get("kernel_size", 3), (1, *cfg.get("channels", (32, 32, 32)))
        conv = sum(k * k * a * b + b for a, b in zip(chans[:-1], chans[1:]))
        return conv + chans[-1] * n_out + n_out
    widths = (n_sites, *cfg.get("hidden", (512,)), n_out)
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


@pytest.mark.parametrize("name", ("triangular-4x6", "triangular-6x6"))
@pytest.mark.parametrize(
    "model_name,cfg",
    [
        ("dilated", dict()),
        ("cnn", dict()),
        ("dilated", dict(kernel_size=2, channels=(16, 16), dilations=(1, 2), head="log_psi")),
        ("dense", dict()),
        ("dense", dict(hidden=(64, 32), sign_logits=1)),
    ],
)
def test_parameter_count_matches_formula(name, model_name, cfg):
    c = cluster(name)
    model = make_model(model_name, c, **cfg)
    count = n_params(jax.eval_shape(model.init, jax.random.key(0), configs(c.n_sites, (1,))))
    print(f"{name} {model_name} {cfg}: {count} parameters")
    assert count == expected_params(model_name, c.n_sites, cfg)


@pytest.mark.parametrize("name", ("triangular-4x6", "triangular-6x6"))
def test_gcnn_parameter_count_reported(name):
    c = cluster(name)
    model = make_model("gcnn", c)
    count = n_params(jax.eval_shape(model.init, jax.random.key(0), configs(c.n_sites, (1,))))
    print(f"{name} gcnn default (2 G-CNNs, features (8, 8, 8), |G| = {len(group(name))}): {count} parameters")
    assert count > 0
