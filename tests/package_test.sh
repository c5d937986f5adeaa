#!/usr/bin/env bash
# Installs the built project into a scratch prefix, then configures, builds and runs an outside
# project that finds it with find_package(amrs), and runs the installed `amrs` with the agent
# plugin that project builds (evaluate, stress, check-agent). Prints "package test: passed" last.
set -euo pipefail
src=$1 bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$bin" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/package" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"

amrs=$work/prefix/bin/amrs plugin=$work/build/libpkg_agents.so
"$amrs" generate -o "$work/d.h5" --users 12 --sessions 40 --interactions 240 --songs 60 --embedding-dim 8 \
  --splits 1 >/dev/null
"$amrs" agents --plugin "$plugin" | grep "first-unplayed: the lowest-index songs"
"$amrs" evaluate --plugin "$plugin" --data "$work/d.h5" --world oracle --agents first-unplayed,random \
  --param "" --parts test --seeds 1 --max-users 3 -o "$work/eval" 2>/dev/null | grep "^first-unplayed"
"$amrs" stress "$src/tests/package/plugin.toml" --plugin "$plugin" --data "$work/d.h5" --world oracle -q \
  -o "$work/stress.h5" 2>/dev/null | grep "guarded(first-unplayed)"
"$amrs" check-agent first-unplayed --plugin "$plugin" | tail -1
# Without the plugin the agent is unknown (exit 2, bad option).
rc=0; "$amrs" check-agent first-unplayed >/dev/null 2>&1 || rc=$?
test "$rc" = 2
echo "package test: passed"
