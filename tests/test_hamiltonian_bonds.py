"""HeisenbergBonds and its local-energy kernel: same operator and local energies as NetKet's Heisenberg."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from netket.vqs.mc import kernels

from nqs_dilated.ed.ground import ground_state
from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.hamiltonian.bonds import HeisenbergBonds, heisenberg_bonds, local_energy_kernel
from nqs_dilated.models.wavefunction import bit_codes
from nqs_dilated.training.wavefunction import make_state, make_wavefunction


@pytest.mark.parametrize("j2", [0.0, 0.5, 1.3])
def test_same_matrix_as_netket(cluster_4x4, j2):
    ours, ref = heisenberg_bonds(cluster_4x4, j2), heisenberg(cluster_4x4, j2)
    assert abs(ours.to_sparse() - ref.to_sparse()).max() < 1e-12  # summation order only
    n_bonds = cluster_4x4.graph.n_edges
    # J2 = 0 drops the J2 bonds; NetKet's operator does the same (1 + 32 connections)
    assert ours.max_conn_size == (1 + 2 * n_bonds // 3 if j2 == 0 else 1 + n_bonds)
    assert ours.max_conn_size == ref.max_conn_size


def test_two_site_singlet_pauli_convention():
    hi = nk.hilbert.Spin(0.5, 2, total_sz=0)
    h = HeisenbergBonds(hi, [(0, 1)], [1.0])
    # sigma.sigma = 4 S.S: singlet -3, Sz = 0 triplet +1
    np.testing.assert_allclose(np.linalg.eigvalsh(np.asarray(h.to_dense())), [-3.0, 1.0])


def test_bad_bonds():
    hi = nk.hilbert.Spin(0.5, 4, total_sz=0)
    with pytest.raises(ValueError, match="two different sites"):
        HeisenbergBonds(hi, [(0, 0)], [1.0])
    with pytest.raises(ValueError, match="two different sites"):
        HeisenbergBonds(hi, [(0, 4)], [1.0])
    with pytest.raises(ValueError, match="2 bonds but 1 couplings"):
        HeisenbergBonds(hi, [(0, 1), (1, 2)], [1.0])
    with pytest.raises(ValueError, match="finite"):
        HeisenbergBonds(hi, [(0, 1)], [np.nan])


@pytest.mark.parametrize("mode", ["full", "fixed-sign"])
@pytest.mark.parametrize("chunk", [3, 128, 100_000])
def test_local_energies_equal_netket_kernel(cluster_4x6, mode, chunk):
    """Random-parameter CNN on 4x6, J2 = 0.7: our kernel (any chunk) = NetKet's padded kernel."""
    from nqs_dilated.training.wavefunction import make_sign

    ours, ref = heisenberg_bonds(cluster_4x6, 0.7), heisenberg(cluster_4x6, 0.7)
    sign = make_sign("marshall", cluster_4x6) if mode == "fixed-sign" else None
    model = make_wavefunction(cluster_4x6, mode, sign, channels=(4, 4), dilations=(1, 2))
    hi = ours.hilbert
    x = hi.random_state(jax.random.key(0), 200)
    params = model.init(jax.random.key(1), x[:1])
    e_ours = local_energy_kernel(model.apply, params, x, ours, chunk_size=chunk)
    e_ref = kernels.local_value_kernel_jax(model.apply, params, x, ref.to_jax_operator())
    assert e_ours.shape == (200,)
    np.testing.assert_allclose(np.asarray(e_ours), np.asarray(e_ref), rtol=1e-10, atol=1e-10)


def test_exact_ground_state_has_constant_local_energy(cluster_4x4):
    """E_loc(x) = E_0 on every configuration of the exact ground state (J2/J1 = 1, frustrated)."""
    gs = ground_state(cluster_4x4, 1.0)
    codes, amps = gs.enumerate_codes()
    order = np.argsort(codes)
    table, vals = jnp.asarray(codes[order].astype(np.int64)), jnp.asarray(amps[order])

    def logpsi(_, x):
        a = vals[jnp.searchsorted(table, bit_codes(x))]
        return jnp.log(jnp.abs(a)) + 1j * jnp.pi * (a < 0)

    configs = jnp.asarray(gs.enumerate()[0])
    keep = np.abs(np.asarray(amps)) > 1e-6 * np.abs(amps).max()
    e = np.asarray(local_energy_kernel(logpsi, None, configs[keep], heisenberg_bonds(cluster_4x4, 1.0)))
    # to the accuracy of the Lanczos eigenvector (a wrong matrix element would be off by O(1))
    np.testing.assert_allclose(e.real, gs.energy, rtol=1e-6)
    np.testing.assert_allclose(e.imag, 0, atol=1e-6)


def test_mcstate_uses_fast_kernel(cluster_4x4):
    """MCState.expect / local_estimators dispatch to our kernel and agree with NetKet's operator."""
    ours, ref = heisenberg_bonds(cluster_4x4, 0.5), heisenberg(cluster_4x4, 0.5)
    from netket.vqs.mc import get_local_kernel

    model = make_wavefunction(cluster_4x4, "full", channels=(4, 4), dilations=(1, 2))
    vs = make_state(ours, cluster_4x4, model, n_samples=256, n_chains=16, seed=0)
    assert get_local_kernel(vs, ours, 64) is local_energy_kernel
    a, b = vs.expect(ours), vs.expect(ref)
    assert complex(a.mean) == pytest.approx(complex(b.mean), rel=1e-12)
    assert float(a.variance) == pytest.approx(float(b.variance), rel=1e-10)
    vs.chunk_size = 64
    np.testing.assert_allclose(
        np.asarray(vs.local_estimators(ours).data), np.asarray(vs.local_estimators(ref).data), rtol=1e-12
    )
