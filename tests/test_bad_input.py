"""Bad input on every subcommand: exit status 2, one error line naming the problem and the fix,
before any work, and nothing written (the file tree of the working directory and of the store
is unchanged)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nqs_dilated.cli import main as main_cli

S4 = ["--lattice", "triangular-4x4"]

#: (arguments, text the error line must contain); "{tmp}" is the test's directory, "{file}" a
#: file in it, "{bad}" a config file with the case's TOML text.
CASES = [
    (["sign", "--lattice", "nope"], "nope"),
    (["sign", *S4, "--eps", "0"], "eps must lie in (0, 1]"),
    (["sign", *S4, "--eps", "1.5"], "eps must lie in (0, 1]"),
    (["sign", *S4, "--eps", "abc"], "eps must be a number"),
    (["sign", *S4, "--model", "foo"], "unknown model"),
    (["sign", *S4, "--seed", "-3"], "seed must be >= 0 (--seed)"),
    (["sign", *S4, "--steps", "0"], "steps must be positive"),
    (["sign", *S4, "--lr", "-1"], "lr must be positive"),
    (["sign", *S4, "--j2", "nan"], "j2"),
    (["sign", *S4, "--j1", "0"], "j1 must be non-zero"),
    (["sign", *S4, "--split", "samples"], "unknown split"),
    (["sign", *S4, "--eps-relative-to", "orbits"], "unknown eps_relative_to"),
    (["sign", *S4, "--out", "{file}/run"], "is a file, not a directory; choose another --out"),
    (["sign", *S4, "--out", "/proc/nqs-run"], "cannot write in /proc"),
    (["sign", *S4, "--j2", "0:1:0.5"], "nqs-dilated sweep"),
    (["sign", *S4, "--kernel-size", "0"], "kernel_size must be positive"),
    (["sign", *S4, "--batch-size", "-1"], "batch_size must be >= 0"),
    (["sign", '{bad:[sign]\nsteps = "many"}'], "steps must be an integer"),
    (["sign", '{bad:residual = "no"}'], "residual must be true or false"),
    (["sign", "{bad:foo = 1}"], "foo"),
    (["sign", '{bad:[sign]\nlr = "fast"}'], "lr must be a number"),
    (["vmc", *S4, "--n-samples", "100"], "n_chains"),
    (["vmc", *S4, "--mode", "foo"], "mode"),
    (["vmc", *S4, "--mode", "fixed-sign", "--sign-source", "{tmp}/nothing"], "unknown sign source"),
    (["vmc", *S4, "--model", "dense"], "supports the models"),
    (["vmc", *S4, "--dtype", "float16"], "dtype"),
    (["vmc", *S4, "--out", "/proc/nqs-run"], "cannot write in /proc"),
    (["sweep", *S4, "--seeds", "0"], "seeds must be >= 1"),
    (["sweep", *S4, "--executor", "foo"], "invalid choice"),
    (["sweep", *S4, "--workers", "-1"], "workers"),
    (["sweep", *S4, "--model", "dense,foo"], "unknown model"),
    (["sweep", *S4, "--out", "{file}/sweep"], "is a file, not a directory"),
    (["search", *S4, "--j2", "1", "--model", "cnn"], "dilated model"),
    (["search", *S4, "--j2", "0,1"], "one J2"),
    (["ed", *S4, "--no-store", "--store", "{tmp}/store"], "--no-store and --store"),
    (["ed", *S4, "--method", "foo"], "invalid choice"),
    (["ed", *S4, "--j2", "0.31", "--store", "{file}"], "is a file, not a directory"),
    (["ed", *S4, "--sector", "Z9"], "Z9"),
    (["plot", "{tmp}/nothing"], "does not exist"),
    (["leakage", "{tmp}/nothing"], "no config.json"),
]


def _tree(*roots: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns if p.is_file() else 0)
    return out


@pytest.mark.parametrize("argv,expect", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_fails_fast_with_one_line_and_writes_nothing(argv, expect, tmp_path, monkeypatch, capsys):
    assert len(CASES) >= 30
    work = tmp_path / "work"
    work.mkdir()
    a_file = work / "a-file.toml"
    a_file.write_text('lattice = "triangular-4x4"\n')
    args = []
    for arg in argv:
        if arg.startswith("{bad:"):
            cfg = work / "bad.toml"
            cfg.write_text('lattice = "triangular-4x4"\n' + arg[5:-1] + "\n")
            arg = str(cfg)
        args.append(arg.replace("{tmp}", str(work)).replace("{file}", str(a_file)))
    monkeypatch.chdir(work)
    store = Path(os.environ["NQS_DILATED_STORE"])
    before = _tree(work, store)
    with pytest.raises(SystemExit) as exc:  # argparse errors exit; ours return 2
        raise SystemExit(main_cli.main(args))
    assert exc.value.code == 2, args
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert expect in lines[0], (expect, lines[0])
    assert _tree(work, store) == before, args


def test_a_negative_range_after_an_option_needs_no_equals_sign():
    from nqs_dilated.cli import parser as parser_cli
    from nqs_dilated.cli.common import attach_negative_values
    from nqs_dilated.experiments.sweep_config import resolve_sweep

    assert attach_negative_values(["--j2", "-0.5:0:0.25", "--quiet", "--seed", "-1"]) == [
        "--j2=-0.5:0:0.25",
        "--quiet",
        "--seed=-1",
    ]
    args = parser_cli.build_parser("sweep").parse_args(attach_negative_values(["--j2", "-0.5:0:0.25", *S4]))
    values, sweep_values = parser_cli.values_from_args(args, "sweep")
    _, sweep = resolve_sweep(values, sweep_values)
    assert sweep.j2 == (-0.5, -0.25, 0.0)
