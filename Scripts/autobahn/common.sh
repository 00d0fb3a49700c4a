# Helpers shared by Scripts/autobahn.sh (Autobahn's fuzzing server against our client) and
# Scripts/autobahn-server.sh (Autobahn's fuzzing client against our server). Sourced, not run.
#
# The sourcing script sets ROOT, TIMEOUT (seconds for the whole run) and AB_NAME (the prefix
# of its messages), then calls ab_start. Globals kept here:
#   START, DEADLINE  the run's start and its end by --timeout (bash $SECONDS)
#   JOB_PID          the command `bounded` is waiting for; the script's cleanup stops it
#   VPY, PY3         after ab_setup: the Python 2.7 venv's python (wstest), the Python 3 one
#   BIN              after ab_build: the `websocket` CLI

HERE="$ROOT/Scripts/autobahn"

ab_start() {
    START=$SECONDS
    DEADLINE=$((START + TIMEOUT))
    JOB_PID=""
}

section() { printf '\n==== %s: %s (t=%ss) ====\n' "$AB_NAME" "$*" "$((SECONDS - START))"; }
remaining() { echo $((DEADLINE - SECONDS)); }

# stop_pid PID: TERM, up to 5 s, then KILL.
stop_pid() {
    local pid="$1" i
    [[ -z "$pid" ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# bounded SECONDS CMD...: runs CMD under `timeout` (its own process group, so a timeout or our
# cleanup stops its children too) in the background and waits, so a signal to us is handled
# at once. Returns CMD's status (124 on timeout).
bounded() {
    local secs="$1"; shift
    if [[ $secs -le 0 ]]; then
        echo "$AB_NAME: out of time (--timeout $TIMEOUT) before: $*" >&2
        return 124
    fi
    timeout --kill-after=10 "$secs" "$@" </dev/null &
    JOB_PID=$!
    local status=0
    wait "$JOB_PID" || status=$?
    JOB_PID=""
    return "$status"
}

# ab_setup REPORTS WHAT: Scripts/autobahn/setup.sh (its output in REPORTS/setup.out), then VPY and
# PY3. Exits 3 when Python 2.7 is missing (WHAT, e.g. "the fuzzing server", cannot run), 1 when
# the setup fails.
ab_setup() {
    local reports="$1" what="$2" status=0
    section "setup (.build-autobahn)"
    mkdir -p "$reports"
    bounded "$(remaining)" "$HERE/setup.sh" >"$reports/setup.out" || status=$?
    if [[ $status -eq 3 ]]; then
        echo "$AB_NAME: SKIPPED: Python 2.7 is not available, so $what cannot run (exit 3)." >&2
        exit 3
    elif [[ $status -ne 0 ]]; then
        echo "$AB_NAME: setup failed (exit $status)" >&2
        exit 1
    fi
    VPY="$(tail -n 1 "$reports/setup.out")"
    PY3="$ROOT/.build-autobahn/py3/bin/python"
    "$VPY" -c 'import autobahn, autobahntestsuite, twisted, sys; print("wstest: autobahntestsuite %s, autobahn %s, Twisted %s, Python %s" % (autobahntestsuite.__version__, autobahn.__version__, twisted.__version__, sys.version.split()[0]))'
}

# ab_build ROLE: BIN is $WEBSOCKET_BIN, or `swift build -c release --product websocket`'s output.
# ROLE ("client", "server") only names the section. Exits 1 when the build fails.
ab_build() {
    local role="$1" status=0
    if [[ -n "${WEBSOCKET_BIN:-}" ]]; then
        section "$role: WEBSOCKET_BIN=$WEBSOCKET_BIN (no build)"
        BIN="$WEBSOCKET_BIN"
    else
        section "$role: swift build -c release --product websocket"
        if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        fi
        bounded "$(remaining)" swift build -c release --product websocket || status=$?
        if [[ $status -ne 0 ]]; then
            echo "$AB_NAME: swift build failed (exit $status)" >&2
            exit 1
        fi
        BIN="$ROOT/.build/release/websocket"
    fi
    if [[ ! -x "$BIN" ]]; then
        echo "$AB_NAME: no executable websocket CLI at $BIN" >&2
        exit 1
    fi
}

# ab_expected SPEC > FILE: the spec's case ids, resolved the way wstest does (both modes share
# CaseSet.parseSpecCases), one a line, to catch cases that never ran. Status 2 (and a message)
# when the spec names an unknown case id.
ab_expected() {
    "$VPY" - "$1" <<'EOF'
import json, sys
from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseSetname, CaseBasename
from autobahntestsuite.caseset import CaseSet
spec = json.load(open(sys.argv[1]))
cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
unknown = [c for c in spec["cases"] if "*" not in c and c not in cs.CasesIndices]
if unknown:
    sys.stderr.write("autobahn: unknown case id(s): %s\n" % " ".join(unknown))
    sys.exit(2)
print("\n".join(cs.parseSpecCases(spec)))
EOF
}

# ab_merge_index OUT IN...: one index.json with every agent's cases from each IN (unreadable ones
# skipped), as wstest would have written it for the union of the runs.
ab_merge_index() {
    "$PY3" -c '
import json, sys
merged = {}
for path in sys.argv[2:]:
    try:
        data = json.load(open(path))
    except (IOError, ValueError):
        continue
    for agent, cases in data.items():
        merged.setdefault(agent, {}).update(cases)
json.dump(merged, open(sys.argv[1], "w"), indent=1, sort_keys=True)
' "$@"
}
