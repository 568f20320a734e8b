"""Graded order of the orbit representatives: J2-chain magnetization classes.

The J2 bonds of the anisotropic triangular lattice form decoupled chains (the connected
components of the J2 bonds; six chains of six sites on ``triangular-6x6``). The *chain class*
of a configuration is the vector of up-spin numbers on the chains, minimised (lexicographically)
over the permutations of the chains induced by the space group and over spin inversion
(``n_c -> |c| - n_c``). It is an orbit invariant, so it is a function of the representative. An
exchange across a J2 bond keeps it and one across a J1 bond moves one up spin between two
neighbouring chains, so in the order of increasing class the Hamiltonian connects each class to a
few others only. At 36 sites, with row blocks of 2^17 representatives, the bytes of the input
vector that one matvec reads fall from about 50 GB (basis order: every block reaches nearly every
column) to about 10 GB (a Monte-Carlo estimate over 400,000 configurations,
``runs/results/ed36/grading-estimate.*``; of the other sublattices tried, one of 12 colours
was as good, 10.0 GB, and the rest worse, 12.5-27 GB). The
structure of :mod:`nqs_dilated.ed.operator` stores its rows and columns in this order.

The order changes no number of the physics: the basis, the ground states and
:meth:`~nqs_dilated.ed.operator.SectorOperator.matvec` keep the order of ascending codes; only
the eigensolver works on vectors in the graded order
(:meth:`~nqs_dilated.ed.operator.SectorOperator.graded_matvec`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..lattice import Cluster
from ..symmetry import SymmetryGroup
from ._bitops import popcount64

__all__ = ["chain_classes", "chain_masks", "graded_order"]


def chain_masks(cluster: Cluster, group: SymmetryGroup) -> tuple[np.ndarray, np.ndarray]:
    """The J2 chains as bit masks, and the chain permutations induced by the group.

    Returns:
        ``(masks, perms)``: uint64 ``(m,)`` (bit ``i`` set for the sites of chain ``c``; chains
        numbered by their smallest site) and int64 ``(Q, m)``, the distinct permutations
        ``perms[q, c]`` = the chain that an element maps chain ``c`` onto (the identity first).

    Raises:
        ValueError: a group element does not map chains onto chains (it does not preserve the
            J2 bonds, so it is no symmetry of the Hamiltonian).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    N = cluster.n_sites
    b2 = np.asarray(cluster.bonds("J2"), dtype=np.int64).reshape(-1, 2)
    adj = coo_matrix((np.ones(len(b2)), (b2[:, 0], b2[:, 1])), shape=(N, N))
    _, labels = connected_components(adj, directed=False)
    # number the chains by their smallest site
    first = {}
    for lab in labels:
        first.setdefault(int(lab), len(first))
    chain = np.array([first[int(lab)] for lab in labels], dtype=np.int64)
    m = len(first)
    masks = np.zeros(m, dtype=np.uint64)
    for i in range(N):
        masks[chain[i]] |= np.uint64(1) << np.uint64(i)
    perms = {tuple(range(m)): None}
    for g, perm in enumerate(np.asarray(group.perms)):
        image = -np.ones(m, dtype=np.int64)
        for i in range(N):
            c, d = chain[i], chain[perm[i]]
            if image[c] >= 0 and image[c] != d:
                raise ValueError(
                    f"group element {g} of {cluster.name} does not map J2 chains onto J2 chains; "
                    "use symmetry.space_group(cluster)"
                )
            image[c] = d
        perms.setdefault(tuple(int(v) for v in image), None)
    return masks, np.array(list(perms), dtype=np.int64)


@nb.njit(parallel=True, cache=True)
def _classes(reps, masks, sizes, perms, out):
    m = masks.shape[0]
    base = np.int64(sizes.max() + 1)
    for a in nb.prange(reps.shape[0]):
        x = reps[a]
        n = np.empty(m, dtype=np.int64)
        for c in range(m):
            n[c] = popcount64(x & masks[c])
        best = np.int64(-1)
        for q in range(perms.shape[0]):
            for z in range(2):
                v = np.int64(0)
                for c in range(m):
                    k = n[perms[q, c]]
                    v = v * base + (sizes[c] - k if z else k)
                if best < 0 or v < best:
                    best = v
        out[a] = best


def chain_classes(reps: np.ndarray, cluster: Cluster, group: SymmetryGroup) -> np.ndarray:
    """Chain class of each configuration, as an int64 code whose order is the lexicographic
    order of the minimised up-spin vectors (see the module docstring).

    Args:
        reps: uint64 ``(R,)`` configuration codes (bit ``i`` set for an up spin at site ``i``).
        cluster, group: The cluster and its space group.

    Returns:
        int64 ``(R,)``; all zero when the code would not fit 63 bits (then no grading is made).
    """
    masks, perms = chain_masks(cluster, group)
    sizes = np.array([bin(int(mk)).count("1") for mk in masks], dtype=np.int64)
    out = np.zeros(reps.shape[0], dtype=np.int64)
    if len(masks) * np.log2(sizes.max() + 1) >= 63:
        return out
    _classes(np.ascontiguousarray(reps, dtype=np.uint64), masks, sizes, perms, out)
    return out


def graded_order(reps: np.ndarray, cluster: Cluster, group: SymmetryGroup) -> np.ndarray:
    """Permutation putting the representatives in order of increasing chain class (ascending
    codes within a class).

    Returns:
        uint32 ``(R,)``: ``order[k]`` is the basis index of the ``k``-th representative in the
        graded order.

    Raises:
        MemoryError: ``R >= 2**32``.
    """
    if reps.shape[0] >= 2**32:
        raise MemoryError(f"{reps.shape[0]:,} representatives do not fit 32-bit indices")
    keys = chain_classes(reps, cluster, group)
    return np.argsort(keys, kind="stable").astype(np.uint32)
