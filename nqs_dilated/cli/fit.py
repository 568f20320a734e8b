"""``python -m nqs_dilated.fit``: learn the sign structure of an exact ground state.

With no arguments: ``triangular-4x6`` at J2/J1 = 1.0, the dilated invariant CNN, eps = 0.01
(Schurov et al., arXiv:2406.08318; protocol of Westerhout et al., Nat. Commun. 11, 1593, 2020).
A TOML config file may be given as the first argument; flags override it. Writes a run directory
(:mod:`nqs_dilated.rundir`) and prints a table of the test metrics. Bad input exits with status 2
and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..config import MODELS, ConfigError, FitConfig, load_toml, resolve
from ..lattice import LatticeError
from ..rundir import RunDirError
from ..symmetry import SymmetryError
from .common import fail, peak_rss_gib


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    d = FitConfig()
    p = argparse.ArgumentParser(
        prog="python -m nqs_dilated.fit",
        description="Fit the ground-state sign structure of the anisotropic triangular J1-J2 "
        "model with invariant dilated CNNs (energies in the Pauli convention).",
    )
    p.add_argument("config", nargs="?", help="TOML config file (keys as the long options, with _)")
    p.add_argument("--lattice", help=f"cluster name or TOML path (default {d.lattice})")
    p.add_argument("--j2", type=float, help=f"J2/J1 (default {d.j2})")
    p.add_argument("--j1", type=float, help=f"J1 (default {d.j1})")
    p.add_argument("--model", help=f"one of {', '.join(MODELS)} (default {d.model})")
    p.add_argument("--channels", type=_int_list, help="channels per layer, e.g. 32,32,32")
    p.add_argument("--kernel-size", type=int, help=f"kernel size (default {d.kernel_size})")
    p.add_argument("--dilations", type=_int_list, help="dilation per layer, e.g. 1,2,3")
    p.add_argument("--residual", action=argparse.BooleanOptionalAction, default=None, help="residual connections")
    p.add_argument("--hidden", type=_int_list, help="hidden sizes of the dense model (default 512)")
    p.add_argument("--eps", type=float, help=f"training fraction of the Sz=0 dimension (default {d.eps})")
    p.add_argument("--epochs", type=int, help=f"maximum epochs (default {d.epochs})")
    p.add_argument("--patience", type=int, help=f"early-stopping patience (default {d.patience})")
    p.add_argument("--batch-size", type=int, help=f"mini-batch size (default {d.batch_size})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--seed", type=int, help=f"seed (default {d.seed})")
    p.add_argument("--n-test", type=int, help=f"sampled test-set size on large clusters (default {d.n_test})")
    p.add_argument("--ed-method", help="ED route: auto, netket, symmetric")
    p.add_argument("--sector", help="ED sector: auto or a label such as A1+")
    p.add_argument("--out", help="run directory (default under runs/)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def config_from_args(args: argparse.Namespace) -> FitConfig:
    """Defaults, updated by the config file, updated by the flags that were given."""
    values = load_toml(args.config) if args.config else {}
    for key in FitConfig.__dataclass_fields__:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    return resolve(values)


def _print_table(summary: dict) -> None:
    rows = [(split, m) for split, m in summary["metrics"].items()]
    print(f"{'set':<14}{'size':>10}{'accuracy':>11}{'weighted':>11}{'overlap':>10}")
    for split, m in rows:
        print(f"{split:<14}{m['size']:>10}{m['accuracy']:>11.4f}{m['weighted_accuracy']:>11.4f}{m['overlap']:>10.4f}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as err:
        return fail(str(err))
    from ..drivers.sign_run import run_sign_fit  # heavy imports only after the arguments are valid

    try:
        summary = run_sign_fit(cfg, progress=not args.quiet)
    except (ConfigError, LatticeError, SymmetryError, RunDirError, ValueError, MemoryError) as err:
        return fail(str(err))
    if summary.get("skipped"):
        print(f"{summary['out']}: already finished (summary.json present); nothing to do")
        return 0
    print(
        f"{summary['lattice']}  J2/J1 = {summary['j2']:g}  model {summary['model']} "
        f"({summary['n_params']:,} parameters)  eps = {summary['eps']:g}  n_train = {summary['n_train']:,}"
    )
    print(f"E_ED = {summary['ed_energy']:.10f} (Pauli; sector {summary['ed_sector']})  best epoch {summary['best_epoch']}")
    _print_table(summary)
    print(f"{summary['seconds']:.1f} s, peak RSS {peak_rss_gib():.2f} GiB -> {summary['out']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
