"""Sign models: invariant (dilated) CNNs, the dense sign network, the G-CNN reference and the
truncated Walsh series.

All models are Flax ``linen`` modules taking ``x`` of shape ``(..., N)`` with ±1 entries (any dtype,
NetKet passes int8) and returning the output of their head (:mod:`.heads`): sign logits
``(..., 2)``/``(...,)`` or a complex ``log psi`` ``(...,)`` usable by :class:`netket.vqs.MCState`.

=========== ====================================== ======================================
name        class                                  symmetry
=========== ====================================== ======================================
``dilated`` :class:`.dilated.InvariantDilatedCNN`  all translations (by construction)
``cnn``     :class:`.dilated.InvariantCNN`         all translations (by construction)
``dense``   :class:`.dense.DenseSign`              none
``gcnn``    :class:`.gcnn.SymmetricGCNN`           full space group (NetKet G-CNN)
``walsh-local`` :class:`.walsh.WalshSign`          all translations (orbit sums of monomials)
``walsh``   no network: the transform fit of       all translations
            :mod:`nqs_dilated.training.walsh`
=========== ====================================== ======================================
"""

from __future__ import annotations

import dataclasses
import enum
import math

import jax
import numpy as np

from ..choice import Choice
from ..lattice import Cluster
from .conv import CircularConv, dilated_offsets, neighbour_table
from .dense import DenseSign
from .dilated import InvariantCNN, InvariantDilatedCNN, grid_of
from .gcnn import SymmetricGCNN, permutation_group
from .heads import HEADS, Readout
from .walsh import WalshSign

__all__ = [
    "FITTED_WITHOUT_NETWORK",
    "HEADS",
    "MODELS",
    "TRANSLATION_INVARIANT",
    "ModelName",
    "CircularConv",
    "DenseSign",
    "InvariantCNN",
    "InvariantDilatedCNN",
    "Readout",
    "SymmetricGCNN",
    "WalshSign",
    "dilated_offsets",
    "grid_of",
    "make_model",
    "n_params",
    "neighbour_table",
    "permutation_group",
]


class ModelName(Choice):
    """The models of :func:`make_model` (module docstring)."""

    _what = enum.nonmember("model")
    DILATED = "dilated"
    CNN = "cnn"
    DENSE = "dense"
    GCNN = "gcnn"
    WALSH_LOCAL = "walsh-local"
    WALSH = "walsh"


#: Model names accepted by :func:`make_model`, with their classes.
MODELS = {
    ModelName.DILATED: InvariantDilatedCNN,
    ModelName.CNN: InvariantCNN,
    ModelName.DENSE: DenseSign,
    ModelName.GCNN: SymmetricGCNN,
    ModelName.WALSH_LOCAL: WalshSign,
}
#: Models fitted without a network (:mod:`nqs_dilated.training.walsh`): :func:`make_model` refuses them.
FITTED_WITHOUT_NETWORK = (ModelName.WALSH,)
#: Models exactly invariant under every translation of the cluster (by construction).
TRANSLATION_INVARIANT = (ModelName.DILATED, ModelName.CNN, ModelName.GCNN, ModelName.WALSH_LOCAL, ModelName.WALSH)

_GEOMETRY_FIELDS = {"extent", "grid", "symmetries", "parent", "name", "translations", "sublattice"}


def make_model(name: str, cluster: Cluster, **config):
    """Build model ``name`` for ``cluster``.

    Args:
        name: One of :data:`MODELS` (``"dilated"``, ``"cnn"``, ``"dense"``, ``"gcnn"``).
        cluster: The cluster; supplies the grid (CNNs) or the space group (G-CNN). The dense
            network infers ``N`` from its input.
        **config: Fields of the model class, e.g. ``channels=(32, 32)``, ``head="log_psi"``.

    Returns:
        An unbound Flax module.

    Raises:
        ValueError: unknown ``name``, an unknown configuration key, or an invalid configuration
            (see each class).
    """
    name = ModelName.parse(name)
    if name in FITTED_WITHOUT_NETWORK:
        raise ValueError(
            f"model {name!r} is not a network: it is fitted by the transform of the training labels "
            "(nqs_dilated.training.walsh.fit_walsh_series; nqs-dilated sign --model walsh)"
        )
    cls = MODELS[name]
    allowed = sorted(f.name for f in dataclasses.fields(cls) if f.name not in _GEOMETRY_FIELDS)
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r} has no option(s) {unknown}; its options are {allowed}")
    if name == "dense":
        return cls(**config)
    return cls.from_cluster(cluster, **config)


def n_params(params) -> int:
    """Number of scalar parameters in a pytree of arrays or shapes (a complex entry counts once)."""
    return int(sum(math.prod(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params)))
