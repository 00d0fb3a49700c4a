#!/usr/bin/env bash
# Client x server comparison on this machine, in one go.
#
#   Scripts/bench.sh [--seconds S] [--no-build] [--python-only] [--pin]
#
# Servers: ours (`websocket serve --port 0`) and Python websockets (echo_server.py).
# Clients: ours (`websocket bench`), Python websockets and picows (bench_client.py).
# Workloads: rtt 256 B, rtt 16 KiB, stream 64 KiB; S seconds each (default 5,
# or $BENCH_SECONDS). Ratios are against picows on the same server in the same
# run, because absolute numbers swing with the machine; the ratio is what we track.
# --pin puts servers on CPU 0 and clients on CPU 1 (taskset), which cuts the
# run-to-run spread on a 2-core VM but also caps a multi-threaded peer at one core.
#
# Everything listens on 127.0.0.1 only, and every process started here is stopped
# on exit (trap EXIT), including on Ctrl-C or a failed step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECS="${BENCH_SECONDS:-5}"
BUILD=1
OURS=1
PIN=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) SECS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --python-only) OURS=0; BUILD=0; shift ;;
        --pin) PIN=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Give each a moment to close cleanly, then make sure it is gone.
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    exec 3>&- 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Python peers: the project venv (as .ci/run makes it), created if missing.
PY="${WEBSOCKETS_PYTHON:-$ROOT/.build-python/venv/bin/python}"
if ! "$PY" -c 'import websockets, picows' 2>/dev/null; then
    echo "== creating Python venv at .build-python/venv"
    python3 -m venv "$ROOT/.build-python/venv"
    PY="$ROOT/.build-python/venv/bin/python"
    "$PY" -m pip install --quiet --disable-pip-version-check -r Scripts/python/requirements.txt
fi

# --- Our CLI, release build.
WS="$ROOT/.build/release/websocket"
if [[ $BUILD == 1 ]]; then
    echo "== swift build -c release --product websocket"
    if ! swift build -c release --product websocket; then
        echo "warning: release build failed; comparing the Python clients only" >&2
        OURS=0
    fi
fi
if [[ $OURS == 1 && ! -x "$WS" ]]; then
    echo "warning: $WS missing; comparing the Python clients only" >&2
    OURS=0
fi

SERVER_PREFIX=()
CLIENT_PREFIX=()
if [[ $PIN == 1 ]]; then
    SERVER_PREFIX=(taskset -c 0)
    CLIENT_PREFIX=(taskset -c 1)
fi

# Servers read stdin from a FIFO that this script holds open on fd 3: the Python
# server exits on stdin EOF, so even a SIGKILLed bench.sh cannot leak it.
mkfifo "$TMP/stdin"
exec 3<>"$TMP/stdin"

# start_server NAME CMD... -> sets PORT (empty if it never announced itself)
start_server() {
    local name="$1"; shift
    # 3>&-: the server must not hold a write end of its own stdin FIFO.
    "${SERVER_PREFIX[@]}" "$@" <"$TMP/stdin" >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
    PIDS+=("$!")
    PORT=""
    local i line
    for i in $(seq 1 150); do  # up to 30 s
        line="$(grep -m1 '^LISTENING ' "$TMP/$name.out" 2>/dev/null || true)"
        if [[ -n $line ]]; then PORT="${line#LISTENING }"; return 0; fi
        kill -0 "$!" 2>/dev/null || break
        sleep 0.2
    done
    echo "warning: server '$name' did not print LISTENING:" >&2
    sed 's/^/    /' "$TMP/$name.err" >&2 || true
}

declare -A URL
if [[ $OURS == 1 ]]; then
    start_server ours "$WS" serve --port 0
    [[ -n $PORT ]] && URL[ours]="ws://127.0.0.1:$PORT/echo"
fi
start_server python "$PY" Scripts/python/echo_server.py --host 127.0.0.1 --port 0
[[ -n $PORT ]] && URL[python]="ws://127.0.0.1:$PORT/echo"
if [[ -z ${URL[python]:-} ]]; then
    echo "error: the Python echo server did not start" >&2
    exit 1
fi

# run_client CLIENT URL MODE SIZE [CONNS] -> prints the client's last line, or ERR
run_client() {
    local client="$1" url="$2" mode="$3" size="$4" conns="${5:-1}" cmd
    case "$client" in
        ours) cmd=("$WS" bench) ;;
        websockets|picows) cmd=("$PY" Scripts/python/bench_client.py --impl "$client") ;;
    esac
    local out
    if out="$(timeout $((${SECS%.*} + 60)) "${CLIENT_PREFIX[@]}" "${cmd[@]}" --url "$url" --size "$size" \
                --seconds "$SECS" --mode "$mode" --conns "$conns" 2>"$TMP/client.err" </dev/null 3>&-)"; then
        out="$(printf '%s\n' "$out" | tail -n 1)"
        if [[ $out == rps=* || $out == mbps=* ]]; then echo "$out"; return; fi
    fi
    echo "ERR $(tail -n 1 "$TMP/client.err" 2>/dev/null | cut -c1-60)"
}

# metric LINE -> rps (rtt) or mbps (stream), empty if absent
metric() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n -e 's/^rps=//p' -e 's/^mbps=//p' | head -n 1; }

WORKLOADS=("rtt 256" "rtt 16384" "stream 65536")
CLIENTS=(picows websockets)
[[ $OURS == 1 ]] && CLIENTS=(picows ours websockets)
SERVERS=(python)
[[ $OURS == 1 ]] && SERVERS=(ours python)

echo "== benchmark: ${SECS}s per run, 127.0.0.1, $(nproc) cores$([[ $PIN == 1 ]] && echo ', pinned: servers cpu0, clients cpu1')"
ROWS=()
for server in "${SERVERS[@]}"; do
    for workload in "${WORKLOADS[@]}"; do
        read -r mode size <<<"$workload"
        base=""
        for client in "${CLIENTS[@]}"; do
            if [[ -n ${URL[$server]:-} ]]; then
                line="$(run_client "$client" "${URL[$server]}" "$mode" "$size")"
            else
                line="ERR server not running"
            fi
            echo "   server=$server $mode $size client=$client: $line"
            value="$(metric "$line")"
            [[ $client == picows ]] && base="$value"
            ratio="-"
            if [[ -n $value && -n $base ]]; then
                ratio="$(awk -v a="$value" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
            fi
            ROWS+=("$server|$mode $size|$client|$line|$ratio")
        done
    done
done

echo
echo "== results (ratio = rps or mbps relative to picows on the same server)"
printf '%-8s %-14s %-11s %-44s %s\n' server workload client result "vs picows"
for row in "${ROWS[@]}"; do
    IFS='|' read -r s w c l r <<<"$row"
    printf '%-8s %-14s %-11s %-44s %s\n' "$s" "$w" "$c" "$l" "$r"
done
