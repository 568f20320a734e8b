"""Sweeps over J2/J1: ED references, then every run of a product of couplings, models and seeds.

``python -m nqs_dilated.fit --j2 0:1.4:0.2 --model dilated,cnn,dense --seeds 3`` plans the
cartesian product ``J2 x eps x variant x seed`` of one base configuration (:class:`~nqs_dilated.experiments.sweep_plan.SweepPlan`,
:func:`~nqs_dilated.experiments.sweep_plan.plan_sweep`), computes or loads the exact ground state of every J2 once, in this process,
before any fit starts (:func:`~nqs_dilated.experiments.references.reference_states`; the fits then load it from the store), runs the
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

from ..files import write_atomic
from ..hamiltonian import CONVENTION
from ..lattice import load_lattice
from ..provenance import git_revision, package_versions
from . import tables
from .executors import make_pool, memory_per_run_gib
from .references import reference_states
from .results import SignResult, VmcResult
from .rundir import METRICS, PROVENANCE, SUMMARY
from .specs import RunSpec
from .sweep_plan import (
    FAILURES_FILE,
    LOG_FILE,
    RUNS_DIR,
    SWEEP_FILE,
    PlannedRun,
    SweepError,
    SweepPlan,
)

#: Seconds between redrawing the plots while a sweep runs (they are always drawn at the end).
PLOT_EVERY = 600.0

__all__ = ["PLOT_EVERY", "SweepEvent", "SweepResult", "run_progress", "run_sweep", "sweep_lock", "write_tables"]

# --- progress ------------------------------------------------------------------------------------


def run_progress(spec: RunSpec) -> tuple[int, int]:
    """``(done, total)`` steps of a run from its directory: epochs (sign, ``metrics.jsonl``) or
    VMC iterations (``vmc.log``); ``(0, total)`` before it starts."""
    out = spec.output()
    if spec.task == "vmc":
        try:
            log = json.loads((out / "vmc.log").read_text())
            return len(log["Energy"]["iters"]), spec.vmc.n_iter
        except (OSError, ValueError, KeyError, TypeError):
            return 0, spec.vmc.n_iter
    total = spec.sign.steps if not spec.sign.epochs else 0  # an epoch budget is known once the data is
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
    summary: SignResult | VmcResult | None = None
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
        path = run.spec.output() / SUMMARY
        if path.exists():
            rows.append(
                {
                    "run": run.name,
                    "variant": run.variant,
                    "config": run.spec.flat(),
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
    header = {"lattice": Path(ref.problem.lattice).stem, "J1": ref.problem.j1}
    if ref.task == "sign":
        s = ref.sign
        header["eps"] = ", ".join(f"{e:g}" for e in plan.sweep.eps) if len(plan.sweep.eps) > 1 else s.eps
        header["eps relative to"] = s.eps_relative_to
        header["split"] = (
            f"{s.split} (validation and test sets share no orbit of space group x spin inversion with the training set)"
            if s.split == "orbits"
            else f"{s.split} (test sets hold symmetry images of training configurations)"
        )
    else:
        header["mode"] = ref.vmc.mode
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
        plan: From :func:`~nqs_dilated.experiments.sweep_plan.plan_sweep` (or :func:`~nqs_dilated.experiments.sweep_plan.plan_runs`).
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
        pending = [run for run in plan.runs if not (run.spec.output() / SUMMARY).exists()]
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
                load_lattice(plan.reference.problem.lattice).n_sites, plan.reference.task
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
                running = [(r.name, *run_progress(r.spec)) for r in in_flight.values()]
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
                        in_flight[pool.submit(run.spec.to_json())] = run
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
                                "seconds": summary.seconds,
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
    finished = sum(1 for run in plan.runs if (run.spec.output() / SUMMARY).exists())
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
