#!/bin/bash
# Copy the small outputs of runs/walsh-4x6/{fast,cnn} (tables, plots, each run's config, summary and
# metrics; no parameters) here, then rebuild table.md.
cd "$(dirname "$0")/../../.." || exit 1
for d in runs/walsh-4x6/*/; do
  name=$(basename "$d")
  mkdir -p "runs/results/walsh-4x6/$name"
  cp "$d"/{results.csv,summary.md,ed.csv,sweep.json} "runs/results/walsh-4x6/$name/" 2>/dev/null
  for r in "$d"runs/*/; do
    [ -f "$r/summary.json" ] || continue
    mkdir -p "runs/results/walsh-4x6/$name/runs/$(basename "$r")"
    cp "$r"/{config.json,summary.json,metrics.jsonl,provenance.json} "runs/results/walsh-4x6/$name/runs/$(basename "$r")/"
  done
done
cp runs/walsh-4x6/*.log runs/results/walsh-4x6/ 2>/dev/null
.venv/bin/python runs/results/walsh-4x6/table.py > /dev/null
