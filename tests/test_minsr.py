"""VMC_MinSR: the same minSR update as NetKet's VMC_SR, with a Gram matrix by symmetric blocks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.training.minsr import VMC_MinSR, symmetric_gram
from nqs_dilated.training.wavefunction import jacobian_mode_of, make_sign, make_state, make_wavefunction

SMALL = dict(channels=(4, 4), dilations=(1, 2))


@pytest.mark.parametrize("shape, blocks", [((64, 50), 8), ((66, 50), 8), ((64, 50), 1), ((8, 3), 4)])
def test_symmetric_gram(shape, blocks):
    O = jax.random.normal(jax.random.key(0), shape)
    G = symmetric_gram(O, blocks)
    np.testing.assert_allclose(np.asarray(G), np.asarray(O @ O.T), rtol=1e-5, atol=1e-5)
    assert np.array_equal(np.asarray(G), np.asarray(G).T)


def _drivers(cluster, mode, jacobian_mode, dtype=jnp.float64):
    ham = heisenberg_bonds(cluster, 0.5)
    sign = make_sign("marshall", cluster) if mode == "fixed-sign" else None
    model = make_wavefunction(cluster, mode, sign, param_dtype=dtype, **SMALL)
    vs = make_state(ham, cluster, model, n_samples=256, n_chains=16, seed=0)
    kw = dict(diag_shift=0.01, variational_state=vs, use_ntk=True, on_the_fly=False, mode=jacobian_mode)
    return vs, nk.driver.VMC_SR(ham, optax.sgd(0.01), **kw), VMC_MinSR(ham, optax.sgd(0.01), **kw)


def _max_rel(a, b):
    """max |a - b| / max |a| over all parameters."""
    from jax.flatten_util import ravel_pytree

    a, b = ravel_pytree(a)[0], ravel_pytree(b)[0]
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a)))


@pytest.mark.parametrize("mode, jacobian_mode", [("full", "complex"), ("fixed-sign", "real")])
def test_update_equals_netket(cluster_4x4, mode, jacobian_mode):
    vs, ref, ours = _drivers(cluster_4x4, mode, jacobian_mode)
    stats_ref, d_ref = ref.compute_loss_and_update()
    stats, d = ours.compute_loss_and_update()  # same samples (no reset in between)
    assert stats.mean == stats_ref.mean
    assert _max_rel(d_ref, d) < 1e-10


def test_fixed_sign_real_mode_is_exact(cluster_4x4):
    """Fixed sign: the phase has no gradient, so 'real' and 'complex' jacobians give one update."""
    sign = make_sign("marshall", cluster_4x4)
    assert jacobian_mode_of(make_wavefunction(cluster_4x4, "fixed-sign", sign, **SMALL)) == "real"
    assert jacobian_mode_of(make_wavefunction(cluster_4x4, "full", **SMALL)) == "complex"
    vs, _, real = _drivers(cluster_4x4, "fixed-sign", "real")
    cplx = VMC_MinSR(
        heisenberg_bonds(cluster_4x4, 0.5),
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        use_ntk=True,
        on_the_fly=False,
        mode="complex",
    )
    _, d_real = real.compute_loss_and_update()
    _, d_cplx = cplx.compute_loss_and_update()
    assert _max_rel(d_cplx, d_real) < 1e-8


def test_falls_back_to_netket_on_the_fly(cluster_4x4):
    vs, ref, _ = _drivers(cluster_4x4, "full", "complex")
    otf = VMC_MinSR(
        heisenberg_bonds(cluster_4x4, 0.5),
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        use_ntk=True,
        on_the_fly=True,
    )
    _, d_ref = ref.compute_loss_and_update()
    _, d = otf.compute_loss_and_update()
    assert _max_rel(d_ref, d) < 1e-6
