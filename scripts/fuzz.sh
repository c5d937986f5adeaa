#!/usr/bin/env bash
# Runs the libFuzzer targets of every parser of outside input (tests/fuzz/, docs/reliability.md
# "Fuzzing") for a given time each, in the ASan + UBSan build of scripts/sanitize.sh.
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET (default 600)] [TARGET ...]
#   FUZZ_KEEP_GOING=1: libFuzzer's fork mode, which keeps fuzzing after a crash or out-of-memory
#   (each is still written as an artifact) for the whole time.
#   TARGET: csv npy scenario dataset checkpoint (default: all, one after another)
# New inputs go to build-asan/fuzz/<target>/corpus (seeded from tests/fuzz/corpus/<target>);
# a crash is written to build-asan/fuzz/<target>/crash-* and the script exits 1 (copy it to
# tests/fuzz/crashes/<target>/ once fixed: CTest replays it from then on). Prints one summary
# line per target: executions, time, corpus size, new coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(csv npy scenario dataset checkpoint)
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "fuzz.sh: SECONDS_PER_TARGET must be a positive integer, got '$secs'" >&2; exit 2; }
for t in "${targets[@]}"; do
  [[ -d tests/fuzz/corpus/$t ]] || { echo "fuzz.sh: unknown target '$t' (no tests/fuzz/corpus/$t)" >&2; exit 2; }
done
bash scripts/sanitize.sh --build-only

# (libFuzzer's link puts libstdc++ before the shared ASan runtime: allowed, see tests/fuzz/CMakeLists.txt)
# quarantine_size_mb: LibTorch's allocation churn otherwise fills ASan's quarantine of freed
# blocks past the memory limit (a false out-of-memory with 71 MB live, fuzz_checkpoint).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:verify_asan_link_order=0:quarantine_size_mb=64"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in "${targets[@]}"; do
  work=build-asan/fuzz/$t
  mkdir -p "$work/corpus"
  echo "fuzz_$t: ${secs} s" >&2
  rc=0
  keep=()
  [[ ${FUZZ_KEEP_GOING:-0} == 1 ]] && keep=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  started=$SECONDS
  touch "$work/.started"  # findings of this run: artifacts newer than this stamp (older runs' stay)
  build-asan/tests/fuzz/fuzz_$t -max_total_time="$secs" -rss_limit_mb=4096 -timeout=30 -max_len=262144 \
    -print_final_stats=1 -artifact_prefix="$work/" ${keep[@]+"${keep[@]}"} "$work/corpus" "tests/fuzz/corpus/$t" \
    >"$work/log.txt" 2>&1 || rc=$?
  ran=$((SECONDS - started))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' || true)
  # (fork mode prints no final stats: its last progress line "#N ... exec/s" counts the executions)
  [[ -n $execs ]] || execs=$(grep -o '^#[0-9]*' "$work/log.txt" | tail -1 | tr -d '#')
  cov=$(grep -o 'cov: [0-9]*' "$work/log.txt" | tail -1 || true)
  crashes=$(find "$work" -maxdepth 1 -newer "$work/.started" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  earlier=$(find "$work" -maxdepth 1 ! -newer "$work/.started" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "fuzz_$t: ${execs:-?} executions in $ran s (budget $secs s), ${cov:-cov: ?}, corpus $(ls "$work/corpus" | wc -l) new inputs, $crashes findings in this run ($earlier from earlier runs in $work) (exit $rc; log $work/log.txt)"
  ((crashes == 0)) || rc=${rc/#0/1}
  if ((rc != 0)); then status=1; tail -40 "$work/log.txt" >&2; fi
done
exit $status
