"""The NetKet route and the store: independent checks on 4x4 (and 4x6 when --runslow)."""

import json
import os
import time

import netket as nk
import numpy as np
import pytest
from conftest import marshall_sign

from nqs_dilated.ed.full import netket_ground_state
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.ed.store import StoreWarning
from nqs_dilated.hamiltonian import heisenberg, sz0_hilbert
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

J2_VALUES = [0.0, 0.5, 1.0, 1.3]


def hand_built(cluster, j2, j1=1.0):
    """H = J1 sum sigma.sigma + J2 sum sigma.sigma from Pauli operators, bond by bond."""
    hi = sz0_hilbert(cluster)
    sx, sy, sz = nk.operator.spin.sigmax, nk.operator.spin.sigmay, nk.operator.spin.sigmaz
    H = nk.operator.LocalOperator(hi, dtype=complex)
    for coupling, J in (("J1", j1), ("J2", j2)):
        for i, j in cluster.bonds(coupling):
            H += J * (sx(hi, i) @ sx(hi, j) + sy(hi, i) @ sy(hi, j) + sz(hi, i) @ sz(hi, j))
    return H


def test_square_lattice_limit(cluster_4x4):
    gs = ground_state(cluster_4x4, 0.0, method="netket")
    assert abs(gs.energy - (-44.9139328337)) < 1e-8
    assert gs.residual < 1e-8


def test_four_site_ring(tmp_path):
    """Analytic limit: the 4-site Heisenberg ring has E0 = -2 J (S.S), i.e. -8 J in Pauli units."""
    p = tmp_path / "ring.toml"
    p.write_text(
        'name = "ring4"\nbasis_vectors = [[1.0, 0.0], [0.0, 1.0]]\nextent = [4, 1]\npbc = true\n'
        '[[bonds]]\nvector = [1.0, 0.0]\ncoupling = "J1"\n'
    )
    gs = netket_ground_state(load_lattice(p), 0.0, j1=0.5)
    assert abs(gs.energy - (-4.0)) < 1e-12
    cfg, amp = gs.enumerate()
    assert cfg.shape == (6, 4) and np.isclose(amp @ amp, 1.0)


def _check_against_hand_built(cluster, j2):
    gs = ground_state(cluster, j2, method="netket")
    e_ref = nk.exact.lanczos_ed(hand_built(cluster, j2), k=1)[0]
    assert abs(gs.energy - e_ref) < 1e-9
    assert gs.residual < 1e-8
    return gs


def _check_characters(gs):
    """A non-degenerate ground state transforms with a character of modulus 1 under the group."""
    cluster = gs.cluster
    group = space_group(cluster)
    configs, psi = gs.enumerate()
    assert np.isclose(psi @ psi, 1.0)
    if gs.info.gap < 1e-6:
        pytest.skip(f"ground state degenerate (gap {gs.info.gap:.2e}): no character test")
    for perm in group.perms:
        moved = np.empty_like(configs)
        moved[:, perm] = configs
        for flip in (1, -1):
            chi = gs.amplitude(flip * moved) @ psi
            assert abs(abs(chi) - 1) < 1e-8, f"|chi| = {abs(chi)} (gap {gs.info.gap})"
            assert np.allclose(gs.amplitude(flip * moved), chi * psi, atol=1e-9)


@pytest.mark.parametrize("j2", J2_VALUES)
def test_4x4_against_hand_built_operator_and_symmetry(cluster_4x4, j2):
    gs = _check_against_hand_built(cluster_4x4, j2)
    _check_characters(gs)


@pytest.mark.slow
@pytest.mark.parametrize("j2", J2_VALUES)
def test_4x6_against_hand_built_operator_and_symmetry(cluster_4x6, j2):
    gs = _check_against_hand_built(cluster_4x6, j2)
    _check_characters(gs)


