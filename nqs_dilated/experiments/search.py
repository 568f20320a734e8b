"""Search over dilation stacks with Optuna, then the best stack against (1, 1, 1) and (1, 2, 3).

``python -m nqs_dilated.fit --search dilations --lattice triangular-4x6 --j2 1.3 --minutes 60``

Search space (per trial): kernel size ``k`` in ``search_kernel`` (default 2-3), depth in
``search_depth`` (2-5), one dilation per layer in ``1 .. min(search_max_dilation, max(L1, L2) //
(k - 1))`` (the receptive-field rule of :class:`~nqs_dilated.models.InvariantDilatedCNN`: a layer
may not span more than the longest side of the torus), and one channel count for every layer
from ``search_channels``. The first trials of a new study are the references (1, 1, 1) and
(1, 2, 3) with the base kernel size and channels, when they lie in the space.

Objective: the validation overlap (``sum |psi|^2 s_pred s / sum |psi|^2`` on the validation set)
of the supervised sign task at the one J2, trained as :func:`~nqs_dilated.experiments.sign_run.run_sign_fit`
does (same datasets for the base seed, learning rate, batch size, epochs, early stopping) but
without evaluating the test set, which stays unseen until the comparison. Maximised with Optuna's
TPE sampler (seeded with the base seed).

Budget: ``trials`` (total finished trials in the study, resumed ones included) and/or
``minutes`` (this invocation); 20 trials when neither is given.

Storage: Optuna's RDB storage in SQLite, ``<dir>/study.db`` (study ``"dilations"``), with
heartbeats, so a killed search resumes where it stopped (a trial that was running when the
process died is marked failed and retried once). ``<dir>/trials.csv`` lists every trial.

Comparison: the best stack (with its kernel and channels) and the references (1, 1, 1) and
(1, 2, 3) (base kernel and channels) are run on the test set for ``seeds`` seeds (default 3) as a
sweep in ``<dir>/comparison/`` (:mod:`nqs_dilated.experiments.sweep`: ``results.csv``,
``summary.md``, plots); ``<dir>/search.md`` reports the best trial and the comparison.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import make_datasets
from ..ed.ground import ground_state
from ..files import write_atomic
from ..lattice import load_lattice
from ..models import make_model, n_params
from ..symmetry import space_group
from ..training.sign import train_sign
from . import tables
from .resolve import resolve
from .specs import RunSpec
from .sweep import SweepEvent, SweepResult, run_sweep, sweep_lock
from .sweep_config import SweepConfig
from .sweep_plan import SWEEP_FILE, SweepError, SweepPlan, Variant, plan_runs, variant_label

__all__ = ["REFERENCES", "SearchPlan", "SearchResult", "plan_search", "run_search", "search_space"]

#: The reference stacks the best stack is compared with.
REFERENCES = ((1, 1, 1), (1, 2, 3))
STUDY_NAME = "dilations"
STUDY_FILE = "study.db"
DEFAULT_TRIALS = 20


@dataclass
class SearchPlan:
    """A validated search (:func:`plan_search`): its directory, base values and sweep settings."""

    directory: Path
    base: dict[str, Any]
    sweep: SweepConfig
    spec: RunSpec
    space: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """What ``sweep.json`` of the search holds; a resumed search must match it."""
        base = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.base.items()}
        return {
            "kind": "search",
            "search": self.sweep.search,
            "base": base,
            "j2": self.spec.problem.j2,
            "space": self.space,
        }


@dataclass
class SearchResult:
    """Outcome of :func:`run_search`.

    Attributes:
        best: ``{"dilations", "kernel_size", "channels", "value", "number", "label"}`` of the best trial.
        n_trials: Finished trials in the study.
        comparison: The :class:`~nqs_dilated.experiments.sweep.SweepResult` of the test-set comparison.
        report: The text of ``search.md``.
    """

    best: dict[str, Any]
    n_trials: int
    comparison: SweepResult
    report: str


def search_space(config: RunSpec, sweep: SweepConfig) -> dict[str, Any]:
    """The search space on the cluster of ``config``: kernel, depth and channel choices, and the
    largest dilation per kernel size allowed by the receptive-field rule."""
    cluster = load_lattice(config.problem.lattice)
    longest = max(int(cluster.extent[0]), int(cluster.extent[1]))
    kernels = list(range(sweep.search_kernel[0], sweep.search_kernel[1] + 1))
    return {
        "kernel": kernels,
        "depth": list(range(sweep.search_depth[0], sweep.search_depth[1] + 1)),
        "channels": list(sweep.search_channels),
        "max_dilation": {str(k): min(sweep.search_max_dilation, longest // (k - 1)) for k in kernels},
        "max_dilation_any": {str(k): longest // (k - 1) for k in (*kernels, config.model.kernel_size)},
        "lattice_extent": [int(e) for e in cluster.extent],
    }


def plan_search(base: dict[str, Any], sweep: SweepConfig) -> SearchPlan:
    """Validate a search: the base configuration at the one J2, the space, the directory.

    Raises:
        ConfigError, LatticeError, ValueError: a bad configuration or an empty space.
        SweepError: the directory holds something else than this search.
    """
    config = resolve({**base, "j2": sweep.j2[0], "model": "dilated"})
    space = search_space(config, sweep)
    if any(m < 1 for m in space["max_dilation"].values()):
        raise ValueError(
            f"kernel sizes {space['kernel']} do not fit on {config.problem.lattice}; lower --search-kernel"
        )
    directory = Path(sweep.out or sweep.default_out(config)).resolve()
    plan = SearchPlan(directory, dict(base), sweep, config, space)
    if directory.exists() and not directory.is_dir():
        raise SweepError(f"search directory {directory} exists and is not a directory; choose another --out")
    record = directory / SWEEP_FILE
    if record.exists():
        stored = json.loads(record.read_text())
        if stored != json.loads(json.dumps(plan.record())):
            raise SweepError(f"{directory} holds another search or sweep (sweep.json differs); choose another --out")
    elif directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir()):
        raise SweepError(f"search directory {directory} is not empty and holds no search; choose another --out")
    _comparison_plan(plan, None, check=False)  # the references must build on this cluster
    return plan


def _stack_overrides(dilations, kernel: int, width: int) -> dict[str, Any]:
    return {
        "dilations": tuple(int(d) for d in dilations),
        "kernel_size": int(kernel),
        "channels": (int(width),) * len(dilations),
    }


def _reference_variants(plan: SearchPlan) -> list[Variant]:
    """The references with the base kernel size and channel count, leaving out those the
    receptive-field rule forbids on the cluster (e.g. (1, 2, 3) with kernel 3 on a 4x4 torus)."""
    cfg = plan.spec
    width = int(cfg.model.channels[0])
    out = []
    for stack in _valid_references(plan):
        overrides = _stack_overrides(stack, cfg.model.kernel_size, width)
        out.append(Variant(variant_label("dilated", overrides), "dilated", tuple(overrides.items())))
    return out


def _valid_references(plan: SearchPlan) -> list[tuple[int, ...]]:
    limit = plan.space["max_dilation_any"].get(str(plan.spec.model.kernel_size), 0)
    return [stack for stack in REFERENCES if max(stack) <= limit]


def _comparison_plan(plan: SearchPlan, best: dict[str, Any] | None, *, check: bool = True) -> SweepPlan:
    variants = []
    if best is not None:
        overrides = _stack_overrides(best["dilations"], best["kernel_size"], best["channels"])
        variants.append(Variant(variant_label("dilated", overrides), "dilated", tuple(overrides.items())))
    for ref in _reference_variants(plan):
        if all(ref.label != v.label for v in variants):
            variants.append(ref)
    sweep = dataclasses.replace(plan.sweep, j2=(plan.spec.problem.j2,), models=("dilated",))
    return plan_runs(
        plan.base,
        sweep,
        variants,
        plan.directory / "comparison",
        kind="search-comparison",
        extend=True,
        check_directory=check,
    )


def _objective_factory(plan: SearchPlan, datasets, cluster, on_trial, started: float):
    import optuna

    cfg, space = plan.spec, plan.space

    def objective(trial: optuna.Trial) -> float:
        kernel = trial.suggest_int("kernel", space["kernel"][0], space["kernel"][-1])
        depth = trial.suggest_int("depth", space["depth"][0], space["depth"][-1])
        dmax = space["max_dilation"][str(kernel)]
        dilations = tuple(trial.suggest_int(f"d{i}", 1, dmax) for i in range(depth))
        width = trial.suggest_categorical("channels", space["channels"])
        model = make_model(
            "dilated",
            cluster,
            channels=(width,) * depth,
            kernel_size=kernel,
            dilations=dilations,
            residual=cfg.model.residual,
        )
        t0 = time.perf_counter()
        result = train_sign(model, datasets, lr=cfg.sign.lr, **cfg.sign.budget_options(), seed=cfg.seed, progress=False)
        val = result.metrics["val"]
        attrs = {
            "dilations": list(dilations),
            "n_params": n_params(result.params),
            "best_step": result.best_step,
            "val_accuracy": val["accuracy"],
            "val_weighted_accuracy": val["weighted_accuracy"],
            "seconds": time.perf_counter() - t0,
            "label": variant_label("dilated", _stack_overrides(dilations, kernel, width)),
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return float(val["overlap"])

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is None or trial.value is None:
            return
        best = study.best_trial
        complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        on_trial(
            {
                "number": trial.number,
                "value": trial.value,
                "label": trial.user_attrs.get("label", ""),
                "n_params": trial.user_attrs.get("n_params", 0),
                "seconds": trial.user_attrs.get("seconds", 0.0),
                "best_value": best.value,
                "best_label": best.user_attrs.get("label", ""),
                "complete": complete,
                "elapsed": time.perf_counter() - started,
            }
        )

    return objective, callback


def _study(plan: SearchPlan):
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # heartbeats are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = RDBStorage(
            f"sqlite:///{plan.directory / STUDY_FILE}",
            heartbeat_interval=30,
            grace_period=90,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
    sampler = optuna.samplers.TPESampler(seed=plan.spec.seed)
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
    )
    if not study.trials:  # a new study starts from the references
        cfg = plan.spec
        width = int(cfg.model.channels[0])
        for stack in _valid_references(plan):
            if (
                cfg.model.kernel_size in plan.space["kernel"]
                and len(stack) in plan.space["depth"]
                and width in plan.space["channels"]
                and max(stack) <= plan.space["max_dilation"][str(cfg.model.kernel_size)]
            ):
                study.enqueue_trial(
                    {
                        "kernel": cfg.model.kernel_size,
                        "depth": len(stack),
                        "channels": width,
                        **{f"d{i}": d for i, d in enumerate(stack)},
                    }
                )
    return study


def _best(study) -> dict[str, Any]:
    trial = study.best_trial
    p = trial.params
    dilations = [p[f"d{i}"] for i in range(p["depth"])]
    return {
        "number": trial.number,
        "value": trial.value,
        "dilations": dilations,
        "kernel_size": p["kernel"],
        "channels": p["channels"],
        "n_params": trial.user_attrs.get("n_params"),
        "label": variant_label("dilated", _stack_overrides(dilations, p["kernel"], p["channels"])),
    }


def run_search(
    plan: SearchPlan,
    *,
    on_trial: Callable[[dict], None] | None = None,
    progress: Callable[[SweepEvent], None] | None = None,
) -> SearchResult:
    """Run (or resume) the study within its budget, then the test-set comparison.

    Args:
        plan: From :func:`plan_search`.
        on_trial: Called after every finished trial with ``number``, ``value`` (validation
            overlap), ``label``, ``n_params``, ``seconds``, ``best_value``, ``best_label``,
            ``complete``, ``elapsed``.
        progress: Progress callback of the comparison sweep (:func:`~nqs_dilated.experiments.sweep.run_sweep`).

    Returns:
        :class:`SearchResult`.

    Raises:
        SweepError: another process works in the directory. ValueError, MemoryError: from the ED.
    """
    import optuna

    d = plan.directory
    cfg = plan.spec
    cluster = load_lattice(cfg.problem.lattice)
    started = time.perf_counter()
    state = ground_state(
        cluster, cfg.problem.j2, cfg.problem.j1, method=cfg.problem.ed_method, sector=cfg.problem.sector
    )
    with sweep_lock(d):
        if not (d / SWEEP_FILE).exists():
            write_atomic(d / SWEEP_FILE, json.dumps(plan.record(), indent=2))
        study = _study(plan)
        finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        trials = plan.sweep.trials or (None if plan.sweep.minutes else DEFAULT_TRIALS)
        remaining = None if trials is None else max(0, trials - len(finished))
        if remaining is None or remaining > 0:
            full = make_datasets(
                state,
                space_group(cluster),
                cfg.sign.eps,
                seed=cfg.seed,
                n_test=cfg.sign.n_test,
                eps_relative_to=cfg.sign.eps_relative_to,
                split=cfg.sign.split,
            )
            datasets = dataclasses.replace(full, test=None, test_uniform=None, test_weighted=None)
            del full
            objective, callback = _objective_factory(plan, datasets, cluster, on_trial, started)
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=plan.sweep.minutes * 60 or None,
                callbacks=[callback],
                gc_after_trial=True,
            )
        del state
        frame = study.trials_dataframe()
        write_atomic(d / "trials.csv", frame.to_csv(index=False))
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise ValueError("no trial of the search finished; give a larger --minutes or --trials")
        best = _best(study)
    comparison = run_sweep(_comparison_plan(plan, best), progress=progress)
    report = _report(plan, best, len(complete), comparison)
    write_atomic(d / "search.md", report)
    return SearchResult(best, len(complete), comparison, report)


def _report(plan: SearchPlan, best: dict[str, Any], n_trials: int, comparison: SweepResult) -> str:
    cfg = plan.spec
    results = tables.read_results(comparison.directory)
    table = tables.summary_frame(results, "sign")
    if not table.empty and "n_params" in results.columns:
        table.insert(
            2,
            "parameters",
            results.groupby("variant", sort=False)["n_params"].first().reindex(table["variant"]).to_numpy(),
        )
    lines = [
        f"# Dilation search: {Path(cfg.problem.lattice).stem}, J2/J1 = {cfg.problem.j2:g}, eps = {cfg.sign.eps:g}",
        "",
        f"- objective: validation overlap (seed {cfg.seed}), TPE sampler, {n_trials} finished trials (Optuna study {STUDY_FILE})",
        f"- space: kernel {plan.space['kernel']}, depth {plan.space['depth']}, channels {plan.space['channels']}, "
        f"largest dilation per kernel {plan.space['max_dilation']}",
        f"- best: trial {best['number']}, {best['label']}, validation overlap {best['value']}",
        *[
            f"- reference {stack} left out: it breaks the receptive-field rule with kernel {cfg.model.kernel_size} on this cluster"
            for stack in REFERENCES
            if stack not in _valid_references(plan)
        ],
        "",
        "## Test set: best stack against (1, 1, 1) and (1, 2, 3), mean and std over seeds",
        "",
    ]
    names = {"j2": "J2/J1", "variant": "stack", "parameters": "parameters", "seeds": "seeds"}
    formats = ["g", "", "g", "g"]
    for metric, heading, fmt in tables.METRICS["sign"]:
        names[f"{metric} mean"], names[f"{metric} std"] = f"{heading} mean", f"{heading} std"
        formats += [fmt, fmt]
    table = table.drop(columns=["ed_energy_per_site"], errors="ignore")
    lines.append(tables.markdown(table.rename(columns=names), formats[: len(table.columns)]))
    lines += ["", f"Runs: {comparison.directory}/runs; trials: {plan.directory / 'trials.csv'}"]
    return "\n".join(lines) + "\n"
