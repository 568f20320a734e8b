#!/bin/bash
# Exact spin correlations and S(q) (nqs-dilated ed --observables) on the shipped clusters:
# 24 sites over J2/J1 = 0, 0.1, ..., 1.4 (listed route, exact; every sector solved afresh, at every
# momentum too, for the gaps: --no-store --momenta all), 36 sites at the J2/J1 whose ground
# states are in the store (orbit route; a state not stored is computed first, 10-25 min each).
# Writes <cluster>/j2=<J2>/{correlations,structure_factor}.csv + figure, <cluster>/peaks.csv and
# <cluster>.jsonl (the ED report of each J2 with its sector energies); then figure.py draws the summary.
#   runs/results/observables/run.sh [36-site J2 list, default 0.5,1,1.3]
cd "$(dirname "$0")/../../.." || exit 1
OUT=runs/results/observables
J36=${1:-0.5,1,1.3}
/usr/bin/time -v .venv/bin/nqs-dilated ed --lattice triangular-4x6 --j2 0:1.4:0.1 --observables --out $OUT/triangular-4x6 \
  --no-store --momenta all --json --quiet > $OUT/triangular-4x6.jsonl 2> $OUT/triangular-4x6.time
/usr/bin/time -v .venv/bin/nqs-dilated ed --lattice triangular-6x6 --j2 "$J36" --observables --out $OUT/triangular-6x6 \
  --json --quiet > $OUT/triangular-6x6.jsonl 2> $OUT/triangular-6x6.time
.venv/bin/python $OUT/figure.py
