"""The command line: one set of defaults, what ``ed`` prints and in which order, warnings on one line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from nqs_dilated.cli import ed as ed_cli
from nqs_dilated.cli.common import one_line_warnings
from nqs_dilated.ed.store import StoreWarning
from nqs_dilated.experiments.config import FitConfig

ED_FAST = ["--lattice", "triangular-4x4", "--quiet"]


def test_ed_defaults_are_the_fit_defaults_and_help_shows_them(capsys):
    """``ed`` used 4x4 / J2 = 0.5 while ``fit`` used 4x6 / 1.0, and ``ed --help`` showed neither."""
    d = FitConfig()
    args = ed_cli.build_parser().parse_args([])
    assert (args.lattice, float(args.j2), args.j1, args.method, args.sector) == (
        d.lattice,
        d.j2,
        d.j1,
        d.ed_method,
        d.sector,
    )
    with pytest.raises(SystemExit):
        ed_cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in (f"default {d.lattice}", f"default {d.j2:g}", f"default {d.ed_method}"):
        assert shown in text, shown


def test_ed_prints_header_then_work_then_result(tmp_path, capsys):
    """The cluster and J2 come first, then an 'exact ground state ...' line, then the energies."""
    assert ed_cli.main(ED_FAST + ["--j2", "0.5", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("ED: triangular-4x4") < out.index("exact ground state at J2 = 0.5") < out.index("E0 ")


def test_ed_gap_is_labelled_and_the_gap_to_the_next_sector_printed(tmp_path, capsys):
    """``gap`` was the gap inside the ground-state sector, unlabelled; the gap to the lowest other
    sector (from the sector energies of the search) is printed too, and is in the JSON."""
    assert ed_cli.main(ED_FAST + ["--j2", "0.5", "--store", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "ED: triangular-4x4" in captured.err  # the header does not spoil the JSON lines
    energies = result["sector_energies"]
    others = {k: e for k, e in energies.items() if k != result["sector"]}
    lowest = min(others, key=others.get)
    assert result["gap_within"] == f"sector {result['sector']}"
    assert result["lowest_other_sector"] == lowest
    assert result["gap_to_other_sector"] == pytest.approx(others[lowest] - result["energy"])
    assert ed_cli.main(ED_FAST + ["--j2", "0.5", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"gap within sector {result['sector']}: " in out
    assert f"gap to the lowest other sector ({lowest}): {result['gap_to_other_sector']:.6g}" in out
    assert "gap    =" not in out


def test_ed_netket_gap_is_within_sz0(tmp_path, capsys):
    assert ed_cli.main(ED_FAST + ["--j2", "0", "--method", "netket", "--json", "--store", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["gap_within"] == "Sz = 0" and result["lowest_other_sector"] is None


def test_store_corruption_warning_is_one_readable_line(tmp_path, capsys):
    """A corrupt store file: one ``warning: ...`` line on stderr, not Python's warning format
    (``path:line: StoreWarning: ...`` followed by the source line)."""
    assert ed_cli.main(ED_FAST + ["--j2", "0", "--method", "netket", "--json", "--store", str(tmp_path)]) == 0
    path = Path(json.loads(capsys.readouterr().out)["store_path"])
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the vector data
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert ed_cli.main(ED_FAST + ["--j2", "0", "--method", "netket", "--json", "--store", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"warning: {path}: ") and "recomput" in lines[0], lines[0]
    assert "StoreWarning" not in err and "warnings.warn" not in err


def test_one_line_warnings_only_inside_the_cli(capsys):
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with one_line_warnings():
            warnings.warn("first line\nsecond line", StoreWarning, stacklevel=1)
            warnings.warn("numpy says", RuntimeWarning, stacklevel=1)
    assert warnings.showwarning is before
    assert capsys.readouterr().err.splitlines() == [
        "warning: first line; second line",
        "warning (RuntimeWarning): numpy says",
    ]


# --- one command, subcommands, config tables ------------------------------------------------------

import tomllib  # noqa: E402

from nqs_dilated.cli import main as main_cli  # noqa: E402
from nqs_dilated.cli import parser as parser_cli  # noqa: E402
from nqs_dilated.experiments.config import COMMON_KEYS, SIGN_KEYS, VMC_KEYS, ConfigError  # noqa: E402
from nqs_dilated.experiments.config_file import config_values, load_toml, task_defaults  # noqa: E402
from nqs_dilated.experiments.resolve import resolve  # noqa: E402
from nqs_dilated.experiments.sweep_config import resolve_sweep  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TINY_SIGN = [
    "--lattice",
    "triangular-4x4",
    "--j2",
    "0.5",
    "--model",
    "dense",
    "--hidden",
    "4",
    "--steps",
    "20",
    "--quiet",
]


def test_console_script_and_every_field_in_one_section():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"nqs-dilated": "nqs_dilated.cli.main:main"}
    fields = set(FitConfig.__dataclass_fields__)
    assert set(COMMON_KEYS) | set(SIGN_KEYS) | set(VMC_KEYS) == fields
    assert not set(COMMON_KEYS) & (set(SIGN_KEYS) | set(VMC_KEYS)) and set(SIGN_KEYS) & set(VMC_KEYS) == {"lr"}


@pytest.mark.parametrize(
    "command,lr_help", [("sign", "Adam learning rate (default 0.001)"), ("vmc", "SGD step of SR (default 0.02)")]
)
def test_help_shows_the_defaults_of_each_command(command, lr_help, capsys):
    """Every option of ``sign`` and ``vmc`` names its default, and ``--lr`` the right one per task."""
    parser = parser_cli.build_parser(command)
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "quiet", "out"):
            assert "default" in (action.help or ""), (command, action.option_strings)
    with pytest.raises(SystemExit):
        main_cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert lr_help in text and "default triangular-4x6" in text
    assert task_defaults(command)["lr"] == (0.001 if command == "sign" else 0.02)


def test_sweep_help_gives_both_learning_rates(capsys):
    with pytest.raises(SystemExit):
        main_cli.main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Adam learning rate for --task sign (default 0.001), SGD step of SR for --task vmc (default 0.02)" in text


def test_no_command_or_an_unknown_one_is_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main_cli.main(["fit"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main_cli.main(["--help"])
    assert info.value.code == 0 and "sweep" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,match",
    [
        (["sign", "--j2", "0:1:0.5"], "run `nqs-dilated sweep`"),
        (["vmc", "--model", "dilated,cnn"], "run `nqs-dilated sweep`"),
        (["sign", "--dilations", "1,2", "--dilations", "1,1"], "run `nqs-dilated sweep`"),
    ],
)
def test_a_list_given_to_a_single_run_names_sweep(argv, match, tmp_path, capsys):
    assert main_cli.main(argv + ["--lattice", "triangular-4x4", "--out", str(tmp_path / "x")]) == 2
    assert match in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_sweep_flags_given_to_a_single_run_name_their_command(capsys):
    with pytest.raises(SystemExit):
        main_cli.main(["sign", "--seeds", "3"])
    assert "--seeds: not an option of `nqs-dilated sign`, but of `nqs-dilated sweep`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main_cli.main(["vmc", "--trials=3"])
    assert "of `nqs-dilated search`" in capsys.readouterr().err


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text,match",
    [
        ("eps = 0.05\n", "key 'eps' belongs in the [sign] table"),  # the old flat form
        ("n_iter = 10\n", "key 'n_iter' belongs in the [vmc] table"),
        ("lr = 0.1\n", "key 'lr' belongs in the [sign] or [vmc] table"),
        ("seeds = 3\n", "key 'seeds' belongs in the [sweep] table"),
        ('[sign]\nmode = "full"\n', "unknown key 'mode' in [sign]; it belongs in [vmc]"),
        ('[vmc]\nlattice = "triangular-4x4"\n', "unknown key 'lattice' in [vmc]; it belongs in the top level"),
        ("[sweep]\nepochs = 3\n", "unknown key 'epochs' in [sweep]; it belongs in [sign]"),
        ("epochz = 3\n", "unknown key 'epochz'"),
        ("sign = 3\n", "'sign' must be a table"),
    ],
)
def test_config_file_keys_outside_their_table(tmp_path, text, match):
    with pytest.raises(ConfigError) as info:
        load_toml(_write(tmp_path, text))
    assert match in str(info.value)


def test_a_list_in_a_config_file_is_a_sweep_only_for_sweep(tmp_path):
    path = _write(tmp_path, 'lattice = "triangular-4x4"\nj2 = [0.0, 1.0]\n[sign]\neps = [0.05, 0.1]\n')
    with pytest.raises(
        ConfigError, match="j2 = \\[0.0, 1.0\\] holds several values, a sweep: run this file with `nqs-dilated sweep`"
    ):
        config_values(load_toml(path), "sign")
    base, sweep = resolve_sweep(*config_values(load_toml(path), "sign", sweep=True))
    assert sweep.j2 == (0.0, 1.0) and sweep.eps == (0.05, 0.1)


def test_config_file_tables_give_each_task_its_values(tmp_path):
    path = _write(
        tmp_path,
        'lattice = "triangular-4x4"\nj2 = 0.5\n[sign]\nlr = 0.005\neps = 0.1\n'
        '[vmc]\nlr = 0.05\nn_iter = 7\n[sweep]\nj2 = "0:1:0.5"\nseeds = 2\n',
    )
    sign = parser_cli.config_from_args(parser_cli.build_parser("sign").parse_args([str(path)]), "sign")
    vmc = parser_cli.config_from_args(
        parser_cli.build_parser("vmc").parse_args(
            [str(path), "--n-iter", "9", "--mode", "fixed-sign", "--sign-source", "fit"]
        ),
        "vmc",
    )
    assert (sign.task, sign.sign.lr, sign.sign.eps, sign.problem.j2, sign.vmc) == ("sign", 0.005, 0.1, 0.5, None)
    # VMC reads [sign] for the fit a chain runs first (sign source or prior "fit"): [sign] lr is its Adam rate
    assert (vmc.task, vmc.vmc.lr, vmc.vmc.n_iter, vmc.problem.j2, vmc.sign.eps, vmc.sign.lr) == (
        "vmc",
        0.05,
        9,
        0.5,
        0.1,
        0.005,
    )
    # without a chain the run has no sign spec: its identity is that of the file without [sign]
    plain = parser_cli.config_from_args(parser_cli.build_parser("vmc").parse_args([str(path)]), "vmc")
    no_sign = tmp_path / "no-sign.toml"
    no_sign.write_text('lattice = "triangular-4x4"\nj2 = 0.5\n[vmc]\nlr = 0.05\nn_iter = 7\n')
    assert plain == parser_cli.config_from_args(parser_cli.build_parser("vmc").parse_args([str(no_sign)]), "vmc")
    assert plain.sign is None and plain.identity() == plain.identity()
    base, sweep = resolve_sweep(
        *parser_cli.values_from_args(parser_cli.build_parser("sweep").parse_args([str(path)]), "sweep")
    )
    assert sweep.j2 == (0.0, 0.5, 1.0) and sweep.n_seeds == 2 and base["lr"] == 0.005
    # without tables each task has its own learning rate
    bare = _write(tmp_path, 'lattice = "triangular-4x4"\n')
    assert resolve(config_values(load_toml(bare), "vmc")[0]).vmc.lr == 0.02
    assert resolve(config_values(load_toml(bare), "sign")[0]).sign.lr == 0.001
    with pytest.raises(ConfigError, match="for task 'vmc'"):
        config_values({"task": "vmc"}, "sign")


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_examples_resolve(path):
    """Each example resolves for the command its header names (``nqs-dilated COMMAND examples/...``)."""
    import re

    command = re.search(r"nqs-dilated (sign|vmc|sweep|search) ", path.read_text()).group(1)
    args = parser_cli.build_parser(command).parse_args([str(path)])
    values, sweep_values = parser_cli.values_from_args(args, command)
    if command in ("sweep", "search"):
        base, sweep = resolve_sweep(values, sweep_values)
        assert bool(sweep.search) == (command == "search")
    else:
        assert resolve(values).task == command


def test_subcommands_and_the_fit_alias(tmp_path, capsys):
    """``nqs-dilated sign`` and ``python -m nqs_dilated.fit`` (no command) run the same sign fit;
    ``--task vmc`` makes the alias ``vmc``; ``nqs-dilated ed`` is the ED front end."""
    assert main_cli.main(["sign"] + TINY_SIGN + ["--out", str(tmp_path / "a")]) == 0
    assert main_cli.fit_main(TINY_SIGN + ["--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / n / "summary.json").read_text()) for n in "ab")
    assert a["metrics"] == b["metrics"]
    capsys.readouterr()
    assert main_cli.fit_main(["--task", "vmc", "--lattice", "triangular-4x4", "--n-samples", "100"]) == 2
    assert "not a multiple of n_chains" in capsys.readouterr().err  # validated as a VMC run
    assert (
        main_cli.main(
            [
                "ed",
                "--lattice",
                "triangular-4x4",
                "--j2",
                "0",
                "--method",
                "netket",
                "--json",
                "--quiet",
                "--store",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["energy"] == pytest.approx(-44.9139328337, abs=1e-8)


def test_energy_text_shows_the_real_part():
    from netket.stats import Stats

    from nqs_dilated.training.progress import energy_text

    text = energy_text(Stats(mean=np.complex128(-44.849 - 1e-5j), error_of_mean=0.012, variance=1.1, R_hat=1.01))
    assert text.startswith("-44.849 ± 0.012") and "j" not in text


def test_vmc_prints_netket_choices_on_stderr_and_real_energies(tmp_path, capsys):
    """NetKet's 'Automatic SR implementation choice' went to stdout, and the fixed-sign progress bar
    showed complex energies (-44.849-0.000j)."""
    args = [
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        "marshall",
        "--channels",
        "4,4",
        "--dilations",
        "1,2",
        "--n-iter",
        "3",
        "--n-samples",
        "128",
        "--n-chains",
        "8",
        "--out",
        str(tmp_path / "vmc"),
    ]
    assert main_cli.main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("VMC: triangular-4x4")
    assert "Automatic SR implementation choice" not in captured.out
    assert "Automatic SR implementation choice" in captured.err
    bar = captured.err.replace("\r", "\n")
    assert "Energy=" in bar and "j ±" not in bar


def test_leakage_of_an_old_run_and_of_an_orbit_split_run(tmp_path, capsys):
    """``nqs-dilated leakage`` draws a run's sets again: a run of the configuration split (here
    with the flat config.json of schema 1 without ``split``, as earlier versions wrote it) has
    test weight in training orbits, an orbit-split run none; the summary says which split a run used."""
    for name, split in (("old", "configurations"), ("new", "orbits")):
        assert main_cli.main(["sign"] + TINY_SIGN + ["--split", split, "--out", str(tmp_path / name)]) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert summary["split"] == split and summary["coverage"]["n_train_orbits"] > 0
        assert 0 < summary["coverage"]["train_orbit_weight"] < 1
    from nqs_dilated.experiments.rundir import read_spec

    # the old form: flat keys, no schema, no split (the implied value of directories written before it)
    flat = {k: v for k, v in read_spec(tmp_path / "old").flat().items() if k != "split"}
    (tmp_path / "old" / "config.json").write_text(json.dumps(flat))
    assert read_spec(tmp_path / "old").sign.split == "configurations"
    capsys.readouterr()
    assert main_cli.main(["leakage", "--json", str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    old, new = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert old["split"] == "configurations" and old["test_in_train_orbits"] > 0.1
    assert new["split"] == "orbits" and new["test_in_train_orbits"] == 0 and new["val_orbits_in_train"] == 0
    assert old["n_train_orbits"] == new["n_train_orbits"]  # the same training draws
    assert main_cli.main(["leakage", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


@pytest.mark.parametrize("region", ["header", "metadata", "checksum", "data", "truncated"])
def test_a_damaged_store_file_is_recomputed_and_replaced(region, tmp_path, capsys):
    """Bytes flipped in any region of a stored file (HDF5 header, the metadata text, its checksum,
    the vector) or a truncated file: one warning line naming the file, the state recomputed (same
    energy) and the file replaced, so the next run reads it without a warning."""
    args = ED_FAST + ["--j2", "0", "--method", "netket", "--json", "--store", str(tmp_path)]
    assert ed_cli.main(args) == 0
    first = json.loads(capsys.readouterr().out)
    path = Path(first["store_path"])
    raw = bytearray(path.read_bytes())
    if region == "header":
        raw[1:4] = b"XYZ"  # the HDF5 signature
    elif region == "metadata":
        at = raw.find(b'"lattice"')
        assert at > 0
        raw[at + 1 : at + 4] = bytes([0xFF, 0xFE, 0xC3])  # not UTF-8 any more
    elif region == "checksum":
        import h5py

        with h5py.File(path, "r") as f:
            checksum = str(f.attrs["checksum"]).encode()
        at = raw.find(checksum)
        assert at > 0
        raw[at] = ord("0") if raw[at] != ord("0") else ord("1")
    elif region == "data":
        raw[len(raw) // 2] ^= 0xFF
    else:
        raw = raw[: len(raw) // 2]
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert ed_cli.main(args) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "warning" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {path}: ") and "recomput" in lines[0], captured.err
    again = json.loads(captured.out)
    assert again["energy"] == pytest.approx(first["energy"], abs=1e-9) and not again["loaded_from_store"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        assert ed_cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)["loaded_from_store"]
