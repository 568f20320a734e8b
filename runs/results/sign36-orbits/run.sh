#!/bin/bash
# The 36-site sign study on the orbit-disjoint split (the default): one J2/J1 (argument 1) at one
# eps of the representatives (argument 2), the study's budget (examples/sign-study-36.toml: 4000
# Adam steps of batch 1024, patience 1000, 10,000 + 10,000 test states), models given as
# argument 3 (default dense,dilated,cnn; dilated is (1,2,3)), seeds after it (default 0 1 2),
# seed-major so that a stop leaves whole seeds. Runs go to runs/sign36-orbits/ (untracked); the
# small outputs are copied here by collect.sh. Rerun to resume. DILATIONS=3,2,1 (environment) runs
# the dilated model with those dilations instead, into directories named ...-d321. SUFFIX=-cnn
# (environment) appends to the directory names, for models added to a cell whose sweeps ran already.
#   runs/results/sign36-orbits/run.sh 1.3 0.005 dense,dilated 0 1 2
#   DILATIONS=3,2,1 runs/results/sign36-orbits/run.sh 1.3 0.005 dilated 0 1 2
cd "$(dirname "$0")/../../.." || exit 1
J2=$1; EPS=$2; MODELS=${3:-dense,dilated,cnn}
shift $(( $# < 3 ? $# : 3 ))
SEEDS=${*:-0 1 2}
DIL=${DILATIONS:-1,2,3}
TAG=""; [ "$DIL" != "1,2,3" ] && TAG="-d${DIL//,/}"
TAG="$TAG${SUFFIX:-}"
for SEED in $SEEDS; do
  .venv/bin/nqs-dilated sweep examples/sign-study-36.toml --j2 $J2 --eps $EPS --seed $SEED --seeds 1 \
    --model $MODELS --dilations $DIL --workers 1 --quiet \
    --out runs/sign36-orbits/eps$EPS-j2=$J2-seed$SEED$TAG >> runs/sign36-orbits/eps$EPS-j2=$J2$TAG.log 2>&1
  echo "seed $SEED exit status $?" >> runs/sign36-orbits/eps$EPS-j2=$J2$TAG.log
done
