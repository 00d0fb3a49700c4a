#!/usr/bin/env python3
"""The public API of one module as sorted text lines, from its symbol graph.

    listing.py MODULE.symbols.json [--undocumented [--locations]]

One line per public declaration: its path (`Type.member`) and its declaration as the compiler
spells it, e.g. `MessageWebSocket.send(text:): func send(text: String) async throws`. Symbols the
compiler synthesizes (protocol default implementations such as `!=`) are left out: they change
with the standard library, not with us. Sorted, so that a diff of two listings is a review of an
API change. With --undocumented: only the declarations without a doc comment of their own; with
--locations as well, each line ends with ` (Sources/...swift:LINE)`, the file to document it in
(for people, not for the committed listings).
"""
import os
import json
import sys


def spelled(fragments):
    return "".join(fragment["spelling"] for fragment in fragments).replace("\n", " ")


def where(symbol):
    """`path:line` of a symbol's declaration, relative to the working directory when inside it."""
    location = symbol.get("location")
    if not location:
        return "location unknown"
    path = location["uri"].removeprefix("file://")
    if path.startswith(os.getcwd() + os.sep):
        path = os.path.relpath(path)
    return f"{path}:{location['position']['line'] + 1}"


def main():
    path = sys.argv[1]
    undocumented_only = "--undocumented" in sys.argv[2:]
    with_locations = "--locations" in sys.argv[2:]
    graph = json.load(open(path, encoding="utf-8"))
    module = graph["module"]["name"]
    lines = set()
    for symbol in graph["symbols"]:
        if "::SYNTHESIZED::" in symbol["identifier"]["precise"]:
            continue
        # A doc comment inherited from another module (a protocol requirement's) is not ours.
        comment = symbol.get("docComment")
        documented = comment is not None and comment.get("module", module) == module
        # No source location: the compiler wrote it (the implicit `init(rawValue:)` of an enum with
        # raw values), so there is no place for a doc comment; it stays in the listing.
        implicit = "location" not in symbol
        if undocumented_only and implicit:
            continue
        if undocumented_only and documented:
            continue
        name = ".".join(symbol["pathComponents"])
        declaration = spelled(symbol.get("declarationFragments", []))
        line = f"{name}: {declaration}"
        if with_locations:
            line += f" ({where(symbol)})"
        lines.add(line)
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
