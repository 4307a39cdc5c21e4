#!/usr/bin/env bash
# Installs what the tests need, builds mailport and runs the whole test
# suite with CTest: unit tests, integration tests against real clients,
# and the egress gate tests in network namespaces (these need root).
# Extra arguments go to ctest, e.g. "-L unit" or "-R smtp".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILPORT_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 900 -j2 "$@"
