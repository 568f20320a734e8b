#!/bin/bash
# J2/J1 = 1.0, eps = 0.001: the dilated and dense runs that early stopping had ended on the initial
# plateau, redone with the plateau-aware early stopping (default budget: 4000 steps, patience 1000
# counted once off the plateau). Seed 0 of dilated (1,2,3) and dense is in ../no-early-stop (same
# budget, no early stopping); (3,2,1) seed 1 had left the plateau in the original run.
# Two queues: core 0 (argument 0) and core 1 (argument 1).
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
one() {  # core model dilations seed
  taskset -c $1 .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --eps 0.001 --workers 1 --quiet --j2 1.0 \
    --model $2 --dilations $3 --seed $4 --seeds 1 --out "$R/study-eps0.001-plateau-aware-j2=1.0/$2-$3_seed=$4" \
    >> $R/study-eps0.001-plateau-aware-j2=1.0.log 2>&1
}
case "$1" in
  0) one 0 dilated 1,2,3 1; one 0 dense 1,2,3 1 ;;
  1) one 1 dilated 1,2,3 2; one 1 dense 1,2,3 2 ;;
esac
# Not run (no CPU time left): dilated (3,2,1) seeds 0 and 2.
#   one 0 dilated 3,2,1 0; one 1 dilated 3,2,1 2
