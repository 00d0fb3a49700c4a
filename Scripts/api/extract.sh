# Sourced by Scripts/api.sh and Scripts/docs.sh.
#
# LIBRARY_MODULES: the library modules whose public API is listed and documented.
# prepare_symbol_graphs BUILD: `swift build` (debug) when BUILD is 1, then sets GRAPHS to a new
# temporary directory (removed on exit) holding <Module>.symbols.json for every library module
# (public symbols only), from the toolchain's swift-symbolgraph-extract. Exits 2 on failure.
LIBRARY_MODULES=(WebSockets WebSocketServer WebSocketTesting WebSocketCore)

prepare_symbol_graphs() {
    if [[ $1 == 1 ]]; then
        swift build >/dev/null || { echo "swift build failed" >&2; exit 2; }
    fi
    GRAPHS="$(mktemp -d)"
    trap 'rm -rf "$GRAPHS"' EXIT
    local bin triple module
    bin="$(swift build --show-bin-path)"
    triple="$(basename "$(dirname "$bin")")"
    for module in "${LIBRARY_MODULES[@]}"; do
        # The C modules the Swift modules import: the shim's generated module map, and the system
        # libraries' module maps in Sources/.
        if ! swift-symbolgraph-extract -module-name "$module" -target "$triple" -I "$bin/Modules" \
                -Xcc -fmodule-map-file="$bin/CWebSocketsShim.build/module.modulemap" \
                -I Sources/CZlib -I Sources/COpenSSL -minimum-access-level public \
                -output-dir "$GRAPHS" >"$GRAPHS/extract-$module.log" 2>&1; then
            cat "$GRAPHS/extract-$module.log" >&2
            echo "swift-symbolgraph-extract failed for $module" >&2
            exit 2
        fi
    done
}
