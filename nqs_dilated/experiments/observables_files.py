"""Files of the exact observables: ``correlations.csv``, ``structure_factor.csv``, the S(q) figure.

Written by ``nqs-dilated ed --observables --out DIR`` (:mod:`nqs_dilated.cli.ed`) for one J2/J1,
and ``peaks.csv`` (one row per J2/J1: position and height of the peak of S(q)) for several.
Every file is written atomically. Conventions: :mod:`nqs_dilated.observables`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import write_atomic
from ..observables import Correlations, StructureFactor
from .plots import new_figure, save_figure

__all__ = ["peak_row", "plot_structure_factor", "write_observables", "write_peaks"]


def peak_row(j2: float, corr: Correlations, sf: StructureFactor) -> dict:
    """The peak of ``S(q)`` at one J2/J1: ``j2, m1, m2, qx, qy, S_peak, route, bond_energy, energy``."""
    k = sf.peak
    return {
        "j2": j2,
        "m1": int(sf.m[k, 0]),
        "m2": int(sf.m[k, 1]),
        "qx": float(sf.q[k, 0]),
        "qy": float(sf.q[k, 1]),
        "S_peak": float(sf.s[k]),
        "route": corr.route,
        "bond_energy": corr.bond_energy,
        "energy": corr.energy,
    }


def _csv(path: Path, rows: list[dict]) -> Path:
    write_atomic(path, pd.DataFrame(rows).to_csv(index=False, float_format="%.12g"))
    return path


def plot_structure_factor(sf: StructureFactor, directory: Path, *, title: str = "") -> list[Path]:
    """``S(q)`` over the first Brillouin zone of the triangular lattice (hexagon of the K points),
    one marker per allowed momentum, the peak circled; ``structure_factor.png`` / ``.pdf``."""
    fig, (ax,) = new_figure(4.6, 4.0)
    k = 4 * math.pi / 3  # |K| for a1 = (1, 0), a2 = (1/2, sqrt 3/2)
    corners = np.array([(k * math.cos(t), k * math.sin(t)) for t in np.arange(7) * math.pi / 3])
    ax.plot(corners[:, 0], corners[:, 1], color="0.6", lw=0.8)
    points = ax.scatter(sf.q[:, 0], sf.q[:, 1], c=sf.s, s=90, cmap="viridis", edgecolors="0.3", linewidths=0.4)
    p = sf.peak
    ax.scatter([sf.q[p, 0]], [sf.q[p, 1]], s=260, facecolors="none", edgecolors="red", linewidths=1.5)
    ax.annotate(f"S = {sf.s[p]:.3f}", sf.q[p], textcoords="offset points", xytext=(8, 8), color="red")
    fig.colorbar(points, ax=ax, label="S(q)  (S·S units)")
    ax.set_aspect("equal")
    ax.set_xlabel("$q_x$")
    ax.set_ylabel("$q_y$")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, directory, "structure_factor")


def write_observables(directory: str | Path, corr: Correlations, sf: StructureFactor, *, title: str = "") -> list[Path]:
    """Write ``correlations.csv``, ``structure_factor.csv`` (columns ``m1, m2, qx, qy, S``) and the
    figure into ``directory`` (created); returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [_csv(directory / "correlations.csv", corr.rows()), _csv(directory / "structure_factor.csv", sf.rows())]
    return paths + plot_structure_factor(sf, directory, title=title)


def write_peaks(directory: str | Path, rows: list[dict]) -> Path:
    """``peaks.csv``: one :func:`peak_row` per J2/J1."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return _csv(directory / "peaks.csv", rows)
