#!/usr/bin/env bash
# The public API guard: every library module's public declarations, listed and compared with the
# committed listing, so that an API change is always a decision and shows up in review.
#
#   Scripts/api.sh [--check] [--update] [--no-build]
#
# Steps: `swift build` (debug; skipped with --no-build), then the toolchain's
# swift-symbolgraph-extract for each library module (public symbols only), then
# Scripts/api/listing.py, which turns a symbol graph into sorted lines `Path: declaration`.
# The listings live in API/<Module>.txt. Also prints, per module, how many public declarations
# there are and how many have no doc comment of their own (API/<Module>.undocumented.txt lists them).
# --check (the default, what CI runs) compares the listings and requires every public declaration
# to be documented: each one without a doc comment is printed with the file and line to document.
#
# Exit: 0 when the listings match and every public declaration has a doc comment (or --update wrote
# the listings), 1 when the API changed (the diff is printed: if the change is intended, run
# `Scripts/api.sh --update` and commit API/) or a public declaration has no doc comment (listed
# with its file: write its doc comment, the contract), 2 on bad arguments or a failed build or
# extraction.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

UPDATE=0
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --check) UPDATE=0; shift ;;
        --update) UPDATE=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed -e 's/^#//' -e 's/^ //'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

source Scripts/api/extract.sh
prepare_symbol_graphs "$BUILD"

mkdir -p API
CHANGED=0
UNDOCUMENTED=0
for module in "${LIBRARY_MODULES[@]}"; do
    python3 Scripts/api/listing.py "$GRAPHS/$module.symbols.json" >"$GRAPHS/$module.txt"
    python3 Scripts/api/listing.py "$GRAPHS/$module.symbols.json" --undocumented >"$GRAPHS/$module.undocumented.txt"
    printf 'api: %-17s %4d public declarations, %3d without a doc comment\n' "$module" \
        "$(wc -l <"$GRAPHS/$module.txt")" "$(wc -l <"$GRAPHS/$module.undocumented.txt")"
    if [[ $UPDATE == 1 ]]; then
        cp "$GRAPHS/$module.txt" "$GRAPHS/$module.undocumented.txt" API/
    elif ! diff -u "API/$module.txt" "$GRAPHS/$module.txt" >"$GRAPHS/$module.diff" 2>&1; then
        echo "api: the public API of $module changed:"
        cat "$GRAPHS/$module.diff"
        CHANGED=1
    fi
    if [[ -s $GRAPHS/$module.undocumented.txt ]]; then
        echo "api: $module: public declarations without a doc comment (document each one where it is declared):"
        python3 Scripts/api/listing.py "$GRAPHS/$module.symbols.json" --undocumented --locations | sed 's/^/  /'
        UNDOCUMENTED=1
    fi
done
if [[ $CHANGED == 1 ]]; then
    echo "api: if the change is intended, run Scripts/api.sh --update and commit API/" >&2
fi
if [[ $UNDOCUMENTED == 1 ]]; then
    echo "api: every public declaration needs a doc comment with its contract (what it is, units, defaults, what it throws)" >&2
fi
if [[ $UPDATE == 0 ]] && [[ $CHANGED == 1 || $UNDOCUMENTED == 1 ]]; then
    exit 1
fi
[[ $UPDATE == 1 ]] && echo "api: listings written to API/" || echo "api: unchanged"
