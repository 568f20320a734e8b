"""Sectors at non-zero momentum (complex characters) against independent routes: NetKet's
Hamiltonian projected with the characters, the dimension sum rule over all sectors, the
zero-momentum engine, and NetKet's full-space ground state."""

from __future__ import annotations

import math
from functools import cache

import netket as nk
import numpy as np
import pytest
from conftest import brute_images

from nqs_dilated.ed.bits import configs_to_codes
from nqs_dilated.ed.momentum import MomentumStructure, estimate_momentum_memory, momentum_sector_energy
from nqs_dilated.ed.symmetric import symmetric_ground_state
from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import MomentumSector, SymmetryError, space_group


@cache
def _netket_setup(name, j2):
    cluster = load_lattice(name)
    group = space_group(cluster)
    H = heisenberg(cluster, j2).to_sparse().tocsr()
    hi = nk.hilbert.Spin(0.5, cluster.n_sites, total_sz=0)
    codes = configs_to_codes(np.asarray(hi.all_states()))
    images = brute_images(codes, group)  # (2|G|, D): row 2 g + z, g = t P + p
    sorter = np.argsort(codes)
    pos = sorter[np.searchsorted(codes, images, sorter=sorter)]
    return cluster, group, H, pos


def _projected_energy(name, j2, sector: MomentumSector):
    """Lowest eigenvalue of NetKet's H on the range of P = |G_k|^-1 sum_{g in G_k} chi(g) g, with
    chi(t_d p z) = exp(-i k.d) chi(p) parity^z written out here from the definition; the range is
    spanned by P e_b over one configuration b per G_k-orbit (disjoint supports)."""
    cluster, group, H, pos = _netket_setup(name, j2)
    L1, L2 = cluster.extent
    P = group.n_point
    m1, m2 = sector.momentum
    little = group.little_group(sector.momentum)
    chi_p = dict(zip(little, group.little_irreps(sector.momentum)[sector.irrep]))
    rows, weights = [], []
    for d1 in range(L1):
        for d2 in range(L2):
            phase = np.exp(-2j * np.pi * (m1 * d1 / L1 + m2 * d2 / L2))
            for p in little:
                for z in range(2):
                    rows.append(2 * ((d1 * L2 + d2) * P + p) + z)
                    weights.append(phase * chi_p[p] * sector.spin_parity**z)
    sub = pos[rows]  # (|G_k|, D) positions of the images under G_k
    D = sub.shape[1]
    _, first = np.unique(sub.min(axis=0), return_index=True)  # one configuration per G_k-orbit
    cols = []
    for i in first:
        v = np.zeros(D, dtype=np.complex128)
        np.add.at(v, sub[:, i], np.array(weights))
        n = np.linalg.norm(v)
        if n > 1e-9:
            cols.append(v / n)
    Q = np.array(cols).T
    Hs = Q.conj().T @ (H @ Q)
    return np.linalg.eigvalsh((Hs + Hs.conj().T) / 2)[0], Q.shape[1]


