"""Point-group and spin-inversion projection of the wave functions (``sector_projection``, ``--symmetrize``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_dilated.ed.ground import ground_state
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.models import make_model
from nqs_dilated.models.wavefunction import sector_projection
from nqs_dilated.symmetry import SymmetryError, space_group
from nqs_dilated.training.vmc import energy_report, optimise
from nqs_dilated.training.wavefunction import jacobian_mode_of, make_sign, make_state, make_wavefunction

SMALL = dict(channels=(4, 4), dilations=(1, 2))


def _transformed(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``(g.x)[perm[i]] = x[i]`` (the package's permutation convention)."""
    out = np.empty_like(x)
    out[:, perm] = x
    return out


@pytest.mark.parametrize("sector", [None, "B1-", "A2+"])
def test_projection_transforms_with_the_sector_characters(cluster_4x4, sector):
    head = dict(head="sign", sign_logits=1) if sector is None else dict(head="log_psi")
    net = make_model("dilated", cluster_4x4, param_dtype=jnp.float64, **head, **SMALL)
    model = sector_projection(net, cluster_4x4, sector)
    x = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(6, 16))
    params = model.init(jax.random.key(1), jnp.asarray(x))
    params = jax.tree_util.tree_map(lambda p: p * 3.0, params)  # a state far from uniform
    ref = np.exp(np.asarray(model.apply(params, jnp.asarray(x))))
    group = space_group(cluster_4x4)
    chi = group.characters(sector or "A1+")
    assert np.ptp(np.abs(ref)) > 1e-3  # not a constant: the test can fail
    for g, perm in enumerate(group.perms):
        for z, sign in enumerate((1, -1)):
            y = np.exp(np.asarray(model.apply(params, jnp.asarray(sign * _transformed(x, perm)))))
            np.testing.assert_allclose(y, chi[z, g] * ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))
    if sector is None:
        assert np.isrealobj(ref) and np.all(ref > 0)


def test_projected_states_are_orthogonal_to_other_sectors(cluster_4x4):
    """Against the symmetric ED's sector label: the projection onto another sector is orthogonal
    to the exact ground state, the projection onto its own is not."""
    gs = ground_state(cluster_4x4, 0.5)
    configs, amps = gs.enumerate()
    group = space_group(cluster_4x4)
    net = make_model("dilated", cluster_4x4, head="log_psi", param_dtype=jnp.float64, **SMALL)
    overlaps = {}
    for sector in group.sectors():
        model = sector_projection(net, cluster_4x4, str(sector))
        params = model.init(jax.random.key(2), jnp.asarray(configs[:2]))
        psi = np.exp(np.asarray(model.apply(params, jnp.asarray(configs))))
        overlaps[str(sector)] = abs(np.vdot(psi, amps)) / np.linalg.norm(psi) / np.linalg.norm(amps)
    own = overlaps.pop(gs.info.sector)
    assert own > 1e-4, own  # a random state: small, but many orders above the others
    assert max(overlaps.values()) < 1e-6 * own, (own, overlaps)


def test_symmetrized_wavefunctions_and_their_jacobian_mode(cluster_4x4):
    gs = ground_state(cluster_4x4, 1.0)
    fixed = make_wavefunction(cluster_4x4, "fixed-sign", make_sign("exact", cluster_4x4, gs), symmetrize=True, **SMALL)
    assert jacobian_mode_of(fixed) == "real"
    full = make_wavefunction(cluster_4x4, "full", symmetrize=True, sector="B2-", **SMALL)
    assert jacobian_mode_of(full) == "complex"
    with pytest.raises(ValueError, match="needs the sector"):
        make_wavefunction(cluster_4x4, "full", symmetrize=True, **SMALL)
    with pytest.raises(SymmetryError, match="does not exist"):
        make_wavefunction(cluster_4x4, "full", symmetrize=True, sector="E+", **SMALL)


@pytest.mark.parametrize("mode", ["fixed-sign", "full"])
def test_symmetrized_vmc_lowers_the_energy(cluster_4x4, mode):
    gs = ground_state(cluster_4x4, 1.0)
    ham = heisenberg_bonds(cluster_4x4, 1.0)
    sign = make_sign("exact", cluster_4x4, gs) if mode == "fixed-sign" else None
    model = make_wavefunction(cluster_4x4, mode, sign, symmetrize=True, sector=gs.info.sector, **SMALL)
    vs = make_state(ham, cluster_4x4, model, exact=True, seed=1)
    e0 = energy_report(vs, ham)["energy"]
    optimise(ham, vs, n_iter=5, lr=0.05, diag_shift=0.01)
    e5 = energy_report(vs, ham, gs)
    assert e5["energy"] < e0 - 1.0, (e0, e5["energy"])
    assert 0 < e5["fidelity"] <= 1 + 1e-9
