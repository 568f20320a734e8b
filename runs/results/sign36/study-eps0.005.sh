#!/bin/bash
# eps = 0.005 at one J2/J1 (argument 1), on one core (argument 2), with the study's budget (4000
# Adam steps of 1024 samples, patience 1000 counted from leaving the loss plateau): seed-major,
# dense, plain CNN and dilated (1,2,3) first, then dilated (3,2,1), so that a stop leaves whole seeds.
#   runs/results/sign36/study-eps0.005.sh 1.3 0
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
J2=$1; CORE=$2
one() {  # seed models dilations name
  taskset -c $CORE .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 $J2 --eps 0.005 --seed $1 \
    --seeds 1 --model $2 --dilations $3 --workers 1 --quiet --out $R/study-eps0.005-j2=$J2-$4 > $R/study-eps0.005-j2=$J2-$4.log 2>&1
}
for SEED in 0 1 2; do one $SEED dense,cnn,dilated 1,2,3 seed$SEED; done
for SEED in 0 1 2; do one $SEED dilated 3,2,1 d321-seed$SEED; done
