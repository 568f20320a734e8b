"""The graded order of the representatives (J2-chain classes, nqs_dilated.ed.grading)."""

from __future__ import annotations

import numpy as np
import pytest

from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.grading import chain_classes, chain_masks, graded_order
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group


def _codes(configs: np.ndarray) -> np.ndarray:
    """uint64 codes of 0/1 configurations ``(n, N)`` (bit i set for an up spin at site i)."""
    weights = np.uint64(1) << np.arange(configs.shape[1], dtype=np.uint64)
    return (configs.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def _random_sz0(cluster, n, rng):
    N = cluster.n_sites
    up = np.zeros((n, N), dtype=np.int64)
    for k in range(n):
        up[k, rng.permutation(N)[: N // 2]] = 1
    return up


@pytest.mark.parametrize("name, n_chains", [("triangular-4x4", 4), ("triangular-4x6", 2), ("triangular-6x6", 6)])
def test_chains_are_the_j2_components(name, n_chains):
    cluster = load_lattice(name)
    masks, perms = chain_masks(cluster, space_group(cluster))
    assert len(masks) == n_chains
    # every J2 bond lies inside one chain, every J1 bond joins two different chains
    chain = np.zeros(cluster.n_sites, dtype=int)
    for c, m in enumerate(masks):
        chain[[i for i in range(cluster.n_sites) if int(m) >> i & 1]] = c
    assert all(chain[i] == chain[j] for i, j in cluster.bonds("J2"))
    assert all(chain[i] != chain[j] for i, j in cluster.bonds("J1"))
    assert np.array_equal(perms[0], np.arange(n_chains))
    assert all(sorted(p) == list(range(n_chains)) for p in perms)


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-6x6"])
def test_chain_class_is_an_orbit_invariant(name):
    """The class of g x and of the spin-inverted x equals that of x for every group element."""
    cluster = load_lattice(name)
    group = space_group(cluster)
    rng = np.random.default_rng(0)
    up = _random_sz0(cluster, 40, rng)
    ref = chain_classes(_codes(up), cluster, group)
    assert len(np.unique(ref)) > 1
    for perm in np.asarray(group.perms):
        moved = np.empty_like(up)
        moved[:, perm] = up
        np.testing.assert_array_equal(chain_classes(_codes(moved), cluster, group), ref)
    np.testing.assert_array_equal(chain_classes(_codes(1 - up), cluster, group), ref)


def test_j2_exchange_keeps_the_class_and_j1_moves_one_spin_between_chains():
    """The two properties that make the graded order local."""
    cluster = load_lattice("triangular-6x6")
    group = space_group(cluster)
    masks, _ = chain_masks(cluster, group)
    rng = np.random.default_rng(1)
    up = _random_sz0(cluster, 20, rng)
    member = np.array([[int(m) >> s & 1 for s in range(cluster.n_sites)] for m in masks])

    def counts(cfg):
        return member @ cfg

    for x in up:
        c0 = chain_classes(_codes(x[None]), cluster, group)[0]
        for fam in ("J2", "J1"):
            for i, j in cluster.bonds(fam):
                if x[i] == x[j]:
                    continue
                y = x.copy()
                y[i], y[j] = x[j], x[i]
                c1 = chain_classes(_codes(y[None]), cluster, group)[0]
                moved = counts(y) - counts(x)
                if fam == "J2":
                    assert c1 == c0 and not moved.any()
                else:  # one up spin from one chain to another
                    assert sorted(moved[moved != 0]) == [-1, 1]


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
def test_graded_order_is_a_permutation_sorted_by_class(name):
    cluster = load_lattice(name)
    group = space_group(cluster)
    basis = SymmetricBasis(cluster, group)
    order = graded_order(basis.representatives, cluster, group)
    assert order.dtype == np.uint32
    np.testing.assert_array_equal(np.sort(order), np.arange(basis.n_reps))
    keys = chain_classes(basis.representatives, cluster, group)[order]
    assert np.all(np.diff(keys) >= 0)
    same = np.diff(keys) == 0
    assert np.all(np.diff(order.astype(np.int64))[same] > 0)  # ascending codes within a class
