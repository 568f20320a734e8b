#!/bin/bash
# VMC on triangular-6x6 at J2/J1 = 0 (square-lattice limit) with the Marshall sign fixed (exact at
# J2 = 0: ../ed36/marshall-j2=0.log), the setting of vmc-6x6.sh (dilated CNN 32,32,32, dilations
# 1,2,3, 1024 samples in 16 chains, SGD 0.02, minSR, diag shift 0.01 -> 0.001, float32, seed 0),
# 300 iterations, on one core (argument 1, default 0). E_ED: the stored sector search
# (../sign36/ground-states.py --own 0.0).
cd "$(dirname "$0")/../../.."
out=runs/results/vmc-6x6/j2=0_fixed-marshall
[ -f $out/summary.json ] && exit 0
mkdir -p $out
/usr/bin/time -v -o $out.time taskset -c ${1:-0} .venv/bin/nqs-dilated vmc --lattice triangular-6x6 --j2 0 \
  --mode fixed-sign --sign-source marshall --channels 32,32,32 --dilations 1,2,3 --n-samples 1024 --n-chains 16 \
  --lr 0.02 --diag-shift 0.01 --diag-shift-final 0.001 --dtype float32 --checkpoint-every 25 --seed 0 \
  --n-iter ${N_ITER:-300} --quiet --out $out > $out.log 2>&1
mv $out.time $out/time.txt; mv $out.log $out/run.log
