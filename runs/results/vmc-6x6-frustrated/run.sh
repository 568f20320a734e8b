#!/bin/bash
# 36-site VMC in the frustrated regime (issue 20, item 1) at J2/J1 = 1.3 (A2+): the amplitude under
# a sign fitted at eps = 0.001 of the representatives (dilated (1,2,3), seed 0, from the sign study
# in ../sign36/), under the exact sign, and full mode from the Marshall prior and from the fitted
# sign as prior. Dilated CNN 32,32,32 (1,2,3), 1024 samples in 16 chains, SGD 0.02, diag shift
# 0.01 -> 0.001, float32, seed 0, 150 iterations (a quarter of the J2 = 0.5 runs in ../vmc-6x6:
# the CPU allowed no more). One run at a time on core 1; /usr/bin/time records CPU s and peak RSS.
cd "$(dirname "$0")/../../.."
HERE=runs/results/vmc-6x6-frustrated
FITS=runs/results/sign36
COMMON="--lattice triangular-6x6 --channels 32,32,32 --dilations 1,2,3 --n-samples 1024 --n-chains 16 \
  --lr 0.02 --diag-shift 0.01 --diag-shift-final 0.001 --dtype float32 --checkpoint-every 25 --seed 0 \
  --n-iter ${N_ITER:-150} --quiet"
run() {  # core name args
  out=$HERE/$2
  [ -f $out/summary.json ] && return
  echo "=== $2 $(date -Is)"
  mkdir -p $out
  /usr/bin/time -v -o $out.time taskset -c $1 .venv/bin/nqs-dilated vmc $COMMON $3 --out $out > $out.log 2>&1
  mv $out.time $out/time.txt; mv $out.log $out/run.log
  echo "=== $2 done $(date -Is)"
}
run 1 j2=1.3_fixed-fit "--j2 1.3 --mode fixed-sign --sign-source $FITS/study-eps0.001-j2=1.3-seed0/runs/j2=1.3_dilated-1-2-3_seed=0"
run 1 j2=1.3_fixed-exact "--j2 1.3 --mode fixed-sign --sign-source exact"
run 1 j2=1.3_full "--j2 1.3 --mode full --sign-prior marshall"
run 1 j2=1.3_full-prior-fit "--j2 1.3 --mode full --sign-prior $FITS/study-eps0.001-j2=1.3-seed0/runs/j2=1.3_dilated-1-2-3_seed=0"
# J2/J1 = 1.0 (A1+) and the learned sign at 0.5 (A1+), on core 0 (the sign study ran on core 1).
F1=$FITS/study-eps0.001-seed0/runs/j2=1_dilated-1-2-3_seed=0
F05=$FITS/study-eps0.001-seed0/runs/j2=0.5_dilated-1-2-3_seed=0
run 0 j2=1.0_fixed-exact "--j2 1.0 --mode fixed-sign --sign-source exact"
run 0 j2=1.0_full "--j2 1.0 --mode full --sign-prior marshall"
run 0 j2=0.5_fixed-fit "--j2 0.5 --mode fixed-sign --sign-source $F05"
run 0 j2=1.0_fixed-fit "--j2 1.0 --mode fixed-sign --sign-source $F1"
# Not run (the core went to the sign study's plateau check, ../sign36/no-early-stop.sh): full mode
# from the J2 = 1.0 fit (test overlap 0.008) and the exact sign at 0.5 with 150 iterations.
# run 0 j2=1.0_full-prior-fit "--j2 1.0 --mode full --sign-prior $F1"
# run 0 j2=0.5_fixed-exact "--j2 0.5 --mode fixed-sign --sign-source exact"
# J2/J1 = 1.0 with the sign of the same fit rerun to the full budget (no early stopping: test overlap 0.714)
run 0 j2=1.0_fixed-fit-full-budget "--j2 1.0 --mode fixed-sign --sign-source $FITS/study-eps0.001-no-early-stop-j2=1.0/runs/j2=1_dilated-1-2-3_seed=0"
# The learned sign from the eps = 0.005 fits (dilated (1,2,3), seed 0, ../sign36/study-eps0.005-*:
# test overlap 0.904 at 1.0 and 0.867 at 1.3), fixed and as the prior of full mode, on core ${CORE:-0}.
G1=$FITS/study-eps0.005-j2=1.0-seed0/runs/j2=1_dilated-1-2-3_seed=0
G13=$FITS/study-eps0.005-j2=1.3-seed0/runs/j2=1.3_dilated-1-2-3_seed=0
run ${CORE:-0} j2=1.0_fixed-fit-eps0.005 "--j2 1.0 --mode fixed-sign --sign-source $G1"
run ${CORE:-0} j2=1.3_fixed-fit-eps0.005 "--j2 1.3 --mode fixed-sign --sign-source $G13"
run ${CORE:-0} j2=1.0_full-prior-fit-eps0.005 "--j2 1.0 --mode full --sign-prior $G1"
echo "=== all done $(date -Is)"
