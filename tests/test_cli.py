"""The command line: one set of defaults, what ``ed`` prints and in which order, warnings on one line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from nqs_dilated.cli import ed as ed_cli
from nqs_dilated.cli.common import one_line_warnings
from nqs_dilated.config import FitConfig
from nqs_dilated.ed.store import StoreWarning

ED_FAST = ["--lattice", "triangular-4x4", "--quiet"]


def test_ed_defaults_are_the_fit_defaults_and_help_shows_them(capsys):
    """``ed`` used 4x4 / J2 = 0.5 while ``fit`` used 4x6 / 1.0, and ``ed --help`` showed neither."""
    d = FitConfig()
    args = ed_cli.build_parser().parse_args([])
    assert (args.lattice, float(args.j2), args.j1, args.method, args.sector) == (d.lattice, d.j2, d.j1, d.ed_method, d.sector)
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
            warnings.warn("first line\nsecond line", StoreWarning)
            warnings.warn("numpy says", RuntimeWarning)
    assert warnings.showwarning is before
    assert capsys.readouterr().err.splitlines() == [
        "warning: first line; second line",
        "warning (RuntimeWarning): numpy says",
    ]
