#!/bin/bash
# Command in the current CLI form (nqs-dilated sweep / search). The recorded results came from the
# flat CLI of the commit date (epoch budget with a padded last batch per epoch): a rerun follows the
# same protocol and settings, not bit for bit the same numbers.
# Issue 6 follow-up: the 36-site J2/J1 = 1.3 sign fits redone on the true ground state. The sector
# search of 2026-11-21 (ed36/auto-j2=1.3.*) put it in A2+, not in the A1+ state used by sweep-6x6-eps0.001-reps.sh.
# Same settings otherwise; --sector auto loads the stored search result.
cd /work/main || exit 1
nice -n 5 .venv/bin/python -m nqs_dilated sweep --lattice triangular-6x6 --j2 1.3 --model dilated \
    --dilations 1,1,1 --dilations 1,2,3 --eps 0.001 --eps-relative-to representatives --sector auto \
    --epochs 60 --patience 0 --seeds 1 --workers 1 --out runs/sweep-6x6-eps0.001-reps-j2=1.3-auto >> runs/sweep-6x6-eps0.001-reps-j2=1.3-auto.log 2>&1
echo "sweep exit status $?" >> runs/sweep-6x6-eps0.001-reps-j2=1.3-auto.log
