#!/usr/bin/env bash
# The main job: installs missing dependencies, builds, then runs the pipeline on the built-in
# synthetic data. Today: generate the default dataset (Table-1 sizes) and summarize it with the
# oracle ceilings. Outputs go to ./out (override with OUT=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
start=$(date +%s)
echo "== [1/3] dependencies and build"
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p "$OUT"
echo "== [2/3] generate the synthetic listener population -> $OUT/synthetic.h5"
./build/cli/amrs generate --out "$OUT/synthetic.h5" --seed 0
echo "== [3/3] summarize"
./build/cli/amrs summarize "$OUT/synthetic.h5" | tee "$OUT/summary.txt"
echo "== done in $(( $(date +%s) - start )) s; dataset: $OUT/synthetic.h5, summary: $OUT/summary.txt"
