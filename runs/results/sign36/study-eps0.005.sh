#!/bin/bash
# eps = 0.005 (study-eps.sh 0.005 ...): one J2/J1 (argument 1) on one core (argument 2), optionally
# one part ("plain" or "d321") and the seeds to run.
#   runs/results/sign36/study-eps0.005.sh 1.3 0
#   runs/results/sign36/study-eps0.005.sh 1.0 1 d321 1 2
exec "$(dirname "$0")/study-eps.sh" 0.005 "$@"
