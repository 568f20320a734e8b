#!/bin/bash
# Command in the current CLI form (nqs-dilated sweep / search). The recorded results came from the
# flat CLI of the commit date (epoch budget with a padded last batch per epoch): a rerun follows the
# same protocol and settings, not bit for bit the same numbers.
# 24-site sweep of issue 6, then the dilation search at J2/J1 = 1.3; one heavy process at a time, core 1.
# Rerun this script to resume either step (finished runs and trials are kept).
cd /work/main || exit 1
PY=/work/main/.venv/bin/python
taskset -c 1 $PY -m nqs_dilated sweep --lattice triangular-4x6 --j2 0:1.4:0.2 --model dilated,cnn,dense \
    --seeds 3 --eps 0.01 --workers 1 --out /work/main/runs/sweep-4x6-eps0.01 \
    >> /work/main/runs/sweep-4x6-eps0.01.log 2>&1
echo "sweep exit status $?" >> /work/main/runs/sweep-4x6-eps0.01.log
taskset -c 1 $PY -m nqs_dilated search --lattice triangular-4x6 --j2 1.3 --eps 0.01 \
    --minutes 40 --seeds 3 --workers 1 --out /work/main/runs/search-4x6-j2=1.3-eps0.01 \
    >> /work/main/runs/search-4x6-j2=1.3-eps0.01.log 2>&1
echo "search exit status $?" >> /work/main/runs/search-4x6-j2=1.3-eps0.01.log
