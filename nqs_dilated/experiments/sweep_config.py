"""Sweep configurations: the cartesian product of one base run over J2/J1, eps, models, seeds.

:class:`SweepConfig` holds the keys of the ``[sweep]`` table (where the runs execute, how many
seeds); :func:`resolve_sweep` splits command-line and file values into the base configuration
(:class:`~nqs_dilated.experiments.config.FitConfig` keys) and the sweep, and validates both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SWEEP_AXES, ConfigError, FitConfig
from .resolve import axis_values, j2_values, resolve
from .specs import RunSpec

__all__ = ["EXECUTORS", "SEARCHES", "SWEEP_TABLE", "SweepConfig", "is_sweep", "resolve_sweep"]

#: Name of the TOML table holding the :class:`SweepConfig` keys.
SWEEP_TABLE = "sweep"
#: Where the runs of a sweep execute (see :class:`SweepConfig`).
EXECUTORS = ("local", "slurm", "submitit-local")
#: Hyperparameter searches (``--search``).
SEARCHES = ("dilations",)


@dataclass
class SweepConfig:
    """A sweep: the cartesian product ``j2 x eps x model variants x seeds`` of one base :class:`~nqs_dilated.experiments.config.FitConfig`.

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

    def default_out(self, base: RunSpec) -> str:
        """``runs/sweep_<cluster>_<task>[_eps=<eps>-...]`` (``runs/search_<cluster>_j2=<j2>_eps=<eps>``
        for a search), from the spec of the base configuration."""
        name = Path(base.problem.lattice).stem
        if self.search:
            return f"runs/search_{name}_j2={self.j2[0]:g}_eps={base.sign.eps:g}"
        eps = f"_eps={'-'.join(f'{e:g}' for e in self.eps)}" if base.task == "sign" else ""
        return f"runs/sweep_{name}_{base.task}{eps}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        return d


_SWEEP_FIELDS = {f.name: f for f in dataclasses.fields(SweepConfig)}


def is_sweep(values: dict[str, Any], sweep_values: dict[str, Any]) -> bool:
    """Whether ``values`` (FitConfig keys) and ``sweep_values`` (SweepConfig keys) ask for a sweep:
    several values on an axis, or any sweep key at all."""
    return bool({k: v for k, v in sweep_values.items() if v is not None}) or any(
        axis_values(values, k) is not None for k in SWEEP_AXES
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
    j2 = axis_values(values, "j2") or (float(j2_values(values.get("j2", defaults.j2))),)
    models = axis_values(values, "model") or (values.get("model") or defaults.model,)
    eps = axis_values(values, "eps") or (float(values.get("eps", defaults.eps)),)
    stacks = axis_values(values, "dilations") or (tuple(values.get("dilations") or ()),)
    if stacks == ((),):  # the cluster's default stack (default_dilations)
        probe = {k: v for k, v in values.items() if k not in SWEEP_AXES}
        stacks = (resolve({**probe, "model": "dilated"}).model.dilations,)
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
