"""Markdown table of the VMC runs in the given directories (summary.json, time.txt, vmc.log).

    python runs/results/vmc-6x6-frustrated/table.py runs/results/vmc-6x6-frustrated/j2=* [--at 150]

``--at N`` adds the energy logged at iteration N (mean of N-9..N, for comparing runs of different
lengths).
"""

import json
import re
import sys
from pathlib import Path

import numpy as np

from nqs_dilated.experiments.plots import vmc_energy_series


def cpu_seconds(path: Path) -> float | None:
    if not path.is_file():
        return None
    text = path.read_text()
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    sys_ = re.search(r"System time \(seconds\): ([\d.]+)", text)
    return float(user.group(1)) + float(sys_.group(1)) if user and sys_ else None


def peak_gib(path: Path) -> float | None:
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text()) if path.is_file() else None
    return int(m.group(1)) / 2**20 if m else None


def logged_energy(run: Path, at: int) -> float | None:
    log = run / "vmc.log"
    if not log.is_file():
        return None
    series = vmc_energy_series(log)
    sel = (series["iters"] > at - 10) & (series["iters"] <= at)
    return float(np.mean(series["energy"][sel])) if sel.any() else None


args = [a for a in sys.argv[1:] if not a.startswith("--")]
at = int(sys.argv[sys.argv.index("--at") + 1]) if "--at" in sys.argv else None
if at is not None:
    args = [a for a in args if a != str(at)]
print(
    "| run | sign | E_var (Pauli) | E_ED | relative error | variance | R̂ | steps | rejected | CPU s | s/it | peak GiB |"
    + (f" E at it. {at} |" if at else "")
)
print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if at else ""))
for d in map(Path, args):
    if not (d / "summary.json").is_file():
        continue
    s = json.loads((d / "summary.json").read_text())
    source = s["sign_source"] if s["mode"] == "fixed-sign" else s["sign_prior"]
    source = source if source in ("exact", "marshall", "none", "fit") else "fit " + Path(source).name
    sign = source if s["mode"] == "fixed-sign" else f"full, prior {source}"
    cpu, peak = cpu_seconds(d / "time.txt"), peak_gib(d / "time.txt")
    row = (
        f"| {d.name} | {sign} | {s['energy']:.4f} ± {s['energy_error']:.4f} | {s['ed_energy']:.4f} | "
        f"{s['relative_error']:.2e} | {s['variance']:.3g} | {s['r_hat']:.4f} | {s['steps_done']} | "
        f"{s.get('rejected_steps', '–')} | {cpu:.0f} | {s['seconds_per_iter']:.2f} | {peak:.2f} |"
        if cpu
        else ""
    )
    if at:
        e = logged_energy(d, at)
        row += f" {e:.3f} |" if e is not None else " – |"
    print(row)
