#!/usr/bin/env bash
# Measured, not tested (docs/distributed.md): 2 ranks x 1 thread against 1 process x 1 thread on
# this machine, for `amrs train-world` (one epoch) and `amrs evaluate`, launched the way torchrun
# does (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT); prints the speed-ups, the bytes
# all-reduced per optimizer step, checks that the 2-rank episode logs equal the 1-process ones byte
# for byte, and estimates the training speed-up on 8 and 64 nodes with a 10 Gbit/s network from
# the measured compute per step and all-reduce volume (ring all-reduce, see docs/distributed.md).
#
#   bash scripts/bench_distributed.sh      # after the build (bash scripts/build.sh)
#
# Environment: AMRS_BIN (default build/cli/amrs), OUT (default out/bench-dist), USERS (evaluate's
# --max-users per part, default 300), SEEDS (evaluate's seeds, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
amrs=$(realpath "${AMRS_BIN:-build/cli/amrs}")
out=${OUT:-out/bench-dist}
users=${USERS:-300}
seeds=${SEEDS:-2}
fail() { echo "bench_distributed.sh: $*" >&2; exit 1; }
[ -x "$amrs" ] || fail "$amrs not found: build first (bash scripts/build.sh) or set AMRS_BIN"
mkdir -p "$out"
cd "$out"
rm -rf w1 w2 e1 e2
if [ ! -f d.h5 ]; then
  echo "bench_distributed.sh: generating the default synthetic dataset -> $out/d.h5"
  "$amrs" generate --out d.h5 >/dev/null
fi
now() { date +%s.%N; }
# Two ranks of "$@" on 127.0.0.1 (rank 1's output is empty by design); rank 0's stdout to rank0.out.
two_ranks() {
  local port=$((20000 + RANDOM % 20000)) pids=()
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$@" >rank$r.out 2>rank$r.err &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { cat rank0.err rank1.err >&2; fail "a rank failed: $*"; }; done
}
echo "bench_distributed.sh: $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; torch 1 intra-op thread per process"

world=(train-world --data d.h5 --splits 0 --epochs 1 --no-baselines --preset default --no-resume)
t0=$(now); "$amrs" "${world[@]}" --out w1 >one.out 2>one.err; t1=$(now)
two_ranks "$amrs" "${world[@]}" --out w2; t2=$(now)
train1=$(sed -n 's/^  trained 1 epochs in \([0-9.]*\) s.*/\1/p' one.out)
train2=$(sed -n 's/^  trained 1 epochs in \([0-9.]*\) s.*/\1/p' rank0.out)
read -r steps bytes < <(sed -n 's/^  data-parallel over 2 ranks: \([0-9]*\) optimizer steps, \([0-9]*\) bytes.*/\1 \2/p' rank0.out)
[ -n "$train1" ] && [ -n "$train2" ] && [ -n "$steps" ] || fail "unexpected train-world output"
awk -v a="$train1" -v b="$train2" -v w1="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" \
    -v w2="$(awk -v x="$t1" -v y="$t2" 'BEGIN{print y-x}')" -v s="$steps" -v by="$bytes" 'BEGIN {
  printf "train-world, one epoch (training + validation): 1 process %.1f s, 2 ranks %.1f s: speed-up %.2fx (whole command %.1f s vs %.1f s: %.2fx)\n", a, b, a / b, w1, w2, w1 / w2
  printf "  %d optimizer steps, %d bytes all-reduced per rank per step (%.2f MB)\n", s, by, by / 1e6 }'

ckpt=w1/factorized-mert+pe/split-0.pt
eval=(evaluate --data d.h5 --world "$ckpt" --agents random,greedy --seeds "$seeds" --max-users "$users" --threads 1)
t0=$(now); "$amrs" "${eval[@]}" --out-dir e1 >one.out 2>one.err; t1=$(now)
two_ranks "$amrs" "${eval[@]}" --out-dir e2; t2=$(now)
awk -v x="$t0" -v y="$t1" -v z="$t2" 'BEGIN {
  printf "evaluate (random, greedy; train/val/test under the learned world, test under the oracle): 1 process %.1f s, 2 ranks %.1f s: speed-up %.2fx\n", y - x, z - y, (y - x) / (z - y) }'
same=yes
for f in e1/*.h5; do cmp -s "$f" "e2/$(basename "$f")" || same=no; done
echo "  episode logs of 2 ranks byte-identical to 1 process: $same"
[ "$same" = yes ] || fail "the 2-rank logs differ"

# Estimate: per step, compute c = (1-process epoch seconds, training and validation) / steps on
# one node (an upper bound of the training compute per step); with N nodes each step computes
# c / N and all-reduces the gradient buffer: a ring all-reduce sends and receives 2 (N - 1) / N x
# bytes per node, over 10 Gbit/s (1.25e9 B/s), plus 2 (N - 1) latencies of 50 us.
# Speed-up = c / (c / N + all-reduce). Start-up, data loading and the test evaluation are left out.
awk -v a="$train1" -v s="$steps" -v by="$bytes" 'BEGIN {
  c = a / s
  printf "estimate, 10 Gbit/s network, %.2f ms compute per step on one node, %.2f MB per all-reduce:\n", 1000 * c, by / 1e6
  n = split("2 8 64", nodes, " ")
  for (i = 1; i <= n; i++) {
    N = nodes[i]; ar = 2 * (N - 1) / N * by / 1.25e9 + 2 * (N - 1) * 50e-6
    printf "  %2d nodes: all-reduce %.3f ms per step, speed-up %.1fx\n", N, 1000 * ar, c / (c / N + ar)
  }
}'
