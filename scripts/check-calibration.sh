#!/usr/bin/env bash
# The calibration of the synthetic population (docs/synthetic.md) at the default sizes: generates
# the default dataset (seed 0 unless given) into a scratch folder and runs `amrs summarize
# --check-calibration` on it. Exit 0 when every value is inside its band, 3 otherwise. Default
# sizes, not tiny data (about 6 s and 1 GB here): outside CI and the test suite; run it after
# changing the generator.
# Usage: bash scripts/check-calibration.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
[[ $seed =~ ^[0-9]+$ ]] || { echo "check-calibration: SEED must be a non-negative integer, got '$seed'" >&2; exit 2; }
amrs=./build/cli/amrs
[[ -x $amrs ]] || { echo "check-calibration: $amrs is missing; run bash scripts/build.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$amrs" generate --out "$work/synthetic.h5" --seed "$seed" --splits 1 2>/dev/null
"$amrs" summarize "$work/synthetic.h5" --check-calibration
