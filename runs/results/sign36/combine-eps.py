"""The 36-site study at every eps in one table and plot: the eps = 0.001 grid with its plateau
reruns (``study-eps0.001-plateau-aware``, from ``combine.py``) and the eps = 0.005 and 0.01 sweeps
of ``study-eps.sh`` that have finished (``study-eps0.005-j2=*``, ``study-eps0.01-j2=*``), into
``study-eps0.001-0.005-0.01/`` (results.csv, ed.csv, summary.md, plots/overlap_vs_j2 with one panel
per eps). The summary adds, per eps >= 0.005 run, whether its validation curve was flat at the end
of the budget: the best validation overlap in the last quarter of the steps against the best
before it.

    python runs/results/sign36/combine-eps.py
"""

import json
from pathlib import Path

import pandas as pd

from nqs_dilated.experiments import tables
from nqs_dilated.experiments.plots import plot_sweep
from nqs_dilated.files import write_atomic

here = Path(__file__).resolve().parent
base = here / "study-eps0.001-plateau-aware"
found = sorted(
    p
    for pattern in ("study-eps0.005-j2=*", "study-eps0.01-j2=*")
    for p in here.glob(pattern)
    if p.is_dir() and (p / tables.RESULTS_FILE).exists()
)
part_results = {p: tables.read_results(p) for p in found}
parts = [p for p in found if len(part_results[p])]  # a sweep still running has no finished run yet
new = pd.concat([part_results[p] for p in parts], ignore_index=True)
# the same run name appears at several eps: the run directory is looked up per (eps, run)
run_dirs = {
    (float(r.eps), Path(r.run).name): p / "runs" / Path(r.run).name for p in parts for r in part_results[p].itertuples()
}
results = pd.concat([tables.read_results(base), new], ignore_index=True)
results = results.sort_values(["j2", "eps", "variant", "seed"], kind="stable").reset_index(drop=True)
ed = pd.concat([tables.read_ed(p) for p in [base, *parts]], ignore_index=True)
ed = ed.drop_duplicates("j2").sort_values("j2").reset_index(drop=True)

out = here / "study-eps0.001-0.005-0.01"
out.mkdir(exist_ok=True)
tables.write_csv(results, out / tables.RESULTS_FILE)
tables.write_csv(ed, out / tables.ED_FILE)
header = {
    "lattice": "triangular-6x6",
    "J1": 1.0,
    "eps": ", ".join(f"{e:g}" for e in sorted(results["eps"].unique())),
    "eps relative to": "representatives",
    "budget": "4000 Adam steps of 1024 samples, patience 1000 counted from leaving the loss plateau",
    "sources": f"{base.name} (eps = 0.001, 36 runs); " + ", ".join(p.name for p in parts),
}
text = tables.render_summary(results, ed, task="sign", header=header, n_planned=len(results))


def convergence(run_dir: Path) -> tuple[float, float, int]:
    """(best validation overlap before the last quarter of the steps run, best in the last quarter, steps run)."""
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = history[-1]["step"]
    early = [r["val_overlap"] for r in history if r["step"] <= 0.75 * steps]
    late = [r["val_overlap"] for r in history if r["step"] > 0.75 * steps]
    return max(early), max(late), steps


lines = [
    "",
    "## eps >= 0.005: is the validation curve flat at the end?",
    "",
    "Best validation overlap up to 3/4 of the steps run and in the last quarter; a rise of more than",
    "0.01 in the last quarter means the run was still learning when its budget ended.",
    "",
    "| J2/J1 | eps | model | seed | test overlap | left plateau at step | best step | steps run | val. overlap, first 3/4 | last 1/4 | seconds |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
for r in new.sort_values(["j2", "eps", "variant", "seed"]).itertuples():
    a, b, n = convergence(run_dirs[(float(r.eps), Path(r.run).name)])
    lp = r.left_plateau_step
    lines.append(
        f"| {r.j2:g} | {r.eps:g} | {r.variant} | {r.seed} | {r.test_overlap:.4f} | {'' if lp != lp or lp is None else int(lp)} "
        f"| {r.best_step} | {n} | {a:.4f} | {b:.4f} | {r.seconds:.0f} |"
    )
text += "\n".join(lines) + "\n"
write_atomic(out / tables.SUMMARY_FILE, text)
for path in plot_sweep(out):
    print(path)
print(text)
