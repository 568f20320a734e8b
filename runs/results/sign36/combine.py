"""Combine the 36-site study sweeps at eps = 0.001 (seed 0 over J2 = 1.0, 0.5; seeds 1-2 at J2 = 0.5
and 1.0; seeds 0-2 at J2 = 1.3) into one table and plot (the sweeps not yet run are left out):
``runs/results/sign36/study-eps0.001/{results.csv, ed.csv, summary.md, plots/}``.

    python runs/results/sign36/combine.py
"""

from pathlib import Path

import pandas as pd

from nqs_dilated.drivers import tables
from nqs_dilated.drivers.plots import plot_sweep
from nqs_dilated.files import write_atomic

here = Path(__file__).resolve().parent
parts = [here / "study-eps0.001-seed0", here / "study-eps0.001-j2=0.5-seeds1-2", here / "study-eps0.001-j2=1.3-seed0",
         here / "study-eps0.001-j2=1.3-seeds1-2", here / "study-eps0.001-j2=0.5-dense-d321-seeds1-2", here / "study-eps0.001-j2=1.0-seeds1-2"]
parts = [p for p in parts if (p / tables.RESULTS_FILE).exists()]
results = pd.concat([tables.read_results(p) for p in parts], ignore_index=True)
results = results.sort_values(["j2", "variant", "seed"], kind="stable").reset_index(drop=True)
ed = pd.concat([tables.read_ed(p) for p in parts if (p / tables.ED_FILE).exists()], ignore_index=True)
ed = ed.drop_duplicates("j2").sort_values("j2").reset_index(drop=True)
out = here / "study-eps0.001"
out.mkdir(exist_ok=True)
tables.write_csv(results, out / tables.RESULTS_FILE)
tables.write_csv(ed, out / tables.ED_FILE)
header = {"lattice": "triangular-6x6", "J1": 1.0, "eps": 0.001, "eps relative to": "representatives",
          "sources": ", ".join(p.name for p in parts)}
text = tables.render_summary(results, ed, task="sign", header=header, n_planned=len(results))
write_atomic(out / tables.SUMMARY_FILE, text)
for path in plot_sweep(out):
    print(path)
print(text)
