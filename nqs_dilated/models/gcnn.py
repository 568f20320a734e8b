"""Group-convolutional reference model: NetKet's G-CNN on the cluster's space group.

:func:`netket.models.GCNN` (Roth et al., arXiv:2104.05085; Cohen & Welling 2016) is invariant under
every element of the group it is given, here the full space group of the coloured cluster
(translations x point group, :func:`nqs_dilated.symmetry.space_group`, which equals NetKet's
``graph.automorphisms()``; tested). It is the symmetric reference the CNNs are compared with.

Head conventions (the same names as the CNNs, :mod:`nqs_dilated.models.heads`): the G-CNN is used
with real parameters and ``complex_output=False``, so each G-CNN returns one real invariant scalar
``s = log sum_{g, f} exp(feature_{g, f})``. A real G-CNN with trivial characters cannot carry a
sign by itself (``exp(s) > 0``), so the model holds one G-CNN per real output the head needs:

* ``"sign"``, ``sign_logits=1``: one G-CNN, its ``s`` is the logit, shape ``(...,)``;
* ``"sign"``, ``sign_logits=2``: two G-CNNs, ``(s_0, s_1)`` are the two logits, ``(..., 2)``;
* ``"log_psi"``: two G-CNNs, ``log psi = s_0 + i s_1`` (log-amplitude and phase), complex ``(...,)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import netket as nk
import numpy as np
from netket.utils import HashableArray

from ..lattice import Cluster
from ..symmetry import space_group
from .heads import check_head, combine_outputs, n_head_outputs

__all__ = ["SymmetricGCNN", "permutation_group"]


@lru_cache(maxsize=16)
def _group_and_irreps(perms: HashableArray):
    group = nk.utils.group.PermutationGroup(
        [nk.utils.group.Permutation(permutation_array=p) for p in np.asarray(perms)], degree=np.asarray(perms).shape[1]
    )
    return group, tuple(HashableArray(np.asarray(m)) for m in group.irrep_matrices())


def permutation_group(cluster: Cluster) -> nk.utils.group.PermutationGroup:
    """The space group of ``cluster`` as a NetKet :class:`~netket.utils.group.PermutationGroup`.

    Built from ``space_group(cluster).perms`` (element 0 is the identity); as a set of permutations
    it equals ``cluster.graph.automorphisms()``.
    """
    return _group_and_irreps(HashableArray(np.asarray(space_group(cluster).perms)))[0]


class SymmetricGCNN(nn.Module):
    """Space-group-invariant G-CNN(s) with the package's heads (see the module docstring).

    Raises (at construction):
        ValueError: empty ``features``, a non-positive feature count, an unknown ``head``,
            ``sign_logits`` not 1 or 2, ``symmetries`` not a 2D permutation array.
    """

    symmetries: HashableArray
    """Site permutations of the group, ``(|G|, N)``, identity first (``space_group(c).perms``)."""
    features: tuple[int, ...] = (8, 8, 8)
    """Features of each G-CNN layer; its length is the number of layers (default (8, 8, 8))."""
    head: str = "sign"
    """Output head, ``"sign"`` or ``"log_psi"`` (default ``"sign"``)."""
    sign_logits: int = 2
    """Number of sign logits, 2 or 1 (default 2)."""
    param_dtype: Any = jnp.float32
    """Real dtype of the parameters and computation (default float32)."""

    def __post_init__(self):
        feats = tuple(self.features)
        if len(feats) == 0:
            raise ValueError("features is empty; give at least one layer, e.g. features=(8, 8, 8)")
        if any(int(f) != f or f <= 0 for f in feats):
            raise ValueError(f"features must be positive integers, got {feats}")
        if np.asarray(self.symmetries).ndim != 2:
            raise ValueError("symmetries must be a (|G|, N) permutation array; use from_cluster")
        check_head(self.head, self.sign_logits)
        super().__post_init__()

    @classmethod
    def from_cluster(cls, cluster: Cluster, **config) -> SymmetricGCNN:
        """Build on the space group of ``cluster``; ``config`` sets the other fields."""
        return cls(symmetries=HashableArray(np.asarray(space_group(cluster).perms)), **config)

    def setup(self):
        group, irreps = _group_and_irreps(self.symmetries)
        self.nets = [
            nk.models.GCNN(
                symmetries=group,
                irreps=irreps,
                mode="irreps",
                layers=len(tuple(self.features)),
                features=tuple(self.features),
                param_dtype=self.param_dtype,
                complex_output=False,
            )
            for _ in range(n_head_outputs(self.head, self.sign_logits))
        ]

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Evaluate. ``x``: ``(..., N)`` ±1 (any dtype); returns as :func:`~.heads.combine_outputs`."""
        x = jnp.asarray(x, dtype=self.param_dtype)
        batch = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])  # NetKet's G-CNN reads a 3D input as (batch, feature, N)
        z = jnp.stack([net(flat) for net in self.nets], axis=-1).reshape(*batch, -1)
        z = z.astype(self.param_dtype)  # NetKet's float64 characters promote the logsumexp
        return combine_outputs(z, self.head, self.sign_logits)
