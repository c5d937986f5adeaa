#!/usr/bin/env bash
# Configures and builds AMRS-Sim into ./build (Ninja, RelWithDebInfo).
#   bash scripts/build.sh          # everything: libraries, CLI, tests, Python package
#   bash scripts/build.sh amrs     # only the named targets (the quickstart builds the CLI alone)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" ${targets[@]+"${targets[@]}"}
