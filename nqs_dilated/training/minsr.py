"""minSR (NTK) step of NetKet's ``VMC_SR`` with a Gram matrix computed by symmetric blocks.

The kernel form of stochastic reconfiguration (Chen & Heyl, Nat. Phys. 2024; Rende et al., 2024)
solves ``(O O^T + lambda 1) x = dv`` with ``O`` the centred Jacobian of ``log psi`` scaled by
``1 / sqrt(N_s)`` (``N_s x P`` in ``"real"`` mode, ``2 N_s x P`` in ``"complex"`` mode: rows
``Re, Im`` per sample) and ``dv = 2 (E_loc - <E_loc>) / sqrt(N_s)``, and updates the parameters
by ``O^T x``. NetKet's dense path forms ``O O^T`` with one matrix product; it is symmetric, so
:func:`symmetric_gram` computes only the blocks on and above the diagonal (``k (k + 1) / 2`` of
``k^2`` products for ``k`` row blocks) and mirrors the rest, which on CPU cuts the dominant cost
of a minSR step at 36 sites (``2048 x 18,882`` Jacobian) by about a third
(``benchmarks/vmc_36.py``). The update is otherwise NetKet's (``netket._src.ngd.srt``), which a
test checks number by number.

Under NetKet's sharding (more than one device; samples split over them) the Jacobian is computed
sharded by samples and resharded by parameters before the Gram matrix, as in NetKet's ``srt``;
the update comes back replicated on every device.

:class:`VMC_MinSR` is :class:`netket.driver.VMC_SR` with that step: it takes over only when
NetKet would use the dense NTK path (``use_ntk`` and not ``on_the_fly``, an ``MCState``, no
momentum or ``proj_reg``) and defers to ``VMC_SR`` otherwise.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import netket as nk
from jax.flatten_util import ravel_pytree
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from netket import jax as nkjax
from netket import stats as nkstats
from netket.jax.sharding import pad_axis_for_sharding
from netket.optimizer.solver import cholesky_with_fallback

__all__ = ["VMC_MinSR", "minsr_update", "symmetric_gram"]

#: Row blocks of the Gram matrix (8: fastest of 1, 2, 4, 8, 16 at 2048 x 18,882 on one core).
GRAM_BLOCKS = 8


def symmetric_gram(O: jax.Array, n_blocks: int = GRAM_BLOCKS) -> jax.Array:
    """``O @ O.T`` for a real ``O`` ``(M, P)``, computing only the upper block triangle.

    Falls back to one product when ``M`` is not a multiple of ``n_blocks``. Returns ``(M, M)``,
    dtype of ``O``; exactly symmetric.
    """
    m = O.shape[0]
    if n_blocks <= 1 or m % n_blocks:
        return O @ O.T
    b = m // n_blocks
    rows = [O[i * b : (i + 1) * b] for i in range(n_blocks)]
    upper = {(i, j): rows[i] @ rows[j].T for i in range(n_blocks) for j in range(i, n_blocks)}
    return jnp.block([[upper[i, j] if j >= i else upper[j, i].T for j in range(n_blocks)] for i in range(n_blocks)])


@partial(jax.jit, static_argnames=("apply_fun", "mode", "chunk_size", "solver_fn", "n_blocks"))
def minsr_update(
    apply_fun,
    params,
    model_state,
    samples,
    local_energies,
    diag_shift,
    *,
    mode: str,
    chunk_size: int | None = None,
    solver_fn=cholesky_with_fallback,
    n_blocks: int = GRAM_BLOCKS,
):
    """The minSR parameter update (module docstring) for real parameters.

    Args:
        apply_fun: ``apply_fun(variables, x)`` -> ``log psi`` ``(B,)``.
        params: Real parameter pytree.
        model_state: Non-trainable variables (usually ``{}``).
        samples: ``(N_s, N)`` configurations.
        local_energies: ``(N_s,)`` (any shape with ``N_s`` entries), real or complex.
        diag_shift: ``lambda``.
        mode: ``"real"`` or ``"complex"`` (NetKet's jacobian mode).
        chunk_size: Samples per Jacobian chunk (None: all at once).
        solver_fn: ``solver_fn(A, b)`` -> ``x`` or ``(x, info)`` (default NetKet's Cholesky with fallback).
        n_blocks: Row blocks of :func:`symmetric_gram`.

    Returns:
        ``(updates, info)``: the update, a pytree like ``params`` (the gradient-like direction
        handed to the optimiser), and the solver's info dict.
    """
    n = samples.shape[0]
    O = nkjax.jacobian(
        apply_fun, params, samples, model_state, mode=mode, dense=True, center=True, chunk_size=chunk_size
    )
    O = O / jnp.sqrt(n).astype(O.dtype)
    e = local_energies.reshape(-1)
    dv = 2.0 * (e - jnp.mean(e)) / jnp.sqrt(n)
    if mode == "complex":
        O = O.reshape(2 * n, O.shape[-1])  # rows Re_1, Im_1, Re_2, ... (NetKet's layout)
        dv = jnp.stack([jnp.real(dv), jnp.imag(dv)], axis=-1).reshape(-1)
    else:
        dv = jnp.real(dv)
    dv = dv.astype(O.dtype)
    O_cols = O
    if _sharded():
        # as NetKet's srt: the Jacobian from sharded by samples to sharded by parameters (padded
        # with zero columns), so that every device forms its columns' share of O O^T, summed over
        # devices by the partitioner; dv replicated
        mesh = jax.sharding.get_abstract_mesh()
        O_cols = jax.lax.with_sharding_constraint(
            pad_axis_for_sharding(O, axis=1, padding_value=0.0), NamedSharding(mesh, P(None, "S"))
        )
        dv = jax.lax.with_sharding_constraint(dv, NamedSharding(mesh, P()))
    K = symmetric_gram(O_cols, n_blocks)
    K = K + diag_shift * jnp.eye(K.shape[0], dtype=K.dtype)
    x = solver_fn(K, dv)
    x, info = x if isinstance(x, tuple) else (x, None)
    update = O.T @ x
    if _sharded():
        update = jax.lax.with_sharding_constraint(update, NamedSharding(jax.sharding.get_abstract_mesh(), P()))
    _, unravel = ravel_pytree(params)
    return unravel(update), ({} if info is None else info)


def _sharded() -> bool:
    """NetKet shards the samples over more than one device."""
    return bool(nk.config.netket_sharding) and jax.device_count() > 1


class VMC_MinSR(nk.driver.VMC_SR):
    """:class:`netket.driver.VMC_SR` whose dense NTK step uses :func:`minsr_update`.

    Same constructor and behaviour; pass ``on_the_fly=False`` (the fast path needs the dense
    Jacobian). Falls back to ``VMC_SR``'s step for QGT/SR, the on-the-fly NTK, full-sum states,
    momentum (SPRING) or ``proj_reg``.
    """

    def compute_loss_and_update(self):
        state = self.state
        fast = (
            self.use_ntk
            and not self.on_the_fly
            and isinstance(state, nk.vqs.MCState)
            and self.momentum is None
            and self.proj_reg is None
            and not nkjax.tree_leaf_iscomplex(state.parameters)
        )
        if not fast:
            return super().compute_loss_and_update()
        local_energies = state.local_estimators(self._ham)
        self._loss_stats = nkstats.statistics(local_energies)
        decay = self._mcmc_convergence_diagnostics_ema_decay
        if decay is not None:  # as VMC_SR: moving-average diagnostics across iterations
            old = self._loss_stats_online
            if old is not None and old.n_samples == 0:
                old = None
            self._loss_stats_online = nkstats.online_statistics(
                local_energies, old_estimator=old, decay=decay, max_lag=32
            )
        diag_shift = self.diag_shift(self.step_count) if callable(self.diag_shift) else self.diag_shift
        samples = state.samples.reshape(-1, state.samples.shape[-1])
        self._dp, info = minsr_update(
            state._apply_fun,
            state.parameters,
            state.model_state,
            samples,
            jnp.asarray(local_energies.data if hasattr(local_energies, "data") else local_energies),
            diag_shift,
            mode=self.mode,
            chunk_size=self.chunk_size_bwd,
            solver_fn=self._linear_solver,
        )
        self.info = info or None
        return self._loss_stats, self._dp
