"""Clusters as data: lattice TOML files turned into NetKet graphs.

A cluster file (``lattices/*.toml``, shipped as package data, or any TOML path) names a Bravais lattice (two basis vectors), the torus extent
``(L1, L2)`` and the bond families, each a displacement vector with a coupling label ``J1`` or
``J2``. :func:`load_lattice` turns it into a :class:`Cluster` holding the
:class:`netket.graph.Lattice` (edge colour 0 = J1, 1 = J2), the site coordinates and the map from
site index to the ``(row, column) = (n1, n2)`` position on the extent grid, the one source of
geometry for the Hamiltonian, the symmetry group, the exact diagonalization and the CNNs.

Site ordering is NetKet's: site ``i`` sits at ``r = n1 a1 + n2 a2`` with ``i = n1 * L2 + n2``.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import netket as nk
import numpy as np

__all__ = ["COUPLINGS", "BondFamily", "Cluster", "LatticeError", "lattice_dir", "load_lattice"]

#: Coupling labels, in edge-colour order: colour 0 is J1, colour 1 is J2.
COUPLINGS = ("J1", "J2")

_INTEGER_ATOL = 1e-8
#: Keys of a lattice file (top level) and of each of its ``[[bonds]]`` tables; any other key is an error.
LATTICE_KEYS = ("name", "basis_vectors", "extent", "pbc", "bonds")
BOND_KEYS = ("vector", "coupling")


class LatticeError(ValueError):
    """A lattice file is missing, malformed, or describes an unusable cluster."""


@dataclass(frozen=True)
class BondFamily:
    """One family of bonds: all pairs ``(r, r + vector)`` on the torus.

    Attributes:
        vector: Cartesian displacement, shape ``(2,)``.
        coords: The same displacement in units of the basis vectors, integer shape ``(2,)``.
        coupling: ``"J1"`` or ``"J2"``.
    """

    vector: tuple[float, float]
    coords: tuple[int, int]
    coupling: str

    @property
    def color(self) -> int:
        """Edge colour of the family in the NetKet graph (0 = J1, 1 = J2)."""
        return COUPLINGS.index(self.coupling)


@dataclass(frozen=True, eq=False)
class Cluster:
    """A periodic cluster of a two-dimensional Bravais lattice with coloured bonds.

    Attributes:
        name: Cluster name, e.g. ``"triangular-6x6"``.
        basis_vectors: ``(2, 2)`` float array, rows ``a1`` and ``a2``.
        extent: ``(L1, L2)``, number of cells along ``a1`` and ``a2``.
        bond_families: The bond families of the file, in file order.
        graph: The :class:`netket.graph.Lattice`, edge colour 0 for J1 bonds and 1 for J2 bonds.
        source: Path of the TOML file the cluster was read from.
    """

    name: str
    basis_vectors: np.ndarray
    extent: tuple[int, int]
    bond_families: tuple[BondFamily, ...]
    graph: nk.graph.Lattice
    source: Path

    @property
    def n_sites(self) -> int:
        """Number of sites ``N = L1 * L2``."""
        return self.graph.n_nodes

    @cached_property
    def positions(self) -> np.ndarray:
        """Cartesian site coordinates, float64 ``(N, 2)``."""
        return np.asarray(self.graph.positions, dtype=np.float64)

    @cached_property
    def grid(self) -> np.ndarray:
        """``(row, column) = (n1, n2)`` of every site on the extent grid, int64 ``(N, 2)``."""
        return np.asarray(self.graph.basis_coords[:, :2], dtype=np.int64)

    @cached_property
    def site_of(self) -> np.ndarray:
        """Inverse of :attr:`grid`: ``site_of[n1, n2]`` is the site index, int64 ``(L1, L2)``."""
        table = np.full(self.extent, -1, dtype=np.int64)
        table[self.grid[:, 0], self.grid[:, 1]] = np.arange(self.n_sites)
        return table

    def bonds(self, coupling: str) -> np.ndarray:
        """Bonds ``(i, j)`` carrying ``coupling`` (``"J1"`` or ``"J2"``), int64 ``(n_bonds, 2)``."""
        if coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {coupling!r}; use one of {COUPLINGS}")
        edges = self.graph.edges(filter_color=COUPLINGS.index(coupling))
        return np.asarray(edges, dtype=np.int64).reshape(-1, 2)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the cluster geometry (bonds and extent), for store keys."""
        import hashlib

        h = hashlib.sha256()
        h.update(np.asarray(self.extent, dtype=np.int64).tobytes())
        for c in COUPLINGS:
            h.update(c.encode())
            h.update(np.sort(np.sort(self.bonds(c), axis=1), axis=0).tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"Cluster({self.name!r}, extent={self.extent}, n_sites={self.n_sites})"


def lattice_dir() -> Path:
    """Directory searched for lattice names: ``$NQS_DILATED_LATTICES``, or the clusters shipped with
    the package: the repository's top-level ``lattices/``, installed as the data package
    ``nqs_dilated.lattices`` (found through :mod:`importlib.resources`, so that editable and
    regular installs find them)."""
    env = os.environ.get("NQS_DILATED_LATTICES")
    if env:
        return Path(env)
    return Path(str(resources.files(f"{__package__}.lattices")))


def _as_pair(value, what: str, path: Path, kind=float) -> tuple:
    if not (isinstance(value, list) and len(value) == 2):
        raise LatticeError(f"{path}: {what} must be a list of two numbers, got {value!r}")
    try:
        out = tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise LatticeError(f"{path}: {what} must hold numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise LatticeError(f"{path}: {what} must be finite, got {value!r}")
    return out


def load_lattice(name_or_path: str | os.PathLike) -> Cluster:
    """Read a cluster from ``NAME.toml`` in :func:`lattice_dir` or from a TOML file path.

    The file holds ``name``, ``basis_vectors`` (two 2D vectors), ``extent`` (two positive
    integers), ``pbc`` (must be true: the package works on tori) and a ``[[bonds]]`` table per bond
    family with ``vector`` (Cartesian displacement, an integer combination of the basis vectors)
    and ``coupling`` (``"J1"`` or ``"J2"``). Any other key is an error (a misspelt ``pcb = false``
    must not run as a torus).

    Args:
        name_or_path: A cluster name such as ``"triangular-4x6"`` (looked up in
            :func:`lattice_dir`) or the path of a TOML file.

    Returns:
        The :class:`Cluster`.

    Raises:
        LatticeError: unknown name, unreadable or malformed TOML, an unknown key, a bond vector that is not a
            lattice vector, an unknown coupling label, or a torus too small for its bonds
            (a bond that closes on itself or repeats another).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml" or not path.exists():
        candidate = lattice_dir() / f"{name_or_path}.toml"
        if not candidate.exists():
            known = sorted(p.stem for p in lattice_dir().glob("*.toml"))
            raise LatticeError(
                f"unknown lattice {str(name_or_path)!r}: no such file and no {candidate.name} in "
                f"{lattice_dir()}; known lattices: {', '.join(known) or 'none'}"
            )
        path = candidate
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise LatticeError(f"{path}: malformed TOML ({err}); fix the file") from None

    unknown = sorted(set(spec) - set(LATTICE_KEYS))
    if unknown:
        raise LatticeError(f"{path}: unknown keys {unknown}; known keys: {list(LATTICE_KEYS)}")
    for key in ("name", "basis_vectors", "extent", "bonds"):
        if key not in spec:
            raise LatticeError(f"{path}: missing key {key!r}")
    if spec.get("pbc", True) is not True:
        raise LatticeError(f"{path}: pbc must be true; open boundaries are not supported")
    basis = spec["basis_vectors"]
    if not (isinstance(basis, list) and len(basis) == 2):
        raise LatticeError(f"{path}: basis_vectors must be two 2D vectors")
    A = np.array([_as_pair(v, "basis vector", path) for v in basis])
    if abs(np.linalg.det(A)) < 1e-10:
        raise LatticeError(f"{path}: basis vectors are linearly dependent")
    extent = _as_pair(spec["extent"], "extent", path, kind=lambda v: v)
    if not all(isinstance(v, int) and v > 0 for v in extent):
        raise LatticeError(f"{path}: extent must be two positive integers, got {spec['extent']!r}")
    if not isinstance(spec["bonds"], list) or not spec["bonds"]:
        raise LatticeError(f"{path}: give at least one [[bonds]] table")

    families = []
    for k, bond in enumerate(spec["bonds"]):
        if not isinstance(bond, dict) or "vector" not in bond or "coupling" not in bond:
            raise LatticeError(f"{path}: bond {k} needs 'vector' and 'coupling'")
        unknown = sorted(set(bond) - set(BOND_KEYS))
        if unknown:
            raise LatticeError(f"{path}: bond {k} has unknown keys {unknown}; known keys: {list(BOND_KEYS)}")
        vec = np.array(_as_pair(bond["vector"], f"bond {k} vector", path))
        if bond["coupling"] not in COUPLINGS:
            raise LatticeError(f"{path}: bond {k} has coupling {bond['coupling']!r}; use one of {COUPLINGS}")
        coords = np.linalg.solve(A.T, vec)
        rounded = np.rint(coords)
        if np.max(np.abs(coords - rounded)) > _INTEGER_ATOL or not np.any(rounded):
            raise LatticeError(
                f"{path}: bond {k} vector {vec.tolist()} is not a non-zero lattice vector "
                f"(it is {coords.tolist()} in units of the basis vectors); use an integer "
                "combination of the basis vectors"
            )
        families.append(BondFamily(tuple(vec.tolist()), tuple(int(c) for c in rounded), bond["coupling"]))

    # Each bond family must give N distinct bonds that do not close on themselves on the torus.
    L = np.array(extent)
    reduced = set()
    for f in families:
        d = np.mod(np.array(f.coords), L)
        if not d.any():
            raise LatticeError(
                f"{path}: bond {f.vector} connects a site to itself on the {extent} torus; use a larger extent"
            )
        for key in (tuple(d), tuple(np.mod(-d, L))):
            if key in reduced:
                raise LatticeError(
                    f"{path}: bond {f.vector} repeats another bond family on the {extent} torus "
                    "(or is its own reverse); use a larger extent"
                )
        reduced.add(tuple(d))
    if {f.coupling for f in families} - {"J1"} and "J1" not in {f.coupling for f in families}:
        raise LatticeError(f"{path}: at least one bond family must carry J1")

    custom_edges = [(0, 0, np.array(f.vector), f.color) for f in families]
    graph = nk.graph.Lattice(basis_vectors=A, extent=list(extent), pbc=True, custom_edges=custom_edges)
    expected = {c: sum(f.coupling == c for f in families) * graph.n_nodes for c in COUPLINGS}
    for c, n in expected.items():
        got = len(graph.edges(filter_color=COUPLINGS.index(c)))
        if got != n:
            raise LatticeError(f"{path}: expected {n} {c} bonds, NetKet built {got}")
    return Cluster(
        name=str(spec["name"]),
        basis_vectors=A,
        extent=(int(extent[0]), int(extent[1])),
        bond_families=tuple(families),
        graph=graph,
        source=path,
    )
