#!/bin/bash
# Reruns of the 4x6 VMC table (issue 5) after the step bound: J2 = 1.0 and 1.3, full and fixed exact sign.
# Same settings as the finished J2 = 0 / 0.5 runs (runs/vmc-4x6/*/config.json) except --timeout 0
# (the machine is shared; a 1500 s limit would split the runs into resumed sessions).
# One run at a time, on core 0, niced; /usr/bin/time records wall/CPU seconds and peak RSS.
cd /work/main
COMMON="--task vmc --lattice triangular-4x6 --channels 16,16,16 --dilations 1,2,3 --kernel-size 3 \
  --n-samples 1024 --n-chains 16 --lr 0.02 --diag-shift 0.01 --diag-shift-final 0.001 --dtype float32 \
  --checkpoint-every 100 --seed 0 --readout-scale 1 --timeout 0 --quiet"
for spec in "1.0 fixed-sign 600" "1.0 full 500" "1.3 fixed-sign 600" "1.3 full 500"; do
  set -- $spec
  j2=$1; mode=$2; n=$3
  name="j2=${j2}_$([ $mode = full ] && echo full || echo fixed-exact)"
  extra=$([ $mode = full ] && echo "--sign-prior marshall" || echo "--sign-source exact")
  out=runs/vmc-4x6/$name
  [ -f $out/summary.json ] && continue
  echo "=== $name $(date -Is)"
  /usr/bin/time -v -o $out.time taskset -c 0 nice -n 10 .venv/bin/python -m nqs_dilated.fit $COMMON \
    --j2 $j2 --mode $mode $extra --n-iter $n --out $out
  mv $out.time $out/time.txt
done
echo "=== done $(date -Is)"