def test_marshall_sign_rule_at_j2_zero(cluster_4x4):
    gs = ground_state(cluster_4x4, 0.0, method="netket")
    configs, psi = gs.enumerate()
    nz = np.abs(psi) > 1e-12
    assert nz.sum() > 0.9 * len(psi)
    ratio = np.sign(psi[nz]) * marshall_sign(cluster_4x4, configs[nz])
    assert np.all(ratio == ratio[0])
    # and the Marshall-rotated Hamiltonian has a positive ground state (same energy)
    e_rot = nk.exact.lanczos_ed(heisenberg(cluster_4x4, 0.0, marshall=True), k=1)[0]
    assert abs(e_rot - gs.energy) < 1e-9


def test_marshall_rule_fails_when_frustrated(cluster_4x4):
    gs = ground_state(cluster_4x4, 1.0, method="netket")
    configs, psi = gs.enumerate()
    ratio = np.sign(psi) * marshall_sign(cluster_4x4, configs)
    assert 0 < (ratio > 0).mean() < 1


def test_global_sign_and_interface(cluster_4x4):
    gs = ground_state(cluster_4x4, 0.5, method="netket")
    configs, psi = gs.enumerate()
    assert psi[np.argmax(np.abs(psi))] > 0
    rng = np.random.default_rng(1)
    sc, sa = gs.sample(2000, rng)
    assert sc.dtype == np.int8 and sc.shape == (2000, 16)
    assert np.allclose(gs.amplitude(sc), sa)
    assert np.all(sc.sum(axis=1) == 0)
    # amplitude outside Sz = 0 is 0; wrong shapes are rejected
    assert gs.amplitude(np.ones((1, 16), dtype=np.int8))[0] == 0.0
    with pytest.raises(ValueError, match="shape"):
        gs.amplitude(np.ones((1, 15)))
    with pytest.raises(ValueError, match="±1|\\+1 or -1"):
        gs.amplitude(np.zeros((1, 16)))


def test_sampling_frequencies(cluster_4x4):
    gs = ground_state(cluster_4x4, 0.5, method="netket")
    codes, psi = gs.enumerate_codes()
    n = 200_000
    drawn = gs.sample_codes(n, np.random.default_rng(7))
    idx = np.searchsorted(codes, drawn)
    counts = np.bincount(idx, minlength=len(codes))
    p = psi**2
    big = p * n > 20
    chi2 = np.sum((counts[big] - n * p[big]) ** 2 / (n * p[big]))
    dof = big.sum() - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(j2=float("nan")), "J2 must be finite"),
        (dict(j2=0.5, j1=0.0), "J1 must be finite and non-zero"),
        (dict(j2=0.5, j1=float("inf")), "J1 must be finite"),
        (dict(j2=0.5, method="magic"), "unknown ED method"),
    ],
)
def test_bad_input(cluster_4x4, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ground_state(cluster_4x4, **kwargs)


def test_36_sites_refused_by_netket_route():
    c = load_lattice("triangular-6x6")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="symmetr"):
        ground_state(c, 0.5, method="netket")
    assert time.perf_counter() - t0 < 5


def test_store_roundtrip_and_corruption(cluster_4x4, tmp_path):
    first = ground_state(cluster_4x4, 1.3, method="netket", store_dir=tmp_path)
    assert not first.loaded and first.store_path.exists()
    umask = os.umask(0o022)
    os.umask(umask)
    assert first.store_path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as an ordinary new file
    t0 = time.perf_counter()
    second = ground_state(cluster_4x4, 1.3, method="netket", store_dir=tmp_path)
    load_time = time.perf_counter() - t0
    assert second.loaded and load_time < first.info.seconds
    assert second.energy == first.energy
    assert np.array_equal(second.enumerate_codes()[1], first.enumerate_codes()[1])
    # flip one byte inside the vector data: detected, recomputed, file replaced
    raw = bytearray(first.store_path.read_bytes())
    pos = raw.find(first.vector[100:104].tobytes())
    assert pos > 0
    raw[pos] ^= 0xFF
    first.store_path.write_bytes(bytes(raw))
    with pytest.warns(StoreWarning, match="checksum"):
        third = ground_state(cluster_4x4, 1.3, method="netket", store_dir=tmp_path)
    assert not third.loaded and np.allclose(third.enumerate_codes()[1], first.enumerate_codes()[1])
    # truncated file: detected too
    raw = first.store_path.read_bytes()
    first.store_path.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(StoreWarning, match="unreadable"):
        fourth = ground_state(cluster_4x4, 1.3, method="netket", store_dir=tmp_path)
    assert not fourth.loaded
    # no temporary files left behind
    assert [p.suffix for p in tmp_path.iterdir()] == [".h5"]


