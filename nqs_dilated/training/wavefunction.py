"""The variational wave functions of VMC: sign sources, networks, NetKet states.

Modes (:class:`VmcMode`, :func:`make_wavefunction`):

* ``"full"``: the dilated CNN with the complex ``log_psi`` head (log-amplitude and phase from real
  parameters) learns amplitude and sign together; its phase is added to a Marshall-sign prior
  (``sign_prior="marshall"``, default) so the start is far from the uniform (ferromagnetic) state.
* ``"fixed-sign"``: the CNN gives the real log-amplitude (a one-logit ``"sign"`` head used as one
  real output) and the sign comes from a source (:class:`SignSource`, :func:`make_sign`):
  ``"exact"`` (exact ground state: sorted bit-code table on <= 24 sites, host callback beyond),
  ``"marshall"``, or a fitted sign network (``"fit"``: the sign fit chained before the VMC run,
  or the run directory of one, loaded by :mod:`nqs_dilated.experiments.sign_source`).

In both modes the readout kernel is redrawn with standard deviation ``readout_scale`` (default 1)
so ``log|psi|`` varies at the start (:func:`nqs_dilated.models.wavefunction.reinit_readout`).
"""

from __future__ import annotations

import enum
import math
from typing import Any

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from ..choice import Choice
from ..lattice import Cluster
from ..models import ModelName, make_model
from ..models.wavefunction import (
    CallbackSign,
    MarshallSign,
    SignedLogPsi,
    TableSign,
    reinit_readout,
    sector_projection,
)

__all__ = [
    "TABLE_MAX_DIM",
    "VMC_MODELS",
    "SignSource",
    "VmcMode",
    "check_vmc_model",
    "device_info",
    "jacobian_mode_of",
    "make_sign",
    "make_state",
    "make_wavefunction",
]


class VmcMode(Choice):
    """What VMC optimises (module docstring)."""

    _what = enum.nonmember("VMC mode")
    FULL = "full"
    FIXED_SIGN = "fixed-sign"


class SignSource(Choice):
    """Where the fixed sign of mode ``fixed-sign`` comes from (a run directory of a sign fit is accepted
    as well, :func:`nqs_dilated.experiments.sign_source.sign_from_source`)."""

    _what = enum.nonmember("sign source")
    EXACT = "exact"
    MARSHALL = "marshall"
    FIT = "fit"


#: Models a VMC run accepts (the G-CNN as the amplitude of mode fixed-sign only).
VMC_MODELS = (ModelName.DILATED, ModelName.CNN, ModelName.GCNN)
#: Largest Sz = 0 dimension for which the exact sign is a lookup table (above: host callback).
TABLE_MAX_DIM = 3_000_000


def check_vmc_model(model: str, mode: str, symmetrize: bool = False) -> None:
    """Check that VMC can use ``model`` in ``mode`` (with ``symmetrize``).

    Raises:
        ValueError: a model VMC does not support, or the G-CNN outside mode fixed-sign or with
            symmetrize.
    """
    if model not in VMC_MODELS:
        raise ValueError(f"task vmc supports the models {[str(m) for m in VMC_MODELS]}, got {model!r}")
    if model == ModelName.GCNN and (mode != VmcMode.FIXED_SIGN or symmetrize):
        raise ValueError(
            "the G-CNN is invariant under the whole space group, so it serves as the amplitude of "
            "mode fixed-sign only, without symmetrize; use --mode fixed-sign, or the dilated CNN in full mode"
        )


