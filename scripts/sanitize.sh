#!/usr/bin/env bash
# Builds the whole project and its tests with clang-14, AddressSanitizer and
# UndefinedBehaviorSanitizer into ./build-asan and runs every CTest suite there. Any sanitizer
# report fails the test that triggered it (halt_on_error; UBSan does not recover).
# The same build carries libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link) and
# the fuzz targets (scripts/fuzz.sh runs them).
# Usage: bash scripts/sanitize.sh [--build-only] [ctest arguments, e.g. -R test_env]
# Installs clang-14 and its runtime libraries if missing (as root). Takes about 20 minutes on
# 2 cores from scratch (docs/reliability.md has the measured time).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
need=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

build_only=0
if [[ ${1:-} == --build-only ]]; then build_only=1; shift; fi
san="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# One shared ASan runtime for every executable, library and the Python module (Python preloads it;
# the amrs binaries that the Python tests start then use the same one).
rt_dir=$(dirname "$(clang++-14 -print-file-name=libclang_rt.asan-x86_64.so)")
link="$san -shared-libsan -Wl,-rpath,$rt_dir"
# The project's libraries and executables are instrumented; LibTorch, HDF5, TBB and Python are
# not (Debian's builds). Python loads the instrumented module with the shared ASan runtime
# preloaded (tests/CMakeLists.txt passes AMRS_SANITIZER_PRELOAD to the Python test).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="$san -O1" -DCMAKE_C_FLAGS="$san -O1" \
  -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link" -DCMAKE_MODULE_LINKER_FLAGS="$link" \
  -DAMRS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
((build_only)) && exit 0

# Leaks are checked too; LibTorch's and HDF5's process-lifetime allocations are listed in
# tests/sanitizer/lsan.supp (third-party frames only).
# allocator_may_return_null: an impossible allocation is a std::bad_alloc, as without ASan.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "$@"
