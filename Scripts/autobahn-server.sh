#!/usr/bin/env bash
# Autobahn TestSuite against our server: the fuzzing client, every case, a verdict.
#
#   Scripts/autobahn-server.sh [--mode message|fragment] [--cases PATTERN] [--shards N] [--timeout SECONDS]
#
#   --mode MODE        the server's echo: `message` (default; whole messages, ServerWebSocket) or
#                      `fragment` (the IIS-style fragment context, piece by piece); the agent is
#                      swift-websockets-server or swift-websockets-server-fragment
#   --cases PATTERN    comma-separated case ids or globs (`1.*,9.1.*`, `7.1.6`); default all
#   --shards N         1 (default) to 4: the cases dealt to N wstest processes that run at once
#                      against the same server, reports merged; about halves the wall time at 2
#   --timeout SECONDS  bound for the whole run, setup and build included (default 1200)
#
# Steps: Scripts/autobahn/setup.sh (Python 2.7 venv in .build-autobahn/, shared with
# Scripts/autobahn.sh); the `websocket` CLI built with `swift build -c release --product websocket`
# unless $WEBSOCKET_BIN names one; our echo server,
#   $WEBSOCKET_BIN serve --host 127.0.0.1 --port 0 --compression on --mode MODE
# (its port read from its `LISTENING <port>` line, checked to listen on 127.0.0.1 only); then
#   wstest -m fuzzingclient -s spec.json
# (through Scripts/autobahn/wstest_loopback.py, so that wstest could not listen beyond loopback
# either; the fuzzing client listens on nothing) with the agent swift-websockets-server. wstest
# writes its reports after the last case: reports/autobahn/servers/ (index.json, one JSON + HTML
# per case, index.html), kept as the run's artifact (reports/ is git-ignored). The specs, wstest's
# and the server's logs land beside them in reports/autobahn/server-run/.
#
# Verdict (Scripts/autobahn/report.py --role server), the same rules as Scripts/autobahn.sh:
# pass iff every case's behavior is OK or INFORMATIONAL and its behaviorClose is OK or
# INFORMATIONAL; NON-STRICT, FAILED, UNIMPLEMENTED and missing cases fail (UNIMPLEMENTED 12.*/13.*
# only with AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION=1). Cases listed in
# Scripts/autobahn/exclusions-server.txt (`<case id> <reason>`) don't fail the verdict but are
# listed. A server that exits during the run fails it too.
#
# Env: WEBSOCKET_BIN (skip the build), AUTOBAHN_REPORTS (default reports/autobahn),
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
MODE=message
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mode) MODE="${2:?--mode needs message or fragment}"; shift 2 ;;
        --mode=*) MODE="${1#*=}"; shift ;;
        --shards) SHARDS="${2:?--shards needs a count (1 to 4)}"; shift 2 ;;
        --shards=*) SHARDS="${1#*=}"; shift ;;
        --cases) CASES="${2:?--cases needs a pattern}"; shift 2 ;;
        --cases=*) CASES="${1#*=}"; shift ;;
        --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
        --timeout=*) TIMEOUT="${1#*=}"; shift ;;
        -h|--help) sed -n '2,37p' "$0" | sed -e 's/^#//' -e 's/^ //'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ $TIMEOUT =~ ^[0-9]+$ ]] || [[ $TIMEOUT -lt 30 ]]; then
    echo "--timeout must be a whole number of seconds >= 30" >&2
    exit 2
fi
if [[ $MODE != message && $MODE != fragment ]]; then
    echo "--mode must be message or fragment" >&2
    exit 2
fi
if ! [[ $SHARDS =~ ^[1-4]$ ]]; then
    echo "--shards must be 1, 2, 3 or 4" >&2
    exit 2
fi

