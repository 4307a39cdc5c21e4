#!/usr/bin/env bash
# Benchmarks mailportd against Postfix on loopback and prints a table.
#
# Usage: bench/run.sh [BUILD_DIR] [bench.py options]
# BUILD_DIR (default build-bench) must contain the mailportd and mailport
# targets; build them with
#   cmake -S . -B build-bench && cmake --build build-bench -j2 --target mailportd mailport
# Postfix comes from scripts/packages/bench.txt (scripts/install-deps.sh
# bench).  Runs as root, because a separate Postfix instance is started
# with `postfix -c DIR start`.  Options such as --messages 500 shorten the
# run; bench/bench.py --help lists them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
if [[ $# -gt 0 && $1 != -* ]]; then
  build=$1
  shift
fi

for program in "$build/apps/mailportd/mailportd" "$build/apps/mailport/mailport"; do
  if [[ ! -x $program ]]; then
    echo "run.sh: $program not found; build the mailportd and mailport targets in $build" >&2
    exit 1
  fi
done
for program in postfix smtp-source strace openssl; do
  if ! PATH=$PATH:/usr/sbin command -v "$program" >/dev/null; then
    echo "run.sh: $program not found; run scripts/install-deps.sh bench as root" >&2
    exit 1
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "run.sh: run as root: the Postfix instance needs it" >&2
  exit 1
fi

export PATH=$PATH:/usr/sbin
exec /usr/bin/python3 "$root/bench/bench.py" \
  --mailportd "$build/apps/mailportd/mailportd" \
  --mailport "$build/apps/mailport/mailport" "$@"
