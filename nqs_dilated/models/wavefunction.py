"""Variational wave functions for :class:`netket.vqs.MCState`: amplitude network times a sign.

``log psi(x) = f(x) + i pi [s(x) < 0]`` where ``f`` is a network (real log-amplitude, or a complex
``log psi`` head whose phase is then added to the sign's) and ``s(x) = ±1`` a *fixed* sign
function without parameters:

* :class:`MarshallSign` -- ``(-1)^(number of up spins on sublattice A)``, A = sites with
  ``n1 + n2`` even on the ``(L1, L2)`` grid (exact at J2 = 0 on the square-lattice limit,
  Marshall 1955). Translation invariant on tori with even ``N/2``.
* :class:`TableSign` -- a sorted table of bit codes (bit ``i`` set for an up spin, the package's
  convention) and their signs, looked up with :func:`jax.numpy.searchsorted` (jittable; built from
  an exact ground state on <= 24 sites by the VMC driver). Codes absent from the table get ``+1``.
* :class:`CallbackSign` -- any host function ``(B, N) ±1 -> (B,) ±1`` through
  :func:`jax.pure_callback` (e.g. ``GroundState.sign`` on 36 sites).
* :class:`NetworkSign` -- a trained sign classifier (``head="sign"``) with frozen parameters
  stored in the module (class 0 = +1, class 1 = -1, :data:`nqs_dilated.data.SIGN_CLASSES`).

Symmetrisation (:func:`sector_projection`): the CNNs are invariant under translations only. The
projection formula ``psi_P(x) = 1/(2|P|) sum_{p in P, z in {0,1}} chi(p) s^z psi((-1)^z T_p x)``
over the point group ``P`` of the cluster (:mod:`nqs_dilated.symmetry`) and spin inversion, with
the characters ``chi`` and parity ``s`` of a zero-momentum sector, makes a translation-invariant
``psi`` transform as that sector (NetKet's :class:`netket.nn.blocks.SymmExpSum` for the point
group, :class:`SpinInversionSum` for the spin flip). For a fixed sign of a ground state in a
one-dimensional irrep, ``|psi|`` is invariant under the whole group whatever the sector, so the
amplitude is projected with trivial characters.

No sign function has trainable parameters: in :class:`SignedLogPsi` only the amplitude network is
optimised, which is the ``fixed-sign`` VMC mode. With a complex ``log_psi`` network the sign acts
as a prior phase (the ``full`` mode starts from the Marshall sign, see :mod:`nqs_dilated.training.vmc`).

Where the state starts: a network whose outputs barely depend on ``x`` is close to the uniform
state, which on Sz = 0 belongs to the ferromagnetic multiplet (an exact eigenstate, where the
energy gradient vanishes and VMC stalls). :func:`reinit_readout` therefore redraws the readout
kernel with a standard deviation of order 1 (per input feature) instead of ``1/sqrt(F)``, so
``log|psi|`` varies by O(1) between configurations at the start; and the sign (Marshall, exact,
network; the Marshall prior in ``full`` mode) makes the starting state far from the ferromagnet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from netket.jax import logsumexp_cplx
from netket.nn.blocks import SymmExpSum
from netket.utils import HashableArray
from netket.utils.group import Permutation, PermutationGroup

from ..lattice import Cluster
from ..symmetry import space_group
from .conv import Grid

__all__ = [
    "CallbackSign",
    "MarshallSign",
    "NetworkSign",
    "SignedLogPsi",
    "SpinInversionSum",
    "TableSign",
    "bit_codes",
    "freeze_params",
    "reinit_readout",
    "sector_projection",
]


def bit_codes(x: jnp.ndarray) -> jnp.ndarray:
    """Bit codes of ±1 configurations ``(..., N)`` -> int64 ``(...,)`` (bit ``i`` set for ``x_i = +1``).

    Needs 64-bit integers (NetKet enables ``jax_enable_x64``) and ``N <= 62``.
    """
    n = x.shape[-1]
    weights = jnp.left_shift(jnp.ones((n,), jnp.int64), jnp.arange(n, dtype=jnp.int64))
    return jnp.sum(jnp.where(x > 0, weights, 0), axis=-1)


class MarshallSign(nn.Module):
    """Marshall sign ``(-1)^(N_up on A)``, returned as ±1 float ``(...,)``."""

    sublattice: tuple[bool, ...]
    """Per site (site order), whether it belongs to sublattice A (``n1 + n2`` even)."""

    @classmethod
    def from_grid(cls, grid: Grid) -> MarshallSign:
        """Sublattice A = sites with ``n1 + n2`` even, from the ``(n1, n2)`` grid (``cluster.grid``)."""
        return cls(sublattice=tuple(bool((int(a) + int(b)) % 2 == 0) for a, b in grid))

    def __call__(self, x):
        mask = jnp.asarray(self.sublattice)
        n_up_a = jnp.sum(jnp.where((x > 0) & mask, 1, 0), axis=-1)
        return 1.0 - 2.0 * (n_up_a % 2)


class TableSign(nn.Module):
    """Signs from a sorted table of bit codes (see the module docstring); ±1 float ``(...,)``."""

    codes: HashableArray
    """Sorted bit codes, int64 ``(D,)``."""
    signs: HashableArray
    """Their signs, int8 ``(D,)`` in {-1, 0, +1} (0 counts as +1)."""

    @classmethod
    def from_arrays(cls, codes: np.ndarray, signs: np.ndarray) -> TableSign:
        """Build from codes (any integer dtype, sorted here) and signs of the same length.

        Raises:
            ValueError: shapes differ or codes are not 1-D.
        """
        codes, signs = np.asarray(codes).astype(np.int64), np.asarray(signs).astype(np.int8)
        if codes.ndim != 1 or codes.shape != signs.shape:
            raise ValueError(f"codes and signs must be 1-D of equal length, got {codes.shape}, {signs.shape}")
        order = np.argsort(codes, kind="stable")
        return cls(codes=HashableArray(codes[order]), signs=HashableArray(signs[order]))

    def __call__(self, x):
        table = jnp.asarray(self.codes.wrapped)
        signs = jnp.asarray(self.signs.wrapped)
        c = bit_codes(x)
        idx = jnp.clip(jnp.searchsorted(table, c), 0, table.shape[0] - 1)
        found = table[idx] == c
        return jnp.where(found & (signs[idx] < 0), -1.0, 1.0)


class CallbackSign(nn.Module):
    """Signs from a host function through :func:`jax.pure_callback`; ±1 float ``(...,)``."""

    fn: Callable[[np.ndarray], np.ndarray]
    """Host function: int8 ``(B, N)`` ±1 -> ``(B,)`` signs in {-1, 0, +1} (0 counts as +1)."""

    def __call__(self, x):
        shape = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1]).astype(jnp.int8)

        def host(c):
            s = np.asarray(self.fn(np.asarray(c)))
            return np.where(s < 0, -1.0, 1.0).astype(np.float64)

        out = jax.pure_callback(
            host, jax.ShapeDtypeStruct(flat.shape[:1], jnp.float64), flat, vmap_method="expand_dims"
        )
        return out.reshape(shape)


def freeze_params(params) -> Any:
    """Make a parameter pytree hashable (leaves wrapped in :class:`HashableArray`), for :class:`NetworkSign`."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    return (treedef, tuple(HashableArray(np.asarray(leaf)) for leaf in leaves))


