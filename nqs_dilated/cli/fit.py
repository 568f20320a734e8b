"""``nqs-dilated sign | vmc | sweep | search | plot``: sign fits, VMC, sweeps and the dilation search.

``nqs-dilated sign`` with no arguments: ``triangular-4x6`` at J2/J1 = 1.0, the dilated invariant
CNN, eps = 0.01 (Schurov et al., arXiv:2406.08318; protocol of Westerhout et al., Nat. Commun. 11,
1593, 2020). A TOML config file (:mod:`nqs_dilated.experiments.config`: common keys at the top level, tables
``[sign]``, ``[vmc]``, ``[sweep]``) may be given as the first argument; flags override it. Writes a
run directory (:mod:`nqs_dilated.experiments.rundir`) and prints a table of the test metrics. Bad input exits
with status 2 and writes nothing. ``nqs-dilated vmc``: the same for VMC (NetKet ``VMC_SR``, minSR).

A single run takes single values: several values on a sweep axis (``--j2 0:1.4:0.2``, ``--model
dilated,cnn``, ``--eps 0.01,0.02``, ``--dilations`` twice) are an error naming ``nqs-dilated
sweep``, which runs the cartesian product in a sweep directory (:mod:`nqs_dilated.experiments.sweep`)
and prints the summary table. ``nqs-dilated search`` runs the Optuna search over dilation stacks
(:mod:`nqs_dilated.experiments.search`); ``nqs-dilated plot SWEEP_DIR`` redraws a sweep's plots.

``python -m nqs_dilated.fit`` is an alias: with a command first it is ``nqs-dilated``, without one
it is ``nqs-dilated sign`` (``--task vmc`` makes it ``nqs-dilated vmc``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..experiments.config import (
    EXECUTORS,
    MODELS,
    ConfigError,
    FitConfig,
    SweepConfig,
    config_values,
    j2_values,
    load_toml,
    resolve,
    resolve_sweep,
    task_defaults,
)
from ..experiments.rundir import RunDirError
from ..lattice import LatticeError
from ..symmetry import SymmetryError
from .common import attach_negative_values, fail, one_line_warnings, peak_rss_gib

#: The commands of ``nqs-dilated`` this module runs (``ed`` is :mod:`nqs_dilated.cli.ed`).
RUN_COMMANDS = ("sign", "vmc", "sweep", "search")
#: What each command does, for ``--help``.
DESCRIPTIONS = {
    "sign": "Fit the ground-state sign structure of the anisotropic triangular J1-J2 model with invariant "
    "dilated CNNs (supervised, Adam; energies in the Pauli convention).",
    "vmc": "Variational Monte Carlo of the same networks (NetKet VMC_SR with minSR, SGD step; Pauli convention), "
    "learning amplitude and phase, or the amplitude under a fixed sign.",
    "sweep": "Run the cartesian product J2 x eps x model variants x seeds of one sign-fit (--task sign) or VMC "
    "(--task vmc) configuration in a sweep directory; rerun the same command to resume.",
    "search": "Optuna search over dilation stacks of the sign fit at one J2 (validation overlap), then a comparison "
    "of the best stack with the defaults over several seeds.",
}


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


def _csv(values) -> str:
    return ",".join(str(v) for v in values)


#: SweepConfig fields set by flags (the axes j2, eps, model, dilations are FitConfig flags).
SWEEP_FLAGS = (
    "seeds",
    "executor",
    "workers",
    "memory_gib",
    "slurm_partition",
    "slurm_account",
    "slurm_time_min",
    "slurm_cpus",
    "slurm_mem_gib",
    "slurm_nodes",
    "slurm_tasks_per_node",
    "slurm_gpus_per_node",
    "trials",
    "minutes",
    "search_depth",
    "search_kernel",
    "search_max_dilation",
    "search_channels",
)
#: Flags of ``sweep`` and ``search`` only: given to ``sign`` or ``vmc``, the error names the command.
_SWEEP_ONLY = {
    "--seeds": "sweep",
    "--executor": "sweep",
    "--workers": "sweep",
    "--memory-per-run": "sweep",
    "--slurm-partition": "sweep",
    "--slurm-account": "sweep",
    "--slurm-time": "sweep",
    "--slurm-cpus": "sweep",
    "--slurm-mem": "sweep",
    "--slurm-nodes": "sweep",
    "--slurm-tasks-per-node": "sweep",
    "--slurm-gpus-per-node": "sweep",
    "--search": "search",
    "--trials": "search",
    "--minutes": "search",
    "--search-depth": "search",
    "--search-kernel": "search",
    "--search-max-dilation": "search",
    "--search-channels": "search",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose 'unrecognized arguments' error names the command a sweep or
    search flag belongs to."""

    def parse_args(self, args=None, namespace=None):
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            flags = [a.split("=")[0] for a in extra if a.split("=")[0] in _SWEEP_ONLY]
            if flags:
                owners = " / ".join(sorted({f"nqs-dilated {_SWEEP_ONLY[f]}" for f in flags}))
                self.error(f"{', '.join(flags)}: not an option of `{self.prog}`, but of `{owners}`")
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns


