"""Run configurations: defaults, TOML files, validation.

A run is one flat :class:`FitConfig`; a config file splits its keys into sections, each with its
own defaults (:func:`task_defaults`)::

    lattice = "triangular-4x6"      # common keys at the top level (COMMON_KEYS)
    j2 = 1.0
    model = "dilated"

    [sign]                          # the sign fit (SIGN_KEYS): nqs-dilated sign
    eps = 0.01
    lr = 0.001                      # Adam

    [vmc]                           # VMC (VMC_KEYS): nqs-dilated vmc
    mode = "fixed-sign"
    lr = 0.02                       # SGD step of SR

    [sweep]                         # nqs-dilated sweep / search (SweepConfig keys and the axes)
    j2 = "0:1.4:0.2"
    model = ["dilated", "cnn"]

``nqs-dilated sign`` reads the top level and ``[sign]``, ``nqs-dilated vmc`` the top level and
``[vmc]`` (:func:`config_values`); the command line overrides the file. A key in the wrong
section, or a file in the old flat form, is an error naming the table the key belongs in.
:func:`resolve` returns the validated configuration that a run directory records in
``config.json``; a list on a sweep axis (``j2``, ``eps``, ``model``, ``dilations``) is a sweep
(:func:`resolve_sweep`, ``nqs-dilated sweep``), never a single run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import EPS_CONVENTIONS, SPLITS
from ..lattice import LatticeError, load_lattice
from ..models import ModelName
from ..training.wavefunction import VMC_MODELS, SignSource, VmcMode
from ..training.wavefunction import check_vmc_model as _check_vmc_model
from .rundir import PARAMS

__all__ = [
    "EPS_CONVENTIONS",
    "EXECUTORS",
    "FitConfig",
    "ConfigError",
    "MODELS",
    "SEARCHES",
    "SIGN_PRIORS",
    "SIGN_SOURCES",
    "SPLITS",
    "SweepConfig",
    "TASKS",
    "VMC_MODES",
    "VMC_MODELS",
    "check_vmc_model",
    "COMMON_KEYS",
    "SIGN_KEYS",
    "VMC_KEYS",
    "config_values",
    "j2_values",
    "load_toml",
    "resolve",
    "resolve_sweep",
    "task_defaults",
]

#: Model names (:class:`~nqs_dilated.models.ModelName`).
MODELS = tuple(m.value for m in ModelName)
TASKS = ("sign", "vmc")
#: VMC modes (:class:`~nqs_dilated.training.wavefunction.VmcMode`).
VMC_MODES = tuple(m.value for m in VmcMode)
#: Named sign sources (:class:`~nqs_dilated.training.wavefunction.SignSource`); anything else must be a run directory of a sign fit.
SIGN_SOURCES = tuple(s.value for s in SignSource)
#: Named phase priors of VMC full mode (anything else must be a run directory of a sign fit).
SIGN_PRIORS = ("marshall", "none", "fit")
#: Defaults that differ by task (applied when the key is not given).
TASK_DEFAULTS = {"vmc": {"lr": 0.02}}
#: FitConfig keys of a config file's top level, shared by every task (``task`` says which task a
#: sweep runs).
COMMON_KEYS = (
    "task",
    "lattice",
    "j1",
    "j2",
    "model",
    "channels",
    "kernel_size",
    "dilations",
    "residual",
    "hidden",
    "seed",
    "ed_method",
    "sector",
    "out",
)
#: FitConfig keys of the ``[sign]`` table (the supervised sign fit).
SIGN_KEYS = (
    "eps",
    "eps_relative_to",
    "split",
    "steps",
    "epochs",
    "patience",
    "eval_every",
    "batch_size",
    "lr",
    "n_test",
)
#: FitConfig keys of the ``[vmc]`` table (``lr`` is in both, with its own default in each).
VMC_KEYS = (
    "mode",
    "sign_source",
    "sign_prior",
    "n_iter",
    "n_samples",
    "n_chains",
    "chunk_size",
    "diag_shift",
    "diag_shift_final",
    "lr_final",
    "exact",
    "checkpoint_every",
    "timeout",
    "readout_scale",
    "dtype",
    "lr",
    "symmetrize",
    "sign_lr",
    "pretrain_eps",
    "pretrain_steps",
    "pretrain_lr",
)
#: FitConfig keys that a VMC run uses only for its chained sign fit (``[sign]``; its ``lr`` is ``sign_lr``).
CHAIN_FIT_KEYS = (*(k for k in SIGN_KEYS if k != "lr"), "sign_lr")
#: The table of each task.
TASK_KEYS = {"sign": SIGN_KEYS, "vmc": VMC_KEYS}


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
        dilations: Dilation per layer (``"dilated"``; ``"cnn"`` uses 1 everywhere). When not
            given: :func:`default_dilations` of the cluster, ``1, 2, 3, ...`` per layer, each capped
            by the receptive-field rule ``dilation * (kernel_size - 1) <= max(L1, L2)`` (so
            ``(1, 2, 3)`` on 4x6 and 6x6, ``(1, 2, 2)`` on 4x4).
        residual: Residual connections between layers of equal width (CNN models).
        hidden: Hidden layer sizes of the dense model.
        eps: Training fraction: ``n_train = eps * D_ref`` (:mod:`nqs_dilated.data`).
        eps_relative_to: ``D_ref``: ``"sz0"`` (default, the Sz = 0 dimension C(N, N/2), as in
            Westerhout et al.) or ``"representatives"`` (the orbit representatives of the
            symmetric ED basis, about C(N, N/2) / 288 at 36 sites).
        split: What the validation and test sets may not share with the training set:
            ``"orbits"`` (default; no orbit of space group x spin inversion, so the test measures
            generalisation to unseen orbits) or ``"configurations"`` (only the identical
            configurations, so the test sets hold symmetry images of training configurations; to
            reproduce numbers measured that way).
        steps: Sign fit: budget in Adam steps (default 4000; ignored when ``epochs`` > 0).
        epochs: Sign fit: budget in passes over the training set instead of ``steps`` (0 = use
            ``steps``, default).
        patience: Sign fit: early stopping after this many Adam steps without a lower validation
            loss, counted once the run has left its initial plateau (default 1000; 0 = never; see
            :mod:`nqs_dilated.training.sign`). The best validation point is returned either way.
        eval_every: Sign fit: Adam steps between validations (0 = automatic: ``ceil(steps / 100)``).
        batch_size: Sign fit: samples per Adam step (0 = automatic: the power of two nearest below
            ``n_train / 16``, clipped to [32, 8192]).
        lr: Adam learning rate (sign) or SGD step of SR (vmc; default 0.02 there).
        seed: Seed of data sampling, initialisation and shuffling.
        n_test: Test-set size where the space cannot be enumerated (36 sites).
        ed_method: ED route for the reference state (``"auto"``, ``"netket"``, ``"symmetric"``).
        sector: ED sector (``"auto"`` or a label such as ``"A1+"``).
        out: Run directory (default ``runs/<lattice>_j2=<j2>_<model>_eps=<eps>_seed=<seed>``;
            vmc: ``runs/<lattice>_j2=<j2>_vmc_<model>_<mode>[_<sign>]_seed=<seed>``).
        mode: vmc: ``"full"`` (amplitude and phase learned) or ``"fixed-sign"``.
        sign_source: vmc fixed-sign: ``"exact"``, ``"marshall"``, a sign-fit run directory, or
            ``"fit"``: first run the sign fit of this configuration (its sign keys: ``eps``,
            ``steps``, ...; the ``[sign]`` table of a config file; Adam rate ``sign_lr``) into
            ``<out>/sign-fit``, then use it (:mod:`nqs_dilated.experiments.vmc_run`).
        sign_prior: vmc full mode: the phase prior at the start, ``"marshall"``, ``"none"``, a
            sign-fit run directory or ``"fit"`` (as for ``sign_source``).
        sign_lr: vmc with ``sign_source`` or ``sign_prior`` ``"fit"``: Adam learning rate of that
            sign fit (``lr`` in the ``[sign]`` table of a config file; default 0.001).
        symmetrize: vmc: project the wave function with the point group and spin inversion
            (:func:`nqs_dilated.models.wavefunction.sector_projection`): the amplitude with trivial
            characters in fixed-sign mode, the whole state onto the exact ground state's sector in
            full mode. Costs ``2|P|`` network evaluations (8 on 6x6, 4 on 4x6).
        n_iter: vmc: number of VMC_SR iterations.
        n_samples: vmc: Monte Carlo samples per iteration (a multiple of ``n_chains``).
        n_chains: vmc: Metropolis chains.
        chunk_size: vmc: configurations per forward/backward chunk (0 = no chunking).
        diag_shift: vmc: SR diagonal shift at the start.
        diag_shift_final: vmc: diagonal shift at the end (exponential decay; 0 = constant).
        lr_final: vmc: SGD step at the end (exponential decay from ``lr``; 0 = constant).
        exact: vmc: full-sum expectation values instead of sampling (<= 24 sites, debugging).
        checkpoint_every: vmc: iterations between checkpoints (0 = only at the end).
        timeout: vmc: stop after this many seconds (0 = no limit); rerun to resume.
        readout_scale: vmc: standard deviation of the initial readout kernel of the CNNs (the
            G-CNN keeps NetKet's initialisation).
        dtype: vmc: parameter dtype, ``"float64"`` or ``"float32"``.
        pretrain_eps: vmc: fit the amplitude to the exact one on this fraction of the data first
            (:class:`~nqs_dilated.training.amplitude.AmplitudeFit`; ``eps`` of the same reference
            as ``eps_relative_to``, drawn with ``|psi_ED|^2``; 0 = no pretraining).
        pretrain_steps: vmc: Adam steps of the amplitude fit.
        pretrain_lr: vmc: Adam rate of the amplitude fit.
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
    eps_relative_to: str = "sz0"
    split: str = "orbits"
    steps: int = 4000
    epochs: float = 0.0
    patience: int = 1000
    eval_every: int = 0
    batch_size: int = 0
    lr: float = 1e-3
    seed: int = 0
    n_test: int = 10_000
    ed_method: str = "auto"
    sector: str = "auto"
    out: str | None = None
    mode: str = "full"
    sign_source: str = "exact"
    sign_prior: str = "marshall"
    sign_lr: float = 1e-3
    symmetrize: bool = False
    n_iter: int = 300
    n_samples: int = 1024
    n_chains: int = 16
    chunk_size: int = 0
    diag_shift: float = 0.01
    diag_shift_final: float = 0.0
    lr_final: float = 0.0
    exact: bool = False
    checkpoint_every: int = 50
    timeout: float = 0.0
    readout_scale: float = 1.0
    dtype: str = "float64"
    pretrain_eps: float = 0.0
    pretrain_steps: int = 2000
    pretrain_lr: float = 0.001

    def default_out(self) -> str:
        name = Path(self.lattice).stem
        if self.task == "vmc":
            if self.mode == "fixed-sign":
                sign = f"_fit-eps={self.eps:g}" if self.sign_source == "fit" else f"_{Path(self.sign_source).name}"
            else:
                sign = f"_prior-fit-eps={self.eps:g}" if self.sign_prior == "fit" else ""
            sym = "_sym" if self.symmetrize else ""
            exact = "_exact" if self.exact else ""
            pre = f"_pre-eps={self.pretrain_eps:g}" if self.pretrain_eps else ""
            return f"runs/{name}_j2={self.j2:g}_vmc_{self.model}_{self.mode}{sign}{pre}{sym}{exact}_seed={self.seed}"
        rel = "" if self.eps_relative_to == "sz0" else f"-{self.eps_relative_to}"
        return f"runs/{name}_j2={self.j2:g}_{self.model}_eps={self.eps:g}{rel}_seed={self.seed}"

    @property
    def chains_sign_fit(self) -> bool:
        """Whether this VMC run first runs a sign fit (``sign_source`` or ``sign_prior`` ``"fit"``)."""
        return self.task == "vmc" and (
            (self.mode == "fixed-sign" and self.sign_source == "fit")
            or (self.mode == "full" and self.sign_prior == "fit")
        )

    def to_dict(self, all_keys: bool = False) -> dict[str, Any]:
        """The configuration as JSON-ready values; unless ``all_keys``, a key of
        :data:`ADDED_KEYS` is left out when it has the value that run directories written before
        it existed implied, so that those directories resume (and are recognised as what they
        are: a ``config.json`` without ``split`` is a run of the ``"configurations"`` split)."""
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return {k: v for k, v in d.items() if all_keys or not (k in ADDED_KEYS and v == ADDED_KEYS[k])}


#: Keys added after run directories were first written, with the value those directories
#: implied (see :meth:`FitConfig.to_dict`).
ADDED_KEYS = {
    "lr_final": 0.0,
    "split": "configurations",
    "pretrain_eps": 0.0,
    "pretrain_steps": 2000,
    "pretrain_lr": 0.001,
}


_FIELDS = {f.name: f for f in dataclasses.fields(FitConfig)}


def task_defaults(task: str = "sign") -> dict[str, Any]:
    """The defaults of one task: the common keys and those of its table (``lr`` is 0.001 for the
    sign fit, 0.02 for VMC), as ``--help`` shows them.

    Raises:
        ConfigError: an unknown task.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {TASKS}")
    defaults = {**FitConfig().to_dict(all_keys=True), **TASK_DEFAULTS.get(task, {}), "task": task}
    return {k: defaults[k] for k in (*COMMON_KEYS, *TASK_KEYS[task])}


