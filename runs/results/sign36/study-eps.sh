#!/bin/bash
# One eps (argument 1) at one J2/J1 (argument 2), on one core (argument 3), with the study's budget
# (4000 Adam steps of 1024 samples, patience 1000 counted from leaving the loss plateau):
# seed-major, dense, plain CNN and dilated (1,2,3) first, then dilated (3,2,1), so that a stop
# leaves whole seeds. Argument 4 (optional) runs one part only: "plain" (dense, cnn, dilated
# (1,2,3)) or "d321"; the seeds to run follow it (default 0 1 2). Writes study-eps<eps>-j2=<J2>-*/.
#   runs/results/sign36/study-eps.sh 0.01 1.3 0
#   runs/results/sign36/study-eps.sh 0.005 1.0 1 d321 1 2
cd "$(dirname "$0")/../../.."
R=runs/results/sign36
EPS=$1; J2=$2; CORE=$3; PART=${4:-all}
shift $(( $# < 4 ? $# : 4 ))
SEEDS=${*:-0 1 2}
one() {  # seed models dilations name
  taskset -c $CORE .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 $J2 --eps $EPS --seed $1 \
    --seeds 1 --model $2 --dilations $3 --workers 1 --quiet --out $R/study-eps$EPS-j2=$J2-$4 > $R/study-eps$EPS-j2=$J2-$4.log 2>&1
}
if [ "$PART" != d321 ]; then for SEED in $SEEDS; do one $SEED dense,cnn,dilated 1,2,3 seed$SEED; done; fi
if [ "$PART" != plain ]; then for SEED in $SEEDS; do one $SEED dilated 3,2,1 d321-seed$SEED; done; fi
