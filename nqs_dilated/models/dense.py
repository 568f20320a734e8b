"""Fully connected sign network of Westerhout et al., Nat. Commun. 11, 1593 (2020).

``x (..., N) -> [Dense(h) -> activation]_h -> head``, by default one hidden layer of 512 ReLU
units, the sign classifier used there to study the generalization of sign structures. It has no
built-in symmetry: it is *not* translation invariant (tested), and serves as the baseline the
invariant CNNs are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from .heads import Readout, check_head

__all__ = ["DenseSign"]


class DenseSign(nn.Module):
    """Multilayer perceptron on the raw ±1 configuration (not symmetric).

    Raises (at construction):
        ValueError: a non-positive hidden size, an unknown ``head``, ``sign_logits`` not 1 or 2.
    """

    hidden: tuple[int, ...] = (512,)
    """Widths of the hidden layers; ``()`` is a linear model (default (512,))."""
    activation: Callable = nn.relu
    """Activation after every hidden layer (default ReLU)."""
    head: str = "sign"
    """Output head, ``"sign"`` or ``"log_psi"`` (default ``"sign"``)."""
    sign_logits: int = 2
    """Number of sign logits, 2 or 1 (default 2)."""
    param_dtype: Any = jnp.float32
    """Dtype of parameters and computation (default float32)."""

    def __post_init__(self):
        if any(int(h) != h or h <= 0 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive integers, got {tuple(self.hidden)}")
        check_head(self.head, self.sign_logits)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Evaluate. ``x``: ``(..., N)`` ±1 (any dtype); returns as :class:`~.heads.Readout`."""
        h = jnp.asarray(x, dtype=self.param_dtype)
        for width in self.hidden:
            h = self.activation(nn.Dense(width, param_dtype=self.param_dtype)(h))
        return Readout(head=self.head, sign_logits=self.sign_logits, param_dtype=self.param_dtype)(h)
