#!/bin/bash
# The 24-site sign table on the orbit-disjoint split (the default): J2/J1 = 0.5, 1.0, 1.2, 1.4 x
# dilated (1,2,3), cnn, dense x 3 seeds, eps = 0.01 of the Sz = 0 basis, the default budget
# (4000 Adam steps, patience 1000). Rerun to resume; the small outputs are copied to
# runs/results/sweep-4x6-eps0.01-orbits/.
cd "$(dirname "$0")/../.." || exit 1
.venv/bin/nqs-dilated sweep examples/sweep-4x6.toml --j2 0.5,1.0,1.2,1.4 --workers 2 --quiet \
    --out runs/sweep-4x6-eps0.01-orbits > runs/sweep-4x6-eps0.01-orbits.log 2>&1
echo "sweep exit status $?" >> runs/sweep-4x6-eps0.01-orbits.log
