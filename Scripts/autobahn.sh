#!/usr/bin/env bash
# Autobahn TestSuite against our client: the fuzzing server, every case, a verdict.
#
#   Scripts/autobahn.sh [--cases PATTERN] [--shards N] [--echo MODE] [--timeout SECONDS]
#
#   --cases PATTERN    comma-separated case ids or globs (`1.*,9.1.*`, `7.1.6`); default all
#   --echo MODE        messages (default): the client echoes whole messages; fragments: it
#                      receives in the partial mode and echoes each piece as it arrives, one
#                      frame per piece (`websocket autobahn --echo fragments`)
#   --shards N         1 (default) or 2: a full run split over two fuzzing servers (ports PORT and
#                      PORT+1) running at once, reports merged; about halves the wall time
#   --timeout SECONDS  bound for the whole run, setup and build included (default 1200)
#
# Steps: Scripts/autobahn/setup.sh (Python 2.7 venv in .build-autobahn/, reused when its pins
# are unchanged); the `websocket` CLI built with `swift build -c release --product websocket`
# unless $WEBSOCKET_BIN names one; a fuzzing server (ws://127.0.0.1:9001, loopback only
# through Scripts/autobahn/wstest_loopback.py); then
#   $WEBSOCKET_BIN autobahn --url ws://127.0.0.1:9001 --agent swift-websockets [--cases PATTERN] [--echo MODE]
# which runs the cases and asks for /updateReports. The server's reports, the authoritative
# results, land in reports/autobahn/clients/ (index.json, one JSON + HTML per case, index.html),
# kept as the run's artifact (reports/ is git-ignored), with the spec and both logs beside them.
#
# Verdict (Scripts/autobahn/report.py): pass iff every case's behavior is OK or INFORMATIONAL
# and its behaviorClose is OK (or INFORMATIONAL, which the server itself gives 7.1.6, 7.13.*).
# NON-STRICT fails (listed apart). UNIMPLEMENTED is accepted for 12.* and 13.* (permessage-
# deflate) only with AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION=1 (default 0 since deflate landed). Cases in
# Scripts/autobahn/exclusions.txt (`<case id> <reason>`) don't fail the verdict but are listed.
#
# Env: WEBSOCKET_BIN (skip the build), AUTOBAHN_PORT (default 9001),
#      AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION (default 0), AUTOBAHN_PYTHON2 (see setup.sh),
#      AUTOBAHN_COMPRESSION_LEVEL (zlib level 1-9 of our side's permessage-deflate, passed as
#      `--compression-level`; default: the library's, 6).
# Exit: 0 pass, 1 fail (or error, or timeout), 2 bad arguments, 3 Python 2.7 unavailable.
# Every process started here is stopped on exit (trap EXIT), Ctrl-C included.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CASES=""
TIMEOUT=1200
SHARDS=1
ECHO=messages
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shards) SHARDS="${2:?--shards needs 1 or 2}"; shift 2 ;;
        --cases) CASES="${2:?--cases needs a pattern}"; shift 2 ;;
        --cases=*) CASES="${1#*=}"; shift ;;
        --echo) ECHO="${2:?--echo needs messages or fragments}"; shift 2 ;;
        --echo=*) ECHO="${1#*=}"; shift ;;
        --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
        --timeout=*) TIMEOUT="${1#*=}"; shift ;;
        -h|--help) sed -n '2,30p' "$0" | sed -e 's/^#//' -e 's/^ //'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ $ECHO != messages && $ECHO != fragments ]]; then
    echo "--echo must be messages or fragments" >&2
    exit 2
fi
if ! [[ $TIMEOUT =~ ^[0-9]+$ ]] || [[ $TIMEOUT -lt 30 ]]; then
    echo "--timeout must be a whole number of seconds >= 30" >&2
    exit 2
fi

PORT="${AUTOBAHN_PORT:-9001}"
AGENT="swift-websockets"
URL="ws://127.0.0.1:$PORT"
REPORTS="${AUTOBAHN_REPORTS:-$ROOT/reports/autobahn}"
OUTDIR="$REPORTS/clients"
SPEC="$REPORTS/fuzzingserver.json"
SERVER_LOG="$REPORTS/fuzzingserver.log"
CLIENT_LOG="$REPORTS/client.log"
EXPECTED="$REPORTS/expected-cases.txt"
AB_NAME="autobahn"
# shellcheck source=Scripts/autobahn/common.sh
source "$ROOT/Scripts/autobahn/common.sh"  # HERE, section, remaining, stop_pid, bounded, ab_*
ab_start