def make_sign(source: SignSource | str, cluster: Cluster, ground=None):
    """The fixed sign function named by ``source``.

    A fitted sign network is loaded from its run directory by
    :func:`nqs_dilated.experiments.sign_source.sign_from_source` (which also accepts these names).

    Args:
        source: ``"exact"`` (needs ``ground``) or ``"marshall"`` (:class:`SignSource`).
        cluster: The cluster (grid for Marshall).
        ground: The exact :class:`~nqs_dilated.ed.state.GroundState` (``"exact"`` only).

    Returns:
        A parameter-free Flax module returning ±1: ``MarshallSign``, or the exact sign as a sorted
        bit-code table (``TableSign``, up to :data:`TABLE_MAX_DIM` states) or a host callback
        (``CallbackSign``, beyond).

    Raises:
        ValueError: a source that is neither ``"exact"`` nor ``"marshall"``, or ``"exact"`` without ``ground``.
    """
    if source not in (SignSource.EXACT, SignSource.MARSHALL):
        raise ValueError(
            f"unknown sign source {str(source)!r}: use 'exact' or 'marshall' here, or load a fitted sign with "
            "nqs_dilated.experiments.sign_source.sign_from_source"
        )
    if source == "marshall":
        return MarshallSign.from_grid(cluster.grid)
    if ground is None:
        raise ValueError("sign source 'exact' needs the exact ground state (ground=...)")
    if ground.enumerable and ground.dimension <= TABLE_MAX_DIM:
        codes, amps = ground.enumerate_codes()
        return TableSign.from_arrays(codes, np.sign(amps))
    return CallbackSign(fn=ground.sign)


def make_wavefunction(
    cluster: Cluster,
    mode: str,
    sign=None,
    *,
    model: str = "dilated",
    sign_prior="marshall",
    param_dtype: Any = jnp.float64,
    symmetrize: bool = False,
    sector: str | None = None,
    **model_opts,
):
    """The variational wave function ``log psi`` for :class:`netket.vqs.MCState`.

    Args:
        cluster: The cluster.
        mode: ``"full"`` or ``"fixed-sign"`` (module docstring).
        sign: ``"fixed-sign"``: the sign module (:func:`make_sign`); ignored in ``"full"`` mode.
        model: ``"dilated"``, ``"cnn"`` (default ``"dilated"``), or ``"gcnn"`` in ``"fixed-sign"``
            mode: NetKet's G-CNN on the space group (:class:`~nqs_dilated.models.gcnn.SymmetricGCNN`,
            option ``features``), invariant like the ``|psi|`` of any one-dimensional sector.
        sign_prior: ``"full"`` mode: ``"marshall"`` (phase prior, default), ``"none"``, or a sign
            module (:func:`make_sign`, e.g. a fitted sign network) whose sign is the prior.
        param_dtype: Parameter dtype (default float64).
        symmetrize: Project onto a zero-momentum sector with the point group and spin inversion
            (:func:`~nqs_dilated.models.wavefunction.sector_projection`; ``2|P|`` network
            evaluations per configuration). ``"fixed-sign"``: the log-amplitude, with trivial
            characters (``|psi|`` of a ground state in a 1D irrep is invariant); ``"full"``: the
            whole ``log psi``, with the characters of ``sector``.
        sector: ``"full"`` mode with ``symmetrize``: the sector label, e.g. ``"A2+"`` (the exact
            ground state's, ``GroundState.info.sector``).
        **model_opts: Options of the CNN (``channels``, ``kernel_size``, ``dilations``, ``residual``).

    Returns:
        A :class:`SignedLogPsi`, or its projection (``symmetrize`` in ``"full"`` mode).

    Raises:
        ValueError: unknown mode, model or prior; fixed-sign without a sign; full mode with
            ``symmetrize`` but no sector; ``"gcnn"`` in full mode or with ``symmetrize`` (an
            invariant network needs no projection, and cannot carry the phase of a sector with
            non-trivial characters); invalid model options.
        SymmetryError: ``sector`` is not a zero-momentum sector of the cluster.
    """
    mode = VmcMode.parse(mode)
    check_vmc_model(model, mode, symmetrize)
    if mode == "full":
        if isinstance(sign_prior, str) and sign_prior not in ("marshall", "none"):
            raise ValueError(f"unknown sign prior {sign_prior!r}; use 'marshall', 'none' or a sign module (make_sign)")
        if symmetrize and sector is None:
            raise ValueError("symmetrize in full mode needs the sector to project onto (e.g. sector='A1+')")
        net = make_model(model, cluster, head="log_psi", param_dtype=param_dtype, **model_opts)
        if sign_prior == "marshall":
            prior = MarshallSign.from_grid(cluster.grid)
        else:
            prior = None if sign_prior == "none" else sign_prior
        wavefunction = SignedLogPsi(amplitude=net, sign=prior)
        return sector_projection(wavefunction, cluster, sector) if symmetrize else wavefunction
    if sign is None:
        raise ValueError("fixed-sign mode needs a sign function (make_sign)")
    net = make_model(model, cluster, head="sign", sign_logits=1, param_dtype=param_dtype, **model_opts)
    if symmetrize:
        net = sector_projection(net, cluster)
    return SignedLogPsi(amplitude=net, sign=sign)


