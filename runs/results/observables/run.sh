#!/bin/bash
# Exact spin correlations and S(q) (nqs-dilated ed --observables) on the shipped clusters:
# 24 sites over J2/J1 = 0, 0.1, ..., 1.4 (listed route, exact; every sector solved afresh, at every
# momentum too, for the gaps: --no-store --momenta all), 36 sites over the same 15 points (orbit
# route), in one process that builds the basis and structure once and computes the states not in
# the store, each point's sectors bounded by the complete searches recorded in ../ed36/auto-j2=*.json
# (J2/J1 = 0, 0.5, 1.0, 1.3) and by the points done before it; the order puts every new point
# next to a known one. ONLY36=1 (environment) skips the 24-site part.
# Writes <cluster>/j2=<J2>/{correlations,structure_factor}.csv + figure, <cluster>/peaks.csv and
# <cluster>.jsonl (the ED report of each J2 with its sector energies); then figure.py draws the summary.
#   runs/results/observables/run.sh [36-site J2 list]
cd "$(dirname "$0")/../../.." || exit 1
OUT=runs/results/observables
J36=${1:-1.3,1.4,1.2,1.1,1.0,0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1,0}
[ -n "${ONLY36:-}" ] || /usr/bin/time -v .venv/bin/nqs-dilated ed --lattice triangular-4x6 --j2 0:1.4:0.1 --observables --out $OUT/triangular-4x6 \
  --no-store --momenta all --json --quiet > $OUT/triangular-4x6.jsonl 2> $OUT/triangular-4x6.time
/usr/bin/time -v .venv/bin/nqs-dilated ed --lattice triangular-6x6 --j2 "$J36" --observables --out $OUT/triangular-6x6 \
  --searches-from runs/results/ed36/auto-j2=*.json --json --quiet > $OUT/triangular-6x6.jsonl 2> $OUT/triangular-6x6.time
.venv/bin/python $OUT/figure.py
