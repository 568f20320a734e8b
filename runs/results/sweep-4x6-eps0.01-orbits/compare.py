"""The 24-site table on unseen orbits beside the configuration-split table it replaces.

Reads this directory's ``results.csv`` (orbit split, the default budget of 4000 Adam steps) and
``../sweep-4x6-eps0.01-plateau-reruns/results.csv`` (configuration split, 40 epochs = 1057 Adam
steps of batch 1024, the 8 plateau-stopped runs redone). For each (J2/J1, seed) it draws the
configuration split again (``make_datasets(split="configurations")``, deterministic given the
seed) and measures its leakage: the share of the test set's |psi|^2 weight that lay in training
orbits of space group x spin inversion, and the share of validation orbits that were training
orbits. Writes ``comparison.md`` and ``leakage.csv`` here.

    python runs/results/sweep-4x6-eps0.01-orbits/compare.py
"""

from pathlib import Path

import pandas as pd

from nqs_dilated.data import make_datasets
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.experiments.tables import mean_std_table, per_seed_table
from nqs_dilated.files import write_atomic

here = Path(__file__).resolve().parent
new = pd.read_csv(here / "results.csv")
old = pd.read_csv(here.parent / "sweep-4x6-eps0.01-plateau-reruns" / "results.csv")
old = old[old["j2"].isin(sorted(new["j2"].unique()))]

rows = []
for j2 in sorted(new["j2"].unique()):
    state = ground_state("triangular-4x6", float(j2))
    for seed in sorted(new["seed"].unique()):
        cov = make_datasets(state, eps=0.01, seed=int(seed), split="configurations").info["coverage"]
        rows.append(
            {
                "j2": j2,
                "seed": seed,
                "old_test_in_train_orbits": cov["test_in_train_orbits"],
                "old_val_orbits_in_train": cov["val_orbits_in_train"],
                "n_train_orbits": cov["n_train_orbits"],
                "train_orbit_weight": cov["train_orbit_weight"],
            }
        )
leak = pd.DataFrame(rows)
write_atomic(here / "leakage.csv", leak.to_csv(index=False))

lines = ["# 24 sites, eps = 0.01: unseen orbits against the configuration split", ""]
lines += [
    "`triangular-4x6`, eps = 0.01 of the Sz = 0 basis (27,042 |psi|^2 training draws, 6,760 validation draws), "
    "dilated (1,2,3) / cnn (1,1,1) / dense, channels 32,32,32, Adam 1e-3 at batch 1024.",
    "",
    "- new (`results.csv` here): split `orbits`, 4000 Adam steps, patience 1000; test set = every configuration "
    "of the orbits used by neither training nor validation (its size per run in `metrics.test.size`).",
    "- old (`../sweep-4x6-eps0.01-plateau-reruns/`): split `configurations`, 40 epochs (1057 Adam steps), "
    "patience 8 epochs (plateau-aware reruns); test set = every configuration outside the training and "
    "validation sets, symmetry images of training configurations included.",
    "",
    "## Test overlap on unseen orbits (new), mean ± std over seeds",
    "",
    mean_std_table(new, "test_overlap").to_markdown(index=False),
    "",
    "## Test overlap on unseen orbits (new), per seed",
    "",
    per_seed_table(new, "test_overlap").to_markdown(index=False),
    "",
    "## Test accuracy on unseen orbits (new), per seed",
    "",
    per_seed_table(new, "test_accuracy").to_markdown(index=False),
    "",
    "## Old split: test overlap, mean ± std and per seed",
    "",
    mean_std_table(old, "test_overlap").to_markdown(index=False),
    "",
    per_seed_table(old, "test_overlap").to_markdown(index=False),
    "",
    "## Leakage of the old split (per J2/J1: mean over the 3 seeds, min-max)",
    "",
]
agg = (
    leak.groupby("j2")
    .agg(
        train_orbits=("n_train_orbits", "mean"),
        train_orbit_weight=("train_orbit_weight", "mean"),
        test_weight_in_train_orbits=("old_test_in_train_orbits", "mean"),
        test_min=("old_test_in_train_orbits", "min"),
        test_max=("old_test_in_train_orbits", "max"),
        val_orbits_in_train=("old_val_orbits_in_train", "mean"),
    )
    .reset_index()
)
lines.append(agg.to_markdown(index=False, floatfmt=".4f"))
lines += [
    "",
    "`train_orbit_weight`: exact |psi|^2 weight of the training orbits (the same training draws in both "
    "splits); the unseen-orbit test set holds the remaining weight minus that of the validation orbits.",
    "",
]
write_atomic(here / "comparison.md", "\n".join(lines))
print("\n".join(lines))
