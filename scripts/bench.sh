#!/usr/bin/env bash
# Measured, not tested: `amrs bench` against what a user would write instead, a plain
# Python/PyTorch env around a model of the default size (../shared/bench/py_env_baseline.py).
# The two run alternately, ROUNDS times, in one call; each round prints the env-steps per second
# of the learned world with random actions at batch 256 (amrs) and of the better Python variant
# (single env or batched re-encode at B=256), and their ratio; the median ratio ends the output.
#
#   bash scripts/bench.sh                 # after the build (bash scripts/build.sh)
#   ROUNDS=3 BENCH_SECONDS=10 bash scripts/bench.sh
#
# Environment: AMRS_BIN (default build/cli/amrs), AMRS_SHARED_DIR (default ../shared), OUT (default
# out/bench: the generated dataset), ROUNDS (2), BENCH_SECONDS (5: minimum timed seconds per
# measurement), WORLD (a world-model checkpoint of that dataset; default: amrs bench's untrained
# default configuration, one network like the Python model; a trained checkpoint keeps its best
# epochs per signal, often two networks, about half the speed). Both sides use one thread (torch's intra-op default here). OPENBLAS_CORETYPE is
# passed through as set and printed; neither side sets it. The Python side needs Debian's
# python3-torch (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
amrs=${AMRS_BIN:-build/cli/amrs}
shared=${AMRS_SHARED_DIR:-../shared}
out=${OUT:-out/bench}
rounds=${ROUNDS:-2}
secs=${BENCH_SECONDS:-5}
baseline="$shared/bench/py_env_baseline.py"

fail() { echo "bench.sh: $*" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || fail "ROUNDS must be a positive integer, got '$rounds'"
[[ "$secs" =~ ^[0-9]+([.][0-9]+)?$ ]] || fail "BENCH_SECONDS must be a positive number, got '$secs'"
[ -x "$amrs" ] || fail "$amrs not found: build first (bash scripts/build.sh) or set AMRS_BIN"
[ -f "$baseline" ] || fail "$baseline not found: set AMRS_SHARED_DIR to the folder holding bench/"
/usr/bin/python3 -c "import torch" 2>/dev/null || fail "/usr/bin/python3 cannot import torch (apt-get install python3-torch)"

mkdir -p "$out"
data="$out/bench.h5"
if [ ! -f "$data" ]; then
  echo "bench.sh: generating the default synthetic dataset (6,988 songs) -> $data"
  "$amrs" generate --out "$data" >/dev/null
fi
echo "bench.sh: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, $rounds round(s), at least $secs s per measurement, world ${WORLD:-untrained default configuration}"

ratios=()
for ((r = 1; r <= rounds; r++)); do
  a=$("$amrs" bench --data "$data" --skip-world --seconds "$secs" ${WORLD:+--world "$WORLD"})
  ours=$(awk '$1 == "learned" && $2 == "random" && $3 == "256" {print $4}' <<<"$a")
  [ -n "$ours" ] || fail "no 'learned random 256' line in amrs bench's output:"$'\n'"$a"
  p=$(/usr/bin/python3 "$baseline" --threads 1 --seconds "$secs")
  single=$(sed -n 's/^python single-env loop: \([0-9.]*\) env-steps\/s$/\1/p' <<<"$p")
  batched=$(sed -n 's/^python batched B=256 (re-encode): \([0-9.]*\) env-steps\/s$/\1/p' <<<"$p")
  [ -n "$single" ] && [ -n "$batched" ] || fail "unexpected output of $baseline:"$'\n'"$p"
  read -r best which ratio < <(awk -v o="$ours" -v s="$single" -v b="$batched" 'BEGIN {
    if (b >= s) printf "%s batched %.1f\n", b, o / b; else printf "%s single %.1f\n", s, o / s }')
  printf 'round %d: amrs learned random B=256 %s env-steps/s | python single %s, batched B=256 %s (better: %s) | ratio %sx\n' \
    "$r" "$ours" "$single" "$batched" "$which" "$ratio"
  ratios+=("$ratio")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
echo "median ratio over $rounds round(s): ${median}x (amrs env-steps/s over the better Python variant, batch 256)"