class NetworkSign(nn.Module):
    """Signs of a trained sign classifier with frozen parameters; ±1 float ``(...,)``."""

    network: nn.Module
    """The classifier (``head="sign"``, 1 or 2 logits)."""
    frozen: Any
    """Its parameters, as returned by :func:`freeze_params` (not trainable)."""

    def __call__(self, x):
        treedef, leaves = self.frozen
        params = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(leaf.wrapped) for leaf in leaves])
        logits = jax.lax.stop_gradient(self.network.apply(params, x))
        if logits.ndim == x.ndim:  # two logits: class 1 (sign -1) wins
            negative = logits[..., 1] > logits[..., 0]
        else:  # one logit of class 1
            negative = logits > 0
        return jnp.where(negative, -1.0, 1.0)


class SignedLogPsi(nn.Module):
    """``log psi = amplitude(x) + i pi [sign(x) < 0]`` (complex ``(...,)``).

    ``amplitude`` returns a real log-amplitude ``(...,)`` (fixed-sign mode) or a complex
    ``log psi`` (its phase then adds to the sign's: a prior phase). ``sign`` is a parameter-free
    module returning ±1 (or ``None``: no sign, ``log psi = amplitude(x)``).
    """

    amplitude: nn.Module
    """Network giving the log-amplitude (real) or a complex log psi."""
    sign: nn.Module | None = None
    """Fixed sign function (:class:`MarshallSign`, :class:`TableSign`, ...), or None."""

    def __call__(self, x):
        a = self.amplitude(x)
        if self.sign is None:
            return a
        s = jax.lax.stop_gradient(self.sign(x))
        real_dtype = jnp.real(a).dtype
        phase = jnp.where(s < 0, jnp.pi, 0.0).astype(real_dtype)
        if jnp.iscomplexobj(a):
            return a + 1j * phase
        return jax.lax.complex(a, phase)


