"""The 24-site sweep ``../sweep-4x6-eps0.01/`` with its 8 runs that early stopping ended on the
initial plateau replaced by their reruns (``run.sh``): ``results.csv``, ``ed.csv``, ``summary.md``
and ``plots/`` in this directory.

    python runs/results/sweep-4x6-eps0.01-plateau-reruns/combine.py
"""

from pathlib import Path

from nqs_dilated.experiments import tables
from nqs_dilated.experiments.plots import plot_sweep
from nqs_dilated.files import write_atomic

here = Path(__file__).resolve().parent
original = here.parent / "sweep-4x6-eps0.01"
results = tables.read_results(original)
reruns = [tables.read_results(p) for p in sorted(here.glob("j2=*")) if (p / tables.RESULTS_FILE).exists()]
results, pairs = tables.replace_runs(results, reruns)
replaced = [
    (
        new["j2"],
        new["variant"],
        new["seed"],
        old["test_overlap"],
        new["test_overlap"],
        new.get("left_plateau_step"),
        new.get("best_step"),
    )
    for old, new in pairs
]
# the original sweep predates the per-run Marshall-sign test figures: keep one format for all rows
# (the Marshall-sign overlap of each exact state is in ed.csv and on the plot)
results = results.drop(columns=[c for c in results.columns if c.startswith("marshall_")])
tables.write_csv(results, here / tables.RESULTS_FILE)
ed = tables.read_ed(original)
tables.write_csv(ed, here / tables.ED_FILE)
header = {
    "lattice": "triangular-4x6",
    "J1": 1.0,
    "eps": 0.01,
    "sources": f"{original.name}, with {len(replaced)} runs replaced by their reruns (run.sh)",
}
text = tables.render_summary(results, ed, task="sign", header=header, n_planned=len(results))
lines = [
    "",
    "## Reruns (test overlap before -> after; step the validation loss left its plateau; best step)",
    "",
    "| J2/J1 | model | seed | before | after | left plateau at step | best step |",
    "|---|---|---|---|---|---|---|",
]
lines += [f"| {j2:g} | {v} | {s} | {a:.4f} | {b:.4f} | {lp} | {bs} |" for j2, v, s, a, b, lp, bs in replaced]
text += "\n".join(lines) + "\n"
write_atomic(here / tables.SUMMARY_FILE, text)
for path in plot_sweep(here):
    print(path)
print(text)
