"""Sweeps over J2/J1: ED references, then every run of a product of couplings, models and seeds.

``python -m nqs_dilated.fit --j2 0:1.4:0.2 --model dilated,cnn,dense --seeds 3`` plans the
cartesian product ``J2 x eps x variant x seed`` of one base configuration (:class:`SweepPlan`,
:func:`plan_sweep`), computes or loads the exact ground state of every J2 once, in this process,
before any fit starts (:func:`reference_states`; the fits then load it from the store), runs the
fits in a pool of workers (:mod:`nqs_dilated.experiments.executors`), and writes the tables
(:mod:`nqs_dilated.experiments.tables`) and plots (:mod:`nqs_dilated.experiments.plots`).

Sweep directory::

    sweep.json        what the sweep is (base configuration, axes); a rerun must match it
    provenance.json   versions and git revision of the first start
    ed.csv            one row per J2: the exact reference (Pauli convention), sector, ...
    runs/<name>/      one run directory per run (config.json, summary.json, ...; nqs_dilated.experiments.rundir)
    results.csv       one row per finished run (updated after every run)
    summary.md        mean and std over seeds per J2 and model (updated after every run)
    plots/            PNG and PDF figures (at the end; ``python -m nqs_dilated.fit plot DIR``)
    failures.json     runs that raised, with the error (gone once they succeed)
    sweep.jsonl       one line per event: start and end of each invocation ("session-start", "session-end"; wall time), run finished
    jobs/             submitit pickles and job logs (SLURM / submitit executors)

Resuming: run names are fixed by the plan (``j2=<j2>_<variant>_seed=<seed>``), a run directory
with ``summary.json`` is finished and skipped, any other run is (re)done from its start (a VMC
run resumes from its checkpoint). Tables are rebuilt from the run directories, never appended to,
so a result is neither lost nor counted twice. Every file is written atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..ed.ground import ground_state
from ..files import write_atomic
from ..hamiltonian import CONVENTION
from ..lattice import load_lattice
from ..metrics import overlap
from ..models import make_model
from ..models.wavefunction import MarshallSign
from ..provenance import git_revision, package_versions
from . import tables
from .config import FitConfig, SweepConfig, resolve
from .executors import check_executor, make_pool, memory_per_run_gib
from .options import model_options
from .rundir import METRICS, PROVENANCE, SUMMARY, RunDir

__all__ = [
    "PlannedRun",
    "SweepError",
    "SweepEvent",
    "SweepPlan",
    "SweepResult",
    "Variant",
    "plan_runs",
    "plan_sweep",
    "reference_states",
    "run_progress",
    "run_sweep",
    "sweep_lock",
    "write_tables",
]

SWEEP_FILE = "sweep.json"
LOG_FILE = "sweep.jsonl"
FAILURES_FILE = "failures.json"
RUNS_DIR = "runs"
PLOTS_DIR = "plots"
#: Seconds between redrawing the plots while a sweep runs (they are always drawn at the end).
PLOT_EVERY = 600.0


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
    """One run of a sweep: its name (run directory under ``runs/``), coordinates and configuration."""

    name: str
    j2: float
    variant: str
    seed: int
    config: FitConfig
    eps: float | None = None


@dataclass
class SweepPlan:
    """Everything a sweep will run, validated (:func:`plan_sweep`).

    Attributes:
        directory: The sweep directory (absolute).
        base: Base configuration values (FitConfig keys, without the axes).
        sweep: The :class:`~nqs_dilated.experiments.config.SweepConfig`.
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
    def reference(self) -> FitConfig:
        """The configuration of the first run (lattice, couplings, ED settings shared by all)."""
        return self.runs[0].config

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
    cluster = load_lattice(plan.reference.lattice)
    seen = set()
    for run in plan.runs:
        if run.variant in seen:
            continue
        seen.add(run.variant)
        try:
            make_model(run.config.model, cluster, **model_options(run.config))
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
        RunDir(run.config.out, {**run.config.to_dict(), "out": run.config.out})


