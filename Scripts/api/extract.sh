# Sourced by Scripts/api.sh and Scripts/docs.sh: extract_symbol_graphs OUTDIR MODULE...
# Writes OUTDIR/<Module>.symbols.json for each library module (public symbols only) from the debug
# build (`swift build` first), with the toolchain's swift-symbolgraph-extract. Returns 2 on failure.
extract_symbol_graphs() {
    local out="$1"; shift
    local bin triple module
    bin="$(swift build --show-bin-path)"
    triple="$(basename "$(dirname "$bin")")"
    for module in "$@"; do
        # The C modules the Swift modules import: the shim's generated module map, and the system
        # libraries' module maps in Sources/.
        if ! swift-symbolgraph-extract -module-name "$module" -target "$triple" -I "$bin/Modules" \
                -Xcc -fmodule-map-file="$bin/CWebSocketsShim.build/module.modulemap" \
                -I Sources/CZlib -I Sources/COpenSSL -minimum-access-level public \
                -output-dir "$out" >"$out/extract-$module.log" 2>&1; then
            cat "$out/extract-$module.log" >&2
            echo "swift-symbolgraph-extract failed for $module" >&2
            return 2
        fi
    done
}
