"""Shared fixtures: a private ED store per test session, the --runslow switch, clusters."""

from __future__ import annotations

import numpy as np
import pytest

from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_store(tmp_path_factory):
    """Every test session writes ground states to its own temporary store."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NQS_DILATED_STORE", str(tmp_path_factory.mktemp("ed_store")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def cluster_4x4():
    return load_lattice("triangular-4x4")


@pytest.fixture(scope="session")
def cluster_4x6():
    return load_lattice("triangular-4x6")


@pytest.fixture(scope="session")
def group_4x4(cluster_4x4):
    return space_group(cluster_4x4)


def marshall_sign(cluster, configs):
    """Marshall sign (-1)^(number of up spins on sublattice A), A = sites with n1 + n2 even."""
    import numpy as np

    sub_a = (cluster.grid.sum(axis=1) % 2) == 0
    n_up_a = ((np.asarray(configs) > 0) & sub_a).sum(axis=-1)
    return np.where(n_up_a % 2 == 0, 1, -1)


def brute_images(codes, group):
    """All images (2 |G|, D) of the codes under G x Z2 via group.perms (independent route)."""
    N = group.cluster.n_sites
    bits = ((codes[:, None] >> np.arange(N, dtype=np.uint64)) & np.uint64(1)).astype(np.uint64)
    full = np.uint64((1 << N) - 1)
    out = []
    for perm in np.asarray(group.perms):
        im = (bits << perm.astype(np.uint64)[None, :]).sum(axis=1, dtype=np.uint64)
        out.append(im)
        out.append(im ^ full)
    return np.array(out)
