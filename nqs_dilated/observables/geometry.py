"""Geometry of the torus for correlations: displacements, their point-group images, momenta.

Sites are indexed by their grid coordinates ``(n1, n2)`` (``Cluster.grid``, position
``n1 a1 + n2 a2``); displacement ``k`` is ``d = (k // L2) a1 + (k % L2) a2``.
"""

from __future__ import annotations

import math

import numpy as np

from ..lattice import Cluster
from ..symmetry import space_group

__all__ = [
    "allowed_momenta",
    "basis_vectors",
    "bond_displacement",
    "displacements",
    "point_maps",
    "site_of_displacement",
]


def basis_vectors(cluster: Cluster) -> np.ndarray:
    return np.asarray(cluster.basis_vectors, dtype=np.float64)


def displacements(cluster: Cluster) -> tuple[np.ndarray, np.ndarray]:
    """``(d (N, 2) int, shortest Cartesian vector (N, 2))`` of every displacement of the torus."""
    L1, L2 = cluster.extent
    d = np.array([(i, j) for i in range(L1) for j in range(L2)], dtype=np.int64)
    a = basis_vectors(cluster)
    shifts = np.array([(s1, s2) for s1 in (-1, 0, 1) for s2 in (-1, 0, 1)])
    vecs = np.empty((len(d), 2))
    for k, (i, j) in enumerate(d):
        images = ((i + L1 * shifts[:, 0])[:, None] * a[0]) + ((j + L2 * shifts[:, 1])[:, None] * a[1])
        vecs[k] = images[np.argmin(np.einsum("ij,ij->i", images, images))]
    return d, vecs


def point_maps(cluster: Cluster) -> np.ndarray:
    """int64 ``(P, N)``: ``maps[p, k]`` is the index of the displacement ``R_p d_k`` (the linear part
    of point-group element ``p`` applied to displacement ``k``)."""
    L1, L2 = cluster.extent
    grid = np.asarray(cluster.grid, dtype=np.int64)
    sites = site_of_displacement(cluster)
    perms = np.asarray(space_group(cluster).point_perms, dtype=np.int64)
    maps = np.empty((len(perms), L1 * L2), dtype=np.int64)
    for p, perm in enumerate(perms):
        o = grid[perm[sites[0]]]
        g = grid[perm[sites]]
        maps[p] = ((g[:, 0] - o[0]) % L1) * L2 + (g[:, 1] - o[1]) % L2
    return maps


def site_of_displacement(cluster: Cluster) -> np.ndarray:
    """int64 ``(N,)``: the site at displacement ``k`` from the site at grid ``(0, 0)``."""
    return np.asarray(cluster.site_of, dtype=np.int64).ravel()  # row-major: k = d1 * L2 + d2


def bond_displacement(cluster: Cluster, i: int, j: int) -> int:
    """Index of the displacement from site ``i`` to site ``j``."""
    L1, L2 = cluster.extent
    gi, gj = np.asarray(cluster.grid[i]), np.asarray(cluster.grid[j])
    return int(((gj[0] - gi[0]) % L1) * L2 + (gj[1] - gi[1]) % L2)


def allowed_momenta(cluster: Cluster) -> tuple[np.ndarray, np.ndarray]:
    """``(m (N, 2) int, q (N, 2) float)``: the momenta ``q = (m1/L1) b1 + (m2/L2) b2`` of the torus,
    each folded into the first Brillouin zone (the shortest of its images ``q + G``)."""
    L1, L2 = cluster.extent
    a = basis_vectors(cluster)
    b = 2 * math.pi * np.linalg.inv(a).T  # rows b1, b2 with a_i . b_j = 2 pi delta_ij
    m = np.array([(i, j) for i in range(L1) for j in range(L2)], dtype=np.int64)
    q = (m[:, :1] / L1) * b[0] + (m[:, 1:] / L2) * b[1]
    shifts = np.array([(s1, s2) for s1 in (-1, 0, 1) for s2 in (-1, 0, 1)], dtype=np.float64) @ b
    images = q[:, None, :] + shifts[None, :, :]
    q = images[np.arange(len(q)), np.argmin(np.einsum("nij,nij->ni", images, images), axis=1)]
    return m, q
