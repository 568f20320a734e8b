#!/bin/bash
# The 24-site comparison of the Walsh sign models with the networks on the orbit-disjoint split
# (the default): J2/J1 = 0.5, 0.8, 1.0, 1.2, 1.4 x 3 seeds, eps = 0.005 of the Sz = 0 basis, the
# default budget for the networks (4000 Adam steps, patience 1000; the same for walsh-local).
# Two sweeps: the fast models (walsh, walsh-local of degree 3, dense), then the CNNs
# (dilated (1,2,3), cnn). Runs go to runs/walsh-4x6/ (untracked); rerun to resume; collect.sh
# copies the small outputs here.
cd "$(dirname "$0")/../../.." || exit 1
mkdir -p runs/walsh-4x6
J2=0.5,0.8,1.0,1.2,1.4
.venv/bin/nqs-dilated sweep --lattice triangular-4x6 --j2 $J2 --eps 0.005 --seeds 3 --model walsh,walsh-local,dense \
    --workers 1 --quiet --out runs/walsh-4x6/fast >> runs/walsh-4x6/fast.log 2>&1
echo "fast sweep exit status $?" >> runs/walsh-4x6/fast.log
.venv/bin/nqs-dilated sweep --lattice triangular-4x6 --j2 $J2 --eps 0.005 --seeds 3 --model dilated,cnn \
    --workers 1 --quiet --out runs/walsh-4x6/cnn >> runs/walsh-4x6/cnn.log 2>&1
echo "cnn sweep exit status $?" >> runs/walsh-4x6/cnn.log
