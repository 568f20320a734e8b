"""The plan of a sweep: its runs (J2 x eps x model variant x seed) and the directory layout.

:func:`plan_sweep` expands one base configuration and a
:class:`~nqs_dilated.experiments.sweep_config.SweepConfig` into :class:`PlannedRun` objects with
fixed names (``j2=<j2>_<variant>_seed=<seed>``), checks the models and the directory (a rerun must
match the ``sweep.json`` it finds) and names the files of a sweep directory
(:mod:`nqs_dilated.experiments.sweep`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..hamiltonian import CONVENTION
from ..lattice import load_lattice
from ..models import FITTED_WITHOUT_NETWORK, make_model
from ..training.walsh import check_size as check_walsh_size
from .executors import check_executor
from .resolve import resolve
from .rundir import RunDir
from .specs import RunSpec
from .sweep_config import SweepConfig

__all__ = [
    "FAILURES_FILE",
    "LOG_FILE",
    "PLOTS_DIR",
    "RUNS_DIR",
    "SWEEP_FILE",
    "PlannedRun",
    "SweepError",
    "SweepPlan",
    "Variant",
    "plan_runs",
    "plan_sweep",
    "sweep_variants",
    "variant_label",
]

#: The files and folders of a sweep directory (:mod:`nqs_dilated.experiments.sweep`).
SWEEP_FILE = "sweep.json"
LOG_FILE = "sweep.jsonl"
FAILURES_FILE = "failures.json"
RUNS_DIR = "runs"
PLOTS_DIR = "plots"


class SweepError(ValueError):
    """The sweep directory holds something else, or another process is working in it."""


@dataclass(frozen=True)
class Variant:
    """A model and the configuration fields it overrides, e.g. ``dilated`` with ``dilations``.

    Attributes:
        label: Name in tables, plots and run names (``"dilated-1-2-3"``, ``"cnn"``).
        model: Model name (:data:`nqs_dilated.experiments.config.MODELS`).
        overrides: ``(field, value)`` pairs applied to the base configuration.
    """

    label: str
    model: str
    overrides: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its name (run directory under ``runs/``), coordinates and spec."""

    name: str
    j2: float
    variant: str
    seed: int
    spec: RunSpec
    eps: float | None = None


@dataclass
class SweepPlan:
    """Everything a sweep will run, validated (:func:`plan_sweep`).

    Attributes:
        directory: The sweep directory (absolute).
        base: Base configuration values (FitConfig keys, without the axes).
        sweep: The :class:`~nqs_dilated.experiments.sweep_config.SweepConfig`.
        variants: Model variants in order.
        runs: Every run, ordered by J2, then variant, then seed.
        kind: ``"sweep"``, or ``"search-comparison"`` for the runs that close a search.
        extend: Accept a directory holding a sweep of the same kind and base configuration but
            other variants or J2 values (``sweep.json`` is rewritten; runs in common are reused).
    """

    directory: Path
    base: dict[str, Any]
    sweep: SweepConfig
    variants: list[Variant]
    runs: list[PlannedRun]
    kind: str = "sweep"
    extend: bool = False

    @property
    def j2(self) -> list[float]:
        return list(dict.fromkeys(run.j2 for run in self.runs))

    @property
    def reference(self) -> RunSpec:
        """The spec of the first run (lattice, couplings, ED settings shared by all)."""
        return self.runs[0].spec

    def record(self) -> dict[str, Any]:
        """What ``sweep.json`` holds and a restart must match: the runs and their configurations."""
        base = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.base.items()}
        return {
            "kind": self.kind,
            "base": base,
            "j2": self.j2,
            **({"eps": list(self.sweep.eps)} if len(self.sweep.eps) > 1 else {}),
            "variants": [
                {
                    "label": v.label,
                    "model": v.model,
                    "overrides": {k: (list(x) if isinstance(x, tuple) else x) for k, x in v.overrides},
                }
                for v in self.variants
            ],
            "seeds": sorted({run.seed for run in self.runs}),
            "runs": [run.name for run in self.runs],
            "convention": CONVENTION,
        }


def variant_label(model: str, overrides: dict[str, Any]) -> str:
    """``"dilated-1-2-3"`` for a dilated model, the model name otherwise; ``_k<kernel>`` and
    ``_c<channels>`` appended when those are overridden."""
    label = model
    if model == "dilated" and "dilations" in overrides:
        label += "-" + "-".join(str(int(d)) for d in overrides["dilations"])
    if "kernel_size" in overrides:
        label += f"_k{int(overrides['kernel_size'])}"
    if "channels" in overrides:
        label += "_c" + "-".join(str(int(c)) for c in overrides["channels"])
    return label


