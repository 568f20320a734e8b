"""``python -m nqs_dilated.fit``: learn the sign structure of an exact ground state.

With no arguments: ``triangular-4x6`` at J2/J1 = 1.0, the dilated invariant CNN, eps = 0.01
(Schurov et al., arXiv:2406.08318; protocol of Westerhout et al., Nat. Commun. 11, 1593, 2020).
A TOML config file may be given as the first argument; flags override it. Writes a run directory
(:mod:`nqs_dilated.rundir`) and prints a table of the test metrics. Bad input exits with status 2
and writes nothing.

Sweeps (:mod:`nqs_dilated.drivers.sweep`): ``--j2`` as a range ``0:1.4:0.2`` or a list
``0,0.5,1``, ``--model`` as a list ``dilated,cnn``, ``--dilations`` given more than once, or
``--seeds N`` run the cartesian product in a sweep directory and print the summary table.
``--search dilations`` runs the Optuna search over dilation stacks (:mod:`nqs_dilated.drivers.search`).
``python -m nqs_dilated.fit plot SWEEP_DIR`` redraws a sweep's plots from its files.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..config import (
    EXECUTORS,
    MODELS,
    SEARCHES,
    SWEEP_TABLE,
    ConfigError,
    FitConfig,
    SweepConfig,
    is_sweep,
    j2_values,
    load_toml,
    resolve,
    resolve_sweep,
)
from ..lattice import LatticeError
from ..rundir import RunDirError
from ..symmetry import SymmetryError
from .common import fail, peak_rss_gib


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _int_pair(text: str) -> list[int]:
    values = _int_list(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two comma-separated integers MIN,MAX, got {text!r}")
    return values


#: SweepConfig fields set by flags (the axes j2, model, dilations are FitConfig flags).
SWEEP_FLAGS = (
    "seeds", "executor", "workers", "memory_gib", "slurm_partition", "slurm_account", "slurm_time_min",
    "slurm_cpus", "slurm_mem_gib", "search", "trials", "minutes", "search_depth", "search_kernel",
    "search_max_dilation", "search_channels",
)


def build_parser() -> argparse.ArgumentParser:
    d = FitConfig()
    sw = SweepConfig()
    p = argparse.ArgumentParser(
        prog="python -m nqs_dilated.fit",
        description="Fit the ground-state sign structure of the anisotropic triangular J1-J2 "
        "model with invariant dilated CNNs (energies in the Pauli convention).",
    )
    p.add_argument("config", nargs="?", help="TOML config file (keys as the long options, with _)")
    p.add_argument("--lattice", help=f"cluster name or TOML path (default {d.lattice})")
    p.add_argument("--j2", help=f"J2/J1 (default {d.j2}); a range START:STOP:STEP (stop included) or a list A,B,C runs a sweep")
    p.add_argument("--j1", type=float, help=f"J1 (default {d.j1})")
    p.add_argument("--model", help=f"one of {', '.join(MODELS)} (default {d.model}); a list A,B runs a sweep")
    p.add_argument("--channels", type=_int_list, help="channels per layer, e.g. 32,32,32")
    p.add_argument("--kernel-size", type=int, help=f"kernel size (default {d.kernel_size})")
    p.add_argument("--dilations", type=_int_list, action="append",
                   help="dilation per layer, e.g. 1,2,3; give it again (--dilations 1,1,1 --dilations 1,2,3) to sweep stacks")
    p.add_argument("--residual", action=argparse.BooleanOptionalAction, default=None, help="residual connections")
    p.add_argument("--hidden", type=_int_list, help="hidden sizes of the dense model (default 512)")
    p.add_argument("--eps", help=f"training fraction (default {d.eps}); a list A,B runs a sweep")
    p.add_argument("--eps-relative-to", help="what eps is a fraction of: sz0 (default, C(N,N/2)) or representatives")
    p.add_argument("--steps", type=int, help=f"sign fit: budget in Adam steps (default {d.steps})")
    p.add_argument("--epochs", type=float, help="sign fit: budget in passes over the training set instead of --steps (default: use --steps)")
    p.add_argument("--patience", type=int, help=f"sign fit: stop after this many Adam steps without a lower validation loss (default {d.patience}; 0 = never)")
    p.add_argument("--eval-every", type=int, help="sign fit: Adam steps between validations (default: steps/100)")
    p.add_argument("--batch-size", type=int, help="sign fit: samples per Adam step (default: n_train/16 rounded down to a power of two, within [32, 8192])")
    p.add_argument("--lr", type=float, help=f"learning rate: Adam for the sign fit (default {d.lr}), SGD step of SR for --task vmc (default 0.02)")
    p.add_argument("--seed", type=int, help=f"seed (default {d.seed})")
    p.add_argument("--n-test", type=int, help=f"sampled test-set size on large clusters (default {d.n_test})")
    p.add_argument("--ed-method", help="ED route: auto, netket, symmetric")
    p.add_argument("--sector", help="ED sector: auto or a label such as A1+")
    p.add_argument("--out", help="run directory (default under runs/)")
    p.add_argument("--task", help="sign (supervised sign fit, default) or vmc (variational energy)")
    v = p.add_argument_group("vmc (--task vmc)")
    v.add_argument("--mode", help="full (amplitude and phase) or fixed-sign (default full)")
    v.add_argument("--sign-source", help="fixed-sign: exact, marshall or a sign-fit RUN_DIR (default exact)")
    v.add_argument("--sign-prior", help="full mode: marshall (default) or none")
    v.add_argument("--n-iter", type=int, help=f"VMC_SR iterations (default {d.n_iter})")
    v.add_argument("--n-samples", type=int, help=f"samples per iteration (default {d.n_samples})")
    v.add_argument("--n-chains", type=int, help=f"Metropolis chains (default {d.n_chains})")
    v.add_argument("--chunk-size", type=int, help="forward/backward chunk size (default 0: none)")
    v.add_argument("--diag-shift", type=float, help=f"SR diagonal shift (default {d.diag_shift})")
    v.add_argument("--diag-shift-final", type=float, help="final diagonal shift, exponential decay (default 0: constant)")
    v.add_argument("--exact", action=argparse.BooleanOptionalAction, default=None, help="full-sum state (<= 24 sites)")
    v.add_argument("--checkpoint-every", type=int, help=f"iterations between checkpoints (default {d.checkpoint_every})")
    v.add_argument("--timeout", type=float, help="stop after this many seconds; rerun to resume (default 0: none)")
    v.add_argument("--readout-scale", type=float, help=f"std of the initial readout kernel (default {d.readout_scale})")
    v.add_argument("--dtype", help="float64 (default) or float32")
    sg = p.add_argument_group("sweeps (several --j2, --model or --dilations values, or any of these flags)")
    sg.add_argument("--seeds", type=int, help="seeds per point: SEED, SEED+1, ... (default 1; 3 after a search)")
    sg.add_argument("--executor", choices=EXECUTORS, help=f"where runs execute (default {sw.executor}: parallel local processes)")
    sg.add_argument("--workers", type=int, help="local runs in parallel (default 0: as many as cores and memory allow)")
    sg.add_argument("--memory-per-run", dest="memory_gib", type=float, help="GiB one run needs (default: estimated from the cluster)")
    sg.add_argument("--slurm-partition", help="SLURM partition")
    sg.add_argument("--slurm-account", help="SLURM account")
    sg.add_argument("--slurm-time", dest="slurm_time_min", type=int, help=f"SLURM time limit per run, minutes (default {sw.slurm_time_min})")
    sg.add_argument("--slurm-cpus", type=int, help=f"CPUs per SLURM job (default {sw.slurm_cpus})")
    sg.add_argument("--slurm-mem", dest="slurm_mem_gib", type=float, help=f"memory per SLURM job, GiB (default {sw.slurm_mem_gib:g})")
    se = p.add_argument_group("dilation search (--search dilations, one --j2)")
    se.add_argument("--search", choices=SEARCHES, help="Optuna search over dilation stacks on the validation overlap")
    se.add_argument("--trials", type=int, help="budget: trials in the study, resumed ones included (default 20 without --minutes)")
    se.add_argument("--minutes", type=float, help="budget: minutes of this invocation")
    se.add_argument("--search-depth", type=_int_pair, help="layers MIN,MAX (default 2,5)")
    se.add_argument("--search-kernel", type=_int_pair, help="kernel size MIN,MAX (default 2,3)")
    se.add_argument("--search-max-dilation", type=int, help="largest dilation (default 3; the cluster may lower it)")
    se.add_argument("--search-channels", type=_int_list, help="channel counts to choose from (default 8,16,32)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def values_from_args(args: argparse.Namespace) -> tuple[dict, dict]:
    """``(FitConfig values, SweepConfig values)``: the config file updated by the flags given.

    Raises:
        ConfigError: a bad config file or ``--j2`` value.
    """
    values = load_toml(args.config) if args.config else {}
    sweep_values = dict(values.pop(SWEEP_TABLE, {}))
    for key in FitConfig.__dataclass_fields__:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    if args.j2 is not None:  # a number, a list A,B,C or a range START:STOP:STEP
        values["j2"] = j2_values(args.j2)
    if args.eps is not None:  # a number, or a list A,B (a sweep)
        try:
            values["eps"] = float(args.eps) if "," not in args.eps else [float(v) for v in args.eps.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"eps must be a number or a list A,B of numbers, got {args.eps!r}") from None
    if args.dilations is not None:  # one stack, or several (a sweep)
        values["dilations"] = args.dilations[0] if len(args.dilations) == 1 else args.dilations
    for key in SWEEP_FLAGS:
        value = getattr(args, key, None)
        if value is not None:
            sweep_values[key] = value
    return values, sweep_values


def config_from_args(args: argparse.Namespace) -> FitConfig:
    """Defaults, updated by the config file, updated by the flags that were given (one run).

    Raises:
        ConfigError: bad values, or values that ask for a sweep.
    """
    values, sweep_values = values_from_args(args)
    if is_sweep(values, sweep_values):
        raise ConfigError("these settings describe a sweep; run them through main()")
    return resolve(values)


def _print_table(summary: dict) -> None:
    rows = [(split, m) for split, m in summary["metrics"].items()]
    print(f"{'set':<14}{'size':>10}{'accuracy':>11}{'weighted':>11}{'overlap':>10}")
    for split, m in rows:
        print(f"{split:<14}{m['size']:>10}{m['accuracy']:>11.4f}{m['weighted_accuracy']:>11.4f}{m['overlap']:>10.4f}")


_INPUT_ERRORS = (ConfigError, LatticeError, SymmetryError, RunDirError, ValueError, MemoryError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plot"]:
        return plot_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        values, sweep_values = values_from_args(args)
        if is_sweep(values, sweep_values):
            base, sweep = resolve_sweep(values, sweep_values)
        else:
            cfg = resolve(values)
    except ConfigError as err:
        return fail(str(err))
    if is_sweep(values, sweep_values):
        from .sweep import search_main, sweep_main

        return (search_main if sweep.search else sweep_main)(base, sweep, quiet=args.quiet)
    # heavy imports only after the arguments are valid
    if cfg.task == "vmc":
        from ..drivers.vmc_run import run_vmc as run
    else:
        from ..drivers.sign_run import run_sign_fit as run
    if cfg.task == "sign":
        print(
            f"sign fit: {cfg.lattice}  J2/J1 = {cfg.j2:g}  model {cfg.model} {_model_text(cfg)}  eps = {cfg.eps:g} "
            f"({cfg.eps_relative_to})  seed {cfg.seed}",
            flush=True,
        )
        kwargs = {"report": lambda line: print(line, flush=True)}
    else:
        kwargs = {}
    try:
        summary = run(cfg, progress=not args.quiet, **kwargs)
    except _INPUT_ERRORS as err:
        return fail(str(err))
    if summary.get("skipped"):
        print(f"{summary['out']}: already finished (summary.json present); nothing to do")
        return 0
    return _report_vmc(summary) if cfg.task == "vmc" else _report_sign(summary)


def _model_text(cfg) -> str:
    if cfg.model in ("dilated", "cnn"):
        return f"(channels {','.join(map(str, cfg.channels))}, kernel {cfg.kernel_size}, dilations {','.join(map(str, cfg.dilations))})"
    if cfg.model == "dense":
        return f"(hidden {','.join(map(str, cfg.hidden))})"
    return f"(features {','.join(map(str, cfg.channels))})"


def _report_sign(summary: dict) -> int:
    print(
        f"{summary['lattice']}  J2/J1 = {summary['j2']:g}  model {summary['model']} "
        f"({summary['n_params']:,} parameters)  eps = {summary['eps']:g}  n_train = {summary['n_train']:,}"
    )
    b = summary["budget"]
    print(
        f"E_ED = {summary['ed_energy']:.10f} (Pauli; sector {summary['ed_sector']})  {summary['steps_run']:,}/{b['steps']:,} "
        f"Adam steps of batch {b['batch_size']:,}, best at step {summary['best_step']:,} (epoch {summary['best_epoch']:.1f})"
    )
    _print_table(summary)
    print(
        f"Marshall sign rule on the same test set: accuracy {summary['marshall_test_accuracy']:.4f}, "
        f"overlap {summary['marshall_test_overlap']:.4f}"
    )
    print(f"{summary['seconds']:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {summary['out']}")
    return 0


def _report_vmc(s: dict) -> int:
    sign = f" sign {s['sign_source']}" if s["mode"] == "fixed-sign" else f" prior {s['sign_prior']}"
    print(
        f"{s['lattice']}  J2/J1 = {s['j2']:g}  VMC {s['mode']}{sign}  model {s['model']} "
        f"({s['n_params']:,} parameters)  {s['n_samples']} samples  {s['steps_done']}/{s['n_iter']} iterations "
        f"({s['sr_mode']}, {s['seconds_per_iter']:.3f} s/it)"
    )
    print(
        f"E_var = {s['energy']:.6f} +- {s['energy_error']:.6f}  var {s['variance']:.4g}  R_hat {s['r_hat']:.4f}  "
        f"(Pauli convention)"
    )
    line = f"E_ED  = {s['ed_energy']:.6f}  relative error {s['relative_error']:.3e}"
    if "fidelity" in s:
        line += f"  fidelity {s['fidelity']:.6f}"
    print(line)
    if s["status"] != "finished":
        print(f"stopped early: {s['status']}" + ("; rerun the same command to resume" if s["status"] == "timeout" else ""))
    print(f"{s['seconds']:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {s['out']}")
    return 0 if s["status"] != "invalid_loss" else 1


def plot_main(argv: list[str]) -> int:
    """``python -m nqs_dilated.fit plot SWEEP_DIR [--frustrated LO,HI]``: redraw a sweep's plots."""
    p = argparse.ArgumentParser(prog="python -m nqs_dilated.fit plot",
                                description="Redraw the plots of a sweep directory from its files (results.csv, ed.csv).")
    p.add_argument("directory", help="sweep directory")
    p.add_argument("--frustrated", help="J2/J1 interval LO,HI to shade (default: where the Marshall-sign overlap < 0.9)")
    args = p.parse_args(argv)
    region = None
    if args.frustrated is not None:
        try:
            lo, hi = (float(v) for v in args.frustrated.split(","))
        except ValueError:
            return fail(f"--frustrated must be two numbers LO,HI, got {args.frustrated!r}")
        region = (lo, hi)
    from ..drivers.plots import plot_sweep

    try:
        paths = plot_sweep(args.directory, frustrated=region)
    except FileNotFoundError as err:
        return fail(str(err))
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
