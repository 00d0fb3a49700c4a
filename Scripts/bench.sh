#!/usr/bin/env bash
# Client comparison on this machine, in one interleaved run.
#
#   Scripts/bench.sh [--seconds S] [--rounds N] [--no-build] [--python-only] [--pin]
#                    [--server picows|ours|ours-pool|websockets] [--workloads LIST] [--callgrind]
#                    [--pool] [--baseline PATH] [--warmup S]
#
# Server: picows's echo server (Scripts/python/picows_echo_server.py) by default, the fastest we
# know: a slow server hides a client's cost. `ours` is `websocket serve` (each connection's echo on
# the event loop, its default), `ours-pool` the same with `--executor pool`. Clients: ours
# (`websocket bench`, release build) and the picows, aiohttp and Python `websockets` clients
# (Scripts/python/bench_client.py).
# Workloads (default): rtt 256 B, 8 KiB, 100 KiB, 1 MiB; stream 8 KiB and 1 MiB (64 in flight);
# rtt 256 B over 100 connections; S seconds each (default 5, or $BENCH_SECONDS). --workloads takes
# a comma-separated list of "mode:size[:conns]" (e.g. "rtt:256,stream:8192").
# Rounds: N (default 3) rounds, each running every client once per workload in turn, so that a
# slow spell of the machine hits every client alike; the table shows medians. Each round starts the
# turn at the next client (round 1 with ours, round 2 with picows, ...), so that no client always
# runs first after a change of workload.
# Warm-up: before the first round, one unmeasured run (S seconds, default 1; --warmup 0: none) of
# the picows client per workload. The server's first connection at a new message size runs at
# about half speed for its whole length (measured: 1 MiB round trips at 871-931/s on a fresh
# picows server, then 1,090-1,960/s, whichever client came first), which would otherwise fall
# on whichever client round 1 runs first.
# Per client and workload: round trips/s (rtt) or MB/s (stream), context switches and CPU µs per
# operation (the client's getrusage over the timed window, its "rusage" line), and our ratio to the
# best of the three Python clients, twice: of the medians ("ratio"), and the median of each round's
# own ratio ("paired", which a slow spell of the machine lasting a round does not skew). Ratios are
# rounded down to two decimals.
# Env: WEBSOCKETS_PYTHON (the venv's python), WEBSOCKET_BIN (our binary; skips the build).
# --callgrind: instructions per 256 B round trip, ours and picows's, under valgrind's callgrind
# (noise-free): two runs of different lengths, so that start-up and connecting cancel out. Any
# valgrind (3.19 works; it prints harmless "unhandled dwarf2 abbrev form" lines on Swift 6 binaries).
# --pool adds our client with its tasks on Swift's global pool (`--executor pool`, the path of
# code that does not opt into the event loop) as "ours-pool"; --baseline PATH adds another build of
# `websocket` (an older commit, for an A/B comparison in the same run) as "baseline".
# --pin puts the server on CPU 0 and the clients on CPU 1 (taskset).
#
# Everything listens on 127.0.0.1 only, and every process started here is stopped on exit (trap
# EXIT), including on Ctrl-C or a failed step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECS="${BENCH_SECONDS:-5}"
ROUNDS=3
BUILD=1
OURS=1
PIN=0
SERVER=picows
CALLGRIND=0
POOL=0
BASELINE=""
WARMUP=1
WORKLOAD_LIST="rtt:256,rtt:8192,rtt:102400,rtt:1048576,stream:8192,stream:1048576,rtt:256:100"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) SECS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --python-only) OURS=0; BUILD=0; shift ;;
        --pin) PIN=1; shift ;;
        --server) SERVER="$2"; shift 2 ;;
        --workloads) WORKLOAD_LIST="$2"; shift 2 ;;
        --callgrind) CALLGRIND=1; shift ;;
        --pool) POOL=1; shift ;;
        --baseline) BASELINE="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
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
if ! "$PY" -c 'import websockets, picows, aiohttp' 2>/dev/null; then
    echo "== creating Python venv at .build-python/venv"
    python3 -m venv "$ROOT/.build-python/venv"
    PY="$ROOT/.build-python/venv/bin/python"
    "$PY" -m pip install --quiet --disable-pip-version-check -r Scripts/python/requirements.txt
fi

# --- Our CLI, release build.
# WEBSOCKET_BIN: a binary to measure instead of building (an older build, for an A/B run).
WS="${WEBSOCKET_BIN:-$ROOT/.build/release/websocket}"
[[ -n ${WEBSOCKET_BIN:-} ]] && BUILD=0
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

