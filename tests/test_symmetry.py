import numpy as np
import pytest

from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import SymmetryError, is_automorphism, space_group


@pytest.mark.parametrize("name,n_point", [("triangular-4x4", 4), ("triangular-4x6", 2), ("triangular-6x6", 4)])
def test_group_equals_netket_automorphisms(name, n_point):
    c = load_lattice(name)
    g = space_group(c)
    assert g.n_point == n_point and len(g) == c.n_sites * n_point
    assert all(is_automorphism(p, c) for p in g.perms)
    ours = {p.tobytes() for p in g.perms.astype(np.int64)}
    theirs = {p.tobytes() for p in np.asarray(c.graph.automorphisms().to_array(), dtype=np.int64)}
    assert ours == theirs


def test_point_group_geometry():
    g = space_group(load_lattice("triangular-6x6"))
    assert g.point_names == ("E", "C2", "sigma", "sigma'")
    assert np.array_equal(g.point_matrices[1], -np.eye(2))
    assert set(g.point_irreps) == {"A1", "A2", "B1", "B2"}
    # a non-automorphism is detected
    bad = np.arange(36)
    bad[[0, 1]] = bad[[1, 0]]
    assert not is_automorphism(bad, g.cluster)


def test_characters_are_homomorphisms(group_4x4):
    g = group_4x4
    index = {p.tobytes(): k for k, p in enumerate(g.perms)}
    for sector in g.sectors():
        chi = g.characters(sector)
        assert chi.shape == (2, len(g))
        rng = np.random.default_rng(0)
        for a, b in rng.integers(len(g), size=(50, 2)):
            c = index[g.perms[a][g.perms[b]].tobytes()]
            assert chi[0, c] == chi[0, a] * chi[0, b]
            assert chi[1, a] == sector.spin_parity * chi[0, a]


@pytest.mark.parametrize("label", ["A1", "Q1+", "A1*", ""])
def test_bad_sector_labels(group_4x4, label):
    with pytest.raises(SymmetryError):
        group_4x4.parse_sector(label)
