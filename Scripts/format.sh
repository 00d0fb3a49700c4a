#!/usr/bin/env bash
# Formatting with the toolchain's swift-format and the committed configuration (.swift-format).
#
#   Scripts/format.sh            format every Swift file in place
#   Scripts/format.sh --check    lint (swift-format lint --strict): exit 1 on any finding (CI)
#
# Files: Package.swift, Sources/, Tests/ and Fuzz/Sources/, except the generated
# Tests/SnippetTests/DocumentationSnippets.swift (it keeps the README's own formatting).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

mapfile -t FILES < <(find Package.swift Sources Tests Fuzz/Sources -name '*.swift' \
    ! -path 'Tests/SnippetTests/DocumentationSnippets.swift' | sort)
case "${1:-}" in
    --check)
        if swift-format lint --strict --parallel "${FILES[@]}"; then
            echo "format: ${#FILES[@]} files, no findings"
        else
            echo "format: findings above; run Scripts/format.sh (and fix what it cannot) and commit" >&2
            exit 1
        fi
        ;;
    "")
        swift-format format --in-place --parallel "${FILES[@]}"
        echo "format: ${#FILES[@]} files formatted"
        ;;
    *) echo "usage: Scripts/format.sh [--check]" >&2; exit 2 ;;
esac