def _add_common(p: argparse.ArgumentParser, d: dict, sweep: bool) -> None:
    p.add_argument(
        "config",
        nargs="?",
        help="TOML config file: common keys at the top level, tables [sign], [vmc], "
        "[sweep] (examples/*.toml); flags override it",
    )
    p.add_argument("--lattice", help=f"cluster name or TOML path (default {d['lattice']})")
    if sweep:
        p.add_argument(
            "--j2",
            help=f"J2/J1 values: a range START:STOP:STEP (stop included), a list A,B,C or one value (default {d['j2']:g})",
        )
        p.add_argument("--model", help=f"models, a list A,B of {', '.join(MODELS)} (default {d['model']})")
        p.add_argument(
            "--dilations",
            type=_int_list,
            action="append",
            help="dilation stack of the dilated model, e.g. 1,2,3; give it again (--dilations 1,1,1 "
            "--dilations 1,2,3) for one variant per stack (default: 1,2,3,... capped by the cluster)",
        )
    else:
        p.add_argument("--j2", help=f"J2/J1 (default {d['j2']:g}); several values make a sweep: nqs-dilated sweep")
        p.add_argument("--model", help=f"one of {', '.join(MODELS)} (default {d['model']})")
        p.add_argument(
            "--dilations",
            type=_int_list,
            action="append",
            help="dilation per layer, e.g. 1,2,3 (default: 1,2,3,... each capped by the receptive-field "
            "rule of the cluster: 1,2,3 on 4x6 and 6x6, 1,2,2 on 4x4)",
        )
    p.add_argument("--j1", type=float, help=f"J1 (default {d['j1']:g})")
    p.add_argument(
        "--channels",
        type=_int_list,
        help=f"channels per layer, features per layer of the G-CNN (default {_csv(d['channels'])})",
    )
    p.add_argument("--kernel-size", type=int, help=f"kernel size (default {d['kernel_size']})")
    p.add_argument(
        "--residual",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"residual connections (default {'on' if d['residual'] else 'off'})",
    )
    p.add_argument("--hidden", type=_int_list, help=f"hidden sizes of the dense model (default {_csv(d['hidden'])})")
    p.add_argument("--seed", type=int, help=f"seed (default {d['seed']})")
    p.add_argument("--ed-method", help=f"ED route: auto, netket or symmetric (default {d['ed_method']})")
    p.add_argument("--sector", help=f"ED sector: auto or a label such as A1+ (default {d['sector']})")
    p.add_argument(
        "--out",
        help="run directory (default under runs/, named after the settings)"
        if not sweep
        else "sweep directory (default under runs/, named after the settings)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_sign(p: argparse.ArgumentParser, d: dict, sweep: bool, lr: bool = True) -> None:
    g = p.add_argument_group("sign fit" + (" (--task sign)" if sweep else ""))
    g.add_argument(
        "--eps",
        help=f"training fraction of the Sz = 0 basis (default {d['eps']:g})"
        + ("; a list A,B sweeps it" if sweep else ""),
    )
    g.add_argument(
        "--eps-relative-to",
        help=f"what eps is a fraction of: sz0 (C(N,N/2)) or representatives (default {d['eps_relative_to']})",
    )
    g.add_argument(
        "--split",
        help="what the validation and test sets may not share with the training set: orbits "
        "(of space group x spin inversion: the test measures unseen orbits) or configurations (only "
        "identical configurations kept apart, so the test sets hold symmetry images of training "
        f"configurations; to reproduce numbers measured that way) (default {d['split']})",
    )
    g.add_argument("--steps", type=int, help=f"budget in Adam steps (default {d['steps']})")
    g.add_argument(
        "--epochs",
        type=float,
        help="budget in passes over the training set instead of --steps (default 0: use --steps)",
    )
    g.add_argument(
        "--patience",
        type=int,
        help=f"stop after this many Adam steps without a lower validation loss, counted once the validation loss has left its initial plateau (default {d['patience']}; 0 = never)",
    )
    g.add_argument("--eval-every", type=int, help="Adam steps between validations (default 0: steps/100)")
    g.add_argument(
        "--batch-size",
        type=int,
        help="samples per Adam step (default 0: n_train/16 rounded down to a power of two, within [32, 8192])",
    )
    if lr:
        g.add_argument("--lr", type=float, help=f"Adam learning rate (default {d['lr']:g})")
    g.add_argument("--n-test", type=int, help=f"sampled test-set size on large clusters (default {d['n_test']})")


def _add_vmc(p: argparse.ArgumentParser, d: dict, sweep: bool, lr: bool = True) -> None:
    g = p.add_argument_group("VMC" + (" (--task vmc)" if sweep else ""))
    if not sweep:
        g.add_argument(
            "--force-sign",
            action="store_true",
            help="use a learned sign (source or prior) whose test overlap is below 0.5 or below the "
            "Marshall sign rule's on the same test set (default: refuse it)",
        )
    g.add_argument("--mode", help=f"full (amplitude and phase) or fixed-sign (default {d['mode']})")
    g.add_argument(
        "--sign-source",
        help="fixed-sign: exact, marshall, a sign-fit RUN_DIR, or fit (run the sign fit "
        f"first, into OUT/sign-fit) (default {d['sign_source']})",
    )
    g.add_argument(
        "--sign-prior",
        help="full mode: phase prior at the start, marshall, none, a sign-fit RUN_DIR or fit "
        f"(default {d['sign_prior']})",
    )
    g.add_argument(
        "--symmetrize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="project onto the ground state's sector with the point group and spin inversion (fixed-sign: "
        "the amplitude; 2|P| network evaluations per configuration; default off)",
    )
    g.add_argument("--n-iter", type=int, help=f"VMC_SR iterations (default {d['n_iter']})")
    g.add_argument(
        "--n-samples", type=int, help=f"samples per iteration, a multiple of --n-chains (default {d['n_samples']})"
    )
    g.add_argument("--n-chains", type=int, help=f"Metropolis chains (default {d['n_chains']})")
    g.add_argument("--chunk-size", type=int, help=f"forward/backward chunk size (default {d['chunk_size']}: none)")
    if lr:
        g.add_argument("--lr", type=float, help=f"SGD step of SR (default {d['lr']:g})")
    g.add_argument(
        "--lr-final", type=float, help="final SGD step of SR, exponential decay from --lr (default 0: constant)"
    )
    g.add_argument("--diag-shift", type=float, help=f"SR diagonal shift (default {d['diag_shift']:g})")
    g.add_argument(
        "--diag-shift-final", type=float, help="final diagonal shift, exponential decay (default 0: constant)"
    )
    g.add_argument(
        "--exact", action=argparse.BooleanOptionalAction, default=None, help="full-sum state (<= 24 sites; default off)"
    )
    g.add_argument(
        "--checkpoint-every", type=int, help=f"iterations between checkpoints (default {d['checkpoint_every']})"
    )
    g.add_argument("--timeout", type=float, help="stop after this many seconds; rerun to resume (default 0: none)")
    g.add_argument(
        "--readout-scale",
        type=float,
        help=f"std of the initial readout kernel of the CNNs (default {d['readout_scale']:g}; the G-CNN keeps NetKet's)",
    )
    g.add_argument("--dtype", help=f"parameter dtype, float64 or float32 (default {d['dtype']})")
    g.add_argument(
        "--pretrain-eps",
        type=float,
        help="first fit the amplitude to the exact one on this fraction of the data, drawn with |psi|^2 "
        "(eps of --eps-relative-to; default 0: no pretraining)",
    )
    g.add_argument(
        "--pretrain-steps", type=int, help=f"Adam steps of the amplitude fit (default {d['pretrain_steps']})"
    )
    g.add_argument("--pretrain-lr", type=float, help=f"Adam rate of the amplitude fit (default {d['pretrain_lr']:g})")


def _add_pool(p: argparse.ArgumentParser, sw: SweepConfig, seeds_default: str) -> None:
    g = p.add_argument_group("where the runs execute")
    g.add_argument("--seeds", type=int, help=f"seeds per point: SEED, SEED+1, ... (default {seeds_default})")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        help=f"local processes, SLURM jobs or submitit's local executor (default {sw.executor})",
    )
    g.add_argument("--workers", type=int, help="local runs in parallel (default 0: as many as cores and memory allow)")
    g.add_argument(
        "--memory-per-run",
        dest="memory_gib",
        type=float,
        help="GiB one run needs (default 0: estimated from the cluster)",
    )
    g.add_argument("--slurm-partition", help="SLURM partition (default: the cluster's)")
    g.add_argument("--slurm-account", help="SLURM account (default: the cluster's)")
    g.add_argument(
        "--slurm-time",
        dest="slurm_time_min",
        type=int,
        help=f"SLURM time limit per run, minutes (default {sw.slurm_time_min})",
    )
    g.add_argument("--slurm-cpus", type=int, help=f"CPUs per SLURM task (default {sw.slurm_cpus})")
    g.add_argument(
        "--slurm-mem",
        dest="slurm_mem_gib",
        type=float,
        help=f"memory per SLURM job, GiB (default {sw.slurm_mem_gib:g})",
    )
    g.add_argument("--slurm-nodes", type=int, help=f"VMC: nodes per run (default {sw.slurm_nodes})")
    g.add_argument(
        "--slurm-tasks-per-node",
        type=int,
        help=f"VMC: processes per node, one per device (default {sw.slurm_tasks_per_node})",
    )
    g.add_argument("--slurm-gpus-per-node", type=int, help=f"VMC: GPUs per node (default {sw.slurm_gpus_per_node})")


