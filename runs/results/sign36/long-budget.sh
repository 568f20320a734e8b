#!/bin/bash
# Convergence check of the budget-limited runs: dilated (1,2,3) at J2/J1 = 1.3, eps = 0.001, seed 0,
# with 12,000 Adam steps (3x the default budget; patience 1000 as in the study), on one core
# (argument 1, default 1).
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
taskset -c ${1:-1} .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 1.3 --eps 0.001 --model dilated \
  --dilations 1,2,3 --seeds 1 --steps 12000 --workers 1 --quiet --out $R/study-eps0.001-j2=1.3-d123-steps12000 \
  > $R/study-eps0.001-j2=1.3-d123-steps12000.log 2>&1
