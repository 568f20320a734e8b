"""Run configurations: defaults, TOML files, validation.

A configuration is a flat TOML table whose keys are the fields of :class:`FitConfig`; the command
line overrides it. :func:`resolve` returns the validated configuration that a run directory
records in ``config.json``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FitConfig", "ConfigError", "MODELS", "SIGN_SOURCES", "TASKS", "VMC_MODES", "load_toml", "resolve"]

MODELS = ("dilated", "cnn", "dense", "gcnn")
TASKS = ("sign", "vmc")
VMC_MODES = ("full", "fixed-sign")
SIGN_SOURCES = ("exact", "marshall")
#: Defaults that differ by task (applied when the key is not given).
TASK_DEFAULTS = {"vmc": {"lr": 0.02}}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the fix."""


@dataclass
class FitConfig:
    """Everything a fit run depends on.

    Attributes:
        task: ``"sign"`` (supervised sign fitting) or ``"vmc"`` (variational energy optimisation).
        lattice: Cluster name or TOML path.
        j1, j2: Couplings (Pauli convention).
        model: ``"dilated"``, ``"cnn"`` (all dilations 1), ``"dense"`` (Westerhout MLP), ``"gcnn"``.
        channels: Channels per convolution layer (CNN models).
        kernel_size: Convolution kernel size (CNN models).
        dilations: Dilation per layer (``"dilated"``; ``"cnn"`` uses 1 everywhere).
        residual: Residual connections between layers of equal width (CNN models).
        hidden: Hidden layer sizes of the dense model.
        eps: Training fraction: ``n_train = eps * D``, D the Sz = 0 dimension.
        epochs: Maximum number of epochs.
        patience: Early stopping: epochs without validation-loss improvement before stopping.
        batch_size: Mini-batch size.
        lr: Adam learning rate (sign) or SGD step of SR (vmc; default 0.02 there).
        seed: Seed of data sampling, initialisation and shuffling.
        n_test: Test-set size where the space cannot be enumerated (36 sites).
        ed_method: ED route for the reference state (``"auto"``, ``"netket"``, ``"symmetric"``).
        sector: ED sector (``"auto"`` or a label such as ``"A1+"``).
        out: Run directory (default ``runs/<lattice>_j2=<j2>_<model>_eps=<eps>_seed=<seed>``;
            vmc: ``runs/<lattice>_j2=<j2>_vmc_<model>_<mode>[_<sign>]_seed=<seed>``).
        mode: vmc: ``"full"`` (amplitude and phase learned) or ``"fixed-sign"``.
        sign_source: vmc fixed-sign: ``"exact"``, ``"marshall"`` or a sign-fit run directory.
        sign_prior: vmc full mode: ``"marshall"`` (phase prior at the start) or ``"none"``.
        n_iter: vmc: number of VMC_SR iterations.
        n_samples: vmc: Monte Carlo samples per iteration (a multiple of ``n_chains``).
        n_chains: vmc: Metropolis chains.
        chunk_size: vmc: configurations per forward/backward chunk (0 = no chunking).
        diag_shift: vmc: SR diagonal shift at the start.
        diag_shift_final: vmc: diagonal shift at the end (exponential decay; 0 = constant).
        exact: vmc: full-sum expectation values instead of sampling (<= 24 sites, debugging).
        checkpoint_every: vmc: iterations between checkpoints (0 = only at the end).
        timeout: vmc: stop after this many seconds (0 = no limit); rerun to resume.
        readout_scale: vmc: standard deviation of the initial readout kernel.
        dtype: vmc: parameter dtype, ``"float64"`` or ``"float32"``.
    """

    task: str = "sign"
    lattice: str = "triangular-4x6"
    j1: float = 1.0
    j2: float = 1.0
    model: str = "dilated"
    channels: tuple[int, ...] = (32, 32, 32)
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 3)
    residual: bool = False
    hidden: tuple[int, ...] = (512,)
    eps: float = 0.01
    epochs: int = 40
    patience: int = 8
    batch_size: int = 1024
    lr: float = 1e-3
    seed: int = 0
    n_test: int = 10_000
    ed_method: str = "auto"
    sector: str = "auto"
    out: str | None = None
    mode: str = "full"
    sign_source: str = "exact"
    sign_prior: str = "marshall"
    n_iter: int = 300
    n_samples: int = 1024
    n_chains: int = 16
    chunk_size: int = 0
    diag_shift: float = 0.01
    diag_shift_final: float = 0.0
    exact: bool = False
    checkpoint_every: int = 50
    timeout: float = 0.0
    readout_scale: float = 1.0
    dtype: str = "float64"

    def default_out(self) -> str:
        name = Path(self.lattice).stem
        if self.task == "vmc":
            sign = f"_{Path(self.sign_source).name}" if self.mode == "fixed-sign" else ""
            exact = "_exact" if self.exact else ""
            return f"runs/{name}_j2={self.j2:g}_vmc_{self.model}_{self.mode}{sign}{exact}_seed={self.seed}"
        return f"runs/{name}_j2={self.j2:g}_{self.model}_eps={self.eps:g}_seed={self.seed}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