case "$SERVER" in
    picows) start_server picows "$PY" Scripts/python/picows_echo_server.py --host 127.0.0.1 --port 0 ;;
    websockets) start_server websockets "$PY" Scripts/python/echo_server.py --host 127.0.0.1 --port 0 ;;
    ours)
        [[ $OURS == 1 ]] || { echo "error: --server ours needs our build" >&2; exit 1; }
        start_server ours "$WS" serve --port 0 ;;
    ours-pool)
        [[ $OURS == 1 ]] || { echo "error: --server ours-pool needs our build" >&2; exit 1; }
        start_server ours-pool "$WS" serve --port 0 --executor pool ;;
    *) echo "error: --server must be picows, ours, ours-pool or websockets" >&2; exit 2 ;;
esac
if [[ -z $PORT ]]; then
    echo "error: the $SERVER echo server did not start" >&2
    exit 1
fi
URL="ws://127.0.0.1:$PORT/"

# run_client CLIENT MODE SIZE CONNS [SECONDS] -> "metric csw cpu ops" from the client's last two
# lines, or "ERR <why>"
run_client() {
    local client="$1" mode="$2" size="$3" conns="$4" secs="${5:-$SECS}" cmd
    case "$client" in
        ours) cmd=("$WS" bench) ;;
        ours-pool) cmd=("$WS" bench --executor pool) ;;
        baseline) cmd=("$BASELINE" bench) ;;
        *) cmd=("$PY" Scripts/python/bench_client.py --impl "$client") ;;
    esac
    local out
    if out="$(timeout $((${secs%.*} + 60)) "${CLIENT_PREFIX[@]}" "${cmd[@]}" --url "$URL" --size "$size" \
                --seconds "$secs" --mode "$mode" --conns "$conns" 2>"$TMP/client.err" </dev/null 3>&-)"; then
        local result usage
        result="$(printf '%s\n' "$out" | tail -n 1)"
        usage="$(printf '%s\n' "$out" | grep '^rusage ' | tail -n 1)"
        if [[ $result == rps=* || $result == mbps=* ]]; then
            printf '%s %s %s %s\n' "$(field "$result" rps mbps)" "$(field "$usage" csw_per_op)" \
                "$(field "$usage" cpu_us_per_op)" "$(field "$usage" ops)"
            return
        fi
    fi
    echo "ERR $(tail -n 1 "$TMP/client.err" 2>/dev/null | tr ' ' '_' | cut -c1-60)"
}

# field LINE NAME [NAME2] -> the value of NAME= (or NAME2=) in LINE, "-" if absent
field() {
    local value
    value="$(printf '%s\n' "$1" | tr ' ' '\n' | sed -n -e "s/^$2=//p" ${3:+-e "s/^$3=//p"} | head -n 1)"
    echo "${value:--}"
}

# median of the numbers on stdin ("-" if none)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

IFS=',' read -r -a WORKLOADS <<<"$WORKLOAD_LIST"
CLIENTS=(picows aiohttp websockets)
[[ $OURS == 1 ]] && CLIENTS=(ours picows aiohttp websockets)
[[ $OURS == 1 && $POOL == 1 ]] && CLIENTS+=(ours-pool)
[[ -n $BASELINE ]] && CLIENTS+=(baseline)

echo "== benchmark: server $SERVER, ${SECS}s per run, $ROUNDS rounds (medians), 127.0.0.1, $(nproc) cores$([[ $PIN == 1 ]] && echo ', pinned: server cpu0, clients cpu1')"
if [[ $WARMUP != 0 ]]; then
    for workload in "${WORKLOADS[@]}"; do
        IFS=':' read -r mode size conns <<<"$workload"
        line="$(run_client picows "$mode" "$size" "${conns:-1}" "$WARMUP")"
        echo "   warm-up $mode $size x${conns:-1} picows (not counted): $line"
    done
