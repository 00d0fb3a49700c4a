#!/usr/bin/env bash
# Sets up the Autobahn TestSuite fuzzing server (Python 2.7) in .build-autobahn/:
#
#   Scripts/autobahn/setup.sh            # prints the venv's python path on its last line
#
#   .build-autobahn/py3   small Python 3 venv holding virtualenv==20.21.1, the last
#                         release that can still create a Python 2.7 environment
#   .build-autobahn/venv  the Python 2.7 virtualenv with autobahntestsuite and its
#                         pinned dependencies (Scripts/autobahn/requirements.txt)
#
# Idempotent: each venv carries a stamp (hash of its pins and interpreter) and is
# reused as long as the stamp matches and it imports; otherwise it is rebuilt.
# Nothing is installed system-wide. Output of pip goes to .build-autobahn/setup.log.
#
# Python 2.7: $AUTOBAHN_PYTHON2 if set (and then only it), else pyenv's 2.7.18
# ("$(pyenv root)/versions/2.7.18/bin/python2.7"), else python2.7 on PATH.
# Exit status: 0 ready, 3 no usable Python 2.7 (or no Python 3 >= 3.7), 1 other failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Scripts/autobahn"
BASE="$ROOT/.build-autobahn"
PY3VENV="$BASE/py3"
VENV="$BASE/venv"
REQ="$HERE/requirements.txt"
LOG="$BASE/setup.log"

VIRTUALENV_PIN="virtualenv==20.21.1"
SETUPTOOLS_PIN="setuptools==44.0.0"

PIP_FLAGS=(--quiet --disable-pip-version-check --no-input --progress-bar off)

say() { echo "autobahn setup: $*" >&2; }

# --- Python 2.7 ---------------------------------------------------------------
find_python2() {
    local c cands=()
    if [[ -n "${AUTOBAHN_PYTHON2:-}" ]]; then
        cands=("$AUTOBAHN_PYTHON2")  # explicit: that one or none
    else
        cands=()
        if command -v pyenv >/dev/null 2>&1; then
            cands+=("$(pyenv root 2>/dev/null)/versions/2.7.18/bin/python2.7")
        fi
        cands+=("${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python2.7")
        if command -v python2.7 >/dev/null 2>&1; then cands+=("$(command -v python2.7)"); fi
    fi
    for c in "${cands[@]}"; do
        if [[ -x "$c" ]] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! PY2="$(find_python2)"; then
    if [[ -n "${AUTOBAHN_PYTHON2:-}" ]]; then
        say "AUTOBAHN_PYTHON2=$AUTOBAHN_PYTHON2 is not a working Python 2.7."
    else
        say "Python 2.7 not found (tried pyenv's versions/2.7.18 and python2.7 on PATH)."
    fi
    say "The Autobahn fuzzing server (autobahntestsuite) only runs on Python 2.7; install it"
    say "(e.g. 'pyenv install 2.7.18') or point AUTOBAHN_PYTHON2 at a python2.7 binary."
    exit 3
fi

# --- Python 3 (only to run virtualenv) ------------------------------------------
PY3=""
for c in "${AUTOBAHN_PYTHON3:-}" python3 /usr/bin/python3; do
    [[ -z "$c" ]] && continue
    if command -v "$c" >/dev/null 2>&1 \
            && "$c" -c 'import sys, venv; sys.exit(sys.version_info < (3, 7))' 2>/dev/null; then
        PY3="$(command -v "$c")"
        break
    fi
done
if [[ -z "$PY3" ]]; then
    say "no Python 3 >= 3.7 with the venv module (needed to run $VIRTUALENV_PIN)."
    exit 3
fi

mkdir -p "$BASE"
: >"$LOG"

run_logged() {
    if ! "$@" >>"$LOG" 2>&1 </dev/null; then
        say "failed: $*"
        say "last lines of $LOG:"
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

# --- .build-autobahn/py3: virtualenv under Python 3 ----------------------------------
PY3_WANT="$(printf '%s\n%s\n' "$VIRTUALENV_PIN" "$("$PY3" -c 'import sys; print(sys.version)')" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$PY3VENV/bin/python" ]] || [[ "$(cat "$PY3VENV/.stamp" 2>/dev/null)" != "$PY3_WANT" ]] \
        || ! "$PY3VENV/bin/python" -m virtualenv --version >/dev/null 2>&1; then
    say "creating $PY3VENV ($VIRTUALENV_PIN under $("$PY3" -V 2>&1))"
    rm -rf "$PY3VENV"
    run_logged "$PY3" -m venv "$PY3VENV"
    run_logged "$PY3VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" "$VIRTUALENV_PIN"
    echo "$PY3_WANT" >"$PY3VENV/.stamp"
fi

# --- .build-autobahn/venv: Python 2.7 with autobahntestsuite ----------------------------
CHECK='import autobahntestsuite, autobahn, twisted, OpenSSL, klein, jinja2; from autobahntestsuite import wstest'
WANT="$( { echo "$PY2"; "$PY2" -c 'import sys; print(sys.version)'; echo "$VIRTUALENV_PIN"; \
           echo "$SETUPTOOLS_PIN"; cat "$REQ"; } | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$WANT" ]] \
        || ! "$VENV/bin/python" -c "$CHECK" >/dev/null 2>&1; then
    say "creating $VENV (Python 2.7: $PY2)"
    rm -rf "$VENV"
    # --no-periodic-update: use the pip/setuptools/wheel embedded in virtualenv 20.21.1
    # (the last ones for 2.7) and never reach for newer ones.
    run_logged "$PY3VENV/bin/python" -m virtualenv --no-periodic-update -p "$PY2" "$VENV"
    # setuptools first: several sdists below (autobahntestsuite, klein, ...) build with it.
    run_logged "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" --no-warn-script-location "$SETUPTOOLS_PIN"
    run_logged "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" --no-warn-script-location -r "$REQ"
    if ! "$VENV/bin/python" -c "$CHECK" >>"$LOG" 2>&1; then
        say "installed, but the import check failed; see $LOG"
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    echo "$WANT" >"$VENV/.stamp"
    say "ready"
else
    say "reusing $VENV"
fi
echo "$VENV/bin/python"