def sweep_variants(sweep: SweepConfig) -> list[Variant]:
    """The variants of a sweep: each model; the dilated model once per dilation stack."""
    out = []
    for model in sweep.models:
        stacks = sweep.dilations if model == "dilated" else (None,)
        for stack in stacks:
            overrides = {"dilations": tuple(stack)} if stack is not None else {}
            out.append(Variant(variant_label(model, overrides), model, tuple(overrides.items())))
    return out


def plan_runs(
    base: dict[str, Any],
    sweep: SweepConfig,
    variants: list[Variant],
    directory: str | os.PathLike,
    *,
    kind: str = "sweep",
    extend: bool = False,
    check_directory: bool = True,
) -> SweepPlan:
    """Plan and validate the product ``sweep.j2 x sweep.eps x variants x seeds`` of ``base``
    (run names carry ``eps=<eps>`` when the sweep has several).

    Validation (nothing is written): the executor can work here; every configuration resolves; every variant builds its
    model on the cluster (receptive-field rule, channel and dilation counts); the sweep
    directory is new, empty, or holds this same sweep (``sweep.json``; with ``extend``, any sweep
    of the same kind and base configuration); no run directory holds another run. Set
    ``check_directory=False`` to skip the directory checks (planning ahead of time).

    Raises:
        ConfigError, LatticeError, ValueError: a bad configuration or model, naming the variant.
        SweepError: the directory holds another sweep or unrelated files.
        RunDirError: a run directory holds another run.
    """
    directory = Path(directory).resolve()
    seed0 = int(resolve(dict(base)).seed)
    runs = []
    several_eps = len(sweep.eps) > 1
    for j2 in sweep.j2:
        for eps in sweep.eps:
            for variant in variants:
                for seed in range(seed0, seed0 + sweep.n_seeds):
                    name = f"j2={j2:g}" + (f"_eps={eps:g}" if several_eps else "") + f"_{variant.label}_seed={seed}"
                    values = {
                        **base,
                        **dict(variant.overrides),
                        "j2": j2,
                        "model": variant.model,
                        "seed": seed,
                        "out": str(directory / RUNS_DIR / name),
                    }
                    if several_eps or "eps" not in base:
                        values["eps"] = eps
                    runs.append(PlannedRun(name, float(j2), variant.label, seed, resolve(values), float(eps)))
    if len({run.name for run in runs}) != len(runs):
        raise ValueError("two runs of the sweep share a name: J2 values must differ at the printed precision")
    plan = SweepPlan(directory, dict(base), sweep, list(variants), runs, kind, extend)
    check_executor(sweep)
    _check_models(plan)
    if check_directory:
        _check_directory(plan)
    return plan


def plan_sweep(base: dict[str, Any], sweep: SweepConfig) -> SweepPlan:
    """The plan of a plain sweep (:func:`sweep_variants`) in ``sweep.out`` or its default directory."""
    directory = sweep.out or sweep.default_out(resolve(dict(base)))
    return plan_runs(base, sweep, sweep_variants(sweep), directory)


def _check_models(plan: SweepPlan) -> None:
    cluster = load_lattice(plan.reference.problem.lattice)
    seen = set()
    for run in plan.runs:
        if run.variant in seen:
            continue
        seen.add(run.variant)
        if run.spec.model.name in FITTED_WITHOUT_NETWORK:
            try:
                check_walsh_size(cluster.n_sites)
            except ValueError as err:
                raise ValueError(f"variant {run.variant}: {err}") from None
            continue
        try:
            make_model(run.spec.model.name, cluster, **run.spec.model.options())
        except ValueError as err:
            raise ValueError(f"variant {run.variant}: {err}") from None


def _check_directory(plan: SweepPlan) -> None:
    d = plan.directory
    if d.exists() and not d.is_dir():
        raise SweepError(f"sweep directory {d} exists and is not a directory; choose another --out")
    record_path = d / SWEEP_FILE
    if d.is_dir() and any(not p.name.startswith(".") for p in d.iterdir()) and not record_path.exists():
        raise SweepError(f"sweep directory {d} is not empty and holds no sweep; choose another --out")
    if record_path.exists():
        stored, record = json.loads(record_path.read_text()), json.loads(json.dumps(plan.record()))
        same_kind = all(stored.get(k) == record[k] for k in ("kind", "base", "convention"))
        if stored != record and not (plan.extend and same_kind):
            changed = sorted(k for k in set(stored) | set(record) if stored.get(k) != record.get(k))
            raise SweepError(
                f"sweep directory {d} holds another sweep (sweep.json differs in {', '.join(changed)}); "
                "choose another --out, or rerun with the same settings to resume"
            )
    for run in plan.runs:
        RunDir(run.spec.out, run.spec)