def _add_search(p: argparse.ArgumentParser, sw: SweepConfig) -> None:
    g = p.add_argument_group("search space and budget")
    g.add_argument(
        "--trials", type=int, help="budget: trials in the study, resumed ones included (default 20 without --minutes)"
    )
    g.add_argument("--minutes", type=float, help="budget: minutes of this invocation (default: none)")
    g.add_argument("--search-depth", type=_int_pair, help=f"layers MIN,MAX (default {_csv(sw.search_depth)})")
    g.add_argument("--search-kernel", type=_int_pair, help=f"kernel size MIN,MAX (default {_csv(sw.search_kernel)})")
    g.add_argument(
        "--search-max-dilation",
        type=int,
        help=f"largest dilation (default {sw.search_max_dilation}; the cluster may lower it)",
    )
    g.add_argument(
        "--search-channels", type=_int_list, help=f"channel counts to choose from (default {_csv(sw.search_channels)})"
    )


def build_parser(command: str = "sign", prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``nqs-dilated COMMAND`` (``sign``, ``vmc``, ``sweep`` or ``search``); every
    option's help shows the default of that command."""
    if command not in RUN_COMMANDS:
        raise ValueError(f"unknown command {command!r}; use one of {RUN_COMMANDS}")
    p = _Parser(prog=prog or f"nqs-dilated {command}", description=DESCRIPTIONS[command])
    sw = SweepConfig()
    sweep = command in ("sweep", "search")
    d = task_defaults("vmc" if command == "vmc" else "sign")
    _add_common(p, d, sweep=command == "sweep")
    if command == "sweep":
        p.add_argument(
            "--task", choices=("sign", "vmc"), help="what each run does (default sign; or task in the config file)"
        )
        vmc = task_defaults("vmc")
        p.add_argument(
            "--lr",
            type=float,
            help=f"Adam learning rate for --task sign (default {d['lr']:g}), SGD step of SR "
            f"for --task vmc (default {vmc['lr']:g})",
        )
        _add_sign(p, d, sweep=True, lr=False)
        _add_vmc(p, vmc, sweep=True, lr=False)
        p.add_argument(
            "--sign-lr",
            type=float,
            help=f"--task vmc with --sign-source/--sign-prior fit: Adam rate of the "
            f"sign fit (default {FitConfig.sign_lr:g})",
        )
    elif command == "vmc":
        _add_vmc(p, d, sweep=False)
        sd = task_defaults("sign")
        g = p.add_argument_group(
            "the sign fit of --sign-source fit / --sign-prior fit (other keys: [sign] table of the config)"
        )
        g.add_argument("--eps", help=f"training fraction of the Sz = 0 basis (default {sd['eps']:g})")
        g.add_argument("--eps-relative-to", help=f"sz0 or representatives (default {sd['eps_relative_to']})")
        g.add_argument("--split", help=f"orbits or configurations (default {sd['split']})")
        g.add_argument("--steps", type=int, help=f"budget in Adam steps (default {sd['steps']})")
        g.add_argument("--sign-lr", type=float, help=f"Adam learning rate (default {FitConfig.sign_lr:g})")
    else:
        _add_sign(p, d, sweep=False)
    if sweep:
        _add_pool(p, sw, "3 after a search" if command == "search" else "1")
    if command == "search":
        _add_search(p, sw)
    return p


def values_from_args(args: argparse.Namespace, command: str = "sign") -> tuple[dict, dict]:
    """``(FitConfig values, SweepConfig values)``: the config file (its top level, the table of the
    task and, for a sweep, the ``[sweep]`` table) updated by the flags given.

    Raises:
        ConfigError: a bad config file, ``--j2`` or ``--eps`` value.
    """
    doc = load_toml(args.config) if args.config else {}
    task = "vmc" if command == "vmc" else "sign"
    if command == "sweep":
        task = getattr(args, "task", None) or doc.get("task") or "sign"
        doc = {k: v for k, v in doc.items() if k != "task"}
    values, sweep_values = config_values(doc, task, sweep=command in ("sweep", "search"))
    for key in FitConfig.__dataclass_fields__:
        value = getattr(args, key, None)
        if value is not None and key not in ("j2", "eps", "dilations", "task"):
            values[key] = value
    if args.j2 is not None:  # a number, a list A,B,C or a range START:STOP:STEP
        values["j2"] = j2_values(args.j2)
    if getattr(args, "eps", None) is not None:  # a number, or a list A,B (a sweep)
        try:
            values["eps"] = (
                float(args.eps) if "," not in args.eps else [float(v) for v in args.eps.split(",") if v.strip()]
            )
        except ValueError:
            raise ConfigError(f"eps must be a number or a list A,B of numbers, got {args.eps!r}") from None
    if args.dilations is not None:  # one stack, or several (a sweep)
        values["dilations"] = args.dilations[0] if len(args.dilations) == 1 else args.dilations
    for key in SWEEP_FLAGS:
        value = getattr(args, key, None)
        if value is not None:
            sweep_values[key] = value
    if command == "search":
        sweep_values["search"] = "dilations"
    elif command == "sweep" and sweep_values.get("search"):
        raise ConfigError("the [sweep] table asks for a search (search = ...): run `nqs-dilated search`")
    return values, sweep_values


def config_from_args(args: argparse.Namespace, command: str = "sign") -> FitConfig:
    """Defaults, updated by the config file, updated by the flags that were given (one run).

    Raises:
        ConfigError: bad values, or several values on a sweep axis (a sweep: ``nqs-dilated sweep``).
    """
    values, _ = values_from_args(args, command)
    return resolve(values)


def _print_table(summary: dict) -> None:
    rows = [(split, m) for split, m in summary["metrics"].items()]
    print(f"{'set':<14}{'size':>10}{'accuracy':>18}{'weighted':>11}{'overlap':>20}")
    for split, m in rows:
        acc = f"{m['accuracy']:.4f} ± {m.get('accuracy_se', 0):.4f}"
        ovl = f"{m['overlap']:.4f} ± {m.get('overlap_se', 0):.4f}"
        print(f"{split:<14}{m['size']:>10}{acc:>18}{m['weighted_accuracy']:>11.4f}{ovl:>20}")


_INPUT_ERRORS = (ConfigError, LatticeError, SymmetryError, RunDirError, ValueError, MemoryError)


def run_command(command: str, argv: list[str], prog: str | None = None) -> int:
    """Parse ``argv`` for ``nqs-dilated COMMAND`` (:data:`RUN_COMMANDS`), run it, print the report;
    returns the exit status (2 for bad input, nothing written)."""
    args = build_parser(command, prog).parse_args(attach_negative_values(argv))
    with one_line_warnings():
        return _run(command, args)


def _run(command: str, args: argparse.Namespace) -> int:
    try:
        values, sweep_values = values_from_args(args, command)
        if command in ("sweep", "search"):
            base, sweep = resolve_sweep(values, sweep_values)
        else:
            cfg = resolve(values)
    except ConfigError as err:
        return fail(str(err))
    if command in ("sweep", "search"):
        from .sweep import search_main, sweep_main

        return (search_main if command == "search" else sweep_main)(base, sweep, quiet=args.quiet)
    # heavy imports only after the arguments are valid
    if cfg.task == "vmc":
        from ..experiments.vmc_run import run_vmc as run

        sign = f"sign {cfg.sign_source}" if cfg.mode == "fixed-sign" else f"prior {cfg.sign_prior}"
        print(
            f"VMC: {cfg.lattice}  J2/J1 = {cfg.j2:g}  {cfg.mode} ({sign})  model {cfg.model} {_model_text(cfg)}  "
            f"{cfg.n_iter} iterations of {cfg.n_samples} samples, lr {cfg.lr:g}"
            + (f" -> {cfg.lr_final:g}" if cfg.lr_final else "")
            + f"  seed {cfg.seed}",
            flush=True,
        )
    else:
        from ..experiments.sign_run import run_sign_fit as run

        print(
            f"sign fit: {cfg.lattice}  J2/J1 = {cfg.j2:g}  model {cfg.model} {_model_text(cfg)}  eps = {cfg.eps:g} "
            f"({cfg.eps_relative_to})  seed {cfg.seed}",
            flush=True,
        )
    stdout = sys.stdout
    try:
        # NetKet prints its automatic choices ("Automatic SR implementation choice: ...") on stdout:
        # to stderr with the progress bars; stdout keeps our lines and the report
        with contextlib.redirect_stdout(sys.stderr):
            extra = {"force_sign": args.force_sign} if cfg.task == "vmc" else {}
            summary = run(
                cfg, progress=not args.quiet, report=lambda line: print(line, file=stdout, flush=True), **extra
            )
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
    if summary.get("left_plateau_step") is None:
        print(
            "the validation loss never left its initial plateau (the loss of a constant prediction): "
            "nothing was learned that generalises"
        )
    cov = summary.get("coverage")
    if cov:
        print(
            f"split {summary.get('split', 'configurations')}: the {cov['n_train_orbits']:,} training orbits hold "
            f"{cov['train_orbit_weight']:.4f} of |psi|^2; the test sets are "
            + (
                "the unseen orbits"
                if summary.get("split") == "orbits"
                else "what is not in the training set (their symmetry images included)"
            )
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
        print(
            f"stopped early: {s['status']}" + ("; rerun the same command to resume" if s["status"] == "timeout" else "")
        )
    print(f"{s['seconds']:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {s['out']}")
    return 0 if s["status"] != "invalid_loss" else 1


def plot_main(argv: list[str], prog: str = "nqs-dilated plot") -> int:
    """``nqs-dilated plot SWEEP_DIR [--frustrated LO,HI]``: redraw a sweep's plots."""
    p = argparse.ArgumentParser(
        prog=prog, description="Redraw the plots of a sweep directory from its files (results.csv, ed.csv)."
    )
    p.add_argument("directory", help="sweep directory")
    p.add_argument(
        "--frustrated", help="J2/J1 interval LO,HI to shade (default: where the Marshall-sign overlap < 0.9)"
    )
    args = p.parse_args(argv)
    region = None
    if args.frustrated is not None:
        try:
            lo, hi = (float(v) for v in args.frustrated.split(","))
        except ValueError:
            return fail(f"--frustrated must be two numbers LO,HI, got {args.frustrated!r}")
        region = (lo, hi)
    from ..experiments.plots import plot_sweep

    try:
        paths = plot_sweep(args.directory, frustrated=region)
    except FileNotFoundError as err:
        return fail(str(err))
    for path in paths:
        print(path)
    return 0


def leakage_main(argv: list[str], prog: str = "nqs-dilated leakage") -> int:
    """``nqs-dilated leakage RUN_DIR...``: the orbit coverage and leakage of sign-fit runs' sets."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="For each sign-fit run directory, draw its sets again from its config.json and print how much "
        "of the validation and test sets lay in the training orbits (space group x spin inversion), "
        "where a translation-invariant network gives the training output by construction; runs "
        "whose config.json has no split key used the configuration split.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="sign-fit run directories")
    p.add_argument("--json", action="store_true", help="print one JSON object per run instead of a line")
    args = p.parse_args(argv)
    import json

    from ..experiments.sign_run import split_report

    for run in args.runs:
        try:
            with one_line_warnings():
                r = split_report(run)
        except (FileNotFoundError, ConfigError, LatticeError, SymmetryError, MemoryError) as err:
            return fail(str(err))
        if args.json:
            print(json.dumps(r))
            continue
        tests = ", ".join(
            f"{k[: -len('_in_train_orbits')]} {v:.3f}" for k, v in r.items() if k.endswith("_in_train_orbits")
        )
        print(
            f"{run}: split {r['split']}, {r['n_train']:,} training draws in {r['n_train_orbits']:,} orbits "
            f"holding {r['train_orbit_weight']:.4f} of |psi|^2; validation orbits in training orbits "
            f"{r['val_orbits_in_train']:.3f}; test weight in training orbits: {tests}"
        )
    return 0
