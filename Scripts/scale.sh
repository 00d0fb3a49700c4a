#!/usr/bin/env bash
# Scale and soak, measured (README, "Scale and soak").
#
#   Scripts/scale.sh [--connections N] [--cycles N] [--sample-every K] [--binary PATH] [--no-build]
#
# 1. Idle scale: a `websocket serve` process and a `websocket idle` client process; the client
#    opens N connections (default 10,000) and reports the resident memory per idle connection of
#    both processes (the server sampled through --watch-pid).
# 2. Soak in one process: `websocket soak` with its own in-process echo server, N cycles (default
#    10,000) of connect/echo/close, open descriptors and RSS sampled every K cycles (default 1,000).
# 3. Soak across processes: the same against the `websocket serve` process, sampling both.
# Both tools raise their open-descriptor limit to the hard limit (setrlimit); N idle connections
# need N + a few descriptors in each process. The tables are the tools' own key=value lines.
#
# Everything listens on 127.0.0.1 only; the server is stopped on exit (trap EXIT).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONNECTIONS=10000
CYCLES=10000
EVERY=1000
WS="$ROOT/.build/release/websocket"
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --cycles) CYCLES="$2"; shift 2 ;;
        --sample-every) EVERY="$2"; shift 2 ;;
        --binary) WS="$2"; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
if [[ $BUILD == 1 ]]; then
    echo "== swift build -c release --product websocket"
    swift build -c release --product websocket
fi

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server process: `websocket serve` prints LISTENING <port> once bound.
"$WS" serve --port 0 --host 127.0.0.1 --compression off >"$TMP/serve.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    grep -q '^LISTENING ' "$TMP/serve.out" 2>/dev/null && break
    sleep 0.1
done
PORT="$(sed -n 's/^LISTENING //p' "$TMP/serve.out")"
[[ -n "$PORT" ]] || { echo "serve did not start" >&2; cat "$TMP/serve.out" >&2; exit 1; }
URL="ws://127.0.0.1:$PORT/"

echo "== idle: $CONNECTIONS connections, client process <-> server process (pid $SERVER_PID)"
"$WS" idle --url "$URL" --connections "$CONNECTIONS" --compression off --watch-pid "$SERVER_PID"

echo "== soak in one process: $CYCLES connect/echo/close cycles"
"$WS" soak --cycles "$CYCLES" --sample-every "$EVERY"

echo "== soak across processes: $CYCLES cycles against the server process"
"$WS" soak --url "$URL" --cycles "$CYCLES" --sample-every "$EVERY" --watch-pid "$SERVER_PID"
