#!/bin/bash
# VMC under the exact sign at J2/J1 = 1.0 on triangular-4x6 with the G-CNN amplitude (features
# 16,16,16,16, the network whose supervised fit reached fidelity 0.983, supervised.py --gcnn) in the
# baseline setting of run.sh, on core 0 (CORE), stopped by --timeout (rerun to resume). LR=0.005 sets
# the SGD step (default 0.02) and names the directory gcnn16-16-16-16-lr0.005.
cd "$(dirname "$0")/../../.."
LR=${LR:-0.02}
out=runs/results/vmc-4x6-amplitude/gcnn16-16-16-16$([ $LR != 0.02 ] && echo -lr$LR)
mkdir -p $out
/usr/bin/time -v -o $out.time taskset -c ${CORE:-0} .venv/bin/nqs-dilated vmc --lattice triangular-4x6 --j2 1.0 --mode fixed-sign \
  --sign-source exact --model gcnn --channels 16,16,16,16 --n-samples 1024 --n-chains 16 --lr $LR --diag-shift 0.01 \
  --diag-shift-final 0.001 --dtype float32 --checkpoint-every 10 --seed 0 --n-iter 300 --timeout ${TIMEOUT:-1500} --quiet --out $out
mv $out.time $out/time.txt