def test_momentum_sectors_vs_projected_netket():
    """Every sector of one momentum per star on 4x4 (the little groups C2v, C2, Cs, Cs' and the
    trivial group all occur) agrees with the projected NetKet Hamiltonian in energy and dimension."""
    name, j2 = "triangular-4x4", 1.3
    cluster = load_lattice(name)
    group = space_group(cluster)
    stars = group.momentum_stars()
    assert {len(group.little_group(k)) for k in stars} == {1, 2, 4}
    for k in stars:
        structure = MomentumStructure(cluster, k, group)
        for sector in group.momentum_sectors(k):
            res = momentum_sector_energy(cluster, j2, sector, structure=structure)
            ref, dim = _projected_energy(name, j2, sector)
            assert res.dimension == dim, sector
            assert res.energy == pytest.approx(ref, abs=1e-9), sector
            assert res.residual < 1e-8


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
def test_momentum_sector_dimensions_sum_to_sz0(name):
    """Sum over all momenta, little-group irreps and parities of the sector dimensions = C(N, N/2)."""
    cluster = load_lattice(name)
    group = space_group(cluster)
    total = 0
    for k in group.momenta():
        structure = MomentumStructure(cluster, k, group)
        for sector in group.momentum_sectors(k):
            total += int(np.count_nonzero(structure.weights(sector)))
    N = cluster.n_sites
    assert total == math.comb(N, N // 2)


def test_zero_momentum_through_momentum_path_equals_real_engine():
    cluster = load_lattice("triangular-4x6")
    group = space_group(cluster)
    j2 = 0.7
    gs = symmetric_ground_state(cluster, j2, sector="auto", search_tol=1e-9)
    structure = MomentumStructure(cluster, (0, 0), group)
    for sector in group.momentum_sectors((0, 0)):
        res = momentum_sector_energy(cluster, j2, sector, structure=structure)
        label = f"{sector.irrep}{'+' if sector.spin_parity > 0 else '-'}"
        assert res.energy == pytest.approx(gs.info.sector_energies[label], abs=1e-8), label


def test_star_members_share_the_spectrum():
    """k, its point-group images and -k give the same sector energies (a check of the phases)."""
    cluster = load_lattice("triangular-4x6")
    group = space_group(cluster)
    j2 = 1.1
    star = group.momentum_star((1, 2))
    assert len(star) == 2
    energies = [momentum_sector_energy(cluster, j2, MomentumSector(k, "A", 1)).energy for k in star]
    assert energies[0] == pytest.approx(energies[1], abs=1e-9)


def test_bad_momentum_labels_and_memory_guard():
    cluster = load_lattice("triangular-4x4")
    group = space_group(cluster)
    assert str(group.parse_momentum_sector("k=1,0:A-")) == "k=1,0:A-"
    with pytest.raises(SymmetryError, match="k=m1,m2:IRREP"):
        group.parse_momentum_sector("k1,0A+")
    with pytest.raises(SymmetryError, match="outside"):
        group.parse_momentum_sector("k=4,0:A+")
    with pytest.raises(SymmetryError, match="irreps"):
        group.parse_momentum_sector("k=1,0:A1+")  # the little group of (1, 0) is trivial
    big = load_lattice("triangular-6x6")
    est = estimate_momentum_memory(big, (1, 0))
    assert est["total"] > 24 * 2**30
    with pytest.raises(MemoryError, match="GiB"):
        MomentumStructure(big, (1, 0))


def test_cli_momenta_all_and_momentum_sector(capsys):
    import json

    from nqs_dilated.cli.ed import main

    cluster = load_lattice("triangular-4x4")
    group = space_group(cluster)
    assert (
        main(["--lattice", "triangular-4x4", "--j2", "1.3", "--momenta", "all", "--json", "--quiet", "--no-store"]) == 0
    )
    r = json.loads(capsys.readouterr().out)
    expected = sum(len(group.momentum_sectors(k)) for k in group.momentum_stars() if k != (0, 0))
    assert len(r["momentum_sector_energies"]) == expected
    e_full = nk.exact.lanczos_ed(heisenberg(cluster, 1.3), k=1)[0]
    assert min(min(r["momentum_sector_energies"].values()), r["energy"]) == pytest.approx(e_full, abs=1e-9)
    assert r["ground_state_at_zero_momentum"] is (r["energy"] <= min(r["momentum_sector_energies"].values()) + 1e-9)
    label = r["lowest_momentum_sector"]
    ref, _ = _projected_energy("triangular-4x4", 1.3, group.parse_momentum_sector(label))
    assert r["momentum_sector_energies"][label] == pytest.approx(ref, abs=1e-9)

    assert main(["--lattice", "triangular-4x4", "--j2", "1.3", "--sector", label, "--json", "--quiet"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["sector"] == label and one["energy"] == pytest.approx(ref, abs=1e-9) and one["residual"] < 1e-8

    assert main(["--lattice", "triangular-4x4", "--momenta", "all", "--sector", "A1+"]) == 2
    assert "--momenta all needs --sector auto" in capsys.readouterr().err
    assert main(["--lattice", "triangular-4x4", "--sector", "k=1,0:B+"]) == 2
    assert "irreps" in capsys.readouterr().err
    # 36 sites: refused at once, before the zero-momentum search
    assert main(["--lattice", "triangular-6x6", "--momenta", "all", "--no-store"]) == 2
    assert "GiB are available" in capsys.readouterr().err
