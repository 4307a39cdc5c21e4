#!/usr/bin/env bash
# Installs what mailport needs, builds it and starts mailportd in the
# foreground on the embedded default configuration: loopback listeners on
# ports 25, 587 (STARTTLS) and 465 (implicit TLS), a self-signed
# certificate, and one demo user whose password is printed.  Data goes to
# ./demo (or $MAILPORT_DEMO_DIR).  Stop it with Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" build demo
"$root/scripts/build.sh" mailportd mailport
data=${MAILPORT_DEMO_DIR:-$root/demo}
exec "${MAILPORT_BUILD_DIR:-$root/build}/apps/mailportd/mailportd" \
  --data-directory "$data"
