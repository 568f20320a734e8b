#!/bin/bash
# The 36-site walsh-local runs (orbit-disjoint split, eps = 0.005 of the representatives, the study's
# budget of examples/sign-study-36.toml), made by
#   nqs-dilated sweep examples/sign-study-36.toml --j2 1.0,1.3,0.5 --eps 0.005 --model walsh-local \
#       --seeds 3 --workers 1 --out runs/walsh-6x6/sweep
# (rerun to resume). Copies the small outputs here (no parameters).
cd "$(dirname "$0")/../../.." || exit 1
d=runs/walsh-6x6/sweep
cp "$d"/{results.csv,summary.md,ed.csv,sweep.json} runs/results/walsh-6x6/ 2>/dev/null
for r in "$d"/runs/*/; do
  [ -f "$r/summary.json" ] || continue
  mkdir -p "runs/results/walsh-6x6/runs/$(basename "$r")"
  cp "$r"/{config.json,summary.json,metrics.jsonl,provenance.json} "runs/results/walsh-6x6/runs/$(basename "$r")/"
done