class SpinInversionSum(nn.Module):
    """``log((psi(x) + parity psi(-x)) / 2)`` of a ``log psi`` module; ``(...,)`` real for a real
    ``log psi`` and ``parity = +1``, complex otherwise (spin inversion ``x -> -x`` of ±1 spins)."""

    module: nn.Module
    """The ``log psi`` (or real log-amplitude) module."""
    parity: int = 1
    """Spin-inversion parity of the projection, +1 or -1."""

    def __call__(self, x):
        both = jax.vmap(self.module)(jnp.stack([x, -x]))
        b = np.array([0.5, 0.5 * self.parity]).reshape((2,) + (1,) * (both.ndim - 1))
        if self.parity > 0:
            return jax.scipy.special.logsumexp(both, axis=0, b=b)
        return logsumexp_cplx(both, axis=0, b=b)


def sector_projection(module: nn.Module, cluster: Cluster, sector: str | None = None) -> nn.Module:
    """Project a translation-invariant ``log psi`` module onto a zero-momentum sector.

    ``psi_P(x) = 1/(2|P|) sum_{p, z} chi(p) s^z psi((-1)^z T_p x)`` over the cluster's point group
    ``P`` (:func:`nqs_dilated.symmetry.space_group`; 4 elements on L x L tori, 2 on L1 x L2) and
    spin inversion (module docstring); costs ``2|P|`` evaluations of ``module`` per configuration.
    Translations are not summed: ``module`` must be translation invariant (the CNN models are).

    Args:
        module: Returns a real log-amplitude or a complex ``log psi``, ``(B, N) -> (B,)``.
        cluster: The cluster (its point group).
        sector: A zero-momentum sector label such as ``"A2+"`` (characters of the irrep and the
            spin parity), or None: the trivial characters (a fully symmetric amplitude).

    Returns:
        A module of the same call signature (real for trivial characters and a real ``module``).

    Raises:
        SymmetryError: ``sector`` is not a zero-momentum sector of the cluster.
    """
    group = space_group(cluster)
    if sector is None:
        chi, parity = np.ones(group.n_point), 1
    else:
        s = group.parse_sector(sector)
        chi, parity = group.point_irreps[s.irrep], s.spin_parity
    point = PermutationGroup(
        [Permutation(permutation_array=np.asarray(p)) for p in group.point_perms], degree=cluster.n_sites
    )
    return SymmExpSum(
        module=SpinInversionSum(module, parity), symm_group=point, characters=HashableArray(np.asarray(chi))
    )


def reinit_readout(params, key, scale: float = 1.0):
    """Redraw every readout kernel (``Readout_0/Dense_0/kernel``) with standard deviation ``scale``.

    The readout of :class:`nqs_dilated.models.dilated.InvariantDilatedCNN` is initialised with
    LeCun scaling (std ``1/sqrt(F)``): with mean-pooled features that barely vary between
    configurations the state then starts close to the uniform one. A std of order 1 makes
    ``log|psi|`` vary by O(1) from the first step (module docstring).

    Returns:
        A new parameter pytree (the input is not modified).

    Raises:
        ValueError: no readout kernel in ``params``.
    """
    found = []

    def walk(tree, path):
        if not isinstance(tree, dict) and not hasattr(tree, "items"):
            return tree
        out = {}
        for k, v in tree.items():
            if k == "kernel" and len(path) >= 2 and path[-1] == "Dense_0" and path[-2] == "Readout_0":
                sub = jax.random.fold_in(key, len(found))
                found.append(path)
                out[k] = scale * jax.random.normal(sub, jnp.shape(v), jnp.asarray(v).dtype)
            else:
                out[k] = walk(v, path + (k,))
        return out

    new = walk(params, ())
    if not found:
        raise ValueError("no readout kernel (Readout_0/Dense_0/kernel) in the parameters")
    return new
