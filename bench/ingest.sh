#!/usr/bin/env bash
# Vigil ingest + search benchmark: builds vigil and the load tool in release,
# starts `vigil serve` on a free loopback port with a fresh data directory,
# creates a tenant and tokens, runs bench/ingest (vigil-bench-ingest), prints
# its table and one-line JSON summary, and stops the server.
#
#   bench/ingest.sh [--connections N] [--batch N] [--events N] [--large]
#                   [--gzip] [--keep] [-- extra load-tool flags]
#
# Environment (flags win): BENCH_CONNECTIONS (8), BENCH_BATCH (1000),
# BENCH_EVENTS (2000000), BENCH_LARGE=1 (10,000,000 events, for the search
# figure), BENCH_GZIP=1, BENCH_KEEP=1 (keep the data dir and server log),
# CARGO_TARGET_DIR (/var/tmp/vigil-target), BENCH_STARTUP_TIMEOUT (60 s),
# VIGIL_BIN (benchmark this vigil binary instead of building one).
# See bench/README.md for how to read the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vigil-target}"

connections="${BENCH_CONNECTIONS:-8}"
batch="${BENCH_BATCH:-1000}"
events="${BENCH_EVENTS:-2000000}"
large="${BENCH_LARGE:-0}"
gzip="${BENCH_GZIP:-0}"
keep="${BENCH_KEEP:-0}"
startup_timeout="${BENCH_STARTUP_TIMEOUT:-60}"
extra=()

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --connections) connections="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --events) events="$2"; shift 2 ;;
        --large) large=1; shift ;;
        --gzip) gzip=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$large" = 1 ]; then
    events=10000000
fi

if [ -n "${VIGIL_BIN:-}" ]; then
    echo "building vigil-bench-ingest (release); vigil is $VIGIL_BIN..." >&2
    cargo build --release -q -p vigil-bench-ingest
    vigil="$VIGIL_BIN"
else
    echo "building vigil and vigil-bench-ingest (release)..." >&2
    cargo build --release -q -p vigil -p vigil-bench-ingest
    vigil="$CARGO_TARGET_DIR/release/vigil"
fi
tool="$CARGO_TARGET_DIR/release/vigil-bench-ingest"

data="$(mktemp -d -t vigil-bench-data.XXXXXX)"
log="$(mktemp -t vigil-bench-server.XXXXXX.log)"
server_pid=""
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

cleanup() {
    local rc=$?
    stop_server "$server_pid"
    show_log_on_error "$rc" "$log"
    if [ "$keep" = 1 ]; then
        echo "kept data dir $data and server log $log" >&2
    else
        rm -rf "$data" "$log"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$("$tool" free-port)"
url="http://127.0.0.1:$port"
echo "starting vigil serve on $url (data $data)..." >&2
"$vigil" serve --data "$data" --listen "127.0.0.1:$port" >"$log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + startup_timeout))
until curl -fsS --max-time 2 "$url/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "vigil serve exited during startup" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "vigil serve did not answer /healthz within ${startup_timeout} s" >&2
        exit 1
    fi
    sleep 0.2
done
until [ -s "$data/admin.token" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "no $data/admin.token within ${startup_timeout} s" >&2
        exit 1
    fi
    sleep 0.2
done
admin="$(tr -d '[:space:]' <"$data/admin.token")"

# POST with the admin token; prints the body, fails on an HTTP error.
api() {
    local path="$1" body="$2" out
    if ! out="$(curl -sS --max-time 10 -w '\n%{http_code}' -X POST \
        -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        --data "$body" "$url$path")"; then
        echo "POST $path failed" >&2
        return 1
    fi
    local code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    case "$code" in
        2??) printf '%s\n' "$out" ;;
        *) echo "POST $path $body: http $code: $out" >&2; return 1 ;;
    esac
}

# Pulls "token":"..." out of a JSON answer.
token_of() {
    sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1
}

api /api/v1/tenants '{"name":"bench"}' >/dev/null
ingest_token="$(api /api/v1/tokens '{"tenant":"bench","role":"ingest"}' | token_of)"
read_token="$(api /api/v1/tokens '{"tenant":"bench","role":"read"}' | token_of)"
if [ -z "$ingest_token" ] || [ -z "$read_token" ]; then
    echo "could not create the ingest and read tokens" >&2
    exit 1
fi

args=(run --url "$url" --connections "$connections" --batch "$batch" --events "$events")
if [ "$gzip" = 1 ]; then
    args+=(--gzip)
fi
VIGIL_BENCH_INGEST_TOKEN="$ingest_token" VIGIL_BENCH_READ_TOKEN="$read_token" \
    "$tool" "${args[@]}" "${extra[@]}"

if [ -n "$server_pid" ]; then
    echo "server: peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$server_pid/status" 2>/dev/null || echo '?'), data dir $(du -sh "$data" 2>/dev/null | cut -f1)" >&2
fi
