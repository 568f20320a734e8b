"""The command-line parsers of ``nqs-dilated sign | vmc | sweep | search`` and their values.

:func:`build_parser` builds one command's parser (every flag's default shown from the task's
defaults); :func:`values_from_args` merges a config file and the flags given into the values of
:func:`~nqs_dilated.experiments.resolve.resolve` and of the sweep; :func:`config_from_args` resolves a single run.
"""

from __future__ import annotations

import argparse

from ..experiments.config import MODELS, ConfigError, FitConfig
from ..experiments.config_file import config_values, load_toml, task_defaults
from ..experiments.resolve import j2_values, resolve
from ..experiments.specs import RunSpec
from ..experiments.sweep_config import SweepConfig
from .argtypes import csv_text, int_list
from .sweep_flags import add_pool_flags, add_search_flags

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
            type=int_list,
            action="append",
            help="dilation stack of the dilated model, e.g. 1,2,3; give it again (--dilations 1,1,1 "
            "--dilations 1,2,3) for one variant per stack (default: 1,2,3,... capped by the cluster)",
        )
    else:
        p.add_argument("--j2", help=f"J2/J1 (default {d['j2']:g}); several values make a sweep: nqs-dilated sweep")
        p.add_argument("--model", help=f"one of {', '.join(MODELS)} (default {d['model']})")
        p.add_argument(
            "--dilations",
            type=int_list,
            action="append",
            help="dilation per layer, e.g. 1,2,3 (default: 1,2,3,... each capped by the receptive-field "
            "rule of the cluster: 1,2,3 on 4x6 and 6x6, 1,2,2 on 4x4)",
        )
    p.add_argument("--j1", type=float, help=f"J1 (default {d['j1']:g})")
    p.add_argument(
        "--channels",
        type=int_list,
        help=f"channels per layer, features per layer of the G-CNN (default {csv_text(d['channels'])})",
    )
    p.add_argument("--kernel-size", type=int, help=f"kernel size (default {d['kernel_size']})")
    p.add_argument(
        "--residual",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"residual connections (default {'on' if d['residual'] else 'off'})",
    )
    p.add_argument("--hidden", type=int_list, help=f"hidden sizes of the dense model (default {csv_text(d['hidden'])})")
    p.add_argument(
        "--degree",
        type=int,
        help=f"largest monomial degree of the local Walsh series (model walsh-local; default {d['degree']})",
    )
    p.add_argument(
        "--marshall-terms",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="model walsh-local: also every term times the Marshall monomial "
        f"(default {'on' if d['marshall_terms'] else 'off'})",
    )
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
        add_pool_flags(p, sw, "3 after a search" if command == "search" else "1")
    if command == "search":
        add_search_flags(p, sw)
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


def config_from_args(args: argparse.Namespace, command: str = "sign") -> RunSpec:
    """The run spec of the defaults, updated by the config file, updated by the flags that were given (one run).

    Raises:
        ConfigError: bad values, or several values on a sweep axis (a sweep: ``nqs-dilated sweep``).
    """
    values, _ = values_from_args(args, command)
    return resolve(values)
