#!/usr/bin/env bash
# Check scheduler load test: TCP and HTTP checks at 1 s against loopback
# listeners; prints checks/s sustained, lateness and errors (see README.md).
# Extra arguments go to the tool, e.g. `bench/checks.sh --checks 20000`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vigil-target}"
cargo build --release -q -p vigil-bench-checks
# Each running check holds a socket; the listeners' side holds another.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec "$CARGO_TARGET_DIR/release/vigil-bench-checks" "$@"