def _table_of(key: str) -> str:
    """Where a key belongs in a config file: ``top level``, ``[sign]``, ``[vmc]``, ``[sign] or [vmc]``, ``[sweep]``."""
    if key in COMMON_KEYS:
        return "the top level"
    tables = [f"[{t}]" for t, keys in TASK_KEYS.items() if key in keys]
    if tables:
        return " or ".join(tables)
    if key in _SWEEP_FIELDS:
        return f"[{SWEEP_TABLE}]"
    return ""


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML config file (module docstring): :data:`COMMON_KEYS` at the top level,
    tables ``[sign]`` (:data:`SIGN_KEYS`), ``[vmc]`` (:data:`VMC_KEYS`) and ``[sweep]``
    (:class:`SweepConfig` keys and the sweep axes ``j2``, ``eps``, ``model``, ``dilations``; a
    sweep also reads a list on an axis at the top level or in the task's table as that axis).

    Returns:
        The document as read (nested dicts); :func:`config_values` flattens it for one task.

    Raises:
        ConfigError: missing file, malformed TOML, an unknown key, or a key outside its table
            (the old flat form: the message names the table, e.g. ``eps`` belongs in ``[sign]``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML ({err})") from None
    tables = (*TASK_KEYS, SWEEP_TABLE)
    for table in tables:
        if table in data and not isinstance(data[table], dict):
            raise ConfigError(f"{path}: {table!r} must be a table ([{table}]), got {data[table]!r}")
    for key in data:
        if key in tables or key in COMMON_KEYS:
            continue
        where = _table_of(key)
        if where:
            raise ConfigError(
                f"{path}: key {key!r} belongs in the {where} table (config files keep the common keys at "
                f"the top level and the others in [sign], [vmc] and [sweep]); move it there"
            )
        raise ConfigError(
            f"{path}: unknown key {key!r}; known top-level keys: {list(COMMON_KEYS)} and the "
            f"tables {[f'[{t}]' for t in tables]}"
        )
    for table, keys in TASK_KEYS.items():
        for key in data.get(table, {}):
            if key not in keys:
                where = _table_of(key)
                hint = f"it belongs in {where}" if where else f"known keys of [{table}]: {list(keys)}"
                raise ConfigError(f"{path}: unknown key {key!r} in [{table}]; {hint}")
    allowed = set(_SWEEP_FIELDS) | set(SWEEP_AXES) | {"out"}
    for key in data.get(SWEEP_TABLE, {}):
        if key not in allowed:
            where = _table_of(key)
            hint = f"it belongs in {where}" if where else f"known keys: {sorted(allowed)}"
            raise ConfigError(f"{path}: unknown key {key!r} in [{SWEEP_TABLE}]; {hint}")
    return data


def config_values(data: dict[str, Any], task: str, sweep: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flatten a config document (:func:`load_toml`) for one task.

    Args:
        data: The document.
        task: ``"sign"`` or ``"vmc"``: the table read besides the top level.
        sweep: Read the ``[sweep]`` table too (a sweep or search); a single run ignores it.

    Returns:
        ``(values, sweep_values)``: FitConfig keys (the top level updated by the task's table and,
        for a sweep, by the axes of ``[sweep]``) and the other keys of ``[sweep]`` (SweepConfig
        keys; ``models`` is read as the ``model`` axis; empty unless ``sweep``).

    Raises:
        ConfigError: an unknown task, a file meant for another task (``task = "vmc"`` given to
            the sign fit), or, for a single run, several values on a sweep axis.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {TASKS}")
    if data.get("task", task) != task:
        raise ConfigError(
            f"this config file is for task {data['task']!r} (task = {data['task']!r}); "
            f"run it with `nqs-dilated {data['task']}` or drop the key"
        )
    values = {k: v for k, v in data.items() if k in COMMON_KEYS}
    if task == "vmc":  # the sign fit of a chain (sign_source or sign_prior "fit") reads [sign]
        sign_table = dict(data.get("sign", {}))
        if "lr" in sign_table:
            sign_table["sign_lr"] = sign_table.pop("lr")
        values.update(sign_table)
    values.update(data.get(task, {}))
    values["task"] = task
    sweep_values = dict(data.get(SWEEP_TABLE, {})) if sweep else {}
    if "models" in sweep_values:
        sweep_values["model"] = sweep_values.pop("models")
    axes = {k: sweep_values.pop(k) for k in SWEEP_AXES if k in sweep_values}
    values = {**values, **axes}
    if not sweep:
        for key in SWEEP_AXES:
            if _axis(values, key) is not None:
                raise ConfigError(
                    f"{key} = {values[key]!r} holds several values, a sweep: run this file with "
                    "`nqs-dilated sweep` (sweep axes go in the [sweep] table)"
                )
    return values, sweep_values


def resolve(values: dict[str, Any]) -> FitConfig:
    """Build and validate a :class:`FitConfig` from defaults updated by ``values``.

    Raises:
        ConfigError: unknown key or model, several values on a sweep axis (a sweep: use
            :func:`resolve_sweep`), eps outside (0, 1], negative epochs, non-positive sizes,
            non-finite couplings.
    """
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}")
    for key in SWEEP_AXES:
        if _axis(values, key) is not None:
            raise ConfigError(
                f"{key} = {values[key]!r} holds several values, which makes a sweep, not one run: "
                f"run `nqs-dilated sweep` (--{key} on its command line, or {key} in the [{SWEEP_TABLE}] table)"
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
    if cfg.task == "vmc" and not cfg.chains_sign_fit:
        # the sign-fit keys only matter to a chained fit: at their defaults, a [sign] table beside
        # [vmc] in a config file does not change this run's config.json (its identity on resume);
        # a key added later takes the value older run directories implied (left out of config.json)
        for key in CHAIN_FIT_KEYS:
            setattr(cfg, key, ADDED_KEYS.get(key, _FIELDS[key].default))
    return cfg


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


# --- sweeps -------------------------------------------------------------------------------------

#: Name of the TOML table holding the :class:`SweepConfig` keys.
SWEEP_TABLE = "sweep"
#: Where the runs of a sweep execute (see :class:`SweepConfig`).
EXECUTORS = ("local", "slurm", "submitit-local")
#: Hyperparameter searches (``--search``).
SEARCHES = ("dilations",)
#: FitConfig keys that may hold several values in a sweep.
SWEEP_AXES = ("j2", "eps", "model", "dilations")


@dataclass
class SweepConfig:
    """A sweep: the cartesian product ``j2 x eps x model variants x seeds`` of one base :class:`FitConfig`.

    Model variants: every model of ``models``; the ``"dilated"`` model once per stack of
    ``dilations``, the other models once (``"cnn"`` uses dilation 1 everywhere, ``"dense"`` has no
    convolutions). Seeds: ``seed, seed + 1, ..., seed + seeds - 1`` of the base configuration.

    Attributes:
        j2: J2 values (Pauli convention; J1 is the base configuration's), in the order given.
        eps: Training fractions (sign task; one value unless the sweep compares data sizes).
        models: Model names (:data:`MODELS`).
        dilations: Dilation stacks of the ``"dilated"`` model.
        seeds: Seeds per (J2, variant); 0 = default (1 for a sweep, 3 for the comparison that
            closes a search).
        executor: ``"local"`` (parallel processes on this machine, default), ``"slurm"`` (one
            SLURM job per run through ``submitit``), ``"submitit-local"`` (submitit's local
            executor: the submission path without a cluster, for tests and debugging).
        workers: Local executor: parallel runs (0 = as many as the cores and the available memory
            allow; each run gets ``cores // workers`` cores).
        memory_gib: Local executor: memory one run needs, GiB (0 = estimate from the cluster size).
        slurm_partition, slurm_account: SLURM partition and account ("" = cluster default).
        slurm_time_min: SLURM time limit per run, minutes.
        slurm_cpus: CPUs per SLURM task.
        slurm_mem_gib: Memory per SLURM job, GiB.
        slurm_nodes, slurm_tasks_per_node, slurm_gpus_per_node: VMC over several devices: one
            task (process) per device, ``nodes x tasks_per_node`` processes per run joined by
            ``jax.distributed`` (:func:`~nqs_dilated.experiments.executors.execute_run_distributed`);
            default 1, 1, 0 (one process). ``submitit-local`` runs the tasks on this machine.
        search: ``""`` (plain sweep) or ``"dilations"`` (Optuna search over dilation stacks at one
            J2, see :mod:`nqs_dilated.experiments.search`).
        trials: Search budget in trials, counting finished trials of a resumed study (0 = none).
        minutes: Search budget in minutes of this invocation (0 = none). With neither budget, 20 trials.
        search_depth: Smallest and largest number of layers searched.
        search_kernel: Smallest and largest kernel size searched.
        search_max_dilation: Largest dilation searched (the receptive-field rule of the cluster,
            ``dilation * (kernel - 1) <= max(L1, L2)``, may lower it).
        search_channels: Channel counts searched (the same count in every layer).
        out: Sweep directory (default ``runs/sweep_<lattice>_<task>[_eps=<eps>]`` or
            ``runs/search_<lattice>_j2=<j2>_eps=<eps>``).
    """

    j2: tuple[float, ...] = (1.0,)
    eps: tuple[float, ...] = (0.01,)
    models: tuple[str, ...] = ("dilated",)
    dilations: tuple[tuple[int, ...], ...] = ((1, 2, 3),)
    seeds: int = 0
    executor: str = "local"
    workers: int = 0
    memory_gib: float = 0.0
    slurm_partition: str = ""
    slurm_account: str = ""
    slurm_time_min: int = 120
    slurm_cpus: int = 1
    slurm_mem_gib: float = 8.0
    slurm_nodes: int = 1
    slurm_tasks_per_node: int = 1
    slurm_gpus_per_node: int = 0
    search: str = ""
    trials: int = 0
    minutes: float = 0.0
    search_depth: tuple[int, int] = (2, 5)
    search_kernel: tuple[int, int] = (2, 3)
    search_max_dilation: int = 3
    search_channels: tuple[int, ...] = (8, 16, 32)
    out: str | None = None

    @property
    def n_seeds(self) -> int:
        """Seeds per point: ``seeds``, or its default (1 for a sweep, 3 after a search)."""
        return self.seeds or (3 if self.search else 1)

    def default_out(self, base: FitConfig) -> str:
        name = Path(base.lattice).stem
        if self.search:
            return f"runs/search_{name}_j2={self.j2[0]:g}_eps={base.eps:g}"
        eps = f"_eps={'-'.join(f'{e:g}' for e in self.eps)}" if base.task == "sign" else ""
        return f"runs/sweep_{name}_{base.task}{eps}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        return d


_SWEEP_FIELDS = {f.name: f for f in dataclasses.fields(SweepConfig)}


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


def _axis(values: dict[str, Any], key: str) -> tuple | None:
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


def is_sweep(values: dict[str, Any], sweep_values: dict[str, Any]) -> bool:
    """Whether ``values`` (FitConfig keys) and ``sweep_values`` (SweepConfig keys) ask for a sweep:
    several values on an axis, or any sweep key at all."""
    return bool({k: v for k, v in sweep_values.items() if v is not None}) or any(
        _axis(values, k) is not None for k in SWEEP_AXES
    )


def resolve_sweep(values: dict[str, Any], sweep_values: dict[str, Any]) -> tuple[dict[str, Any], SweepConfig]:
    """Split and validate a sweep: the base FitConfig values and the :class:`SweepConfig`.

    Args:
        values: FitConfig keys, where ``j2`` may be a number, a list or a range string, ``eps`` a
            number, a list or ``"a,b"``, ``model`` a name, a list or ``"a,b"``, and ``dilations``
            one stack or a list of stacks.
        sweep_values: SweepConfig keys (from the ``[sweep]`` table and the flags; None = default).

    Returns:
        ``(base, sweep)``: the FitConfig values without the axes (``out`` goes to the sweep), and
        the sweep. Every run configuration of the product is validated with :func:`resolve`.

    Raises:
        ConfigError: an unknown key, a bad axis, executor, budget or resource, a search with
            several J2 values or another task than ``sign``, or any run configuration that
            :func:`resolve` rejects.
    """
    unknown = set(sweep_values) - set(_SWEEP_FIELDS) - set(SWEEP_AXES) - {"out"}
    if unknown:
        raise ConfigError(f"unknown sweep keys {sorted(unknown)}; known keys: {sorted(_SWEEP_FIELDS)}")
    values = dict(values)
    sweep_values = {k: v for k, v in sweep_values.items() if v is not None}
    defaults = FitConfig()
    j2 = _axis(values, "j2") or (float(j2_values(values.get("j2", defaults.j2))),)
    models = _axis(values, "model") or (values.get("model") or defaults.model,)
    eps = _axis(values, "eps") or (float(values.get("eps", defaults.eps)),)
    stacks = _axis(values, "dilations") or (tuple(values.get("dilations") or ()),)
    if stacks == ((),):  # the cluster's default stack (default_dilations)
        probe = {k: v for k, v in values.items() if k not in SWEEP_AXES}
        stacks = (resolve({**probe, "model": "dilated"}).dilations,)
    out = sweep_values.pop("out", None) or values.pop("out", None)
    for key in SWEEP_AXES:
        if key != "eps" or len(eps) > 1:  # a single eps stays in the base configuration
            values.pop(key, None)
    sweep = SweepConfig(j2=tuple(j2), eps=tuple(eps), models=tuple(models), dilations=tuple(stacks), out=out)
    if sweep_values.get("seeds") == 0:  # given, not the unset default
        raise ConfigError("seeds must be >= 1 (--seeds N, or seeds = N in [sweep]; leave it out for the default)")
    for key, value in sweep_values.items():
        if key in SWEEP_AXES:
            continue
        default = getattr(sweep, key)
        try:
            if isinstance(value, bool) or (isinstance(value, str) and not isinstance(default, str)):
                raise ValueError
            if isinstance(default, tuple):
                value = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
            elif isinstance(default, int):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"sweep key {key} has the wrong type: {value!r} (default {default!r})") from None
        setattr(sweep, key, value)
    _validate_sweep(sweep, values)
    for j2_value in sweep.j2:  # every run configuration of the product must be valid
        for model in sweep.models:
            for stack in sweep.dilations if model == "dilated" else (sweep.dilations[0],):
                for eps_value in sweep.eps:
                    resolve({**values, "j2": j2_value, "eps": eps_value, "model": model, "dilations": stack})
    return values, sweep


def _validate_sweep(sweep: SweepConfig, values: dict[str, Any]) -> None:
    if len(set(sweep.eps)) != len(sweep.eps):
        raise ConfigError(f"eps values must not repeat, got {sweep.eps}")
    if len(sweep.eps) > 1 and values.get("task", "sign") != "sign":
        raise ConfigError("several eps values make a sign-fit sweep; drop --task vmc")
    if len(set(sweep.j2)) != len(sweep.j2) or len(set(sweep.models)) != len(sweep.models):
        raise ConfigError(f"j2 and model values must not repeat, got j2 {sweep.j2}, models {sweep.models}")
    if len(set(sweep.dilations)) != len(sweep.dilations):
        raise ConfigError(f"dilation stacks must not repeat, got {sweep.dilations}")
    if sweep.seeds < 0:
        raise ConfigError(f"seeds must be >= 1 (0 = default), got {sweep.seeds}")
    if sweep.executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {sweep.executor!r}; use one of {EXECUTORS}")
    if sweep.workers < 0 or sweep.memory_gib < 0:
        raise ConfigError(
            f"workers and memory per run must be >= 0 (0 = automatic), got {sweep.workers}, {sweep.memory_gib}"
        )
    if sweep.slurm_nodes < 1 or sweep.slurm_tasks_per_node < 1 or sweep.slurm_gpus_per_node < 0:
        raise ConfigError("slurm nodes and tasks per node must be >= 1, gpus per node >= 0")
    if sweep.slurm_nodes * sweep.slurm_tasks_per_node > 1 and (
        sweep.executor == "local" or values.get("task", "sign") != "vmc"
    ):
        raise ConfigError(
            "several tasks per run (slurm_nodes, slurm_tasks_per_node) need --task vmc and a submitit executor"
        )
    if sweep.slurm_time_min <= 0 or sweep.slurm_cpus <= 0 or not sweep.slurm_mem_gib > 0:
        raise ConfigError("slurm time, cpus and memory must be positive")
    if sweep.search:
        if sweep.search not in SEARCHES:
            raise ConfigError(f"unknown search {sweep.search!r}; use one of {SEARCHES}")
        if len(sweep.j2) != 1 or len(sweep.eps) != 1:
            raise ConfigError(
                f"a search runs at one J2 and one eps value, got {len(sweep.j2)} and {len(sweep.eps)}: give --j2 VALUE --eps VALUE"
            )
        if values.get("task", "sign") != "sign":
            raise ConfigError("the dilation search optimises the sign task; drop --task vmc")
        if sweep.models != ("dilated",):
            raise ConfigError(f"the dilation search uses the dilated model, got models {sweep.models}; drop --model")
        if sweep.trials < 0 or sweep.minutes < 0:
            raise ConfigError(f"search budget must be >= 0, got trials {sweep.trials}, minutes {sweep.minutes}")
        depth, kernel = sweep.search_depth, sweep.search_kernel
        if len(depth) != 2 or not 1 <= depth[0] <= depth[1]:
            raise ConfigError(f"search depth must be two integers 1 <= min <= max, e.g. 2,5; got {depth}")
        if len(kernel) != 2 or not 2 <= kernel[0] <= kernel[1]:
            raise ConfigError(f"search kernel must be two integers 2 <= min <= max, e.g. 2,3; got {kernel}")
        if sweep.search_max_dilation < 1 or not sweep.search_channels or min(sweep.search_channels) < 1:
            raise ConfigError("search dilations and channels must be positive")
