"""The conventions shared by the figures of :mod:`nqs_dilated.experiments.plots`.

The paper style (8-9 pt text, 300 dpi), new figures with constrained layout
(:func:`new_figure`), atomic PNG and PDF output (:func:`save_figure`), and the frustrated region:
the J2 interval where the Marshall-sign overlap of the exact ground state is below
:data:`MARSHALL_THRESHOLD` (:func:`frustrated_region`), shaded behind the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_path

__all__ = ["MARSHALL_THRESHOLD", "frustrated_region", "new_figure", "save_figure"]


#: Marshall-sign overlap below which a J2 counts as frustrated (shaded in the plots).
MARSHALL_THRESHOLD = 0.9
_STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "savefig.dpi": 300,
}
_J2_LABEL = r"$J_2/J_1$"
_LEGEND_WIDTH = 1.9  # inches added to a sweep figure for the legend beside its panels


def frustrated_region(ed: pd.DataFrame, threshold: float = MARSHALL_THRESHOLD) -> tuple[float, float] | None:
    """The J2 interval where the Marshall-sign overlap is below ``threshold`` (None if nowhere).

    The lower edge is interpolated linearly between the last J2 above and the first below the
    threshold; the upper edge likewise, or the largest J2 of the table.
    """
    if "marshall_overlap" not in ed.columns or ed.empty:
        return None
    table = ed.sort_values("j2")
    j2, m = table["j2"].to_numpy(float), table["marshall_overlap"].to_numpy(float)
    below = m < threshold
    if not below.any():
        return None
    first, last = int(np.argmax(below)), len(below) - 1 - int(np.argmax(below[::-1]))

    def crossing(i: int, k: int) -> float:
        return float(j2[i] + (threshold - m[i]) * (j2[k] - j2[i]) / (m[k] - m[i]))

    lo = crossing(first - 1, first) if first > 0 else float(j2[0])
    hi = crossing(last, last + 1) if last < len(j2) - 1 else float(j2[-1])
    return lo, hi


def _shade(ax, region, label: bool) -> None:
    if region is not None:
        ax.axvspan(
            *region,
            color="0.88",
            zorder=0,
            lw=0,
            label=f"frustrated (Marshall overlap < {MARSHALL_THRESHOLD:g})" if label else None,
        )


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1):
    """A figure and its axes, row by row in one flat array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    return fig, axes


def save_figure(fig, directory: Path, name: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = directory / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, metadata={"CreationDate": None} if ext == "pdf" else None)
        paths.append(path)
    return paths
