#!/bin/bash
# The plateau check: the runs that early stopping ended on the initial plateau (validation loss ln 2,
# best step <= 280, stopped at 1040-1280 steps), redone with the full 4000-step budget and no early
# stopping (--patience 0): J2/J1 = 1.3 plain CNN seeds 0-1 (core 1), J2/J1 = 1.0 dense, plain CNN
# and dilated (1,2,3) seed 0 (core 0).
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
S="examples/sign-study-36.toml --eps 0.001 --patience 0 --workers 1 --quiet"
case "$1" in
  1) taskset -c 1 .venv/bin/nqs-dilated sweep $S --j2 1.3 --model cnn --seeds 2 \
       --out $R/study-eps0.001-no-early-stop-j2=1.3-cnn > $R/study-eps0.001-no-early-stop-j2=1.3-cnn.log 2>&1 ;;
  0) taskset -c 0 .venv/bin/nqs-dilated sweep $S --j2 1.0 --model dense,cnn,dilated --dilations 1,2,3 --seeds 1 \
       --out $R/study-eps0.001-no-early-stop-j2=1.0 > $R/study-eps0.001-no-early-stop-j2=1.0.log 2>&1 ;;
esac
# J2/J1 = 0.5 dense seed 1 (stopped on the plateau at 1160 steps, test overlap -0.02) with the default
# budget and the plateau-aware early stopping of the current code (patience 1000 once off the plateau)
if [ "$1" = 0.5 ]; then
  taskset -c 0 .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --eps 0.001 --workers 1 --quiet --j2 0.5 \
    --model dense --seed 1 --seeds 1 --out $R/study-eps0.001-plateau-aware-j2=0.5-dense-seed1 \
    > $R/study-eps0.001-plateau-aware-j2=0.5-dense-seed1.log 2>&1
fi
