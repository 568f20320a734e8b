"""Orbit labels of bit codes under translations x point group x spin inversion.

:func:`orbit_labels` reduces any codes to their orbit representatives (the smallest code of each
orbit, as in :class:`~nqs_dilated.ed.basis.SymmetricBasis`) with the bit-operation group action
of :mod:`nqs_dilated.ed._bitops`, without building a basis; with ``sizes`` it also gives the
orbit sizes from the stabilizer counts.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..lattice import Cluster
from ..symmetry import SymmetryGroup, space_group
from ._bitops import find_rep, make_tables
from ._bitops import stab_counts as _stab_kernel

__all__ = ["orbit_labels"]


@nb.njit(parallel=True, cache=True)
def _orbits_many(codes, T, with_sizes, out_rep, out_size):
    order = 2 * T[1] * T[2] * T[3]  # |G'| = 2 N P
    for i in nb.prange(codes.shape[0]):
        r, _, _ = find_rep(codes[i], T)
        out_rep[i] = r
        if with_sizes:
            counts = np.zeros(2 * T[3], dtype=np.int64)
            _stab_kernel(r, T, counts)
            out_size[i] = order // counts.sum()


def orbit_labels(
    cluster: Cluster, codes: np.ndarray, group: SymmetryGroup | None = None, *, sizes: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The orbit of each code under ``G' = (translations x point group) x spin inversion``.

    An orbit is labelled by its smallest code, the representative of
    :class:`~nqs_dilated.ed.basis.SymmetricBasis`, so two configurations are symmetry images of
    each other exactly when their labels are equal. No basis is needed: each code is reduced by
    the bit-operation group action (:func:`~nqs_dilated.ed._bitops.find_rep`, parallel numba).

    Args:
        cluster: The cluster (at most 64 sites, ``L2 <= 16``).
        codes: uint64 ``(B,)`` bit codes (:mod:`nqs_dilated.ed.bits`), any magnetisation.
        group: The space group (default :func:`~nqs_dilated.symmetry.space_group` of ``cluster``).
        sizes: Also return the orbit sizes ``|G'| / |Stab|``.

    Returns:
        uint64 ``(B,)`` labels, and with ``sizes`` int64 ``(B,)`` orbit sizes.

    Raises:
        ValueError: the cluster is too large for 64-bit codes or has ``L2 > 16``.
    """
    if group is None:
        group = space_group(cluster)
    T = make_tables(cluster.n_sites, cluster.extent, np.asarray(group.point_perms, dtype=np.int64))
    codes = np.ascontiguousarray(codes, dtype=np.uint64).ravel()
    labels = np.empty_like(codes)
    size = np.zeros(codes.shape if sizes else 0, dtype=np.int64)
    if codes.size:
        _orbits_many(codes, T, bool(sizes), labels, size)
    return (labels, size) if sizes else labels
