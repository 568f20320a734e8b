"""Spin correlations and S(q) of exact ground states: against NetKet's operators on the full Sz = 0
space, the orbit (36-site) route against the listed one, sum rules, the bond sum, the CLI."""

import dataclasses
import json

import netket as nk
import numpy as np
import pandas as pd
import pytest

from nqs_dilated.ed.bits import codes_to_configs
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.lattice import load_lattice
from nqs_dilated.observables import (
    SINGLET_RTOL,
    allowed_momenta,
    bond_energy,
    correlations,
    structure_factor,
)

#: sigma_i . sigma_j on two spins (symmetric under relabelling up <-> down on both sites).
SIGMA_DOT_SIGMA = np.array([[1, 0, 0, 0], [0, -1, 2, 0], [0, 2, -1, 0], [0, 0, 0, 1]], dtype=np.float64)


def _netket_correlators(state):
    """``(zz, sigma)`` for the pairs (site 0, site at each displacement), from NetKet's operators
    on the full Sz = 0 space: an independent route to the same numbers."""
    cluster = state.cluster
    hi = nk.hilbert.Spin(0.5, cluster.n_sites, total_sz=0)
    v = state.amplitude(np.asarray(hi.all_states()))
    L1, L2 = cluster.extent
    index = {tuple(int(x) for x in g): s for s, g in enumerate(cluster.grid)}
    origin = index[(0, 0)]
    zz, sigma = [], []
    for k in range(L1 * L2):
        j = index[(k // L2, k % L2)]
        if j == origin:
            zz.append(1.0)
            sigma.append(3.0)
            continue
        z = nk.operator.spin.sigmaz(hi, origin) * nk.operator.spin.sigmaz(hi, j)
        s = nk.operator.LocalOperator(hi, SIGMA_DOT_SIGMA, [origin, j])
        zz.append(float(v @ (z.to_sparse() @ v)))
        sigma.append(float(v @ (s.to_sparse() @ v)))
    return np.array(zz), np.array(sigma)


@pytest.mark.parametrize("j2", [0.0, 1.0])
def test_correlators_equal_netket_4x4(j2):
    state = ground_state("triangular-4x4", j2)
    corr = correlations(state)
    zz, sigma = _netket_correlators(state)
    np.testing.assert_allclose(corr.zz, zz, atol=1e-10)
    np.testing.assert_allclose(corr.sigma, sigma, atol=1e-10)
    assert corr.route == "listed"


@pytest.mark.slow
def test_correlators_equal_netket_4x6():
    state = ground_state("triangular-4x6", 1.2)
    corr = correlations(state)
    zz, sigma = _netket_correlators(state)
    np.testing.assert_allclose(corr.zz, zz, atol=1e-10)
    np.testing.assert_allclose(corr.sigma, sigma, atol=1e-10)


@pytest.mark.parametrize(("lattice", "j2"), [("triangular-4x4", 1.0), ("triangular-4x6", 0.5)])
def test_orbit_route_equals_listed(lattice, j2):
    """The 36-site route (Ising correlators over the orbit representatives, sigma = 3 zz for a
    singlet) gives the listed route's numbers on clusters where both run."""
    state = ground_state(lattice, j2)
    listed = correlations(state, route="listed")
    orbits = correlations(state, route="singlet")
    np.testing.assert_allclose(orbits.zz, listed.zz, atol=1e-12)
    np.testing.assert_allclose(orbits.sigma, listed.sigma, atol=1e-8)  # the ground state is a singlet
    assert orbits.route == "singlet"
    assert orbits.bond_energy == pytest.approx(state.energy, rel=SINGLET_RTOL)


@pytest.mark.parametrize(("lattice", "j2"), [("triangular-4x4", 0.0), ("triangular-4x4", 1.0), ("triangular-4x6", 1.2)])
def test_sum_rules_and_bond_sum(lattice, j2):
    """sigma(0) = 3; sum_d <S_0.S_d> = S(q = 0) = <S_tot^2>/N = 0 for the singlet ground state;
    S(q) >= 0; the bond sum of the correlators is the ground-state energy."""
    state = ground_state(lattice, j2)
    corr = correlations(state)
    sf = structure_factor(corr, state.cluster)
    assert corr.sigma[0] == pytest.approx(3.0, abs=1e-12) and corr.zz[0] == pytest.approx(1.0, abs=1e-12)
    assert abs(np.sum(corr.s_dot_s)) < 1e-9
    assert sf.s[0] == pytest.approx(0.0, abs=1e-9) and np.all(sf.s > -1e-9)
    assert corr.bond_energy == pytest.approx(state.energy, rel=1e-9)
    assert bond_energy(state.cluster, corr.sigma, j2) == corr.bond_energy


def test_neel_peak_on_the_square_lattice():
    """J2 = 0 is the square-lattice Heisenberg model: S(q) peaks at the Neel momentum, q.a1 = q.a2 = pi
    (mod 2 pi), and the staggered correlator alternates in sign with the bipartite sublattices."""
    state = ground_state("triangular-4x4", 0.0)
    corr = correlations(state)
    sf = structure_factor(corr, state.cluster)
    a = np.asarray(state.cluster.basis_vectors)
    phases = (sf.q[sf.peak] @ a.T) % (2 * np.pi)
    np.testing.assert_allclose(phases, [np.pi, np.pi], atol=1e-12)
    parity = (-1) ** (corr.displacements.sum(axis=1))
    assert np.all(np.sign(corr.sigma) == parity)


def test_allowed_momenta():
    """q = (m1/L1) b1 + (m2/L2) b2 with a_i . b_j = 2 pi delta_ij: exp(i q.(L1 a1)) = exp(i q.(L2 a2)) = 1."""
    cluster = load_lattice("triangular-4x6")
    m, q = allowed_momenta(cluster)
    a = np.asarray(cluster.basis_vectors)
    L1, L2 = cluster.extent
    np.testing.assert_allclose(np.exp(1j * q @ (L1 * a[0])), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(1j * q @ (L2 * a[1])), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(1j * q @ a.T), np.exp(2j * np.pi * m / [L1, L2]), atol=1e-12)
    assert len({tuple(x) for x in m}) == cluster.n_sites


def test_not_a_singlet_is_refused():
    """The orbit route takes sigma = 3 zz only when the bond sum reproduces E0; a state whose
    energy does not match (here: a shifted record) is refused with one clear error."""
    state = ground_state("triangular-4x4", 1.0)
    state.info = dataclasses.replace(state.info, energy=state.info.energy + 0.5)
    with pytest.raises(ValueError, match="not a singlet"):
        correlations(state, route="singlet")
    with pytest.raises(ValueError, match="unknown route"):
        correlations(state, route="xx")


def test_cli_writes_observables(tmp_path):
    from nqs_dilated.cli.main import main

    def ed(j2: str, out) -> int:
        return main(
            ["ed", "--lattice", "triangular-4x4", "--j2", j2, "--observables", "--out", str(out), "--quiet", "--json"]
        )

    out = tmp_path / "obs"
    assert ed("0,1", out) == 0
    peaks = pd.read_csv(out / "peaks.csv")
    assert list(peaks["j2"]) == [0.0, 1.0]
    for j2 in ("0", "1"):
        sf = pd.read_csv(out / f"j2={j2}" / "structure_factor.csv")
        assert list(sf.columns) == ["m1", "m2", "qx", "qy", "S"] and len(sf) == 16
        assert (out / f"j2={j2}" / "structure_factor.png").exists()
        corr = pd.read_csv(out / f"j2={j2}" / "correlations.csv")
        assert corr["s_dot_s"].iloc[0] == pytest.approx(0.75)
    single = tmp_path / "one"
    assert ed("1", single) == 0
    assert (single / "correlations.csv").exists() and not (single / "peaks.csv").exists()
    assert main(["ed", "--lattice", "triangular-4x4", "--out", str(tmp_path / "x")]) == 2  # --out without --observables


@pytest.mark.slow
def test_36_sites_bond_sum():
    """6x6 at J2/J1 = 1.3: the nearest-neighbour correlators of the orbit route reproduce E0 through
    the bond sum to 1e-9 (the singlet check), and S(q) >= 0 with S(0) = 0."""
    state = ground_state("triangular-6x6", 1.3)
    corr = correlations(state)
    assert corr.route == "singlet"
    assert corr.bond_energy == pytest.approx(state.energy, rel=1e-9)
    sf = structure_factor(corr, state.cluster)
    assert sf.s[0] == pytest.approx(0.0, abs=1e-9) and np.all(sf.s > -1e-9)
    json.dumps(corr.rows())


def test_variational_estimates_equal_the_listed_sums(cluster_4x4):
    """For a full-sum NetKet state (exact expectation values) of a dilated CNN with the exact sign,
    the translation-averaged operator estimates equal the listed-route correlators of its amplitude
    vector, and S(q) from the S(q) operator equals the Fourier sum of those correlators."""
    from nqs_dilated.ed.bits import configs_to_codes
    from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
    from nqs_dilated.observables import Correlations, listed_correlators, mc_correlations, mc_structure_factor
    from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

    gs = ground_state(cluster_4x4, 1.0)
    model = make_wavefunction(
        cluster_4x4, "fixed-sign", make_sign("exact", cluster_4x4, gs), channels=(8, 8), dilations=(1, 2)
    )
    vstate = make_state(heisenberg_bonds(cluster_4x4, 1.0), cluster_4x4, model, exact=True, seed=3)
    mc = mc_correlations(vstate, cluster_4x4)
    psi = np.asarray(vstate.to_array())
    codes = configs_to_codes(np.asarray(vstate.hilbert.all_states()))
    zz, sigma = listed_correlators(cluster_4x4, codes, psi.real)
    np.testing.assert_allclose(mc.sigma, sigma, atol=1e-12)
    assert np.all(mc.sigma_error == 0)
    exact = structure_factor(
        Correlations(cluster_4x4.name, mc.displacements, mc.vectors, zz, sigma, "listed", 0, 0), cluster_4x4
    )
    s, err = mc_structure_factor(vstate, cluster_4x4, (2, 2))
    assert s == pytest.approx(exact.s[2 * 4 + 2], abs=1e-12) and err == 0
    with pytest.raises(ValueError, match="outside"):
        mc_structure_factor(vstate, cluster_4x4, (4, 0))


def test_learned_signs_times_exact_amplitudes():
    """``listed_correlators`` on |psi_ED| times a sign structure: the exact signs give the exact
    correlators; the Marshall sign at J2/J1 = 1 (wrong on much of the weight) changes the exchange
    part and S(q), not the Ising part, which depends on |psi|^2 only."""
    from nqs_dilated.models.wavefunction import MarshallSign
    from nqs_dilated.observables import listed_correlators

    state = ground_state("triangular-4x4", 1.0)
    cluster = state.cluster
    codes, amps = state.enumerate_codes()
    zz, sigma = listed_correlators(cluster, codes, amps)
    exact = correlations(state, route="listed")
    np.testing.assert_allclose(sigma, exact.sigma, atol=1e-9)  # the point average changes nothing here
    configs = codes_to_configs(codes, cluster.n_sites)
    marshall = np.asarray(MarshallSign.from_grid(cluster.grid).apply({}, configs)).real
    zz_m, sigma_m = listed_correlators(cluster, codes, np.abs(amps) * np.sign(marshall))
    np.testing.assert_allclose(zz_m, zz, atol=1e-12)
    assert np.max(np.abs(sigma_m - sigma)) > 0.05


def test_monte_carlo_estimates_in_chunks(cluster_4x4, monkeypatch):
    """The Monte Carlo S(q) evaluates its connected configurations in chunks (the 36-site operator
    would otherwise need tens of GB): the same samples give the same estimate in any chunks, and the
    state's own chunk size is left as it was."""
    import nqs_dilated.observables.variational as obs
    from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
    from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

    model = make_wavefunction(
        cluster_4x4, "fixed-sign", make_sign("marshall", cluster_4x4), channels=(4,), dilations=(1,)
    )
    vstate = make_state(heisenberg_bonds(cluster_4x4, 1.0), cluster_4x4, model, n_samples=512, n_chains=16, seed=1)
    whole = obs.mc_structure_factor(vstate, cluster_4x4, (2, 2))
    monkeypatch.setattr(obs, "MC_CHUNK_CONFIGS", 1024)
    chunked = obs.mc_structure_factor(vstate, cluster_4x4, (2, 2))
    assert chunked[0] == pytest.approx(whole[0], abs=1e-10) and chunked[1] == pytest.approx(whole[1], rel=1e-8)
    assert vstate.chunk_size is None