# --- ED references -------------------------------------------------------------------------------


def marshall_overlap(state, *, n_samples: int = 20_000, seed: int = 0, chunk: int = 1 << 20) -> float:
    """Overlap of the exact signs with the Marshall sign rule, ``sum |psi|^2 s_M s / sum |psi|^2``.

    The Marshall rule (:class:`~nqs_dilated.models.wavefunction.MarshallSign`) is exact at
    J2 = 0, where the J1 bonds form a bipartite square lattice; the overlap measures how far
    frustration has moved the signs away from it. Exact over the whole Sz = 0 space when the
    state can be listed (<= 24 sites), else estimated from ``n_samples`` ``|psi|^2`` draws.
    """
    sign_model = MarshallSign.from_grid(state.cluster.grid)
    if state.enumerable and state.dimension <= 2**24:
        configs, amps = state.enumerate()
        marshall = np.concatenate(
            [np.asarray(sign_model.apply({}, configs[k : k + chunk])) for k in range(0, len(configs), chunk)]
        )
        return overlap(marshall, np.sign(amps), amps**2)
    configs, amps = state.sample(n_samples, np.random.default_rng(seed))
    return float(np.mean(np.asarray(sign_model.apply({}, configs)) * np.sign(amps)))


def reference_states(plan: SweepPlan, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Exact ground state of every J2 of the plan, from the store or computed once, here.

    Uses :func:`nqs_dilated.ed.ground.ground_state` with the plan's lattice, J1, ED method and
    sector, so the runs find the same states in the store. One state is held at a time; the
    J2-independent basis and structure of the symmetric engine are built once for all J2 values
    (``structure_cache``) and released on return, before any run starts.

    Returns:
        One dict per J2 (the rows of ``ed.csv``): ``j2``, ``j1``, ``lattice``, ``n_sites``,
        ``energy`` and ``energy_per_site`` (Pauli convention), ``sector``, ``sector_energies``
        (per-site energies of every sector searched), ``method``, ``residual``, ``gap``,
        ``dimension``, ``marshall_overlap``, ``ed_seconds`` (of the original computation),
        ``convention``, ``store`` (file name).

    Raises:
        ValueError, MemoryError: from the ED (a cluster or sector the route cannot do).
    """
    ref = plan.reference
    cluster = load_lattice(ref.lattice)
    rows = []
    structure_cache: dict = {}
    state = None  # the previous J2's state: Lanczos in its sector starts from it
    for j2 in plan.j2:
        if progress is not None:
            progress(f"exact ground state at J2/J1 = {j2:g}")
        state = ground_state(
            cluster, j2, ref.j1, method=ref.ed_method, sector=ref.sector, structure_cache=structure_cache, initial=state
        )
        info = state.info
        rows.append(
            {
                "j2": float(j2),
                "j1": float(ref.j1),
                "lattice": cluster.name,
                "n_sites": cluster.n_sites,
                "energy": info.energy,
                "energy_per_site": info.energy / cluster.n_sites,
                "sector": info.sector,
                "sector_energies": {k: v / cluster.n_sites for k, v in (info.sector_energies or {}).items()},
                "method": info.method,
                "residual": info.residual,
                "gap": info.gap,
                "dimension": info.dimension,
                "marshall_overlap": marshall_overlap(state),
                "ed_seconds": info.seconds,
                "convention": info.convention,
                "store": Path(state.store_path).name if getattr(state, "store_path", None) else "",
            }
        )
    return rows


# --- progress ------------------------------------------------------------------------------------


def run_progress(config: FitConfig) -> tuple[int, int]:
    """``(done, total)`` steps of a run from its directory: epochs (sign, ``metrics.jsonl``) or
    VMC iterations (``vmc.log``); ``(0, total)`` before it starts."""
    out = Path(config.out)
    if config.task == "vmc":
        try:
            log = json.loads((out / "vmc.log").read_text())
            return len(log["Energy"]["iters"]), config.n_iter
        except (OSError, ValueError, KeyError, TypeError):
            return 0, config.n_iter
    total = config.steps if not config.epochs else 0  # an epoch budget is known once the data is
    try:
        with open(out / METRICS) as f:
            lines = [line for line in f if line.strip()]
        return (json.loads(lines[-1]).get("step", len(lines)) if lines else 0), total
    except (OSError, ValueError):
        return 0, total


@dataclass
class SweepEvent:
    """What a sweep reports to its ``progress`` callback.

    Attributes:
        kind: ``"ed"`` (a reference state is being prepared; ``message``), ``"start"`` (runs are
            about to start; ``pool``), ``"tick"`` (periodic), ``"finished"``, ``"failed"``
            (``run``, ``summary`` or ``error``), ``"tables"``, ``"done"``.
        total, finished, failed: Runs in the sweep, finished (including those found finished),
            failed in this invocation (a run of the sweep command).
        found_finished: Runs already finished when this invocation started.
        running: ``(name, step, steps)`` of every run in flight.
        elapsed: Seconds since the runs started in this invocation.
        eta: Estimated seconds to the end (finished runs per second so far), or None.
    """

    kind: str
    total: int = 0
    finished: int = 0
    failed: int = 0
    found_finished: int = 0
    running: list[tuple[str, int, int]] = field(default_factory=list)
    elapsed: float = 0.0
    eta: float | None = None
    run: str | None = None
    summary: dict | None = None
    error: str | None = None
    message: str | None = None
    pool: dict | None = None


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`.

    Attributes:
        directory: The sweep directory.
        total, finished: Runs planned and finished (all invocations).
        ran: Runs finished in this invocation.
        failures: ``{run name: error}`` of runs that raised in this invocation.
        seconds: Wall time of this invocation; ``total_seconds``: of all invocations (``sweep.jsonl``).
        summary_text: The text of ``summary.md``.
        plots: Plot files written.
    """

    directory: Path
    total: int
    finished: int
    ran: int
    failures: dict[str, str]
    seconds: float
    total_seconds: float
    summary_text: str
    plots: list[Path] = field(default_factory=list)


# --- the sweep -----------------------------------------------------------------------------------


@contextlib.contextmanager
def sweep_lock(directory: Path):
    """Hold the lock of a sweep (or search) directory, creating it: one process works in it at a time.

    Raises:
        SweepError: another process holds the lock.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".sweep.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(f"another sweep process is working in {directory}; wait for it or stop it") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _log(directory: Path, record: dict[str, Any]) -> None:
    with open(directory / LOG_FILE, "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}) + "\n")


def _session_seconds(directory: Path) -> float:
    """Wall time of all sessions from ``sweep.jsonl`` (a killed session counts to its last event)."""
    total, start, last = 0.0, None, None
    try:
        lines = (directory / LOG_FILE).read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "session-start":
            if start is not None and last is not None:
                total += last - start
            start = last = rec.get("clock")
        elif start is not None and "clock" in rec:
            last = rec["clock"]
    if start is not None and last is not None:
        total += last - start
    return total


def _finished_rows(plan: SweepPlan) -> list[dict[str, Any]]:
    rows = []
    for run in plan.runs:
        path = Path(run.config.out) / SUMMARY
        if path.exists():
            rows.append(
                {
                    "run": run.name,
                    "variant": run.variant,
                    "config": {**run.config.to_dict(), "out": run.config.out},
                    "summary": json.loads(path.read_text()),
                }
            )
    return rows


def write_tables(plan: SweepPlan, ed_rows: list[dict[str, Any]] | None = None) -> str:
    """Rebuild ``results.csv`` and ``summary.md`` (and ``ed.csv`` when ``ed_rows`` is given)
    from the run directories; returns the text of ``summary.md``."""
    d = plan.directory
    if ed_rows is not None:
        tables.write_csv(tables.ed_frame(ed_rows), d / tables.ED_FILE)
    results = tables.results_frame(_finished_rows(plan), d)
    tables.write_csv(results, d / tables.RESULTS_FILE)
    ed = tables.read_ed(d)
    ref = plan.reference
    header = {"lattice": Path(ref.lattice).stem, "J1": ref.j1}
    if ref.task == "sign":
        header["eps"] = ", ".join(f"{e:g}" for e in plan.sweep.eps) if len(plan.sweep.eps) > 1 else ref.eps
        header["eps relative to"] = ref.eps_relative_to
        header["split"] = (
            f"{ref.split} (validation and test sets share no orbit of space group x spin inversion "
            "with the training set)"
            if ref.split == "orbits"
            else f"{ref.split} (test sets hold symmetry images of training configurations)"
        )
    else:
        header["mode"] = ref.mode
    text = tables.render_summary(results, ed, task=ref.task, header=header, n_planned=len(plan.runs))
    write_atomic(d / tables.SUMMARY_FILE, text)
    return text


def _draw(plan: SweepPlan) -> list[Path]:
    from .plots import plot_sweep

    return plot_sweep(plan.directory)


def run_sweep(
    plan: SweepPlan,
    *,
    progress: Callable[[SweepEvent], None] | None = None,
    poll: float = 1.0,
    plots: bool = True,
) -> SweepResult:
    """Run every unfinished run of ``plan``; write tables and plots.

    Order: exact references for every J2 (this process, one at a time), the sweep files, then the
    runs in a pool of ``plan.sweep.executor`` (at most ``pool.capacity`` in flight), tables after
    every finished run, plots at the end (and every :data:`PLOT_EVERY` seconds). A run that raises
    is recorded in ``failures.json`` and the others go on.

    Args:
        plan: From :func:`plan_sweep` (or :func:`plan_runs`).
        progress: Called with a :class:`SweepEvent` on every event and about every ``poll`` seconds.
        poll: Seconds between checks of the runs in flight.
        plots: Draw the plots.

    Returns:
        :class:`SweepResult`.

    Raises:
        SweepError: another process is working in the sweep directory.
        ValueError, MemoryError: from the exact diagonalization.
    """
    emit = progress or (lambda event: None)
    d = plan.directory
    t_start, clock_start = time.perf_counter(), time.time()
    ed_rows = reference_states(plan, progress=lambda m: emit(SweepEvent("ed", total=len(plan.runs), message=m)))
    with sweep_lock(d):
        if not (d / SWEEP_FILE).exists():
            write_atomic(
                d / PROVENANCE,
                json.dumps(
                    {
                        "versions": package_versions(),
                        "git_revision": git_revision(),
                        "convention": CONVENTION,
                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    },
                    indent=2,
                ),
            )
        if not (d / SWEEP_FILE).exists() or plan.extend:
            write_atomic(d / SWEEP_FILE, json.dumps(plan.record(), indent=2))
        summary_text = write_tables(plan, ed_rows)
        pending = [run for run in plan.runs if not (Path(run.config.out) / SUMMARY).exists()]
        found = len(plan.runs) - len(pending)
        failures: dict[str, str] = {}
        _log(
            d,
            {
                "event": "session-start",
                "clock": clock_start,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "pending": len(pending),
                "total": len(plan.runs),
            },
        )
        ran = 0
        drawn: list[Path] = []
        if pending:
            memory = plan.sweep.memory_gib or memory_per_run_gib(
                load_lattice(plan.reference.lattice).n_sites, plan.reference.task
            )
            pool, pool_info = make_pool(plan.sweep, d, len(pending), memory)
            _log(d, {"event": "pool", "clock": time.time(), **pool_info})
            t_runs = time.perf_counter()
            last_plot = time.perf_counter()
            queue = deque(pending)
            in_flight: dict[Any, PlannedRun] = {}

            def event(kind: str, **kw) -> SweepEvent:
                elapsed = time.perf_counter() - t_runs
                done = len(plan.runs) - len(queue) - len(in_flight) - len(failures)
                eta = elapsed / ran * (len(queue) + len(in_flight)) if ran else None
                running = [(r.name, *run_progress(r.config)) for r in in_flight.values()]
                return SweepEvent(
                    kind,
                    total=len(plan.runs),
                    finished=done,
                    failed=len(failures),
                    found_finished=found,
                    running=running,
                    elapsed=elapsed,
                    eta=eta,
                    **kw,
                )

            emit(event("start", pool=pool_info))
            completed, broken = False, False
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < pool.capacity and not broken:
                        run = queue.popleft()
                        in_flight[pool.submit({**run.config.to_dict(), "out": run.config.out})] = run
                    finished_now = [h for h in in_flight if h.done()]
                    for handle in finished_now:
                        run = in_flight.pop(handle)
                        try:
                            summary = handle.result()
                        except Exception as err:  # noqa: BLE001 - recorded, the sweep goes on
                            if isinstance(err, BrokenProcessPool):  # a worker died (killed, out of memory)
                                broken = True
                                err = RuntimeError("the worker process died (killed or out of memory?)")
                            failures[run.name] = f"{type(err).__name__}: {err}"
                            _write_failures(d, failures, plan)
                            _log(
                                d,
                                {
                                    "event": "run-failed",
                                    "clock": time.time(),
                                    "run": run.name,
                                    "error": failures[run.name],
                                },
                            )
                            emit(event("failed", run=run.name, error=failures[run.name]))
                            continue
                        ran += 1
                        _write_failures(d, failures, plan)
                        summary_text = write_tables(plan)
                        _log(
                            d,
                            {
                                "event": "run-finished",
                                "clock": time.time(),
                                "run": run.name,
                                "seconds": summary.get("seconds"),
                            },
                        )
                        emit(event("finished", run=run.name, summary=summary))
                        if plots and time.perf_counter() - last_plot > PLOT_EVERY:
                            drawn = _draw(plan)
                            last_plot = time.perf_counter()
                    if broken and not in_flight:  # start a fresh pool for the rest
                        pool.shutdown(cancel=True)
                        pool, pool_info = make_pool(plan.sweep, d, len(queue), memory)
                        _log(d, {"event": "pool", "clock": time.time(), **pool_info})
                        broken = False
                    if not finished_now:
                        time.sleep(poll)
                        emit(event("tick"))
                completed = True
            finally:
                pool.shutdown(cancel=not completed)
        else:
            _write_failures(d, failures, plan)
        summary_text = write_tables(plan)
        emit(SweepEvent("tables", total=len(plan.runs)))
        if plots:
            drawn = _draw(plan)
        seconds = time.perf_counter() - t_start
        _log(d, {"event": "session-end", "clock": time.time(), "ran": ran, "failed": len(failures), "seconds": seconds})
    finished = sum(1 for run in plan.runs if (Path(run.config.out) / SUMMARY).exists())
    result = SweepResult(d, len(plan.runs), finished, ran, failures, seconds, _session_seconds(d), summary_text, drawn)
    emit(SweepEvent("done", total=len(plan.runs), finished=finished, failed=len(failures), found_finished=found))
    return result


def _write_failures(directory: Path, failures: dict[str, str], plan: SweepPlan) -> None:
    """Keep ``failures.json`` to the runs that failed and have not finished since."""
    path = directory / FAILURES_FILE
    old = json.loads(path.read_text()) if path.exists() else {}
    merged = {**old, **failures}
    merged = {name: err for name, err in merged.items() if not (directory / RUNS_DIR / name / SUMMARY).exists()}
    if merged:
        write_atomic(path, json.dumps(merged, indent=2, sort_keys=True))
    else:
        path.unlink(missing_ok=True)
