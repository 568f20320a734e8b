"""Output heads shared by all models: sign logits or a complex log-amplitude.

Two heads, chosen by name:

* ``"sign"``: a classifier of the sign of the ground-state amplitude. With ``sign_logits=2`` the
  output is ``(..., 2)`` logits (class 0 and class 1, for a softmax cross-entropy); with
  ``sign_logits=1`` it is one logit ``(...,)`` (for a sigmoid / binary cross-entropy). Which sign is
  class 1 is the data module's convention; the models only produce logits.
* ``"log_psi"``: ``log psi = a + i phi`` of shape ``(...,)``, complex, from two real outputs ``a``
  (log-amplitude) and ``phi`` (phase) computed with real parameters. This is what
  :class:`netket.vqs.MCState` expects of a model (non-holomorphic, real parameters).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["HEADS", "Readout", "check_head", "combine_outputs", "n_head_outputs"]

#: Names of the output heads.
HEADS = ("sign", "log_psi")


def check_head(head: str, sign_logits: int) -> None:
    """Validate a head configuration.

    Raises:
        ValueError: ``head`` not in :data:`HEADS` or ``sign_logits`` not 1 or 2.
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; use one of {HEADS}")
    if sign_logits not in (1, 2):
        raise ValueError(f"sign_logits must be 1 or 2, got {sign_logits!r}")


def n_head_outputs(head: str, sign_logits: int) -> int:
    """Number of real outputs the head needs: ``sign_logits`` for ``"sign"``, 2 for ``"log_psi"``."""
    check_head(head, sign_logits)
    return sign_logits if head == "sign" else 2


def combine_outputs(z: jnp.ndarray, head: str, sign_logits: int) -> jnp.ndarray:
    """Turn the real outputs ``z`` (..., n_head_outputs) into the head's output.

    Returns:
        ``"sign"``: ``z`` ``(..., 2)`` or ``z[..., 0]`` ``(...,)``; ``"log_psi"``:
        ``z[..., 0] + 1j * z[..., 1]`` ``(...,)`` complex (complex64 for float32 ``z``).
    """
    check_head(head, sign_logits)
    if head == "log_psi":
        return jax.lax.complex(z[..., 0], z[..., 1])
    return z if sign_logits == 2 else z[..., 0]


class Readout(nn.Module):
    """Dense layer from pooled features to the head's outputs (see the module docstring)."""

    head: str = "sign"
    """``"sign"`` or ``"log_psi"`` (default ``"sign"``)."""
    sign_logits: int = 2
    """Number of sign logits, 2 (softmax) or 1 (sigmoid); ignored by ``"log_psi"`` (default 2)."""
    param_dtype: Any = jnp.float32
    """Dtype of the dense weights (default float32)."""

    @nn.compact
    def __call__(self, h: jnp.ndarray) -> jnp.ndarray:
        """Apply. ``h``: features ``(..., F)``; returns ``(..., 2)``, ``(...,)`` or complex ``(...,)``."""
        z = nn.Dense(n_head_outputs(self.head, self.sign_logits), param_dtype=self.param_dtype)(h)
        return combine_outputs(z, self.head, self.sign_logits)