AGENT="swift-websockets-server"
[[ $MODE == fragment ]] && AGENT="swift-websockets-server-fragment"
REPORTS="${AUTOBAHN_REPORTS:-$ROOT/reports/autobahn}"
OUTDIR="$REPORTS/servers"
RUN="$REPORTS/server-run"
SERVER_LOG="$RUN/server.log"
EXPECTED="$RUN/expected-cases.txt"
AB_NAME="autobahn-server"
# shellcheck source=Scripts/autobahn/common.sh
source "$ROOT/Scripts/autobahn/common.sh"  # HERE, section, remaining, stop_pid, bounded, ab_*
EXCLUSIONS="$HERE/exclusions-server.txt"
ab_start

# --- process bookkeeping: everything started here is stopped on exit ---------------------
SERVER_PID=""
WSTEST_PIDS=()
cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    stop_pid "$JOB_PID"
    for pid in "${WSTEST_PIDS[@]}"; do stop_pid "$pid"; done
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        stop_pid "$SERVER_PID"
        echo "$AB_NAME: our server (pid $SERVER_PID) stopped"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "$AB_NAME: interrupted" >&2; exit 130' INT
trap 'echo "$AB_NAME: terminated" >&2; exit 143' TERM

# --- 1. wstest environment, our server's binary -------------------------------------------
ab_setup "$RUN" "the fuzzing client"
ab_build server

# --- 2. the cases, dealt to the shards ----------------------------------------------------------
section "cases"
rm -rf "$OUTDIR" "$RUN"/shard-* "$RUN"/fuzzingclient-*.json "$RUN"/wstest-*.log
mkdir -p "$OUTDIR"
"$PY3" - "$RUN/cases.json" "$CASES" <<'EOF'
import json, sys
patterns = [c.strip() for c in sys.argv[2].split(",") if c.strip()] or ["*"]
json.dump({"cases": patterns, "exclude-cases": [], "exclude-agent-cases": {}}, open(sys.argv[1], "w"))
EOF
if ! ab_expected "$RUN/cases.json" >"$EXPECTED"; then
    exit 2
fi
N_EXPECTED="$(grep -c . "$EXPECTED" || true)"
echo "cases: $N_EXPECTED (${CASES:-all})"
if [[ "$N_EXPECTED" -eq 0 ]]; then
    echo "$AB_NAME: no case matches --cases '$CASES'" >&2
    exit 2
fi
[[ $SHARDS -gt $N_EXPECTED ]] && SHARDS=$N_EXPECTED

# --- 3. our server --------------------------------------------------------------------------
SERVER_ARGS=(serve --host 127.0.0.1 --port 0 --compression on --mode "$MODE")
[[ -n "${AUTOBAHN_COMPRESSION_LEVEL:-}" ]] && SERVER_ARGS+=(--compression-level "$AUTOBAHN_COMPRESSION_LEVEL")
section "server: $BIN ${SERVER_ARGS[*]}"
"$BIN" "${SERVER_ARGS[@]}" >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 300); do
    PORT="$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$SERVER_LOG" | head -n 1)"
    [[ -n "$PORT" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "$AB_NAME: the server exited before printing LISTENING; its log:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$PORT" ]]; then
    echo "$AB_NAME: no 'LISTENING <port>' from the server within 30 s; its log:" >&2
    cat "$SERVER_LOG" >&2
    exit 1
fi
URL="ws://127.0.0.1:$PORT"
if command -v ss >/dev/null 2>&1; then
    LISTEN="$(ss -Hltn "sport = :$PORT" | awk '{print $4}' | sort -u | tr '\n' ' ')"
    echo "listening (pid $SERVER_PID): $LISTEN"
    if [[ -n "$LISTEN" ]] && tr ' ' '\n' <<<"$LISTEN" | grep -v '^$' | grep -vq "^127\.0\.0\.1:$PORT\$"; then
        echo "$AB_NAME: the server listens beyond 127.0.0.1: $LISTEN" >&2
        exit 1
    fi
else
    echo "listening (pid $SERVER_PID): $URL"
fi

