#!/usr/bin/env python3
"""The public API of one module as sorted text lines, from its symbol graph.

    listing.py MODULE.symbols.json [--undocumented]

One line per public declaration: its path (`Type.member`) and its declaration as the compiler
spells it, e.g. `MessageWebSocket.send(text:): func send(text: String) async throws`. Symbols the
compiler synthesizes (protocol default implementations such as `!=`) are left out: they change
with the standard library, not with us. Sorted, so that a diff of two listings is a review of an
API change. With --undocumented: only the declarations without a doc comment of their own.
"""
import json
import sys


def spelled(fragments):
    return "".join(fragment["spelling"] for fragment in fragments).replace("\n", " ")


def main():
    path = sys.argv[1]
    undocumented_only = "--undocumented" in sys.argv[2:]
    graph = json.load(open(path, encoding="utf-8"))
    module = graph["module"]["name"]
    lines = set()
    for symbol in graph["symbols"]:
        if "::SYNTHESIZED::" in symbol["identifier"]["precise"]:
            continue
        # A doc comment inherited from another module (a protocol requirement's) is not ours.
        comment = symbol.get("docComment")
        documented = comment is not None and comment.get("module", module) == module
        if undocumented_only and documented:
            continue
        name = ".".join(symbol["pathComponents"])
        declaration = spelled(symbol.get("declarationFragments", []))
        lines.add(f"{name}: {declaration}")
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
