#!/usr/bin/env bash
# The main job: installs missing dependencies, builds, then runs the pipeline on the built-in
# synthetic data: generate the default population (Table-1 sizes), summarize it with the oracle
# ceilings, train and test the world model on MCCV split 0, and roll out the Random and Greedy
# agents (5 paired seeds, test users, window strategy, L = 5) under the learned world and under
# the oracle. Outputs go to ./out (override with OUT=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
start=$(date +%s)
stage() { echo; echo "== [$1/6] $2 ($(( $(date +%s) - start )) s elapsed)"; }
stage 1 "dependencies and build"
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p "$OUT"
amrs=./build/cli/amrs
stage 2 "generate the synthetic listener population -> $OUT/synthetic.h5"
$amrs generate --out "$OUT/synthetic.h5" --seed 0
stage 3 "summarize"
$amrs summarize "$OUT/synthetic.h5" | tee "$OUT/summary.txt"
stage 4 "train and test the world model on split 0 -> $OUT/world/"
$amrs train-world --data "$OUT/synthetic.h5" --out "$OUT/world" --splits 0 | tee "$OUT/world-split-0.txt"
world="$OUT/world/factorized-mert+pe/split-0.pt"
stage 5 "roll out random and greedy under the learned world -> $OUT/run.h5"
$amrs rollout --data "$OUT/synthetic.h5" --world "$world" --agents random,greedy --seeds 5 --out "$OUT/run.h5" | tee "$OUT/rollout.txt"
stage 6 "the same rollouts under the oracle (ground truth) -> $OUT/run-oracle.h5"
$amrs rollout --data "$OUT/synthetic.h5" --world oracle --agents random,greedy --seeds 5 --out "$OUT/run-oracle.h5" | tee "$OUT/rollout-oracle.txt"
echo
echo "== done in $(( $(date +%s) - start )) s. Outputs in $OUT/:"
echo "   synthetic.h5 (dataset), summary.txt, world/ (checkpoint), run.h5 and run-oracle.h5 (episode logs)"