_FIELDS = {f.name: f for f in dataclasses.fields(FitConfig)}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a flat TOML config file.

    Raises:
        ConfigError: missing file, malformed TOML, or unknown keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML ({err})") from None
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known keys: {sorted(_FIELDS)}")
    return data


def resolve(values: dict[str, Any]) -> FitConfig:
    """Build and validate a :class:`FitConfig` from defaults updated by ``values``.

    Raises:
        ConfigError: unknown key or model, eps outside (0, 1], negative epochs, non-positive
            sizes, non-finite couplings.
    """
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}")
    cfg = FitConfig()
    task = values.get("task") or cfg.task
    values = {**TASK_DEFAULTS.get(task, {}), **{k: v for k, v in values.items() if v is not None or k == "out"}}
    for key, value in values.items():
        if value is None and key != "out":
            continue
        default = getattr(cfg, key)
        if isinstance(default, tuple):
            if isinstance(value, (int, float)):
                value = (value,)
            try:
                value = tuple(int(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be a list of integers, got {value!r}") from None
        elif isinstance(default, bool):
            value = bool(value)
        elif isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{key} must be an integer, got {value!r}")
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        setattr(cfg, key, value)
    if cfg.model == "cnn":
        cfg.dilations = (1,) * len(cfg.channels)
    _validate(cfg)
    return cfg


def _validate(cfg: FitConfig) -> None:
    if cfg.task not in TASKS:
        raise ConfigError(f"unknown task {cfg.task!r}; use one of {TASKS}")
    if cfg.model not in MODELS:
        raise ConfigError(f"unknown model {cfg.model!r}; use one of {MODELS}")
    if not (0.0 < cfg.eps <= 1.0) or not math.isfinite(cfg.eps):
        raise ConfigError(f"eps must lie in (0, 1], got {cfg.eps}")
    if cfg.epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {cfg.epochs}")
    for key in ("batch_size", "kernel_size", "n_test"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key} must be positive, got {getattr(cfg, key)}")
    if cfg.patience < 0:
        raise ConfigError(f"patience must be >= 0, got {cfg.patience}")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise ConfigError(f"lr must be positive and finite, got {cfg.lr}")
    for key in ("j1", "j2"):
        if not math.isfinite(getattr(cfg, key)):
            raise ConfigError(f"{key} must be finite, got {getattr(cfg, key)}")
    if cfg.j1 == 0:
        raise ConfigError("j1 must be non-zero (it sets the energy unit)")
    if cfg.task == "vmc":
        _validate_vmc(cfg)


def _validate_vmc(cfg: FitConfig) -> None:
    if cfg.mode not in VMC_MODES:
        raise ConfigError(f"unknown mode {cfg.mode!r}; use one of {VMC_MODES}")
    if cfg.model not in ("dilated", "cnn"):
        raise ConfigError(f"task vmc supports the models 'dilated' and 'cnn', got {cfg.model!r}")
    if cfg.mode == "fixed-sign" and cfg.sign_source not in SIGN_SOURCES:
        if not (Path(cfg.sign_source) / "params.msgpack").is_file():
            raise ConfigError(
                f"unknown sign source {cfg.sign_source!r}; use one of {SIGN_SOURCES} or the run "
                "directory of a finished sign fit (holding params.msgpack)"
            )
    if cfg.sign_prior not in ("marshall", "none"):
        raise ConfigError(f"unknown sign prior {cfg.sign_prior!r}; use 'marshall' or 'none'")
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
        raise ConfigError(f"diag_shift must be positive and diag_shift_final >= 0, got {cfg.diag_shift}, {cfg.diag_shift_final}")
    if cfg.timeout < 0 or cfg.readout_scale < 0:
        raise ConfigError("timeout and readout_scale must be >= 0")
    if cfg.dtype not in ("float64", "float32"):
        raise ConfigError(f"dtype must be 'float64' or 'float32', got {cfg.dtype!r}")