fi
declare -A RESULTS  # "workload|client" -> lines "metric csw cpu ops", one per round
declare -A ROUND_METRIC  # "workload|client|round" -> that round's metric (for the paired ratio)
for round in $(seq 1 "$ROUNDS"); do
    # This round's order: the clients rotated by round - 1.
    shift_by=$(( (round - 1) % ${#CLIENTS[@]} ))
    ORDER=("${CLIENTS[@]:shift_by}" "${CLIENTS[@]:0:shift_by}")
    for workload in "${WORKLOADS[@]}"; do
        IFS=':' read -r mode size conns <<<"$workload"
        conns="${conns:-1}"
        for client in "${ORDER[@]}"; do
            line="$(run_client "$client" "$mode" "$size" "$conns")"
            echo "   round $round $mode $size x$conns $client: $line"
            [[ $line == ERR* ]] && continue
            RESULTS["$workload|$client"]+="$line"$'\n'
            ROUND_METRIC["$workload|$client|$round"]="${line%% *}"
        done
    done
done

column_median() {  # column_median KEY COLUMN
    printf '%s' "${RESULTS[$1]:-}" | awk -v c="$2" 'NF && $c != "-" { print $c }' | median
}

echo
# paired_ratio WORKLOAD CLIENT -> the median over rounds of CLIENT / the best Python client of the
# same round ("-" without a complete round). Each round's clients run back to back, so a slow spell
# of the machine, which can last a whole round, hits both sides of each quotient alike.
paired_ratio() {
    local round best value quotients=""
    for round in $(seq 1 "$ROUNDS"); do
        value="${ROUND_METRIC["$1|$2|$round"]:-}"
        [[ -n $value ]] || continue
        best=""
        local python
        for python in picows aiohttp websockets; do
            local other="${ROUND_METRIC["$1|$python|$round"]:-}"
            [[ -n $other ]] || continue
            best="$(awk -v a="$other" -v b="${best:-0}" 'BEGIN { print (a > b) ? a : b }')"
        done
        [[ -n $best ]] && quotients+="$(awk -v a="$value" -v b="$best" 'BEGIN { if (b > 0) print a / b }')"$'\n'
    done
    printf '%s' "$quotients" | awk 'NF' | median
}

# ratio_text QUOTIENT -> "0.99x": two decimals, rounded down, so that 0.997 never shows as 1.00x
ratio_text() { awk -v q="$1" 'BEGIN { if (q == "-" || q == "") print "-"; else printf "%.2fx", int(q * 100) / 100 }'; }

echo "== results: medians of $ROUNDS rounds; ratio = ours / best Python client (higher is better):"
echo "   'ratio' divides the medians; 'paired' is the median of each round's own ratio"
printf '| %-22s | %-10s | %12s | %8s | %10s | %s | %s |\n' workload client "rt/s or MB/s" "csw/op" "CPU µs/op" "ratio" "paired"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "------------" "-------------:" "---------:" "-----------:" "------:" "-------:"
for workload in "${WORKLOADS[@]}"; do
    IFS=':' read -r mode size conns <<<"$workload"
    label="$mode $size B"
    [[ -n ${conns:-} ]] && label+=" x$conns"
    best=""
    for client in picows aiohttp websockets; do
        value="$(column_median "$workload|$client" 1)"
        [[ $value == - ]] && continue
        best="$(awk -v a="$value" -v b="${best:-0}" 'BEGIN { print (a > b) ? a : b }')"
    done
    for client in "${CLIENTS[@]}"; do
        value="$(column_median "$workload|$client" 1)"
        csw="$(column_median "$workload|$client" 2)"
        cpu="$(column_median "$workload|$client" 3)"
        ratio=""
        paired=""
        if [[ $client == ours* || $client == baseline ]] && [[ $value != - && -n $best ]]; then
            ratio="$(ratio_text "$(awk -v a="$value" -v b="$best" 'BEGIN { if (b > 0) print a / b; else print "-" }')")"
            paired="$(ratio_text "$(paired_ratio "$workload" "$client")")"
        fi
        printf '| %-22s | %-10s | %12s | %8s | %10s | %s | %s |\n' "$label" "$client" "$value" "$csw" "$cpu" "$ratio" "$paired"
    done
done

if [[ $CALLGRIND == 1 ]]; then
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "warning: valgrind not found; skipping --callgrind" >&2
        exit 0
    fi
    echo
    echo "== instructions per 256 B round trip (callgrind; (I(long) - I(short)) / (RT(long) - RT(short)))"
    for client in "${CLIENTS[@]}"; do
        [[ $client == ours || $client == picows ]] || continue
        declare -a IR=() OPS=()
        for secs in 2 6; do
            case "$client" in
                ours) cmd=("$WS" bench) ;;
                *) cmd=("$PY" Scripts/python/bench_client.py --impl "$client") ;;
            esac
            out="$(valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" "${cmd[@]}" --url "$URL" \
                    --size 256 --seconds "$secs" --mode rtt 2>"$TMP/cg.err" </dev/null 3>&- || true)"
            IR+=("$({ grep -h '^summary:' "$TMP"/cg.* 2>/dev/null || true; } | awk '{ s += $2 } END { print s + 0 }')")
            OPS+=("$(field "$(printf '%s\n' "$out" | { grep '^rusage ' || true; } | tail -n 1)" ops)")
            [[ ${IR[-1]} == 0 ]] && echo "   $client: valgrind failed: $(grep -m1 -E 'impossible|error' "$TMP/cg.err" | cut -c1-80)"
            rm -f "$TMP"/cg.*
        done
        awk -v c="$client" -v i1="${IR[0]}" -v i2="${IR[1]}" -v o1="${OPS[0]}" -v o2="${OPS[1]}" \
            'BEGIN { if (o2 > o1) printf "   %-8s %8.0f instructions per round trip\n", c, (i2 - i1) / (o2 - o1); else print "   " c ": no measurement" }'
    done
fi
