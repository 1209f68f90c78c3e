#!/usr/bin/env bash
# Vigil syslog ingest + detection benchmark: builds vigil and the load tool
# in release, starts `vigil serve` with a fresh data directory and a config
# with one TCP syslog listener (tenant "bench") and the SigmaHQ rule set,
# replays a realistic mix over octet-counted TCP (bench/ingest-syslog), and
# reports events/s sent and searchable, send → searchable and send → alert
# delays, and the server's CPU time and peak RSS.
#
#   bench/ingest-syslog.sh [--events N] [--connections N] [--rate N]
#                          [--no-rules] [--keep] [-- extra load-tool flags]
#
# Environment (flags win): BENCH_EVENTS (500000), BENCH_CONNECTIONS (4),
# BENCH_RATE (0 = as fast as possible), BENCH_KEEP=1 (keep the data dir and
# server log), VIGIL_CORPORA (../shared/corpora), CARGO_TARGET_DIR
# (/var/tmp/vigil-target), BENCH_STARTUP_TIMEOUT (120 s: loading the rule
# set takes a while), VIGIL_BIN (benchmark this vigil binary).
# See bench/README.md for how to read the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vigil-target}"
if [ -z "${VIGIL_CORPORA:-}" ] && [ -d ../shared/corpora ]; then
    VIGIL_CORPORA="$(cd ../shared/corpora && pwd)"
fi

events="${BENCH_EVENTS:-500000}"
connections="${BENCH_CONNECTIONS:-4}"
rate="${BENCH_RATE:-0}"
keep="${BENCH_KEEP:-0}"
rules=1
startup_timeout="${BENCH_STARTUP_TIMEOUT:-120}"
extra=()

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --events) events="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --no-rules) rules=0; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

rules_dir="${VIGIL_CORPORA:-}/sigma/rules"
if [ "$rules" = 1 ] && [ ! -d "$rules_dir" ]; then
    echo "no SigmaHQ rules at '$rules_dir' (set VIGIL_CORPORA, or --no-rules)" >&2
    exit 1
fi

if [ -n "${VIGIL_BIN:-}" ]; then
    echo "building vigil-bench-ingest-syslog (release); vigil is $VIGIL_BIN..." >&2
    cargo build --release -q -p vigil-bench-ingest-syslog
    vigil="$VIGIL_BIN"
else
    echo "building vigil and vigil-bench-ingest-syslog (release)..." >&2
    cargo build --release -q -p vigil -p vigil-bench-ingest-syslog
    vigil="$CARGO_TARGET_DIR/release/vigil"
fi
tool="$CARGO_TARGET_DIR/release/vigil-bench-ingest-syslog"

work="$(mktemp -d -t vigil-bench-syslog.XXXXXX)"
data="$work/data"
log="$work/server.log"
config="$work/vigil.toml"
mkdir -p "$data"
server_pid=""
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

cleanup() {
    local rc=$?
    stop_server "$server_pid"
    show_log_on_error "$rc" "$log"
    if [ "$keep" = 1 ]; then
        echo "kept $work (data, server.log, vigil.toml)" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
    echo '[[inputs.syslog]]'
    echo 'protocol = "tcp"'
    echo 'listen = "127.0.0.1:0"'
    echo 'tenant = "bench"'
    echo
    echo '[[tenants]]'
    echo 'name = "bench"'
    if [ "$rules" = 1 ]; then
        echo
        echo '[detection]'
        printf 'rule_paths = ["%s"]\n' "$rules_dir"
    fi
} >"$config"

# 1. The generator's own ceiling on this machine: the same traffic into the
#    tool's built-in sink (no server).
tool_args=(--events "$events" --connections "$connections" --rate "$rate")
echo "== baseline: the load tool into its own sink (no server)"
#    Never rate-limited: it is the ceiling.
"$tool" --sink --events "$events" --connections "$connections" --json-out "$work/baseline.json" 2>/dev/null
baseline_json="$(cat "$work/baseline.json")"
baseline_eps="$(printf '%s' "$baseline_json" | sed -n 's/.*"sink_eps":\([0-9.e+]*\).*/\1/p')"

# 2. The server.
echo "== vigil serve (data $data)" >&2
env -u VIGIL_BIN "$vigil" serve --config "$config" --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
server_pid=$!

# Its addresses, from its log (ANSI colours stripped).
addr_of() { # pattern
    { sed 's/\x1b\[[0-9;]*m//g' "$log" | grep "$1" | sed -n 's/.*addr=\([^ ]*\).*/\1/p' | tr -d '"' | head -n 1; } || true
}
deadline=$((SECONDS + startup_timeout))
http="" syslog=""
while [ -z "$http" ] || [ -z "$syslog" ] || [ ! -s "$data/admin.token" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "vigil serve exited during startup" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "vigil serve did not report its HTTP and syslog addresses within ${startup_timeout} s" >&2
        exit 1
    fi
    sleep 0.2
    http="$(addr_of 'vigil is listening')"
    syslog="$(addr_of 'syslog input is listening')"
done
url="http://$http"
echo "server: http $url, syslog tcp $syslog, rules: $([ "$rules" = 1 ] && echo "$rules_dir" || echo none)"
until curl -fsS --max-time 2 "$url/healthz" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "vigil serve did not answer /healthz within ${startup_timeout} s" >&2
        exit 1
    fi
    sleep 0.2
done

# CPU time (user + system) of the server, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
hz="$(getconf CLK_TCK)"
cpu0="$(ticks)"
t0="$(date +%s.%N)"

# 3. The run.
echo "== load: $events messages, $connections connections, rate ${rate} (0 = unlimited)"
"$tool" "${tool_args[@]}" --addr "$syslog" --api "$url" --token-file "$data/admin.token" \
    --tenant bench --server-pid "$server_pid" "${extra[@]}" --json-out "$work/result.json"
result_json="$(cat "$work/result.json")"

cpu1="$(ticks)"
t1="$(date +%s.%N)"
hwm="$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")"

# 4. The server's cost.
sent="$(printf '%s' "$result_json" | sed -n 's/.*"events_sent":\([0-9]*\).*/\1/p')"
e2e="$(printf '%s' "$result_json" | sed -n 's/.*"searchable_eps":\([0-9.e+]*\).*/\1/p')"
awk -v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v n="${sent:-0}" -v kb="$hwm" '
BEGIN {
    cpu = (c1 - c0) / hz; wall = t1 - t0
    printf "server CPU      %.2f s user+system over %.2f s of run = %.2f cores", cpu, wall, cpu / wall
    if (n > 0) printf ", %.1f µs per message", cpu * 1e6 / n
    printf "\nserver memory   peak RSS (VmHWM) %.0f MB\n", kb / 1024
}'
if [ -n "$baseline_eps" ] && [ -n "$e2e" ]; then
    awk -v e="$e2e" -v b="$baseline_eps" 'BEGIN {
        printf "vs baseline     end-to-end messages/s / the load tool into its own sink = %.4fx\n", e / b }'
fi
echo "server data dir $(du -sh "$data" 2>/dev/null | cut -f1)"
