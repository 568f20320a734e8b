"""Resolving a configuration: typed values, defaults per task, validation, sweep axes.

:func:`resolve` turns the flat values of a config file and the command line
(:class:`~nqs_dilated.experiments.config.FitConfig` keys) into a validated, typed
:class:`~nqs_dilated.experiments.specs.RunSpec`; every bad value is one
:class:`~nqs_dilated.experiments.config.ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ..lattice import LatticeError, load_lattice
from ..training.wavefunction import SignSource, VmcMode
from ..training.wavefunction import check_vmc_model as _check_vmc_model
from .config import (
    CONFIG_FIELDS,
    EPS_CONVENTIONS,
    MODELS,
    SIGN_PRIORS,
    SIGN_SOURCES,
    SPLITS,
    SWEEP_AXES,
    TASK_DEFAULTS,
    TASKS,
    VMC_MODES,
    ConfigError,
    FitConfig,
)
from .runfiles import PARAMS
from .specs import SCHEMA1_IMPLIED, ModelSpec, PretrainSpec, ProblemSpec, RunSpec, SignSpec, Task, VmcSpec

__all__ = ["axis_values", "check_vmc_model", "default_dilations", "j2_values", "resolve", "run_spec", "spec_from_json"]


def resolve(values: dict[str, Any]) -> RunSpec:
    """The validated :class:`~nqs_dilated.experiments.specs.RunSpec` of flat configuration values:
    :class:`FitConfig` defaults (and those of the task) updated by ``values``.

    Raises:
        ConfigError: unknown key or model, several values on a sweep axis (a sweep: use
            :func:`~nqs_dilated.experiments.sweep_config.resolve_sweep`), eps outside (0, 1], negative epochs, non-positive sizes,
            non-finite couplings.
    """
    unknown = set(values) - set(CONFIG_FIELDS)
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}")
    for key in SWEEP_AXES:
        if axis_values(values, key) is not None:
            raise ConfigError(
                f"{key} = {values[key]!r} holds several values, which makes a sweep, not one run: "
                f"run `nqs-dilated sweep` (--{key} on its command line, or {key} in the [sweep] table)"
            )
    cfg = FitConfig()
    task = values.get("task") or cfg.task
    values = {**TASK_DEFAULTS.get(task, {}), **{k: v for k, v in values.items() if v is not None or k == "out"}}
    for key, value in values.items():
        if value is None and key != "out":
            continue
        setattr(cfg, key, _typed(key, value, getattr(cfg, key)))
    if cfg.model == "cnn":
        cfg.dilations = (1,) * len(cfg.channels)
    elif values.get("dilations") is None:
        cfg.dilations = default_dilations(cfg.lattice, len(cfg.channels), cfg.kernel_size)
    _validate(cfg)
    return run_spec(cfg)


def spec_from_json(data: dict[str, Any]) -> RunSpec:
    """The spec of a ``config.json``: schema 2 (:meth:`~nqs_dilated.experiments.specs.RunSpec.from_json`)
    or the flat schema 1 of earlier versions, one key per flag, resolved here with the values its
    missing keys implied (:data:`~nqs_dilated.experiments.specs.SCHEMA1_IMPLIED`).

    Raises:
        ValueError: an unknown schema or keys; ConfigError (a ValueError): an invalid flat configuration.
    """
    if "schema" in data:
        return RunSpec.from_json(data)
    flat = {**SCHEMA1_IMPLIED, **data}
    out = flat.pop("out", None)
    return dataclasses.replace(resolve(flat), out=out)


def run_spec(cfg: FitConfig) -> RunSpec:
    """The typed :class:`~nqs_dilated.experiments.specs.RunSpec` of a validated flat configuration:
    the keys a task does not use are left out (a VMC run holds a sign spec only when it runs its
    own sign fit, a pretraining spec only when ``pretrain_eps`` > 0)."""
    problem = ProblemSpec(cfg.lattice, cfg.j1, cfg.j2, cfg.ed_method, cfg.sector)
    model = ModelSpec(
        cfg.model,
        cfg.channels,
        cfg.kernel_size,
        cfg.dilations,
        cfg.residual,
        cfg.hidden,
        cfg.degree,
        cfg.marshall_terms,
    )
    sign = SignSpec(
        eps=cfg.eps,
        eps_relative_to=cfg.eps_relative_to,
        split=cfg.split,
        steps=cfg.steps,
        epochs=cfg.epochs,
        patience=cfg.patience,
        eval_every=cfg.eval_every,
        batch_size=cfg.batch_size,
        lr=cfg.lr if cfg.task == Task.SIGN else cfg.sign_lr,
        n_test=cfg.n_test,
    )
    if cfg.task == Task.SIGN:
        return RunSpec(Task.SIGN, problem, model, cfg.seed, sign=sign, out=cfg.out)
    fixed = cfg.mode == VmcMode.FIXED_SIGN
    pretrain = (
        PretrainSpec(cfg.pretrain_eps, cfg.eps_relative_to, cfg.pretrain_steps, cfg.pretrain_lr)
        if cfg.pretrain_eps
        else None
    )
    vmc = VmcSpec(
        mode=cfg.mode,
        sign_source=cfg.sign_source if fixed else None,
        sign_prior=None if fixed else cfg.sign_prior,
        n_iter=cfg.n_iter,
        lr=cfg.lr,
        lr_final=cfg.lr_final,
        diag_shift=cfg.diag_shift,
        diag_shift_final=cfg.diag_shift_final,
        n_samples=cfg.n_samples,
        n_chains=cfg.n_chains,
        chunk_size=cfg.chunk_size,
        exact=cfg.exact,
        symmetrize=cfg.symmetrize,
        readout_scale=cfg.readout_scale,
        dtype=cfg.dtype,
        pretrain=pretrain,
        checkpoint_every=cfg.checkpoint_every,
        timeout=cfg.timeout,
    )
    chained = vmc.source == SignSource.FIT
    return RunSpec(Task.VMC, problem, model, cfg.seed, sign=sign if chained else None, vmc=vmc, out=cfg.out)


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of the field's ``default``; a value of another kind (a string where a
    number or a boolean belongs, a fraction where an integer belongs) raises ConfigError naming
    the key."""

    def number(v, kind):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {v!r}")
        try:
            x = float(v)
        except ValueError:
            raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {v!r}") from None
        if kind is int:
            if not x.is_integer():
                raise ConfigError(f"{key} must be an integer, got {v!r}")
            return int(x)
        return x

    if key == "out" or value is None:
        return value
    if isinstance(default, tuple):
        items = [value] if isinstance(value, (int, float, str)) else value
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key} must be a list of integers, got {value!r}")
        try:
            return tuple(number(v, int) for v in items)
        except ConfigError:
            raise ConfigError(f"{key} must be a list of integers, got {value!r}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        return number(value, int)
    if isinstance(default, float):
        return number(value, float)
    if isinstance(default, str) or default is None:
        if isinstance(value, os.PathLike):  # a lattice file or run directory given as a path
            return os.fspath(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def default_dilations(lattice: str, depth: int, kernel_size: int) -> tuple[int, ...]:
    """Default dilation stack on a cluster: ``1, 2, ..., depth``, each capped at
    ``max(L1, L2) // (kernel_size - 1)`` (the largest dilation the receptive-field rule of
    :class:`~nqs_dilated.models.InvariantDilatedCNN` allows). A lattice that cannot be read gives
    the uncapped stack (its error comes when the run loads it)."""
    stack = tuple(range(1, depth + 1))
    try:
        longest = max(load_lattice(lattice).extent)
    except LatticeError:
        return stack
    cap = max(1, longest // max(kernel_size - 1, 1))
    return tuple(min(d, cap) for d in stack)


def _validate(cfg: FitConfig) -> None:
    if cfg.task not in TASKS:
        raise ConfigError(f"unknown task {cfg.task!r}; use one of {TASKS}")
    if cfg.model not in MODELS:
        raise ConfigError(f"unknown model {cfg.model!r}; use one of {MODELS}")
    if not (0.0 < cfg.eps <= 1.0) or not math.isfinite(cfg.eps):
        raise ConfigError(f"eps must lie in (0, 1], got {cfg.eps}")
    if cfg.eps_relative_to not in EPS_CONVENTIONS:
        raise ConfigError(f"unknown eps_relative_to {cfg.eps_relative_to!r}; use one of {EPS_CONVENTIONS}")
    if cfg.split not in SPLITS:
        raise ConfigError(f"unknown split {cfg.split!r}; use one of {SPLITS}")
    if not (cfg.epochs >= 0 and math.isfinite(cfg.epochs)):
        raise ConfigError(f"epochs must be >= 0 (0 = budget in steps), got {cfg.epochs}")
    if cfg.steps <= 0 and cfg.epochs == 0:
        raise ConfigError(f"steps must be positive (or give epochs > 0), got {cfg.steps}")
    for key in ("kernel_size", "n_test"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key} must be positive, got {getattr(cfg, key)}")
    if cfg.degree < 0:
        raise ConfigError(f"degree (of the Walsh series, --degree) must be >= 0, got {cfg.degree}")
    for key in ("batch_size", "patience", "eval_every"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"{key} must be >= 0 (0 = automatic or off), got {getattr(cfg, key)}")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise ConfigError(f"lr must be positive and finite, got {cfg.lr}")
    for key in ("j1", "j2"):
        if not math.isfinite(getattr(cfg, key)):
            raise ConfigError(f"{key} must be finite, got {getattr(cfg, key)}")
    if cfg.j1 == 0:
        raise ConfigError("j1 must be non-zero (it sets the energy unit)")
    if cfg.seed < 0:
        raise ConfigError(f"seed must be >= 0 (--seed), got {cfg.seed}")
    if cfg.task == "vmc":
        _validate_vmc(cfg)


def check_vmc_model(model: str, mode: str, symmetrize: bool = False) -> None:
    """Check that VMC can use ``model`` in ``mode`` (with ``symmetrize``).

    Raises:
        ConfigError: a model VMC does not support, or the G-CNN outside mode fixed-sign or with
            symmetrize (:func:`nqs_dilated.training.wavefunction.check_vmc_model`).
    """
    try:
        _check_vmc_model(model, mode, symmetrize)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _validate_vmc(cfg: FitConfig) -> None:
    if cfg.mode not in VMC_MODES:
        raise ConfigError(f"unknown mode {cfg.mode!r}; use one of {VMC_MODES}")
    check_vmc_model(cfg.model, cfg.mode, cfg.symmetrize)
    if cfg.mode == "fixed-sign" and cfg.sign_source not in SIGN_SOURCES:
        if not (Path(cfg.sign_source) / PARAMS).is_file():
            raise ConfigError(
                f"unknown sign source {cfg.sign_source!r}; use one of {SIGN_SOURCES} or the run "
                "directory of a finished sign fit (holding params.msgpack)"
            )
    if cfg.mode == "full" and cfg.sign_prior not in SIGN_PRIORS:
        if not (Path(cfg.sign_prior) / PARAMS).is_file():
            raise ConfigError(
                f"unknown sign prior {cfg.sign_prior!r}; use one of {SIGN_PRIORS} or the run "
                "directory of a finished sign fit (holding params.msgpack)"
            )
    if not (cfg.sign_lr > 0 and math.isfinite(cfg.sign_lr)):
        raise ConfigError(f"sign_lr ([sign] lr of the chained sign fit) must be positive, got {cfg.sign_lr}")
    for key in ("n_samples", "n_chains"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key} must be positive, got {getattr(cfg, key)}")
    if cfg.n_samples % cfg.n_chains:
        raise ConfigError(
            f"n_samples = {cfg.n_samples} is not a multiple of n_chains = {cfg.n_chains}; use e.g. "
            f"n_samples = {math.ceil(cfg.n_samples / cfg.n_chains) * cfg.n_chains}"
        )
    for key in ("n_iter", "chunk_size", "checkpoint_every"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"{key} must be >= 0, got {getattr(cfg, key)}")
    if not (cfg.diag_shift > 0 and math.isfinite(cfg.diag_shift)) or cfg.diag_shift_final < 0:
        raise ConfigError(
            f"diag_shift must be positive and diag_shift_final >= 0, got {cfg.diag_shift}, {cfg.diag_shift_final}"
        )
    if not (cfg.lr_final >= 0 and math.isfinite(cfg.lr_final)):
        raise ConfigError(f"lr_final must be >= 0 (0: a constant step lr), got {cfg.lr_final}")
    if cfg.timeout < 0 or cfg.readout_scale < 0:
        raise ConfigError("timeout and readout_scale must be >= 0")
    if cfg.dtype not in ("float64", "float32"):
        raise ConfigError(f"dtype must be 'float64' or 'float32', got {cfg.dtype!r}")
    if not 0 <= cfg.pretrain_eps < 1:
        raise ConfigError(f"pretrain_eps must be in [0, 1) (0: no pretraining), got {cfg.pretrain_eps}")
    if cfg.pretrain_eps and (cfg.pretrain_steps < 1 or not (cfg.pretrain_lr > 0 and math.isfinite(cfg.pretrain_lr))):
        raise ConfigError(
            f"pretraining needs pretrain_steps >= 1 and pretrain_lr > 0, got {cfg.pretrain_steps}, {cfg.pretrain_lr}"
        )


def j2_values(value: Any) -> float | tuple[float, ...]:
    """Parse J2 values: a number (one run), a list, ``"a,b,c"`` (a list) or ``"start:stop:step"``.

    A range includes ``stop`` when it lies on the grid (within 1e-9 of a step):
    ``"0:1.4:0.2"`` gives ``(0.0, 0.2, ..., 1.4)``; values are rounded to 12 decimals so that
    ``0.1 * 3`` is ``0.3``.

    Returns:
        A float for a single number, else a tuple of floats (a sweep, even of one value).

    Raises:
        ConfigError: text that is not a number, list or range; a non-positive step; stop < start;
            an empty list.
    """
    if isinstance(value, bool):
        raise ConfigError(f"j2 must be a number, a list or a range start:stop:step, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str):
        text = value.strip()
        if ":" in text:
            parts = text.split(":")
            try:
                start, stop, step = (float(p) for p in parts) if len(parts) == 3 else (None,) * 3
            except ValueError:
                start = None
            if start is None:
                raise ConfigError(f"j2 range must be start:stop:step with three numbers, e.g. 0:1.4:0.2; got {value!r}")
            if not (step > 0 and math.isfinite(step)) or not stop >= start:
                raise ConfigError(f"j2 range {value!r} needs step > 0 and stop >= start, e.g. 0:1.4:0.2")
            n = math.floor((stop - start) / step + 1e-9)
            if n > 10_000:
                raise ConfigError(f"j2 range {value!r} has {n + 1} values; use a larger step")
            return tuple(round(start + k * step, 12) for k in range(n + 1))
        if "," not in text:
            try:
                return float(text)
            except ValueError:
                raise ConfigError(
                    f"j2 must be a number, a list a,b,c or a range start:stop:step, got {value!r}"
                ) from None
        items = [p for p in text.split(",") if p.strip()]
    else:
        raise ConfigError(f"j2 must be a number, a list or a range start:stop:step, got {value!r}")
    try:
        values = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(f"j2 list must hold numbers, got {value!r}") from None
    if not values:
        raise ConfigError("j2 list is empty; give at least one value")
    return values


def axis_values(values: dict[str, Any], key: str) -> tuple | None:
    """The values of a sweep axis as a tuple, or None when the key holds one value."""
    if key not in values or values[key] is None:
        return None
    value = values[key]
    if key == "j2":
        parsed = j2_values(value)
        return parsed if isinstance(parsed, tuple) else None
    if key == "eps":
        if isinstance(value, str) and "," in value:
            value = [v for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            try:
                return tuple(float(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"eps must be a number or a list of numbers, got {value!r}") from None
        return None
    if key == "model":
        if isinstance(value, str):
            names = tuple(v.strip() for v in value.split(",") if v.strip())
            return names if "," in value else None
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"model must be a name or a list of names, got {value!r}")
    # dilations: a list of integers is one stack; a list of lists is several
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
        try:
            return tuple(tuple(int(d) for d in v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(f"dilations must be lists of integers, got {value!r}") from None
    return None