def test_cli_json(cluster_4x4, tmp_path, capsys):
    from nqs_dilated.cli.ed import main

    assert (
        main(["--lattice", "triangular-4x4", "--j2", "0", "--method", "netket", "--json", "--store", str(tmp_path)])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in ("lattice", "n_sites", "j1", "j2", "energy", "energy_per_site", "residual", "seconds", "store_path"):
        assert key in out
    assert out["energy"] == pytest.approx(-44.9139328337, abs=1e-8)
    assert out["energy_per_site"] == pytest.approx(out["energy"] / 16)
    assert main(["--lattice", "nope"]) == 2
    assert "unknown lattice" in capsys.readouterr().err


def test_explicit_sector_served_by_stored_search(cluster_4x4, tmp_path):
    """A stored sector search serves a request for the sector it found (same state), and only
    that sector; the state agrees with a fresh computation in that sector."""
    found = ground_state(cluster_4x4, 0.5, sector="auto", store_dir=tmp_path)
    assert not found.loaded
    same = ground_state(cluster_4x4, 0.5, sector=found.info.sector, store_dir=tmp_path)
    assert same.loaded and same.store_path == found.store_path
    fresh = ground_state(cluster_4x4, 0.5, sector=found.info.sector, use_store=False)
    assert abs(fresh.energy - same.energy) < 1e-10
    other = next(s for s in found.info.sector_energies if s != found.info.sector)
    third = ground_state(cluster_4x4, 0.5, sector=other, store_dir=tmp_path)
    assert not third.loaded and third.info.sector == other
    assert third.energy > same.energy


def test_sector_search_starts_from_stored_sector(cluster_4x4, tmp_path):
    """A sector search starts Lanczos in an already stored sector from the stored vector: that
    sector needs a few iterations instead of dozens, and the result equals a search without
    the store to 1e-10 (energies of every sector, same ground-state sector)."""

    def iteration_counter():
        counts: dict[str, float] = {}

        def progress(phase, value):
            if phase.startswith("lanczos "):
                counts[phase] = max(counts.get(phase, 0), value)

        return counts, progress

    cold_iters, cold_progress = iteration_counter()
    fresh = ground_state(cluster_4x4, 1.0, sector="auto", use_store=False, progress=cold_progress)
    ground_state(cluster_4x4, 1.0, sector=fresh.info.sector, store_dir=tmp_path)
    iters, progress = iteration_counter()
    warm = ground_state(cluster_4x4, 1.0, sector="auto", store_dir=tmp_path, progress=progress)
    assert not warm.loaded and warm.info.sector == fresh.info.sector
    assert abs(warm.energy - fresh.energy) < 1e-10
    for key, e in fresh.info.sector_energies.items():
        assert abs(warm.info.sector_energies[key] - e) < 1e-8
    label = f"lanczos {fresh.info.sector}"
    assert iters[label] <= 3 < cold_iters[label]
    codes, amps = fresh.enumerate_codes()
    assert np.max(np.abs(warm.amplitude_codes(codes) - amps)) < 1e-7


def test_local_energies_with_netket_operator(cluster_4x4):
    """Local energies of the exact state under NetKet's operator are all E0; a perturbed state's
    spread (the check used on 36-site states, which cannot be listed). ``E_loc(s) - E0`` is the
    residual's component on the sample's representative over its coefficient, so the state is
    converged to a residual of 1e-11 (at the default 1e-8 one sample of 200 reached 2.0e-8)."""
    from nqs_dilated.ed.symmetric import SymmetricGroundState, symmetric_ground_state
    from nqs_dilated.hamiltonian import heisenberg

    gs = symmetric_ground_state(cluster_4x4, 1.3, sector="auto", tol=1e-11)
    assert gs.residual < 1e-11
    H = heisenberg(cluster_4x4, 1.3)
    configs, _ = gs.sample(200, np.random.default_rng(0))
    eloc = gs.local_energies(H, configs)
    assert np.max(np.abs(eloc - gs.energy)) < 1e-8
    rng = np.random.default_rng(1)
    c = gs.coefficients + 1e-3 * rng.standard_normal(gs.coefficients.shape)
    bad = SymmetricGroundState(gs.basis, gs.sector, c, gs.info)
    assert np.max(np.abs(bad.local_energies(H, configs) - gs.energy)) > 1e-4
    with pytest.raises(ValueError, match="non-zero amplitude"):
        gs.local_energies(H, np.ones((1, 16), dtype=np.int8))  # all up: not in Sz = 0


def test_interrupted_sector_search_resumes(cluster_4x4, tmp_path, monkeypatch):
    """A sector search killed after three sectors resumes from its checkpoint: only the
    remaining sectors are searched, and the result equals an uninterrupted search (same sector,
    energies to 1e-10); the checkpoint is gone once the result is stored, and a checkpoint for
    other couplings or a corrupt one is ignored with a StoreWarning."""
    import nqs_dilated.ed.store as store
    import nqs_dilated.ed.symmetric as sym

    class Killed(Exception):
        pass

    real_save = store.save_search

    def save_then_die(*args):
        path = real_save(*args)
        if len(args[-1]) == 3:
            raise Killed
        return path

    monkeypatch.setattr(store, "save_search", save_then_die)
    with pytest.raises(Killed):
        ground_state(cluster_4x4, 1.3, sector="auto", store_dir=tmp_path)
    monkeypatch.setattr(store, "save_search", real_save)
    path = store.store_path(cluster_4x4, 1.0, 1.3, "auto", "symmetric", tmp_path)
    checkpointed = json.loads(store.search_path(path).read_text())["energies"]
    assert not path.exists() and len(checkpointed) == 3

    real_lockstep = sym.lanczos_lockstep
    searched = []

    def counting(op, order, **kwargs):  # the energy-only runs go in lockstep
        searched.extend(str(op.sectors[i]) for i in order)
        return real_lockstep(op, order, **kwargs)

    monkeypatch.setattr(sym, "lanczos_lockstep", counting)
    resumed = ground_state(cluster_4x4, 1.3, sector="auto", store_dir=tmp_path)
    n_sectors = len(resumed.info.sector_energies)
    assert n_sectors == len(space_group(cluster_4x4).sectors()) > 3
    assert len(searched) == n_sectors - 3 and not set(searched) & set(checkpointed)
    assert not store.search_path(path).exists() and path.exists()
    fresh = ground_state(cluster_4x4, 1.3, sector="auto", use_store=False)
    assert resumed.info.sector == fresh.info.sector
    assert abs(resumed.energy - fresh.energy) < 1e-10
    for label, e in fresh.info.sector_energies.items():
        assert abs(resumed.info.sector_energies[label] - e) < 1e-10

    other = store.store_path(cluster_4x4, 1.0, 0.7, "auto", "symmetric", tmp_path)
    store.save_search(path, cluster_4x4, 1.0, 1.3, "symmetric", 1e-4, 0, {"A1+": (-1.0, 0.0)})
    with pytest.warns(StoreWarning, match="another search"):
        assert store.load_search(other.with_name(path.name), cluster_4x4, 1.0, 0.7, "symmetric", 1e-4, 0) == {}
    with pytest.warns(StoreWarning, match="another search"):
        assert store.load_search(path, cluster_4x4, 1.0, 1.3, "symmetric", 1e-3, 0) == {}
    store.search_path(path).write_text("{not json")
    with pytest.warns(StoreWarning, match="unreadable"):
        assert store.load_search(path, cluster_4x4, 1.0, 1.3, "symmetric", 1e-4, 0) == {}
