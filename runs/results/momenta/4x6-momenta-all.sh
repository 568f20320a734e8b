#!/bin/sh
# 24-site ground state at zero momentum and the lowest energy of every sector at non-zero momentum
NUMBA_NUM_THREADS=1 nice -n 10 /usr/bin/time -v -o runs/results/momenta/4x6-momenta-all.time \
  python -m nqs_dilated.ed --lattice triangular-4x6 --j2 0:1.4:0.1 --momenta all --json --quiet \
  > runs/results/momenta/4x6-momenta-all.jsonl 2> runs/results/momenta/4x6-momenta-all.err
