"""Translation-invariant CNNs with stacks of dilated circular convolutions.

The architecture of Schurov et al., arXiv:2406.08318: the spin configuration is laid out on the
``(L1, L2)`` grid of the torus, passed through convolutions with circular padding, stride 1 and no
downsampling, each followed by a pointwise activation, then averaged over all sites (global
average pooling) and read out by a dense head (see :mod:`nqs_dilated.models.heads`). Dilated
kernels (Yu & Koltun, arXiv:1511.07122) grow the receptive field with the depth at fixed
parameter count.

Why a square kernel on the oblique grid is exactly translation invariant: site ``i`` sits at
``r = n1 a1 + n2 a2`` and the grid is indexed by the integer coordinates ``(n1, n2)``, not by
Cartesian position. A translation of the torus by ``t1 a1 + t2 a2`` maps ``(n1, n2)`` to
``(n1 + t1 mod L1, n2 + t2 mod L2)``: a cyclic shift of the grid, whatever the angle between
``a1`` and ``a2``. A circular convolution (any kernel shape, any dilation, stride 1) commutes with
cyclic shifts, pointwise activations and residual sums do too, and the mean over all sites is
invariant under any permutation of the sites. So the network output is invariant under all ``N``
translations, exactly (tested on every translation). The kernel shape only decides which
lattice neighbours are read (a 3x3 kernel reads offsets ``+-a1``, ``+-a2``, ``+-(a1 - a2)``: the
six nearest neighbours of the triangular lattice, and ``+-(a1 + a2)``: two of its six
next-nearest neighbours); it does not affect the invariance. Point-group operations (C2, the
reflections) are *not* built in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from ..lattice import Cluster
from .conv import CircularConv, Grid, check_grid
from .heads import Readout, check_head

__all__ = ["InvariantCNN", "InvariantDilatedCNN", "grid_of"]


def grid_of(cluster: Cluster) -> tuple[tuple[int, int], Grid]:
    """``(extent, grid)`` of a cluster as hashable tuples, the geometry fields of the CNNs."""
    extent = (int(cluster.extent[0]), int(cluster.extent[1]))
    grid = tuple((int(a), int(b)) for a, b in cluster.grid)
    return extent, grid


class InvariantDilatedCNN(nn.Module):
    """Translation-invariant CNN: dilated circular convolutions, global mean pool, dense head.

    ``x (..., N) -> (..., N, 1) -> [CircularConv(c_l, k, d_l) -> activation (+ residual)]_l ->
    mean over sites -> head``. Every convolution equals
    ``nn.Conv(c_l, (k, k), kernel_dilation=d_l, padding="CIRCULAR")`` on the ``(L1, L2)`` grid
    (circular padding of total width ``d_l (k - 1)``) and is computed as a gather with a
    precomputed neighbour table plus one matrix product (:class:`~.conv.CircularConv`).

    Build it from a cluster with :meth:`from_cluster` (or :func:`nqs_dilated.models.make_model`).
    On CPU, evaluate large batches in chunks of about a thousand configurations (``lax.map``, or
    ``MCState(chunk_size=...)``): the gathered patches then stay in cache, which the benchmark
    measured to be faster than one call on the whole batch.

    Receptive-field rule: a layer whose dilated kernel spans more than the longest circumference,
    ``dilation * (kernel_size - 1) > max(L1, L2)``, is rejected: it covers the torus more than
    once in every direction. A kernel that only wraps one axis (``d (k - 1) >= L`` along it) is
    accepted: some taps then read the same site, which leaves the map exactly invariant and only
    makes those weights redundant. With the defaults (``k = 3``, dilations ``(1, 2, 3)``) this
    happens on the 6-site axes at ``d = 3`` and on the 4-site axis at ``d = 2``; the defaults are
    valid on 4x6 and 6x6, while 4x4 needs dilations of at most 2 (e.g. ``(1, 2, 1)``).

    Raises (at construction):
        ValueError: empty ``channels``; a non-positive channel count, ``kernel_size`` or
            dilation; ``len(dilations) != len(channels)``; ``dilation * (kernel_size - 1) >
            max(L1, L2)`` (see the receptive-field rule above); an unknown ``head``; ``sign_logits`` not 1 or 2; a ``grid`` that
            does not list every cell of ``extent`` once.

    Example:
        >>> from nqs_dilated.lattice import load_lattice
        >>> model = InvariantDilatedCNN.from_cluster(load_lattice("triangular-6x6"), dilations=(1, 2, 2))
    """

    extent: tuple[int, int]
    """Torus extent ``(L1, L2)`` (``cluster.extent``)."""
    grid: Grid
    """``(n1, n2)`` grid position of each site in site order (``cluster.grid`` as tuples)."""
    channels: tuple[int, ...] = (32, 32, 32)
    """Output channels of each convolution; its length is the number of layers (default (32, 32, 32))."""
    kernel_size: int = 3
    """Side of the square kernel (default 3)."""
    dilations: tuple[int, ...] = (1, 2, 3)
    """Dilation of each convolution, same length as ``channels`` (default (1, 2, 3))."""
    activation: Callable = nn.relu
    """Pointwise activation after every convolution (default ReLU)."""
    residual: bool = False
    """Add the layer input to its output where the channel counts match (default False)."""
    head: str = "sign"
    """Output head, ``"sign"`` or ``"log_psi"`` (default ``"sign"``)."""
    sign_logits: int = 2
    """Number of sign logits, 2 (``(..., 2)`` output) or 1 (``(...,)``) (default 2)."""
    param_dtype: Any = jnp.float32
    """Dtype of all parameters and of the computation (default float32, 1.5-2x faster than
    float64 on CPU, see ``benchmarks/models_forward.py``; pass ``jnp.float64`` for VMC runs that
    need double-precision gradients and energies)."""

    def __post_init__(self):
        self._validate()
        super().__post_init__()

    def _validate(self) -> None:
        chans, dils = tuple(self.channels), tuple(self.dilations)
        if len(chans) == 0:
            raise ValueError("channels is empty; give at least one layer, e.g. channels=(32, 32, 32)")
        if any(int(c) != c or c <= 0 for c in chans):
            raise ValueError(f"channels must be positive integers, got {chans}")
        if int(self.kernel_size) != self.kernel_size or self.kernel_size <= 0:
            raise ValueError(f"kernel_size must be a positive integer, got {self.kernel_size!r}")
        if any(int(d) != d or d <= 0 for d in dils):
            raise ValueError(f"dilations must be positive integers, got {dils}")
        if len(dils) != len(chans):
            raise ValueError(
                f"len(dilations) = {len(dils)} but len(channels) = {len(chans)}; give one dilation "
                "per convolution layer"
            )
        check_grid(tuple(self.extent), tuple(self.grid))
        longest = max(self.extent)
        for layer, d in enumerate(dils):
            if d * (self.kernel_size - 1) > longest:
                raise ValueError(
                    f"layer {layer}: dilation {d} x (kernel_size {self.kernel_size} - 1) = "
                    f"{d * (self.kernel_size - 1)} > {longest}, the longest side of the "
                    f"{tuple(self.extent)} torus: the kernel would cover the cluster more than once; "
                    f"use dilations <= {longest // max(self.kernel_size - 1, 1)} or a smaller kernel"
                )
        check_head(self.head, self.sign_logits)

    @classmethod
    def from_cluster(cls, cluster: Cluster, **config) -> InvariantDilatedCNN:
        """Build the model on ``cluster`` (its extent and site order); ``config`` sets the other fields."""
        extent, grid = grid_of(cluster)
        return cls(extent=extent, grid=grid, **config)

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Evaluate.

        Args:
            x: Spin configurations ``(..., N)`` with entries ±1, any real or integer dtype
                (NetKet passes int8).

        Returns:
            ``"sign"``: logits ``(..., 2)`` (``sign_logits=2``) or ``(...,)`` (``sign_logits=1``),
            dtype ``param_dtype``; ``"log_psi"``: complex ``(...,)``.
        """
        h = jnp.asarray(x, dtype=self.param_dtype)[..., None]  # (..., N, 1), site order
        for c, d in zip(self.channels, self.dilations):
            y = CircularConv(
                features=c,
                kernel_size=self.kernel_size,
                dilation=d,
                extent=tuple(self.extent),
                grid=tuple(self.grid),
                param_dtype=self.param_dtype,
            )(h)
            y = self.activation(y)
            h = y + h if (self.residual and y.shape[-1] == h.shape[-1]) else y
        h = jnp.mean(h, axis=-2)  # global average pooling over sites: (..., C_last)
        return Readout(head=self.head, sign_logits=self.sign_logits, param_dtype=self.param_dtype)(h)


class InvariantCNN(InvariantDilatedCNN):
    """:class:`InvariantDilatedCNN` with every dilation 1 (an ordinary circular CNN).

    ``dilations`` defaults to ``None``, meaning ``(1,) * len(channels)``.

    Raises:
        ValueError: ``dilations`` given with an entry other than 1, or any error of the parent.
    """

    dilations: tuple[int, ...] | None = None
    """``None`` (default) for all ones; any other value must be all ones."""

    def __post_init__(self):
        if self.dilations is None:
            object.__setattr__(self, "dilations", (1,) * len(tuple(self.channels)))
        elif any(d != 1 for d in self.dilations):
            raise ValueError(
                f"InvariantCNN has all dilations 1, got {tuple(self.dilations)}; use "
                "InvariantDilatedCNN (model 'dilated') for dilated kernels"
            )
        super().__post_init__()
