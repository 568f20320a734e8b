#!/bin/bash
# Command in the current CLI form (nqs-dilated sweep / search). The recorded results came from the
# flat CLI of the commit date (epoch budget with a padded last batch per epoch): a rerun follows the
# same protocol and settings, not bit for bit the same numbers.
# 36-site part of issue 6, the best stack of the 24-site search at J2/J1 = 1.3 (runs/search-4x6-j2=1.3-eps0.01:
# dilations 2,1,2,2,2, kernel 3, 32 channels per layer), same settings as runs/sweep-6x6-eps0.001-reps.sh.
cd /work/main || exit 1
.venv/bin/python -m nqs_dilated sweep --lattice triangular-6x6 --j2 1.3,0.5,1.0 --model dilated \
    --channels 32,32,32,32,32 --kernel-size 3 --dilations 2,1,2,2,2 --eps 0.001 --eps-relative-to representatives \
    --sector A1+ --epochs 60 --patience 0 --seeds 1 --workers 1 --out runs/sweep-6x6-eps0.001-reps-best \
    >> runs/sweep-6x6-eps0.001-reps-best.log 2>&1
echo "sweep exit status $?" >> runs/sweep-6x6-eps0.001-reps-best.log