# --- 4. wstest -m fuzzingclient, one process per shard ---------------------------------------
# The sorted cases are dealt like cards, in alternating direction (1 2 2 1 1 2 ... for two
# shards): neighbouring cases cost about the same, and the snake order keeps the heavy cases of
# each compression group (12.x.15-18: 128 KiB messages in small fragments) from all landing on
# the same shard, as plain round-robin does (measured: shards within ~5 % of each other).
section "wstest -m fuzzingclient against $URL ($SHARDS shard(s))"
"$PY3" - "$EXPECTED" "$SHARDS" "$RUN" "$OUTDIR" "$AGENT" "$URL" <<'EOF'
import json, sys
expected, shards, run, outdir, agent, url = sys.argv[1:7]
shards = int(shards)
cases = [line.strip() for line in open(expected) if line.strip()]
dealt = [[] for _ in range(shards)]
for i, case_id in enumerate(cases):
    block, j = divmod(i, shards)
    dealt[shards - 1 - j if block % 2 else j].append(case_id)
for k in range(shards):
    spec = {
        # One shard writes straight into outdir (wstest's own index.html); several are merged.
        "outdir": outdir if shards == 1 else "%s/shard-%d" % (run, k + 1),
        "servers": [{"agent": agent, "url": url}],
        "cases": dealt[k],
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    with open("%s/fuzzingclient-%d.json" % (run, k + 1), "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    print("shard %d: %d cases (%s .. %s), spec %s/fuzzingclient-%d.json"
          % (k + 1, len(spec["cases"]), spec["cases"][0], spec["cases"][-1], run, k + 1))
EOF
# Keep 20 s of the budget for the merge, the verdict and the summary.
WSTEST_SECS=$(( $(remaining) - 20 ))
if [[ $WSTEST_SECS -le 0 ]]; then
    echo "$AB_NAME: out of time (--timeout $TIMEOUT) before wstest" >&2
    exit 1
fi
WSTEST_START=$SECONDS
for k in $(seq 1 "$SHARDS"); do
    # timeout: its own process group, so a timeout or our cleanup stops wstest with it.
    ( cd "$RUN" && exec timeout --kill-after=10 "$WSTEST_SECS" \
        "$VPY" -u "$HERE/wstest_loopback.py" -m fuzzingclient -s "$RUN/fuzzingclient-$k.json" ) \
        >"$RUN/wstest-$k.log" 2>&1 </dev/null &
    WSTEST_PIDS+=($!)
done
# Wait for every shard (polling, to note when each one ends and to react to Ctrl-C at once).
WSTEST_STATUS=()
WSTEST_TIME=()
while :; do
    running=0
    for i in "${!WSTEST_PIDS[@]}"; do
        [[ -n "${WSTEST_STATUS[$i]:-}" ]] && continue
        if kill -0 "${WSTEST_PIDS[$i]}" 2>/dev/null; then
            running=1
        else
            st=0
            wait "${WSTEST_PIDS[$i]}" || st=$?
            WSTEST_STATUS[$i]=$st
            WSTEST_TIME[$i]=$((SECONDS - WSTEST_START))
        fi
    done
    [[ $running -eq 0 ]] && break
    sleep 1
done
WSTEST_PIDS=()
WSTEST_FAILED=0
for i in "${!WSTEST_STATUS[@]}"; do
    k=$((i + 1))
    ran="$(grep -c '^Running test case' "$RUN/wstest-$k.log" || true)"
    echo "shard $k: wstest exited ${WSTEST_STATUS[$i]} after ${WSTEST_TIME[$i]} s, $ran case(s) started (log $RUN/wstest-$k.log)"
    if [[ ${WSTEST_STATUS[$i]} -eq 124 ]]; then
        echo "$AB_NAME: shard $k did not finish within the --timeout budget ($TIMEOUT s in all)" >&2
        WSTEST_FAILED=1
    elif [[ ${WSTEST_STATUS[$i]} -ne 0 ]]; then
        echo "$AB_NAME: shard $k: wstest exited with status ${WSTEST_STATUS[$i]}; the end of its log:" >&2
        tail -n 15 "$RUN/wstest-$k.log" >&2
        WSTEST_FAILED=1
    fi
    # wstest gives up on the remaining cases when it cannot connect (the server went away).
    if grep -q '^Connection to .* failed' "$RUN/wstest-$k.log"; then
        echo "$AB_NAME: shard $k: $(grep -m 1 '^Connection to .* failed' "$RUN/wstest-$k.log")" >&2
    fi
    if grep -q '^wstest_loopback:' "$RUN/wstest-$k.log"; then
        grep '^wstest_loopback:' "$RUN/wstest-$k.log"
    fi
done
echo "wstest time: $((SECONDS - WSTEST_START)) s"

SERVER_EXITED=""
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    st=0
    wait "$SERVER_PID" || st=$?
    SERVER_EXITED="$st"
    echo "$AB_NAME: the server exited during the run (status $st); the end of its log:" >&2
    tail -n 20 "$SERVER_LOG" >&2
else
    stop_pid "$SERVER_PID"
fi
SERVER_PID=""

# --- 5. merge the shards ---------------------------------------------------------------------
if [[ $SHARDS -gt 1 ]]; then
    section "merge $SHARDS shards into $OUTDIR"
    for k in $(seq 1 "$SHARDS"); do
        find "$RUN/shard-$k" -maxdepth 1 -type f \( -name '*.json' -o -name '*.html' \) \
            ! -name 'index.*' -exec cp {} "$OUTDIR"/ \; 2>/dev/null || true
    done
    ab_merge_index "$OUTDIR/index.json" "$RUN"/shard-*/index.json
    # A plain index.html over the merged index.json (each shard's own one covers its cases only).
    "$PY3" - "$OUTDIR/index.json" "$OUTDIR/index.html" <<'EOF'
import html, json, sys
index = json.load(open(sys.argv[1]))
def key(c):
    return tuple(int(x) for x in c.split("."))
rows = []
for agent, cases in sorted(index.items()):
    for case_id in sorted(cases, key=key):
        r = cases[case_id]
        link = html.escape(r.get("reportfile", "").replace(".json", ".html"))
        rows.append("<tr><td>%s</td><td><a href=\"%s\">%s</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s ms</td></tr>" % (
            html.escape(agent), link, case_id, html.escape(str(r.get("behavior"))),
            html.escape(str(r.get("behaviorClose"))), r.get("remoteCloseCode"), r.get("duration")))
with open(sys.argv[2], "w") as f:
    f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Autobahn fuzzing client: "
            "merged shards</title></head><body><h1>Autobahn fuzzing client (merged shards)</h1>"
            "<table border=\"1\" cellpadding=\"3\"><tr><th>agent</th><th>case</th><th>behavior</th>"
            "<th>behaviorClose</th><th>close code</th><th>duration</th></tr>\n%s\n</table></body></html>\n"
            % "\n".join(rows))
EOF
fi

# --- 6. verdict --------------------------------------------------------------------------------
section "results ($OUTDIR/index.json)"
VERDICT=0
"$PY3" "$HERE/report.py" --role server --index "$OUTDIR/index.json" --agent "$AGENT" \
    --expected "$EXPECTED" --exclusions "$EXCLUSIONS" || VERDICT=$?
if [[ $VERDICT -eq 0 && -n "$SERVER_EXITED" ]]; then
    echo "VERDICT: FAIL (the server exited during the run with status $SERVER_EXITED)"
    VERDICT=1
fi
if [[ $VERDICT -eq 0 && $WSTEST_FAILED -ne 0 ]]; then
    echo "VERDICT: FAIL (wstest did not finish cleanly)"
    VERDICT=1
fi
echo "reports: $OUTDIR/index.html (and index.json, one JSON/HTML per case); logs: $RUN"
echo "wall time: $((SECONDS - START)) s"
[[ $VERDICT -eq 0 ]] && exit 0
exit 1
