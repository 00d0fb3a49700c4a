#!/usr/bin/env bash
# The DocC documentation of every library module, built with the toolchain's `docc` (no plugin).
#
#   Scripts/docs.sh [--no-build] [--output DIR]
#
# Steps: `swift build` (debug; skipped with --no-build), the modules' symbol graphs
# (Scripts/api/extract.sh), then `docc convert --warnings-as-errors` per module, with its catalog
# Sources/<Module>/<Module>.docc when there is one. Archives land in DIR (default .build-docs/):
# <Module>.doccarchive, browsable with `docc preview` or any static file server
# (--transform-for-static-hosting).
#
# Exit: 0 when every module built without a warning; 1 when docc reported a warning or an error
# (printed: an unresolved link, an undocumented parameter, ...); 2 on bad arguments or a failed
# build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD=1
OUTPUT="$ROOT/.build-docs"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --output) OUTPUT="${2:?--output needs a directory}"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed -e 's/^#//' -e 's/^ //'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

source Scripts/api/extract.sh
prepare_symbol_graphs "$BUILD"

mkdir -p "$OUTPUT"
FAILED=0
for module in "${LIBRARY_MODULES[@]}"; do
    mkdir -p "$GRAPHS/$module"
    mv "$GRAPHS/$module.symbols.json" "$GRAPHS/$module/"
    catalog=()
    [[ -d Sources/$module/$module.docc ]] && catalog=("Sources/$module/$module.docc")
    if docc convert "${catalog[@]}" --additional-symbol-graph-dir "$GRAPHS/$module" \
            --output-path "$OUTPUT/$module.doccarchive" --transform-for-static-hosting \
            --fallback-display-name "$module" --fallback-bundle-identifier "org.swift-websockets.$module" \
            --fallback-bundle-version 0 --warnings-as-errors >"$GRAPHS/$module.log" 2>&1; then
        echo "docs: $module: no warnings ($OUTPUT/$module.doccarchive)"
    else
        echo "docs: $module: docc reported problems:"
        sed -e "s|$ROOT/||g" "$GRAPHS/$module.log"
        FAILED=1
    fi
done
exit "$FAILED"
