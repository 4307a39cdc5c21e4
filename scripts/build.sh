#!/usr/bin/env bash
# Configures and builds mailport into build/ (or $MAILPORT_BUILD_DIR).
# Arguments name the targets to build (default: all of them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILPORT_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh" build
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$build" -j"$(nproc)" ${targets[@]+"${targets[@]}"}
