from pathlib import Path

import numpy as np
import pytest

from nqs_dilated.lattice import LatticeError, load_lattice


@pytest.mark.parametrize("name,n", [("triangular-4x4", 16), ("triangular-4x6", 24), ("triangular-6x6", 36)])
def test_shipped_clusters(name, n):
    c = load_lattice(name)
    assert c.n_sites == n
    assert len(c.bonds("J1")) == 2 * n and len(c.bonds("J2")) == n
    # site i sits at n1 a1 + n2 a2 with i = n1 * L2 + n2, and site_of inverts grid
    L1, L2 = c.extent
    assert np.array_equal(c.grid[:, 0] * L2 + c.grid[:, 1], np.arange(n))
    assert np.allclose(c.positions, c.grid @ c.basis_vectors)
    assert np.array_equal(c.site_of[c.grid[:, 0], c.grid[:, 1]], np.arange(n))


def test_bond_directions(cluster_4x6):
    """J1 bonds join sites displaced by a1 or a2, J2 bonds by a2 - a1 (modulo the torus)."""
    c = cluster_4x6
    L = np.array(c.extent)

    def displacements(coupling):
        d = np.mod(c.grid[c.bonds(coupling)[:, 1]] - c.grid[c.bonds(coupling)[:, 0]], L)
        return {tuple(x) for x in d} | {tuple(np.mod(-x, L)) for x in d}

    assert displacements("J1") == {(1, 0), (L[0] - 1, 0), (0, 1), (0, L[1] - 1)}
    assert displacements("J2") == {(L[0] - 1, 1), (1, L[1] - 1)}


def _write(tmp_path, body):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    return p


GOOD = """
name = "t"
basis_vectors = [[1.0, 0.0], [0.5, 0.8660254037844386]]
extent = [4, 4]
pbc = true
[[bonds]]
vector = [1.0, 0.0]
coupling = "J1"
"""


def test_file_path_loads(tmp_path):
    assert load_lattice(_write(tmp_path, GOOD)).n_sites == 16


@pytest.mark.parametrize(
    "body,match",
    [
        ("name = [", "malformed TOML"),
        (GOOD.replace("[1.0, 0.0]\ncoupling", "[0.7, 0.0]\ncoupling"), "not a non-zero lattice vector"),
        (GOOD.replace('"J1"', '"J3"'), "coupling"),
        (GOOD.replace("extent = [4, 4]", "extent = [4, 0]"), "extent"),
        (GOOD.replace("pbc = true", "pbc = false"), "pbc"),
        (GOOD.replace("extent = [4, 4]", "extent = [1, 4]"), "itself"),
        (GOOD.replace('name = "t"\n', ""), "missing key 'name'"),
        (GOOD.replace("pbc = true", "pbc = true\npcb = false"), r"unknown keys \['pcb'\]"),
        (GOOD.replace('"J1"', '"J1"\nstrength = 2.0'), r"bond 0 has unknown keys \['strength'\]"),
    ],
)
def test_bad_files(tmp_path, body, match):
    with pytest.raises(LatticeError, match=match):
        load_lattice(_write(tmp_path, body))


def test_unknown_name():
    with pytest.raises(LatticeError, match="unknown lattice 'nope'.*triangular-4x4"):
        load_lattice("nope")


def test_misspelt_key_is_an_error_not_a_torus(tmp_path):
    """``pcb = false`` (a typo of ``pbc``) used to be ignored and run as a torus."""
    with pytest.raises(LatticeError, match="pcb"):
        load_lattice(_write(tmp_path, GOOD.replace("pbc = true", "pcb = false")))


def test_shipped_clusters_are_package_data(monkeypatch):
    """Names resolve to the data package ``nqs_dilated.lattices`` (the top-level ``lattices/`` of
    the repository in an editable install, a folder inside the installed package otherwise; CI
    checks the second), and pyproject.toml ships every subpackage of the source tree."""
    import tomllib

    import nqs_dilated
    from nqs_dilated.lattice import lattice_dir

    monkeypatch.delenv("NQS_DILATED_LATTICES", raising=False)
    root = Path(nqs_dilated.__file__).parent
    assert lattice_dir() in (root.parent / "lattices", root / "lattices")
    assert sorted(p.name for p in lattice_dir().glob("*.toml")) == [
        "triangular-4x4.toml",
        "triangular-4x6.toml",
        "triangular-6x6.toml",
    ]
    pyproject = root.parent / "pyproject.toml"
    if pyproject.exists():  # a source checkout
        listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
        found = {"nqs_dilated"} | {
            "nqs_dilated." + ".".join(p.parent.relative_to(root).parts) for p in root.rglob("*/__init__.py")
        }
        assert found | {"nqs_dilated.lattices"} == listed
    assert load_lattice("triangular-4x4").source == lattice_dir() / "triangular-4x4.toml"
