#!/bin/bash
# What limits the amplitude with the exact sign fixed at J2/J1 = 1.0 on triangular-4x6 (issue 20, item 2):
# the 4x6 table's setting (channels 16,16,16, dilations 1,2,3, 1024 samples, 16 chains, SGD 0.02,
# diag shift 0.01 -> 0.001, float32, seed 0) at 300 iterations, one change at a time.
# One run at a time on core 1; /usr/bin/time records CPU seconds and peak RSS.
cd "$(dirname "$0")/../../.."
COMMON="--lattice triangular-4x6 --j2 1.0 --mode fixed-sign --sign-source exact --channels 16,16,16 \
  --dilations 1,2,3 --n-samples 1024 --n-chains 16 --lr 0.02 --diag-shift 0.01 --diag-shift-final 0.001 \
  --dtype float32 --checkpoint-every 50 --seed 0 --n-iter 300 --quiet"
for spec in "baseline:" "symmetrize:--symmetrize" "channels32:--channels 32,32,32" "samples4096:--n-samples 4096" $EXTRA; do
  name=${spec%%:*}; extra=${spec#*:}
  out=runs/results/vmc-4x6-amplitude/$name
  [ -f $out/summary.json ] && continue
  echo "=== $name $(date -Is)"
  mkdir -p $out
  /usr/bin/time -v -o $out.time taskset -c 1 .venv/bin/nqs-dilated vmc $COMMON $extra --out $out
  mv $out.time $out/time.txt
done
echo "=== done $(date -Is)"
