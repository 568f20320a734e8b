#!/bin/bash
# The dense network at eps = 0.005 of the representatives (157,775 training configurations, automatic
# batch 8192, the study's 4000-step budget), J2/J1 = 1.3, seeds 0-2, on core 1: the one model whose
# eps = 0.005 runs fit in the CPU time left beside the eps = 0.001 grid.
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
taskset -c 1 .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 1.3 --eps 0.005 --model dense --seeds 3 \
  --workers 1 --quiet --out $R/study-eps0.005-j2=1.3-dense > $R/study-eps0.005-j2=1.3-dense.log 2>&1