# --- process bookkeeping: everything started here is stopped on exit ---------------------
SERVER_PID=""
SHARD_PIDS=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$JOB_PID"
    for pid in "${SHARD_PIDS[@]}"; do stop_pid "$pid"; done
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        stop_pid "$SERVER_PID"
        echo "autobahn: fuzzing server (pid $SERVER_PID) stopped"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "autobahn: interrupted" >&2; exit 130' INT
trap 'echo "autobahn: terminated" >&2; exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# --- 1. fuzzing server environment ---------------------------------------------------------
ab_setup "$REPORTS" "the fuzzing server"

# --- 2. our client -----------------------------------------------------------------------
ab_build client

# --- 2b. shards: the compression cases dominate the run (~4 s each in a single-threaded Python
# server), so with --shards 2 two servers on two ports each take about half of the cases, and
# their reports are merged before the verdict. Only for a full run (no --cases).
if [[ $SHARDS -ge 2 && -z "$CASES" ]]; then
    # Balanced by measured durations (12.2 and 12.3, large JSON files, are the slowest groups).
    PATTERNS=("1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.2.*,12.3.*,12.4.*,13.1.*"
              "12.1.*,12.5.*,13.2.*,13.3.*,13.4.*,13.5.*,13.6.*,13.7.*")
    rm -rf "$OUTDIR"
    mkdir -p "$OUTDIR"
    for k in 0 1; do
        section "shard $((k + 1)): ${PATTERNS[$k]} on port $((PORT + k))"
        AUTOBAHN_PORT=$((PORT + k)) AUTOBAHN_REPORTS="$REPORTS/shard-$((k + 1))" WEBSOCKET_BIN="$BIN" \
            timeout --kill-after=10 "$(remaining)" bash "$0" --cases "${PATTERNS[$k]}" --echo "$ECHO" --timeout "$(( $(remaining) - 5 ))" \
            >"$REPORTS/shard-$((k + 1)).log" 2>&1 </dev/null &
        SHARD_PIDS+=($!)
    done
    for pid in "${SHARD_PIDS[@]}"; do wait "$pid" || true; done
    SHARD_PIDS=()
    for k in 1 2; do tail -n 3 "$REPORTS/shard-$k.log"; done
    # Merge: the per-case files, the expected ids, and one index.json with every case.
    cat "$REPORTS"/shard-*/expected-cases.txt >"$EXPECTED"
    cp "$REPORTS"/shard-*/clients/*.json "$REPORTS"/shard-*/clients/*.html "$OUTDIR"/ 2>/dev/null || true
    ab_merge_index "$OUTDIR/index.json" "$REPORTS"/shard-*/clients/index.json
    section "results (merged shards, $OUTDIR/index.json)"
    VERDICT=0
    "$PY3" "$HERE/report.py" --index "$OUTDIR/index.json" --agent "$AGENT" \
        --expected "$EXPECTED" --exclusions "$HERE/exclusions.txt" || VERDICT=$?
    echo "reports: $OUTDIR (merged from $REPORTS/shard-1 and shard-2)"
    echo "wall time: $((SECONDS - START)) s"
    exit "$VERDICT"
fi

# --- 3. fuzzing server -------------------------------------------------------------------------
section "fuzzing server on $URL"
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
"$PY3" - "$SPEC" "$URL" "$OUTDIR" "$CASES" <<'EOF'
import json, sys
path, url, outdir, cases = sys.argv[1:5]
patterns = [c.strip() for c in cases.split(",") if c.strip()] or ["*"]
spec = {"url": url, "outdir": outdir, "cases": patterns, "exclude-cases": [], "exclude-agent-cases": {}}
with open(path, "w") as f:
    json.dump(spec, f, indent=3)
    f.write("\n")
EOF
echo "spec $SPEC: $(tr -s ' \n' ' ' <"$SPEC")"
# The spec's case ids, resolved the way the server does, to catch cases the client never ran.
if ! ab_expected "$SPEC" >"$EXPECTED"; then
    exit 2
