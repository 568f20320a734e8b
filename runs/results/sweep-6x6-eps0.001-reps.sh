#!/bin/bash
# Command in the current CLI form (nqs-dilated sweep / search). The recorded results came from the
# flat CLI of the commit date (epoch budget with a padded last batch per epoch): a rerun follows the
# same protocol and settings, not bit for bit the same numbers.
# 36-site part of issue 6: dilation stacks (1,1,1) and (1,2,3) at J2/J1 = 0.5, 1.0, 1.3, eps = 0.001 of
# the orbit representatives (31,554,903 -> 31,555 training configurations), sector A1+ (stored states).
# 60 epochs without early stopping (the best validation epoch is kept). Rerun to resume.
cd /work/main || exit 1
.venv/bin/python -m nqs_dilated sweep --lattice triangular-6x6 --j2 0.5,1.0,1.3 --model dilated \
    --dilations 1,1,1 --dilations 1,2,3 --eps 0.001 --eps-relative-to representatives --sector A1+ \
    --epochs 60 --patience 0 --seeds 1 --workers 2 --out runs/sweep-6x6-eps0.001-reps >> runs/sweep-6x6-eps0.001-reps.log 2>&1
echo "sweep exit status $?" >> runs/sweep-6x6-eps0.001-reps.log
