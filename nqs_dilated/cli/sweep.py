"""The sweep and search front ends of ``python -m nqs_dilated.fit`` (progress, final tables).

Progress: on a terminal, one overall bar (runs done/total, ETA) and one bar per run in flight
(epochs or VMC iterations, read from the run directories); otherwise (a log file) one line per
finished run with the overall count and the ETA. ``--quiet`` prints only the final table.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..experiments.config import ConfigError
from ..experiments.rundir import RunDirError
from ..experiments.sweep_config import SweepConfig
from ..lattice import LatticeError
from ..symmetry import SymmetryError
from .common import fail

_ERRORS = (ConfigError, LatticeError, SymmetryError, RunDirError, ValueError, MemoryError)


def _interval(seconds: float | None) -> str:
    from tqdm import tqdm

    return "?" if seconds is None else tqdm.format_interval(seconds)


class SweepProgress:
    """Renders :class:`~nqs_dilated.experiments.sweep.SweepEvent` objects on stderr (module docstring)."""

    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bars = self.stream.isatty() and not quiet
        self.overall = None
        self.runs: dict[str, Any] = {}

    def __call__(self, event) -> None:
        if self.quiet:
            return
        if event.kind == "ed":
            print(event.message, file=self.stream, flush=True)
        elif event.kind == "start":
            pool = event.pool or {}
            desc = ", ".join(f"{k} {v}" for k, v in pool.items() if k in ("executor", "workers", "cores", "in_flight"))
            print(f"{event.total - event.finished} of {event.total} runs to do ({desc})", file=self.stream, flush=True)
            if self.bars:
                from tqdm import tqdm

                self.overall = tqdm(
                    total=event.total,
                    initial=event.finished,
                    desc="sweep",
                    unit="run",
                    position=0,
                    file=self.stream,
                    dynamic_ncols=True,
                )
        elif event.kind in ("tick", "finished", "failed"):
            if self.bars:
                self._bars(event)
            elif event.kind != "tick":
                self._line(event)

    def _bars(self, event) -> None:
        from tqdm import tqdm

        if self.overall is not None:
            self.overall.n = event.finished
            if event.failed:
                self.overall.set_postfix(failed=event.failed, refresh=False)
            self.overall.refresh()
        live = {name for name, _, _ in event.running}
        for name in list(self.runs):
            if name not in live:
                self.runs.pop(name)[0].close()
        for name, step, steps in event.running:
            if name not in self.runs:
                used = {pos for _, pos in self.runs.values()}
                pos = next(i for i in range(1, len(self.runs) + 2) if i not in used)
                bar = tqdm(
                    total=steps, desc=name, unit="step", position=pos, leave=False, file=self.stream, dynamic_ncols=True
                )
                self.runs[name] = (bar, pos)
            bar = self.runs[name][0]
            if bar.n != step:
                bar.n = step
                bar.refresh()
        if event.kind == "failed":
            tqdm.write(f"failed: {event.run}: {event.error}", file=self.stream)

    def _line(self, event) -> None:
        done = f"[{event.finished}/{event.total}]"
        if event.kind == "failed":
            print(f"{done} FAILED {event.run}: {event.error}", file=self.stream, flush=True)
            return
        r = event.summary
        metric = ""
        if r is not None and r.task == "sign":
            metric = f"test overlap {r.test_overlap:.4f}"
        elif r is not None and r.relative_error is not None:
            metric = f"relative error {r.relative_error:.3e}"
        print(
            f"{done} {event.run}: {metric}, {(r.seconds or 0) if r is not None else 0:.0f} s | elapsed {_interval(event.elapsed)}, "
            f"ETA {_interval(event.eta)}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        for bar, _ in self.runs.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def _report(result, tables: bool = True) -> int:
    if tables:
        print(result.summary_text)
    print(
        f"{result.finished} of {result.total} runs finished ({result.ran} in this invocation); wall time "
        f"{_interval(result.seconds)} this invocation, {_interval(result.total_seconds)} in all invocations"
    )
    print(
        f"-> {result.directory}/results.csv, summary.md"
        + (f", plots/ ({len(result.plots)} files)" if result.plots else "")
    )
    for name, error in result.failures.items():
        print(f"failed: {name}: {error}", file=sys.stderr)
    if result.failures:
        print("rerun the same command to retry the failed runs", file=sys.stderr)
    return 1 if result.failures else 0


def sweep_main(base: dict, sweep: SweepConfig, *, quiet: bool = False) -> int:
    """Plan (exit 2 on bad input, nothing written), run and report a sweep."""
    from ..experiments.sweep import run_sweep
    from ..experiments.sweep_plan import SweepError, plan_sweep

    try:
        plan = plan_sweep(base, sweep)
    except _ERRORS as err:
        return fail(str(err))
    progress = SweepProgress(quiet=quiet)
    try:
        result = run_sweep(plan, progress=progress)
    except (SweepError, ValueError, MemoryError) as err:
        progress.close()
        return fail(str(err))
    except KeyboardInterrupt:
        progress.close()
        print(f"\ninterrupted; rerun the same command to resume {plan.directory}", file=sys.stderr)
        return 130
    progress.close()
    return _report(result)


def search_main(base: dict, sweep: SweepConfig, *, quiet: bool = False) -> int:
    """Plan (exit 2 on bad input), run the dilation search, its comparison, and report."""
    from ..experiments.search import plan_search, run_search
    from ..experiments.sweep_plan import SweepError

    try:
        plan = plan_search(base, sweep)
    except _ERRORS as err:
        return fail(str(err))
    progress = SweepProgress(quiet=quiet)
    t0 = time.perf_counter()

    def on_trial(info: dict) -> None:
        if not quiet:
            print(
                f"trial {info['number']}: {info['label']} ({info['n_params']:,} parameters) validation overlap "
                f"{info['value']:.4f}, {info['seconds']:.0f} s | best {info['best_value']:.4f} ({info['best_label']}) | "
                f"{info['complete']} trials done, elapsed {_interval(time.perf_counter() - t0)}",
                file=sys.stderr,
                flush=True,
            )

    try:
        result = run_search(plan, on_trial=on_trial, progress=progress)
    except (SweepError, ValueError, MemoryError) as err:
        progress.close()
        return fail(str(err))
    except KeyboardInterrupt:
        progress.close()
        print(f"\ninterrupted; rerun the same command to resume {plan.directory}", file=sys.stderr)
        return 130
    progress.close()
    print(result.report)
    return _report(result.comparison, tables=False)
