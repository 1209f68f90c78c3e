#!/usr/bin/env bash
# Vigil metric store benchmark: builds bench/metrics in release and runs it
# once: node_exporter-like samples (15 s scrapes with jitter, counters,
# gauges, constants) appended in batches of 10,000 like scrape rounds, then
# flushed; prints samples/s appended, bytes per sample on disk, and query
# latencies (24 h of one series, 1 h of 1,000 series).
#
#   bench/metrics.sh [--series N] [--samples-per-series M] [--batch B]
#
# Defaults: 2,000 series x 5,760 samples (24 h at 15 s) = 11.5 M samples.
# CARGO_TARGET_DIR defaults to /var/tmp/vigil-target. See bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vigil-target}"
echo "building vigil-bench-metrics (release)..." >&2
cargo build --release -q -p vigil-bench-metrics
exec "$CARGO_TARGET_DIR/release/vigil-bench-metrics" "$@"