fi
N_EXPECTED="$(grep -c . "$EXPECTED" || true)"
echo "cases in the spec: $N_EXPECTED"
if [[ "$N_EXPECTED" -eq 0 ]]; then
    echo "autobahn: no case matches --cases '$CASES'" >&2
    exit 2
fi

if port_open; then
    echo "autobahn: something already listens on 127.0.0.1:$PORT; stop it or set AUTOBAHN_PORT" >&2
    exit 1
fi
# --webport 0: no embedded web server (the reports are files). The wrapper binds 127.0.0.1 only.
( cd "$REPORTS" && exec "$VPY" -u "$HERE/wstest_loopback.py" -m fuzzingserver -s "$SPEC" --webport 0 ) \
    >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 1 300); do
    port_open && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "autobahn: the fuzzing server exited before listening; its log:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    sleep 0.1
done
if ! port_open; then
    echo "autobahn: the fuzzing server did not accept on 127.0.0.1:$PORT within 30 s; its log:" >&2
    cat "$SERVER_LOG" >&2
    exit 1
fi
if command -v ss >/dev/null 2>&1; then
    LISTEN="$(ss -Hltn "sport = :$PORT" | awk '{print $4}' | sort -u | tr '\n' ' ')"
    echo "listening (pid $SERVER_PID): $LISTEN"
    if [[ -n "$LISTEN" ]] && tr ' ' '\n' <<<"$LISTEN" | grep -v '^$' | grep -vq "^127\.0\.0\.1:$PORT\$"; then
        echo "autobahn: the fuzzing server listens beyond 127.0.0.1: $LISTEN" >&2
        exit 1
    fi
fi

# --- 4. run the cases ------------------------------------------------------------------------------
CLIENT_ARGS=(autobahn --url "$URL" --agent "$AGENT")
[[ -n "$CASES" ]] && CLIENT_ARGS+=(--cases "$CASES")
[[ $ECHO != messages ]] && CLIENT_ARGS+=(--echo "$ECHO")
[[ -n "${AUTOBAHN_COMPRESSION_LEVEL:-}" ]] && CLIENT_ARGS+=(--compression-level "$AUTOBAHN_COMPRESSION_LEVEL")
section "client: $BIN ${CLIENT_ARGS[*]}"
CLIENT_STATUS=0
CLIENT_START=$SECONDS
# Keep 15 s of the budget for the fallback report and the summary.
bounded "$(( $(remaining) - 15 ))" "$BIN" "${CLIENT_ARGS[@]}" > >(tee "$CLIENT_LOG") 2>&1 || CLIENT_STATUS=$?
CLIENT_SECS=$((SECONDS - CLIENT_START))
sleep 0.2  # let tee flush
if [[ $CLIENT_STATUS -eq 124 ]]; then
    echo "autobahn: the client did not finish within the --timeout budget ($TIMEOUT s in all)" >&2
elif [[ $CLIENT_STATUS -ne 0 ]]; then
    echo "autobahn: the client exited with status $CLIENT_STATUS" >&2
fi
echo "client time: ${CLIENT_SECS}s"
if [[ ! -s "$OUTDIR/index.json" ]]; then
    echo "autobahn: no index.json from the client's /updateReports; asking the server for it" >&2
    timeout 60 "$PY3" "$HERE/update_reports.py" "$PORT" "$AGENT" || true
fi
stop_pid "$SERVER_PID"
SERVER_PID=""

# --- 5. verdict ------------------------------------------------------------------------------------
section "results (reports/autobahn/clients/index.json)"
VERDICT=0
"$PY3" "$HERE/report.py" --index "$OUTDIR/index.json" --agent "$AGENT" \
    --expected "$EXPECTED" --exclusions "$HERE/exclusions.txt" || VERDICT=$?
if [[ $CLIENT_STATUS -ne 0 && $VERDICT -eq 0 ]]; then
    echo "VERDICT: FAIL (the client exited with status $CLIENT_STATUS)"
    VERDICT=1
fi
echo "reports: $OUTDIR/index.html (and index.json, one JSON/HTML per case)"
echo "wall time: $((SECONDS - START)) s"
[[ $VERDICT -eq 0 ]] && exit 0
exit 1