def make_state(
    hamiltonian,
    cluster: Cluster,
    model,
    *,
    n_samples: int = 1024,
    n_chains: int = 16,
    n_discard_per_chain: int | None = None,
    chunk_size: int | None = None,
    seed: int = 0,
    exact: bool = False,
    readout_scale: float | None = 1.0,
):
    """An :class:`~netket.vqs.MCState` with Metropolis exchange moves along the cluster's bonds.

    Exchange moves keep the total Sz (the Hilbert space is Sz = 0). With ``exact=True`` a
    :class:`~netket.vqs.FullSumState` over the whole Sz = 0 space instead (debugging, <= 24 sites).

    With several JAX devices (NetKet's sharding, module docstring) the chains are split evenly
    over them: ``n_chains / devices`` chains and ``n_samples / devices`` samples per device.

    Raises:
        ValueError: ``n_samples`` or ``n_chains`` not positive, ``n_samples`` not a multiple of
            ``n_chains``, ``n_chains`` not a multiple of the device count (sharded sampling),
            ``exact`` on a space too large to sum.
    """
    if n_chains <= 0 or n_samples <= 0:
        raise ValueError(f"n_samples and n_chains must be positive, got {n_samples}, {n_chains}")
    info = device_info()
    devices = info["devices"] if info["sharding"] else 1
    if not exact and n_chains % devices:
        raise ValueError(
            f"n_chains = {n_chains} is not a multiple of the {devices} JAX devices the samples are sharded over; "
            f"use e.g. n_chains = {math.ceil(n_chains / devices) * devices}"
        )
    if n_samples % n_chains:
        raise ValueError(
            f"n_samples = {n_samples} is not a multiple of n_chains = {n_chains}; every chain gives "
            f"the same number of samples: use e.g. n_samples = {math.ceil(n_samples / n_chains) * n_chains}"
        )
    hilbert = hamiltonian.hilbert
    if exact:
        if hilbert.n_states > TABLE_MAX_DIM:
            raise ValueError(
                f"exact (full-sum) mode needs <= {TABLE_MAX_DIM:,} states, the space has {hilbert.n_states:,}"
            )
        vstate = nk.vqs.FullSumState(hilbert, model, chunk_size=chunk_size, seed=seed)
    else:
        sampler = nk.sampler.MetropolisExchange(hilbert, graph=cluster.graph, n_chains=n_chains)
        vstate = nk.vqs.MCState(
            sampler,
            model,
            n_samples=n_samples,
            n_discard_per_chain=n_discard_per_chain,
            chunk_size=chunk_size,
            seed=seed,
            sampler_seed=seed + 1,
        )
    if readout_scale is not None:
        vstate.parameters = reinit_readout(vstate.parameters, jax.random.key(seed + 2), readout_scale)
    return vstate


def device_info() -> dict:
    """The devices NetKet shards the samples over: ``{"devices": jax.device_count(), "processes":
    jax.process_count(), "sharding": bool}`` (``sharding``: NetKet's ``NETKET_SHARDING`` is on and
    there is more than one device), ``"platform"`` (``"cpu"``, ``"gpu"``, ...)."""
    n = jax.device_count()
    return {
        "devices": n,
        "processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "sharding": bool(nk.config.netket_sharding) and n > 1,
    }


def jacobian_mode_of(model) -> str:
    """``"real"`` for a fixed-sign :class:`SignedLogPsi` (real log-amplitude network times a
    parameter-free sign), ``"complex"`` for anything else (NetKet's ``mode`` of ``VMC_SR``)."""
    if isinstance(model, SignedLogPsi) and model.sign is not None:
        amp = model.amplitude
        while hasattr(amp, "module") and not hasattr(amp, "head"):  # a projection (sector_projection)
            chi = getattr(amp, "characters", None)
            if getattr(amp, "parity", 1) < 0 or (chi is not None and np.any(np.asarray(chi.wrapped) < 0)):
                return "complex"
            amp = amp.module
        if getattr(amp, "head", None) == "sign" and getattr(amp, "sign_logits", None) == 1:
            return "real"
    return "complex"
