"""The J1-J2 Heisenberg Hamiltonian as a bond list, with a local energy that skips zero matrix elements.

``H = sum_b J_b sigma_i . sigma_j`` over the bonds ``b = (i, j)`` of the cluster (Pauli matrices:
4x the S.S energy, :data:`nqs_dilated.hamiltonian.CONVENTION`). On a configuration ``x`` (±1
entries) a bond acts as

    sigma_i . sigma_j |x> = x_i x_j |x> + (1 - x_i x_j) |x with x_i, x_j flipped>,

so the local energy is

    E_loc(x) = sum_b J_b x_i x_j + sum_{b: x_i x_j = -1} 2 J_b psi(x^b) / psi(x).

NetKet's generic kernel evaluates ``psi`` on ``max_conn_size = 1 + n_bonds`` padded connected
configurations per sample (109 on 6x6 with J2 != 0), although only the anti-aligned bonds (about
half of them in a singlet-like state) give a non-zero element. :func:`local_energy_kernel` lists the
anti-aligned ``(sample, bond)`` pairs of the whole batch (``jnp.nonzero`` with a static size), and
evaluates ``log psi`` on them in chunks of ``chunk_size`` configurations in a ``lax.while_loop``
whose trip count is ``ceil(n_pairs / chunk_size)``: every network evaluation is of a connected
configuration with a non-zero matrix element, up to the padding of the last chunk.

Under NetKet's sharding (``NETKET_SHARDING``, on by default; more than one JAX device) the samples
are split over the devices along their first axis, and the kernel runs on each device's samples
alone (NetKet's ``sharding_decorator``, a ``shard_map`` over the mesh axis ``"S"``, as NetKet's own
packed kernel): the pair list is a global operation that the automatic partitioner would
otherwise replicate on every device. The local energies come back sharded like the samples.

:class:`HeisenbergBonds` is a :class:`netket.operator.DiscreteJaxOperator` (``get_conn_padded``,
``to_sparse``, ... work as for NetKet's ``Heisenberg``, with which it agrees element by element,
tested); NetKet's ``MCState.expect``, ``local_estimators`` and hence ``VMC_SR`` use the fast kernel
through the dispatch rules registered below.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class
from netket.jax import HashablePartial
from netket.jax.sharding import sharding_decorator
from netket.operator import DiscreteJaxOperator
from netket.utils import config as nk_config
from netket.utils.dispatch import dispatch
from netket.vqs import MCState
from netket.vqs.mc import check_hilbert, get_local_kernel, get_local_kernel_arguments

from ..lattice import Cluster
from . import check_couplings, sz0_hilbert

__all__ = ["DEFAULT_CHUNK", "HeisenbergBonds", "heisenberg_bonds", "local_energy_kernel"]

#: Network evaluations per chunk when the state has no ``chunk_size``.
DEFAULT_CHUNK = 128


@register_pytree_node_class
class HeisenbergBonds(DiscreteJaxOperator):
    """``H = sum_b J_b sigma_i . sigma_j`` on a spin-1/2 Hilbert space (Pauli convention).

    Args:
        hilbert: ``Spin(1/2, N)`` (NetKet local states ``[+1, -1]``), e.g. :func:`sz0_hilbert`.
        bonds: Site pairs, integer ``(n_bonds, 2)``, each ``i != j``.
        couplings: ``J_b`` per bond, float ``(n_bonds,)``; bonds with ``J_b = 0`` are dropped.

    Raises:
        ValueError: shapes that do not match, a site outside ``[0, N)``, a bond ``(i, i)``, a
            non-finite coupling, a Hilbert space without two local states.
    """

    def __init__(self, hilbert, bonds, couplings):
        super().__init__(hilbert)
        if len(hilbert.local_states) != 2:
            raise ValueError("HeisenbergBonds needs a spin-1/2 Hilbert space (two local states)")
        bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
        couplings = np.asarray(couplings, dtype=np.float64).reshape(-1)
        if len(bonds) != len(couplings):
            raise ValueError(f"{len(bonds)} bonds but {len(couplings)} couplings")
        if np.any(bonds < 0) or np.any(bonds >= hilbert.size) or np.any(bonds[:, 0] == bonds[:, 1]):
            raise ValueError(f"bonds must join two different sites in [0, {hilbert.size})")
        if not np.all(np.isfinite(couplings)):
            raise ValueError("couplings must be finite")
        keep = couplings != 0
        self._bonds = bonds[keep].astype(np.int32)
        self._couplings = couplings[keep]

    @property
    def bonds(self) -> np.ndarray:
        """Bonds with a non-zero coupling, int32 ``(n_bonds, 2)``."""
        return self._bonds

    @property
    def couplings(self) -> np.ndarray:
        """Their couplings ``J_b``, float64 ``(n_bonds,)``."""
        return self._couplings

    @property
    def dtype(self):
        return np.float64

    @property
    def is_hermitian(self) -> bool:
        return True

    @property
    def max_conn_size(self) -> int:
        """``1 + n_bonds``: the diagonal and one exchange per bond."""
        return 1 + len(self._bonds)

    def get_conn_padded(self, x):
        """Connected configurations and matrix elements, padded (NetKet's convention).

        Args:
            x: Configurations ``(..., N)`` with ±1 entries.

        Returns:
            ``xp`` ``(..., 1 + n_bonds, N)`` (dtype of ``x``: ``x`` itself first, then ``x`` with
            the two sites of each bond flipped) and ``mels`` float64 ``(..., 1 + n_bonds)``
            (``sum_b J_b x_i x_j`` first, then ``2 J_b`` for anti-aligned bonds, 0 otherwise).
        """
        i, j = jnp.asarray(self._bonds[:, 0]), jnp.asarray(self._bonds[:, 1])
        J = jnp.asarray(self._couplings)
        zz = (x[..., i] * x[..., j]).astype(jnp.float64)
        diag = jnp.sum(J * zz, axis=-1, keepdims=True)
        offd = jnp.where(zz < 0, 2.0 * J, 0.0)
        flip = jnp.asarray(_flip_masks(self._bonds, self.hilbert.size), dtype=x.dtype)  # (n_b, N)
        xp = jnp.concatenate([x[..., None, :], x[..., None, :] * flip], axis=-2)
        return xp, jnp.concatenate([diag, offd], axis=-1)

    def to_local_operator(self):
        """The same Hamiltonian as a NetKet ``LocalOperator`` (sum of two-site bond operators)."""
        import netket as nk

        zz = np.diag([1.0, -1.0, -1.0, 1.0])
        ex = np.zeros((4, 4))
        ex[1, 2] = ex[2, 1] = 2.0
        op = nk.operator.LocalOperator(self.hilbert, dtype=np.float64)
        for (a, b), J in zip(self._bonds, self._couplings):
            op += nk.operator.LocalOperator(self.hilbert, J * (zz + ex), [int(a), int(b)])
        return op

    def to_numba_operator(self):
        return self.to_local_operator()

    def tree_flatten(self):
        # no array leaves: the operator is static data (hashable, compared by value)
        return (), self

    @classmethod
    def tree_unflatten(cls, metadata, data):
        return metadata

    def __hash__(self):
        return hash((self.hilbert, self._bonds.tobytes(), self._couplings.tobytes()))

    def __eq__(self, other):
        return (
            type(other) is type(self)
            and self.hilbert == other.hilbert
            and np.array_equal(self._bonds, other._bonds)
            and np.array_equal(self._couplings, other._couplings)
        )

    def __repr__(self):
        return f"HeisenbergBonds(N={self.hilbert.size}, n_bonds={len(self._bonds)}, pauli)"


def _flip_masks(bonds: np.ndarray, n: int) -> np.ndarray:
    """``(n_bonds, n)`` int8: -1 on the two sites of each bond, +1 elsewhere."""
    m = np.ones((len(bonds), n), dtype=np.int8)
    m[np.arange(len(bonds)), bonds[:, 0]] = -1
    m[np.arange(len(bonds)), bonds[:, 1]] = -1
    return m


def heisenberg_bonds(cluster: Cluster, j2: float, j1: float = 1.0) -> HeisenbergBonds:
    """The J1-J2 Hamiltonian of ``cluster`` on Sz = 0 as :class:`HeisenbergBonds`.

    Same operator as :func:`nqs_dilated.hamiltonian.heisenberg` (J1 on the graph's edge colour 0,
    J2 on colour 1; Pauli convention), with the fast local-energy kernel.

    Raises:
        ValueError: bad couplings (see :func:`~nqs_dilated.hamiltonian.check_couplings`).
    """
    j1, j2 = check_couplings(j1, j2)
    graph = cluster.graph
    edges = np.asarray(graph.edges(), dtype=np.int64).reshape(-1, 2)
    colors = np.asarray(graph.edge_colors, dtype=np.int64)
    couplings = np.where(colors == 0, j1, np.where(colors == 1, j2, np.nan))
    if np.any(np.isnan(couplings)):
        raise ValueError("the cluster graph has edge colours other than 0 (J1) and 1 (J2)")
    return HeisenbergBonds(sz0_hilbert(cluster), edges, couplings)


def local_energy_kernel(logpsi, pars, sigma, op: HeisenbergBonds, *, chunk_size: int | None = None):
    """Local energies ``E_loc(x) = <x|H|psi> / <x|psi>`` of a batch, evaluating only non-zero elements.

    With more than one JAX device and NetKet's sharding on, ``sigma`` is split over the devices
    along its first axis and each device evaluates its own samples (module docstring).

    Args:
        logpsi: ``logpsi(pars, x)`` for ``x`` ``(B, N)``, returning ``(B,)`` (real or complex).
        pars: The variables passed to ``logpsi``.
        sigma: Configurations ``(B, N)`` with ±1 entries (NetKet's samples, int8); ``B`` a
            multiple of the number of devices when sharded.
        op: The Hamiltonian.
        chunk_size: Configurations per network call, per device (default :data:`DEFAULT_CHUNK`).

    Returns:
        ``(B,)``, complex if ``logpsi`` is complex (energies in the Pauli convention), sharded
        like ``sigma``.
    """
    kernel = HashablePartial(_local_energies, logpsi, chunk=int(chunk_size or DEFAULT_CHUNK))
    if not (nk_config.netket_sharding and jax.device_count() > 1):
        return kernel(pars, sigma, op)
    # pars as an argument (not captured), so that shard_map can mark it as varying per device
    return sharding_decorator(kernel, sharded_args_tree=(False, True, False), pvary_args_tree=(True, False, False))(
        pars, sigma, op
    )


def _local_energies(logpsi, pars, sigma, op: HeisenbergBonds, *, chunk: int):
    """:func:`local_energy_kernel` on the samples of one device."""
    B, N = sigma.shape
    bonds = op.bonds
    n_b = len(bonds)
    i, j = jnp.asarray(bonds[:, 0]), jnp.asarray(bonds[:, 1])
    J = jnp.asarray(op.couplings)
    flip = jnp.asarray(_flip_masks(bonds, N), dtype=sigma.dtype)

    logpsi_x = _chunked(logpsi, pars, sigma, chunk)  # (B,)
    zz = sigma[:, i] * sigma[:, j]  # (B, n_b)
    diag = jnp.sum(J * zz.astype(J.dtype), axis=-1)
    if n_b == 0:
        return diag.astype(jnp.result_type(diag, logpsi_x))

    anti = (zz < 0).reshape(-1)
    n_pairs = jnp.sum(anti, dtype=jnp.int32)
    capacity = math.ceil(B * n_b / chunk) * chunk
    (pairs,) = jnp.nonzero(anti, size=capacity, fill_value=0)  # flat (sample, bond) indices
    pairs = pairs.astype(jnp.int32)
    out_dtype = jnp.result_type(logpsi_x.dtype, J.dtype)

    def body(carry):
        k, acc = carry
        p = jax.lax.dynamic_slice(pairs, (k * chunk,), (chunk,))
        s, b = p // n_b, p % n_b
        xp = sigma[s] * flip[b]  # (chunk, N)
        lp = logpsi(pars, xp)
        valid = k * chunk + jnp.arange(chunk) < n_pairs
        term = jnp.where(valid, 2.0 * J[b] * jnp.exp(lp - logpsi_x[s]), 0.0).astype(out_dtype)
        return k + 1, acc.at[s].add(term)

    n_chunks = (n_pairs + chunk - 1) // chunk
    # the accumulator from logpsi_x: per device (varying) like the samples, as shard_map's loops require
    _, offd = jax.lax.while_loop(lambda c: c[0] < n_chunks, body, (jnp.int32(0), jnp.zeros_like(logpsi_x, out_dtype)))
    return diag.astype(out_dtype) + offd


def _chunked(logpsi, pars, x, chunk):
    """``logpsi(pars, x)`` in chunks of at most ``chunk`` rows (``lax.map`` over padded chunks)."""
    B = x.shape[0]
    if B <= chunk:
        return logpsi(pars, x)
    n = math.ceil(B / chunk)
    xpad = jnp.concatenate([x, jnp.repeat(x[:1], n * chunk - B, axis=0)], axis=0)
    out = jax.lax.map(lambda c: logpsi(pars, c), xpad.reshape(n, chunk, x.shape[-1]))
    return out.reshape(-1)[:B]


@dispatch
def get_local_kernel_arguments(vstate: MCState, op: HeisenbergBonds):  # noqa: F811
    check_hilbert(vstate.hilbert, op.hilbert)
    return vstate.samples, op


@dispatch
def get_local_kernel(vstate: MCState, op: HeisenbergBonds):  # noqa: F811
    return local_energy_kernel


@dispatch
def get_local_kernel(vstate: MCState, op: HeisenbergBonds, chunk_size: int):  # noqa: F811
    return local_energy_kernel
