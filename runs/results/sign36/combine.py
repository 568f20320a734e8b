"""Combine the 36-site study sweeps at eps = 0.001 (seed 0 over J2 = 1.0, 0.5; seeds 1-2 at J2 = 0.5
and 1.0; seeds 0-2 at J2 = 1.3) into one table and plot (the sweeps not yet run are left out):
``runs/results/sign36/study-eps0.001/{results.csv, ed.csv, summary.md, plots/}``.

    python runs/results/sign36/combine.py
"""

from pathlib import Path

import pandas as pd

from nqs_dilated.experiments import tables
from nqs_dilated.experiments.plots import plot_sweep
from nqs_dilated.files import write_atomic

here = Path(__file__).resolve().parent
parts = [
    here / "study-eps0.001-seed0",
    here / "study-eps0.001-j2=0.5-seeds1-2",
    here / "study-eps0.001-j2=1.3-seed0",
    here / "study-eps0.001-j2=1.3-seeds1-2",
    here / "study-eps0.001-j2=0.5-dense-d321-seeds1-2",
    here / "study-eps0.001-j2=1.0-seeds1-2",
]
parts = [p for p in parts if (p / tables.RESULTS_FILE).exists()]
results = pd.concat([tables.read_results(p) for p in parts], ignore_index=True)
results = results.sort_values(["j2", "variant", "seed"], kind="stable").reset_index(drop=True)
ed = pd.concat([tables.read_ed(p) for p in parts if (p / tables.ED_FILE).exists()], ignore_index=True)
ed = ed.drop_duplicates("j2").sort_values("j2").reset_index(drop=True)
out = here / "study-eps0.001"
out.mkdir(exist_ok=True)
tables.write_csv(results, out / tables.RESULTS_FILE)
tables.write_csv(ed, out / tables.ED_FILE)
header = {
    "lattice": "triangular-6x6",
    "J1": 1.0,
    "eps": 0.001,
    "eps relative to": "representatives",
    "sources": ", ".join(p.name for p in parts),
}
text = tables.render_summary(results, ed, task="sign", header=header, n_planned=len(results))
write_atomic(out / tables.SUMMARY_FILE, text)
for path in plot_sweep(out):
    print(path)
print(text)

# The same grid with the runs that early stopping had ended on the initial plateau replaced by their
# reruns to the full budget (no-early-stop.sh: without early stopping; plateau-aware-j2=1.0.sh and the
# J2 = 0.5 dense seed 1 run: with the plateau-aware early stopping): study-eps0.001-plateau-aware/.
rerun_dirs = [
    here / "study-eps0.001-no-early-stop-j2=1.3-cnn",
    here / "study-eps0.001-no-early-stop-j2=1.0",
    here / "study-eps0.001-plateau-aware-j2=0.5-dense-seed1",
    *sorted((here / "study-eps0.001-plateau-aware-j2=1.0").glob("*_seed=*")),
]
reruns = [tables.read_results(p) for p in rerun_dirs if (p / tables.RESULTS_FILE).exists()]
fixed, pairs = tables.replace_runs(results, reruns)
replaced = [
    (
        new["j2"],
        new["variant"],
        new["seed"],
        old["test_overlap"],
        new["test_overlap"],
        old["steps_run"],
        new.get("left_plateau_step"),
        new["best_step"],
    )
    for old, new in pairs
]
out = here / "study-eps0.001-plateau-aware"
out.mkdir(exist_ok=True)
tables.write_csv(fixed, out / tables.RESULTS_FILE)
tables.write_csv(ed, out / tables.ED_FILE)
header = {
    **header,
    "sources": header["sources"] + f"; {len(replaced)} runs replaced by their reruns to the full budget",
}
text = tables.render_summary(fixed, ed, task="sign", header=header, n_planned=len(fixed))
stopped = fixed[(fixed["steps_run"] < fixed["budget.steps"]) & (fixed["best_step"] <= 300)]
lines = [
    "",
    "## Reruns (test overlap before -> after; steps of the original run; step the validation loss "
    "left its plateau, empty: never; best step)",
    "",
    "| J2/J1 | model | seed | before | after | original steps | left plateau at step | best step |",
    "|---|---|---|---|---|---|---|---|",
]
lines += [
    f"| {j2:g} | {v} | {s} | {a:.4f} | {b:.4f} | {n} | {'' if lp is None or lp != lp else int(lp)} | {bs} |"
    for j2, v, s, a, b, n, lp, bs in replaced
]
lines += [
    "",
    "Runs still as early stopping left them on the plateau (not rerun): "
    + (
        ", ".join(
            f"J2/J1 = {r.j2:g} {r.variant} seed {r.seed} ({r.test_overlap:.4f}, stopped at {r.steps_run})"
            for r in stopped.itertuples()
        )
        or "none"
    ),
]
text += "\n".join(lines) + "\n"
write_atomic(out / tables.SUMMARY_FILE, text)
for path in plot_sweep(out):
    print(path)
print(text)
