# Shared by the bench scripts that start a server (sourced, not run).

# stop_server PID: asks the server to stop, gives it 10 s to shut down
# cleanly, then forces it.
stop_server() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# show_log_on_error RC LOG: the server log's last lines when the run failed.
show_log_on_error() {
    if [ "$1" != 0 ] && [ -s "$2" ]; then
        echo "--- last lines of the server log ($2):" >&2
        tail -n 30 "$2" >&2
    fi
}
