#!/bin/bash
# Copy the small outputs of runs/sign36-orbits/* (tables, plots, each run's config, summary and
# metrics; no parameters) here.
cd "$(dirname "$0")/../../.." || exit 1
for d in runs/sign36-orbits/*/; do
  name=$(basename "$d")
  mkdir -p "runs/results/sign36-orbits/$name"
  cp "$d"/{results.csv,summary.md,ed.csv,sweep.json} "runs/results/sign36-orbits/$name/" 2>/dev/null
  for r in "$d"runs/*/; do
    [ -f "$r/summary.json" ] || continue
    mkdir -p "runs/results/sign36-orbits/$name/runs/$(basename "$r")"
    cp "$r"/{config.json,summary.json,metrics.jsonl,provenance.json} "runs/results/sign36-orbits/$name/runs/$(basename "$r")/"
  done
done
cp runs/sign36-orbits/*.log runs/results/sign36-orbits/ 2>/dev/null
