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

from ..experiments.config import ConfigError
from ..experiments.resolve import resolve
from ..experiments.rundir import RunDirError
from ..experiments.sweep_config import resolve_sweep
from ..lattice import LatticeError
from ..symmetry import SymmetryError
from .common import attach_negative_values, fail, one_line_warnings, peak_rss_gib
from .parser import build_parser, values_from_args


def _print_table(result) -> None:
    print(f"{'set':<14}{'size':>10}{'accuracy':>18}{'weighted':>11}{'overlap':>20}")
    for split, m in result.metrics.items():
        acc = f"{m['accuracy']:.4f} ± {m.get('accuracy_se', 0):.4f}"
        ovl = f"{m['overlap']:.4f} ± {m.get('overlap_se', 0):.4f}"
        print(f"{split:<14}{m['size']:>10}{acc:>18}{m['weighted_accuracy']:>11.4f}{ovl:>20}")


_INPUT_ERRORS = (ConfigError, LatticeError, SymmetryError, RunDirError, ValueError, MemoryError)


def run_command(command: str, argv: list[str], prog: str | None = None) -> int:
    """Parse ``argv`` for ``nqs-dilated COMMAND`` (:data:`~nqs_dilated.cli.parser.RUN_COMMANDS`), run it, print the report;
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
            spec = resolve(values)
    except ConfigError as err:
        return fail(str(err))
    if command in ("sweep", "search"):
        from .sweep import search_main, sweep_main

        return (search_main if command == "search" else sweep_main)(base, sweep, quiet=args.quiet)
    # heavy imports only after the arguments are valid
    p, m = spec.problem, spec.model
    if spec.task == "vmc":
        from ..experiments.vmc_run import run_vmc as run

        v = spec.vmc
        sign = f"sign {v.sign_source}" if v.mode == "fixed-sign" else f"prior {v.sign_prior}"
        print(
            f"VMC: {p.lattice}  J2/J1 = {p.j2:g}  {v.mode} ({sign})  model {m.name} {_model_text(m)}  "
            f"{v.n_iter} iterations of {v.n_samples} samples, lr {v.lr:g}"
            + (f" -> {v.lr_final:g}" if v.lr_final else "")
            + f"  seed {spec.seed}",
            flush=True,
        )
    else:
        from ..experiments.sign_run import run_sign_fit as run

        print(
            f"sign fit: {p.lattice}  J2/J1 = {p.j2:g}  model {m.name} {_model_text(m)}  eps = {spec.sign.eps:g} "
            f"({spec.sign.eps_relative_to})  seed {spec.seed}",
            flush=True,
        )
    stdout = sys.stdout
    try:
        # NetKet prints its automatic choices ("Automatic SR implementation choice: ...") on stdout:
        # to stderr with the progress bars; stdout keeps our lines and the report
        with contextlib.redirect_stdout(sys.stderr):
            extra = {"force_sign": args.force_sign} if spec.task == "vmc" else {}
            result = run(
                spec, progress=not args.quiet, report=lambda line: print(line, file=stdout, flush=True), **extra
            )
    except _INPUT_ERRORS as err:
        return fail(str(err))
    if result.skipped:
        print(f"{result.out}: already finished (summary.json present); nothing to do")
        return 0
    return _report_vmc(result) if spec.task == "vmc" else _report_sign(result)


def _model_text(m) -> str:
    if m.name in ("dilated", "cnn"):
        return f"(channels {','.join(map(str, m.channels))}, kernel {m.kernel_size}, dilations {','.join(map(str, m.dilations))})"
    if m.name == "dense":
        return f"(hidden {','.join(map(str, m.hidden))})"
    return f"(features {','.join(map(str, m.channels))})"


def _report_sign(r) -> int:
    print(
        f"{r.lattice}  J2/J1 = {r.j2:g}  model {r.model} "
        f"({r.n_params:,} parameters)  eps = {r.eps:g}  n_train = {r.n_train:,}"
    )
    b = r.budget
    if r.walsh is not None:
        w = r.walsh
        print(
            f"E_ED = {r.ed_energy:.10f} (Pauli; sector {r.ed_sector})  Walsh series: {w['n_terms']:,} monomials "
            f"({w['n_orbits']:,} translation orbits) of {len(w['candidates'])} candidates, chosen on the validation overlap"
        )
    else:
        print(
            f"E_ED = {r.ed_energy:.10f} (Pauli; sector {r.ed_sector})  {r.steps_run:,}/{b['steps']:,} "
            f"Adam steps of batch {b['batch_size']:,}, best at step {r.best_step:,} (epoch {r.best_epoch:.1f})"
        )
    if r.walsh is None and r.left_plateau_step is None:
        print(
            "the validation loss never left its initial plateau (the loss of a constant prediction): "
            "nothing was learned that generalises"
        )
    cov = r.coverage
    if cov:
        print(
            f"split {r.split}: the {cov['n_train_orbits']:,} training orbits hold "
            f"{cov['train_orbit_weight']:.4f} of |psi|^2; the test sets are "
            + (
                "the unseen orbits"
                if r.split == "orbits"
                else "what is not in the training set (their symmetry images included)"
            )
        )
    _print_table(r)
    print(
        f"Marshall sign rule on the same test set: accuracy {r.marshall_test_accuracy:.4f}, "
        f"overlap {r.marshall_test_overlap:.4f}"
    )
    print(f"{r.seconds:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {r.out}")
    return 0


def _report_vmc(r) -> int:
    sign = f" sign {r.sign_source}" if r.mode == "fixed-sign" else f" prior {r.sign_prior}"
    print(
        f"{r.lattice}  J2/J1 = {r.j2:g}  VMC {r.mode}{sign}  model {r.model} "
        f"({r.n_params:,} parameters)  {r.n_samples} samples  {r.steps_done}/{r.n_iter} iterations "
        f"({r.sr_mode}, {r.seconds_per_iter:.3f} s/it)"
    )
    print(
        f"E_var = {r.energy:.6f} +- {r.energy_error:.6f}  var {r.variance:.4g}  R_hat {r.r_hat:.4f}  (Pauli convention)"
    )
    line = f"E_ED  = {r.ed_energy:.6f}  relative error {r.relative_error:.3e}"
    if r.fidelity is not None:
        line += f"  fidelity {r.fidelity:.6f}"
    print(line)
    if r.structure_factor:
        sq = r.structure_factor
        print(
            f"S(q) at the exact peak m = ({sq['m'][0]}, {sq['m'][1]}): {sq['variational']:.4f} +- {sq['error']:.4f} "
            f"(exact {sq['exact']:.4f}, S.S units)"
        )
    if r.status != "finished":
        print(f"stopped early: {r.status}" + ("; rerun the same command to resume" if r.status == "timeout" else ""))
    print(f"{r.seconds:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {r.out}")
    return 0 if r.status != "invalid_loss" else 1


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
