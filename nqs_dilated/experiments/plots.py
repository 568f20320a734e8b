"""Figures of a sweep directory, drawn from its files alone (``results.csv``, ``ed.csv``, ``sweep.json``).

``python -m nqs_dilated.fit plot SWEEP_DIR`` calls :func:`plot_sweep`. Every figure is written as
PNG (300 dpi) and PDF under ``SWEEP_DIR/plots/``, sized for a paper column or page (3.4 or 7 inches
wide, 8-9 pt text):

* ``overlap_vs_j2``: test overlap ``sum |psi|^2 s_pred s / sum |psi|^2`` vs J2/J1 per model, mean
  and standard deviation over seeds as error bars, with the overlap of the Marshall sign rule as
  a reference (sign task); one panel per eps when the sweep has several.
* ``accuracy_vs_j2``: test accuracy (fraction of configurations) and ``|psi|^2``-weighted accuracy
  vs J2/J1 per model (sign task); one row per eps.
* ``vmc_error_vs_j2``: relative energy error ``|E_var - E_ED| / |E_ED|`` vs J2/J1, log scale (VMC):
  one line per (model variant, mode, sign source), mean and standard deviation over seeds.
* ``ed_energy_vs_j2``: ED ground-state energy per site (Pauli convention, sigma.sigma = 4 S.S, in
  units of J1) vs J2/J1, marker by ground-state sector, the lowest energy of every other sector
  searched as thin lines.

The frustrated region (shaded) is where the sign structure of the exact ground state departs from
the Marshall rule, exact at J2 = 0 (bipartite square lattice of J1 bonds): where the
Marshall-sign overlap in ``ed.csv`` is below :data:`MARSHALL_THRESHOLD`, its edge placed by linear
interpolation in J2. Give ``frustrated=(lo, hi)`` to draw another interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import (
    _J2_LABEL,
    _LEGEND_WIDTH,
    _STYLE,
    MARSHALL_THRESHOLD,
    _shade,
    frustrated_region,
    new_figure,
    save_figure,
)
from .rundir import METRICS
from .tables import read_ed, read_results

__all__ = [
    "MARSHALL_THRESHOLD",
    "energy_figure",
    "frustrated_region",
    "plot_sweep",
    "plot_vmc_run",
    "vmc_energy_series",
    "vmc_error_figure",
]


def _by_variant(results: pd.DataFrame, metric: str):
    """``(variant, j2, mean, std)`` per variant in order of appearance (std 0 for one seed)."""
    for variant, group in results.groupby("variant", sort=False):
        stats = group.groupby("j2")[metric].agg(["mean", "std"]).sort_index()
        yield (
            variant,
            stats.index.to_numpy(float),
            stats["mean"].to_numpy(float),
            stats["std"].fillna(0).to_numpy(float),
        )


def _metric_axes(ax, results, metric, ylabel, region, *, log=False, legend=True, marshall=None):
    _shade(ax, region, legend)
    for k, (variant, j2, mean, std) in enumerate(_by_variant(results, metric)):
        ax.errorbar(j2 + 0.006 * (k - 1), mean, yerr=std, marker="os^vD<>"[k % 7], capsize=2, label=variant)
    if marshall is not None:
        ax.plot(marshall["j2"], marshall["marshall_overlap"], "k--", lw=0.8, label="Marshall sign rule")
    ax.set_xlabel(_J2_LABEL)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, lw=0.5)
    if legend:  # beside the panels, where it covers no point
        ax.figure.legend(*ax.get_legend_handles_labels(), frameon=False, loc="outside right upper")


def plot_sweep(directory: str | Path, *, frustrated: tuple[float, float] | None = None) -> list[Path]:
    """Draw every figure of the module docstring that the sweep's files support.

    Args:
        directory: A sweep directory (holding ``ed.csv``; ``results.csv`` for the model figures).
        frustrated: J2 interval to shade (default :func:`frustrated_region` of ``ed.csv``).

    Returns:
        The files written (PNG and PDF).

    Raises:
        FileNotFoundError: ``directory`` holds no ``ed.csv`` (not a sweep directory).
    """
    import matplotlib

    directory = Path(directory)
    ed = read_ed(directory).sort_values("j2")
    try:
        results = read_results(directory)
    except FileNotFoundError:
        results = pd.DataFrame()
    record = json.loads((directory / "sweep.json").read_text()) if (directory / "sweep.json").exists() else {}
    task = (
        str(results["task"].iloc[0])
        if "task" in results.columns and len(results)
        else record.get("base", {}).get("task", "sign")
    )
    lattice = str(ed["lattice"].iloc[0]) if "lattice" in ed.columns and len(ed) else ""
    region = frustrated if frustrated is not None else frustrated_region(ed)
    out = directory / "plots"
    written: list[Path] = []
    with matplotlib.rc_context(_STYLE):
        if not results.empty and task == "sign":
            eps_values = sorted(results["eps"].unique()) if "eps" in results.columns else [None]
            titles = [f"{lattice}, eps = {e:g}, test set" if e is not None else lattice for e in eps_values]
            subsets = [results if e is None else results[results["eps"] == e] for e in eps_values]
            marshall = ed[["j2", "marshall_overlap"]] if "marshall_overlap" in ed else None
            fig, axes = new_figure(3.4 * len(eps_values) + _LEGEND_WIDTH, 2.6, len(eps_values))
            for k, (ax, sub, title) in enumerate(zip(axes, subsets, titles)):
                _metric_axes(
                    ax,
                    sub,
                    "test_overlap",
                    r"test overlap $\sum|\psi|^2 s_{\rm pred} s / \sum|\psi|^2$" if k == 0 else "",
                    region,
                    marshall=marshall,
                    legend=k == 0,
                )
                ax.set_title(title)
            written += save_figure(fig, out, "overlap_vs_j2")
            fig, axes = new_figure(7.0 + _LEGEND_WIDTH, 2.6 * len(eps_values), 2, nrows=len(eps_values))
            for k, (sub, title) in enumerate(zip(subsets, titles)):
                _metric_axes(
                    axes[2 * k],
                    sub,
                    "test_accuracy",
                    "test accuracy (fraction of configurations)",
                    region,
                    legend=k == 0,
                )
                _metric_axes(
                    axes[2 * k + 1],
                    sub,
                    "test_weighted_accuracy",
                    r"test accuracy, $|\psi|^2$-weighted",
                    region,
                    legend=False,
                )
                axes[2 * k].set_title(title, fontsize=8)
            written += save_figure(fig, out, "accuracy_vs_j2")
        if not results.empty and task == "vmc":
            written += save_figure(vmc_error_figure(results, region, title=f"{lattice}, VMC"), out, "vmc_error_vs_j2")
        written += _plot_ed(ed, region, out, lattice)
    return written


# --- VMC ---------------------------------------------------------------------------------------


def _vmc_label(variant: str, mode: str | None, sign: str | None) -> str:
    if not mode or mode != mode:  # absent or NaN
        return variant
    if mode == "fixed-sign" and isinstance(sign, str) and sign:
        return f"{variant}, fixed sign ({Path(sign).name})"
    return f"{variant}, {mode}"


def _vmc_groups(results: pd.DataFrame):
    """``(label, j2, mean, std, seeds)`` of ``relative_error`` per (variant, mode, sign source), in
    order of appearance; std is the sample standard deviation over seeds (0 for one seed)."""
    table = results.copy()
    for col in ("mode", "sign_source"):
        if col not in table.columns:
            table[col] = ""
        table[col] = table[col].fillna("").astype(str)
    for (variant, mode, sign), group in table.groupby(["variant", "mode", "sign_source"], sort=False):
        stats = group.groupby("j2")["relative_error"].agg(["mean", "std", "count"]).sort_index()
        yield (
            _vmc_label(str(variant), mode, sign),
            stats.index.to_numpy(float),
            stats["mean"].to_numpy(float),
            stats["std"].fillna(0).to_numpy(float),
            stats["count"].to_numpy(int),
        )


def vmc_error_figure(results: pd.DataFrame, region=None, *, title: str = ""):
    """The ``vmc_error_vs_j2`` figure: ``|E_var - E_ED| / |E_ED|`` vs J2/J1, log scale, one
    errorbar line per (model variant, mode, sign source) of ``results.csv`` (mean and standard
    deviation over seeds), the frustrated ``region`` shaded.

    Returns:
        A matplotlib ``Figure`` (one axes; its ``containers`` hold the error-bar lines in order).
    """
    fig, (ax,) = new_figure(3.4 + _LEGEND_WIDTH, 2.6)
    _shade(ax, region, True)
    for k, (label, j2, mean, std, _) in enumerate(_vmc_groups(results)):
        ax.errorbar(j2 + 0.006 * (k - 1), mean, yerr=std, marker="os^vD<>"[k % 7], capsize=2, label=label)
    ax.set_xlabel(_J2_LABEL)
    ax.set_ylabel(r"$|E_{\rm var} - E_{\rm ED}| / |E_{\rm ED}|$")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, lw=0.5)
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, loc="outside right upper")
    if title:
        ax.set_title(title)
    return fig


def vmc_energy_series(log: str | Path | dict) -> dict[str, np.ndarray]:
    """The energy per iteration from a NetKet ``JsonLog`` file (``vmc.log``) or its parsed content.

    Returns:
        ``iters`` (int), ``energy`` (real part of ``Energy.Mean``) and ``error`` (``Energy.Sigma``,
        the standard error of the mean), float arrays of one length, in the order logged.

    Raises:
        ValueError: no ``Energy`` history in the log.
    """
    data = json.loads(Path(log).read_text()) if not isinstance(log, dict) else log
    energy = data.get("Energy")
    if not isinstance(energy, dict) or "iters" not in energy:
        raise ValueError("the log holds no Energy history (not a VMC JsonLog)")
    mean = energy["Mean"]
    mean = mean["real"] if isinstance(mean, dict) else mean
    return {
        "iters": np.asarray(energy["iters"], dtype=int),
        "energy": np.asarray(mean, dtype=float),
        "error": np.asarray(energy.get("Sigma", [np.nan] * len(mean)), dtype=float),
    }


def energy_figure(series: dict[str, np.ndarray], ed_energy: float | None = None, *, title: str = ""):
    """Energy ± standard error vs iteration (left) and, with ``ed_energy``, the relative error
    ``|E - E_ED| / |E_ED|`` on a log scale (right); the ED energy as a dashed line.

    Args:
        series: :func:`vmc_energy_series`.
        ed_energy: Exact ground-state energy (Pauli convention), or None.
        title: Figure title.

    Returns:
        A matplotlib ``Figure``; the first axes holds the error-bar line (``containers[0]``).
    """
    it, e, err = series["iters"], series["energy"], series["error"]
    fig, axes = new_figure(7.0, 2.6, 2 if ed_energy is not None else 1)
    ax = axes[0]
    ax.errorbar(it, e, yerr=err, fmt="-", lw=0.8, elinewidth=0.5, color="C0", ecolor="C0", label="VMC")
    if ed_energy is not None:
        ax.axhline(ed_energy, color="k", ls="--", lw=0.8, label=f"ED {ed_energy:.6f}")
        rel = np.abs(e - ed_energy) / abs(ed_energy)
        axes[1].semilogy(it, rel, "-", lw=0.8, color="C0")
        axes[1].set_xlabel("iteration")
        axes[1].set_ylabel(r"$|E - E_{\rm ED}| / |E_{\rm ED}|$")
        axes[1].grid(alpha=0.3, lw=0.5)
        finite = e[np.isfinite(e)]
        if finite.size:  # the last three quarters of the run, where the interesting part is
            tail = finite[len(finite) // 4 :]
            lo, hi = min(tail.min(), ed_energy), tail.max()
            pad = 0.05 * (hi - lo) + 1e-12
            ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"energy ($J_1$; Pauli $\sigma\cdot\sigma$ = 4 S$\cdot$S)")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(frameon=False)
    if title:
        fig.suptitle(title, fontsize=8)
    return fig


def plot_vmc_run(directory: str | Path, *, ed_energy: float | None = None, title: str = "") -> list[Path]:
    """``plots/energy.png`` (and ``.pdf``) of one VMC run directory, from its ``vmc.log``.

    Args:
        directory: The run directory (holding ``vmc.log``).
        ed_energy: The exact energy for the reference line (default: ``ed_energy`` of the run's
            ``metrics.jsonl``, if any).
        title: Figure title.

    Returns:
        The written paths (atomically replaced).

    Raises:
        FileNotFoundError: no ``vmc.log``; ValueError: a log without an energy history.
    """
    import matplotlib

    directory = Path(directory)
    series = vmc_energy_series(directory / "vmc.log")
    if ed_energy is None and (directory / METRICS).exists():
        for line in (directory / METRICS).read_text().splitlines():
            if line.strip() and "ed_energy" in json.loads(line):
                ed_energy = float(json.loads(line)["ed_energy"])
    with matplotlib.rc_context(_STYLE):
        return save_figure(energy_figure(series, ed_energy, title=title), directory / "plots", "energy")


def _plot_ed(ed: pd.DataFrame, region, out: Path, lattice: str) -> list[Path]:
    fig, (ax,) = new_figure(3.4, 2.6)
    _shade(ax, region, True)
    sector_cols = sorted(c for c in ed.columns if c.startswith("sector_energies."))
    labels: dict[float, list[str]] = {}  # sector names at the right edge, merged where they coincide
    span = float(np.nanmax(ed[sector_cols].to_numpy()) - np.nanmin(ed[sector_cols].to_numpy())) if sector_cols else 0.0
    for col in sector_cols:  # per-site lowest energy of each sector searched
        ax.plot(ed["j2"], ed[col], lw=0.6, color="0.6", zorder=1)
        last = ed[col].dropna()
        if len(last):
            y = float(last.iloc[-1])
            key = next((k for k in labels if abs(k - y) < 0.03 * span), y)
            labels.setdefault(key, []).append(col.split(".", 1)[1])
    x_end = float(ed["j2"].max())
    for y, names in labels.items():
        ax.annotate(
            ", ".join(names),
            (x_end, y),
            fontsize=5.5,
            color="0.4",
            xytext=(2, 0),
            textcoords="offset points",
            va="center",
        )
    for k, (sector, group) in enumerate(ed.groupby("sector", sort=False)):
        ax.plot(group["j2"], group["energy_per_site"], "osD^v<>"[k % 7], zorder=3, label=f"ground state in {sector}")
    ax.plot(ed["j2"], ed["energy_per_site"], "k-", lw=0.8, zorder=2)
    ax.set_xlabel(_J2_LABEL)
    ax.set_ylabel(r"$E_0/N$ ($J_1$; Pauli $\sigma\cdot\sigma$ = 4 S$\cdot$S)")
    ax.set_title(f"{lattice}, exact ground state")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(frameon=False, loc="lower right")
    ax.margins(x=0.12)
    return save_figure(fig, out, "ed_energy_vs_j2")


# --- one sign fit --------------------------------------------------------------------------------


def plot_training(
    history: list[dict], directory: str | Path, *, marshall_overlap: float | None = None, title: str = ""
) -> list[Path]:
    """``training.png`` (and ``.pdf``) of one sign fit: training and validation cross-entropy (left)
    and validation overlap (right) against the Adam step.

    Args:
        history: The records of :attr:`~nqs_dilated.training.sign.TrainResult.history`
            (``step``, ``loss``, ``val_loss``, ``val_overlap``).
        directory: Where to write (created; files written atomically).
        marshall_overlap: The Marshall-sign overlap of the exact state on the validation set,
            drawn as a dashed baseline.
        title: Figure title.

    Returns:
        The written paths.
    """
    fig, (ax_loss, ax_ovl) = new_figure(9.0, 3.4, ncols=2)
    steps = [r["step"] for r in history]
    ax_loss.plot(steps, [r["loss"] for r in history], label="training")
    ax_loss.plot(steps, [r["val_loss"] for r in history], label="validation")
    ax_loss.set_xlabel("Adam step")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    ax_loss.legend(frameon=False)
    ax_ovl.plot(steps, [r["val_overlap"] for r in history], color="C1", label="validation overlap")
    if marshall_overlap is not None:
        ax_ovl.axhline(marshall_overlap, color="k", ls="--", lw=1, label=f"Marshall sign ({marshall_overlap:.3f})")
    ax_ovl.set_xlabel("Adam step")
    ax_ovl.set_ylabel("overlap")
    ax_ovl.legend(frameon=False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, Path(directory), "training")
