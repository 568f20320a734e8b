"""``nqs-dilated``: the command line, one command with seven subcommands.

==========  ================================================================  =============================
command     what it does                                                      module
==========  ================================================================  =============================
``ed``      exact ground state (alias ``python -m nqs_dilated.ed``)            :mod:`nqs_dilated.cli.ed`
``sign``    supervised sign fit (alias ``python -m nqs_dilated.fit``)          :mod:`nqs_dilated.cli.fit`
``vmc``     VMC of the same networks                                          :mod:`nqs_dilated.cli.fit`
``sweep``   J2 x eps x model x seed product of sign fits or VMC runs          :mod:`nqs_dilated.cli.sweep`
``search``  Optuna search over dilation stacks                                :mod:`nqs_dilated.cli.sweep`
``plot``    redraw the plots of a sweep directory                             :mod:`nqs_dilated.cli.fit`
``leakage`` orbit coverage and leakage of sign-fit runs' sets                 :mod:`nqs_dilated.cli.fit`
==========  ================================================================  =============================

``nqs-dilated COMMAND --help`` lists the options of a command with their defaults.
"""

from __future__ import annotations

import argparse
import sys

from .common import fail

__all__ = ["COMMANDS", "fit_main", "main"]

#: Subcommands and their one-line summaries.
COMMANDS = {
    "ed": "exact ground state of a cluster (symmetric Lanczos or NetKet)",
    "sign": "learn the ground-state sign structure with a CNN (supervised)",
    "vmc": "variational Monte Carlo of the same networks (minSR)",
    "sweep": "a product J2 x eps x model x seed of sign fits or VMC runs, resumable",
    "search": "Optuna search over dilation stacks, then a comparison over seeds",
    "plot": "redraw the plots of a sweep directory from its files",
    "leakage": "orbit coverage and leakage of the sets of sign-fit run directories",
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<8}{text}" for name, text in COMMANDS.items())
    p = argparse.ArgumentParser(
        prog="nqs-dilated",
        description="Neural quantum states of the anisotropic triangular J1-J2 Heisenberg model "
        "(energies in the Pauli convention, 4x the S.S energy).",
        epilog=f"commands:\n{lines}\n\n'nqs-dilated COMMAND --help' lists the options of a command and their defaults.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``nqs-dilated COMMAND [options]``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        _top_parser().parse_args(argv[:1])  # prints the help or the error (exit 0 or 2)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "ed":
        from .ed import main as ed_main

        return ed_main(rest)
    from .fit import leakage_main, plot_main, run_command

    if command == "plot":
        return plot_main(rest)
    if command == "leakage":
        return leakage_main(rest)
    return run_command(command, rest)


def fit_main(argv: list[str] | None = None) -> int:
    """``python -m nqs_dilated.fit``: ``nqs-dilated`` when the first argument is a command, else
    ``nqs-dilated sign`` (``nqs-dilated vmc`` with ``--task vmc``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in COMMANDS:
        return main(argv)
    command = "sign"
    for k, arg in enumerate(argv):  # the old --task flag picks the command
        if arg == "--task" and k + 1 < len(argv):
            command, argv = argv[k + 1], argv[:k] + argv[k + 2 :]
            break
        if arg.startswith("--task="):
            command, argv = arg.split("=", 1)[1], argv[:k] + argv[k + 1 :]
            break
    if command not in ("sign", "vmc"):
        return fail(f"unknown task {command!r}; use sign or vmc")
    from .fit import run_command

    return run_command(command, argv, prog="python -m nqs_dilated.fit" + (" --task vmc" if command == "vmc" else ""))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
