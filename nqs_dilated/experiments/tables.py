"""The tables of a sweep directory: ``results.csv``, ``ed.csv`` and ``summary.md`` (pandas).

* ``results.csv``: one row per finished run, in the order of the sweep (J2, variant, seed):
  ``run`` (run directory relative to the sweep), ``variant``, every configuration field as
  ``config.<field>`` (``config.out`` relative to the sweep directory) and every field of the run's
  ``summary.json``, nested dicts flattened with dots (``metrics.test.overlap``). Wall-time columns
  are listed in :data:`WALL_TIME_COLUMNS`; everything else is reproducible run by run.
* ``ed.csv``: one row per J2: the exact ground state used as reference (energy and energy per
  site in the Pauli convention, sector, energies of every sector searched, residual, gap,
  Marshall-sign overlap).
* ``summary.md``: mean and sample standard deviation (``ddof = 1``, empty for one seed) over
  seeds per J2 and variant: test accuracy, weighted accuracy and overlap (sign task), relative
  energy error (VMC); the ED energy per site; then the ED table.

Numbers are written by pandas (CSV: shortest round-trip representation; markdown: ``tabulate``
with a fixed format per column).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import write_atomic

__all__ = [
    "ED_FILE",
    "METRICS",
    "RESULTS_FILE",
    "SUMMARY_FILE",
    "WALL_TIME_COLUMNS",
    "ed_frame",
    "markdown",
    "mean_std_table",
    "per_seed_table",
    "read_ed",
    "read_results",
    "replace_runs",
    "render_summary",
    "results_frame",
    "summary_frame",
    "write_csv",
]

RESULTS_FILE = "results.csv"
ED_FILE = "ed.csv"
SUMMARY_FILE = "summary.md"
#: Columns of ``results.csv`` holding wall times (they differ between two runs of one sweep).
WALL_TIME_COLUMNS = ("seconds", "train_seconds", "seconds_per_iter")
#: Summary metrics averaged over seeds, per task: ``(column, heading, tabulate format)``.
METRICS = {
    "sign": (
        ("test_accuracy", "test accuracy", ".4f"),
        ("test_weighted_accuracy", "weighted accuracy", ".4f"),
        ("test_overlap", "overlap", ".4f"),
    ),
    "vmc": (("relative_error", "relative energy error", ".3e"),),
}
_ENERGY = ("ed_energy_per_site", "E_ED/N", ".6f")


def _flatten(prefix: str, obj: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(name + ".", value, out)
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(list(value))
        else:
            out[name] = value


def results_frame(rows: Iterable[dict[str, Any]], directory: str | Path) -> pd.DataFrame:
    """One row per finished run.

    Args:
        rows: Dicts with ``run`` (name), ``variant`` (label), ``config`` (the flat keys of the run, :meth:`~nqs_dilated.experiments.specs.RunSpec.flat`)
            and ``summary`` (the run's ``summary.json``), in sweep order.
        directory: The sweep directory; ``out`` paths are written relative to it.

    Returns:
        A DataFrame (columns in the module docstring); empty with columns ``run``, ``variant``
        when no run has finished.
    """
    directory = Path(directory).resolve()
    records = []
    for row in rows:
        record: dict[str, Any] = {"run": row["run"], "variant": row["variant"]}
        config = dict(row["config"])
        if config.get("out"):
            config["out"] = str(Path(config["out"]).resolve().relative_to(directory))
        _flatten("config.", config, record)
        summary = {k: v for k, v in row["summary"].items() if k not in ("out", "skipped")}
        _flatten("", summary, record)
        records.append(record)
    if not records:
        return pd.DataFrame(columns=["run", "variant"])
    return pd.DataFrame.from_records(records)


def ed_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """``ed.csv`` from the reference rows of :func:`nqs_dilated.experiments.references.reference_states`."""
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        _flatten("", row, record)
        records.append(record)
    return pd.DataFrame.from_records(records)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (no index) atomically (temporary file, then rename)."""
    path = Path(path)
    write_atomic(path, frame.to_csv(index=False))
    return path


def read_results(directory: str | Path) -> pd.DataFrame:
    """``results.csv`` of a sweep directory.

    Raises:
        FileNotFoundError: no ``results.csv`` (the sweep wrote none yet).
    """
    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a sweep directory, or no run has finished yet")
    return pd.read_csv(path)


def replace_runs(
    results: pd.DataFrame, reruns: list[pd.DataFrame], key: tuple[str, ...] = ("j2", "variant", "seed")
) -> tuple[pd.DataFrame, list[tuple[pd.Series, pd.Series]]]:
    """``results`` with each run of ``reruns`` (results frames of other sweeps) in place of the run
    with the same ``key`` values, sorted by ``key``.

    Returns:
        The new frame and the ``(old row, new row)`` pairs, in the order of ``reruns``.

    Raises:
        ValueError: a rerun matches no run, or several runs, of ``results``.
    """
    key = list(key)
    out, pairs = results.copy(), []
    for new in reruns:
        for i, row in new.iterrows():
            match = (out[key] == row[key].to_numpy()).all(axis=1)
            if match.sum() != 1:
                raise ValueError(f"no single run of the results matches the rerun {dict(row[key])}")
            pairs.append((out.loc[match].iloc[0], row))
            out = pd.concat([out.loc[~match], new.loc[[i]]], ignore_index=True)
    return out.sort_values(key, kind="stable").reset_index(drop=True), pairs


def read_ed(directory: str | Path) -> pd.DataFrame:
    """``ed.csv`` of a sweep directory (raises FileNotFoundError when missing)."""
    path = Path(directory) / ED_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a sweep directory")
    return pd.read_csv(path)


def _keys(results: pd.DataFrame, task: str) -> list[str]:
    """Grouping columns: ``j2``, ``eps`` when a sign sweep has several, ``variant``."""
    several_eps = task == "sign" and "eps" in results.columns and results["eps"].nunique() > 1
    return ["j2", "eps", "variant"] if several_eps else ["j2", "variant"]


def summary_frame(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean, sample standard deviation (``ddof = 1``) and count over seeds per (J2, eps, variant)
    (``eps`` only when the sweep has several).

    Args:
        results: The frame of :func:`results_frame` (or ``results.csv``).
        task: ``"sign"`` or ``"vmc"`` (which metrics, :data:`METRICS`).

    Returns:
        Columns ``j2``, (``eps``,) ``variant``, ``seeds``, then ``<metric> mean`` and
        ``<metric> std`` for every metric, and ``ed_energy_per_site`` (one value per J2); rows in
        sweep order.
    """
    metrics = [m for m, _, _ in METRICS[task]]
    if results.empty:
        return pd.DataFrame(columns=["j2", "variant", "seeds"])
    grouped = results.groupby(_keys(results, task), sort=False)
    out = grouped.size().rename("seeds").to_frame()
    for metric in metrics:
        out[f"{metric} mean"] = grouped[metric].mean()
        out[f"{metric} std"] = grouped[metric].std(ddof=1)
    if "ed_energy_per_site" in results.columns:
        out["ed_energy_per_site"] = grouped["ed_energy_per_site"].first()
    else:  # VMC summaries hold E_ED and N
        out["ed_energy_per_site"] = grouped["ed_energy"].first() / grouped["n_sites"].first()
    return out.reset_index()


def mean_std_table(results: pd.DataFrame, metric: str, fmt: str = ".3f") -> pd.DataFrame:
    """A compact table of one sign metric: rows ``(J2, eps)``, one column per variant holding
    ``"mean ± std"`` over seeds (``"mean"`` alone for one seed), and the Marshall sign rule's
    value on the same test sets (``marshall_<metric>``, mean over the runs) as the last column.
    """
    if results.empty:
        return pd.DataFrame()
    keys = ["j2", "eps"] if "eps" in results.columns else ["j2"]
    stats = results.groupby(keys + ["variant"], sort=False)[metric].agg(["mean", "std"])
    cell = stats.apply(lambda r: f"{r['mean']:{fmt}}" + ("" if pd.isna(r["std"]) else f" ± {r['std']:{fmt}}"), axis=1)
    table = cell.unstack("variant")
    table = table[list(dict.fromkeys(results["variant"]))]
    baseline = f"marshall_{metric}"
    if baseline in results.columns:
        table["Marshall sign"] = results.groupby(keys, sort=False)[baseline].mean().map(lambda v: f"{v:{fmt}}")
    return table.reset_index()


def per_seed_table(results: pd.DataFrame, metric: str, fmt: str = ".3f") -> pd.DataFrame:
    """One sign metric per seed: rows ``(J2, eps)``, one column per variant holding the values of
    its seeds in increasing seed order, ``"a / b / c"`` (several cells are bimodal over seeds,
    which a mean ± std hides)."""
    if results.empty:
        return pd.DataFrame()
    keys = ["j2", "eps"] if "eps" in results.columns else ["j2"]
    ordered = results.sort_values("seed", kind="stable") if "seed" in results.columns else results
    cell = ordered.groupby(keys + ["variant"], sort=False)[metric].agg(lambda v: " / ".join(f"{x:{fmt}}" for x in v))
    table = cell.unstack("variant")
    return table[list(dict.fromkeys(results["variant"]))].reset_index()


def markdown(frame: pd.DataFrame, formats: list[str]) -> str:
    """A markdown table of ``frame`` (pandas ``to_markdown``, i.e. ``tabulate``), one format per
    column; missing values (NaN, e.g. the std of one seed) are left empty."""
    cells = frame.astype(object).where(frame.notna(), None)
    return cells.to_markdown(index=False, floatfmt=tuple(formats), missingval="")


def render_summary(
    results: pd.DataFrame, ed: pd.DataFrame, *, task: str, header: dict[str, Any], n_planned: int
) -> str:
    """The text of ``summary.md``.

    Args:
        results: :func:`results_frame` of the finished runs.
        ed: :func:`ed_frame` of the references.
        task: ``"sign"`` or ``"vmc"``.
        header: Facts printed above the tables (lattice, eps, ...), as ``key: value`` items.
        n_planned: Number of runs in the sweep (the tables say how many finished).
    """
    table = summary_frame(results, task)
    names = {"j2": "J2/J1", "eps": "eps", "variant": "model", "seeds": "seeds"}
    formats = ["g", "g", "", "d"] if "eps" in table.columns else ["g", "", "d"]
    for metric, heading, fmt in METRICS[task]:
        names[f"{metric} mean"] = f"{heading} mean"
        names[f"{metric} std"] = f"{heading} std"
        formats += [fmt, fmt]
    names["ed_energy_per_site"] = _ENERGY[1]
    formats.append(_ENERGY[2])
    lines = [f"# Sweep summary: {header.get('lattice', '')}, task {task}", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += [
        f"- runs finished: {len(results)} of {n_planned}",
        "- energies: Pauli convention (sigma.sigma, 4x the S.S energy), units of J1",
        "- mean and std over seeds; std is the sample standard deviation (ddof = 1), empty for one seed",
        "",
        "## Results per J2/J1 and model",
        "",
    ]
    if table.empty:
        lines.append("(no run has finished yet)")
    else:
        lines.append(markdown(table.rename(columns=names), formats))
        if task == "sign":
            for metric, heading in (("test_overlap", "Test overlap"), ("test_accuracy", "Test accuracy")):
                compact = mean_std_table(results, metric)
                marshall = (
                    " (last column: the Marshall sign rule on the same test sets)"
                    if "Marshall sign" in compact.columns
                    else ""
                )
                lines += ["", f"## {heading}, mean ± std over seeds{marshall}", ""]
                lines.append(markdown(compact.rename(columns={"j2": "J2/J1"}), ["g"] * len(compact.columns)))
            seeds = per_seed_table(results, "test_overlap")
            lines += ["", "## Test overlap per seed (seeds in increasing order)", ""]
            lines.append(markdown(seeds.rename(columns={"j2": "J2/J1"}), ["g"] * len(seeds.columns)))
    lines += ["", "## Exact ground states", ""]
    ed_columns = {
        "j2": ("J2/J1", "g"),
        "energy": ("E0", ".8f"),
        "energy_per_site": ("E0/N", ".8f"),
        "sector": ("sector", ""),
        "gap": ("gap", ".6f"),
        "marshall_overlap": ("Marshall-sign overlap", ".4f"),
        "sq_peak_m1": ("S(q) peak m1", "g"),
        "sq_peak_m2": ("m2", "g"),
        "sq_peak": ("S(q_peak) (S.S)", ".4f"),
        "method": ("ED method", ""),
        "residual": ("residual", ".1e"),
    }
    present = [c for c in ed_columns if c in ed.columns]
    lines.append(
        markdown(
            ed[present].rename(columns={c: ed_columns[c][0] for c in present}), [ed_columns[c][1] for c in present]
        )
    )
    return "\n".join(lines) + "\n"
