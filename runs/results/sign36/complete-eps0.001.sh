#!/bin/bash
# Completes the eps = 0.001 grid at J2/J1 in {0.5, 1.0, 1.3} to 3 seeds per model: J2/J1 = 1.0 seeds
# 1-2 (all four models), then J2/J1 = 0.5 dense and dilated (3,2,1) seeds 1-2. One run at a time on core 1.
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
taskset -c 1 .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 1.0 --eps 0.001 --seed 1 --seeds 2 \
  --workers 1 --quiet --out $R/study-eps0.001-j2=1.0-seeds1-2 > $R/study-eps0.001-j2=1.0-seeds1-2.log 2>&1
taskset -c 1 .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 0.5 --eps 0.001 --model dense,dilated \
  --dilations 3,2,1 --seed 1 --seeds 2 --workers 1 --quiet --out $R/study-eps0.001-j2=0.5-dense-d321-seeds1-2 \
  > $R/study-eps0.001-j2=0.5-dense-d321-seeds1-2.log 2>&1
