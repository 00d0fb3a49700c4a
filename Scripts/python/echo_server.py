#!/usr/bin/env python3
"""Python `websockets` echo server: the reference peer for interop tests and benchmarks.

    python echo_server.py [--host 127.0.0.1] [--port 0] [--max-size N]
                          [--subprotocol P ...] [--compression on|off|accept-all] [--no-stdin-watch]
                          [--tls-cert PATH --tls-key PATH]

With --tls-cert/--tls-key it serves wss:// (TLS 1.2+) with that certificate chain and key.

Prints exactly `LISTENING <port>` on stdout once bound. Give it a pipe as stdin
and keep the write end open while you need it: it exits on EOF of a piped stdin,
so a crashed parent cannot leak it. (A non-pipe stdin such as /dev/null is not
watched; then only SIGTERM/SIGINT stop it.)

Paths:
  /echo (and anything unrecognised)  echo every message with the same type
  /headers        one text message: JSON object of request headers (lower-cased
                  names, repeated headers joined with ", "), then echo
  /close/<code>/<reason>  close at once with that code and URL-decoded reason
  /subprotocol    one text message: negotiated subprotocol or "", then echo
  /fragments      every text message is a JSON command answered with ONE fragmented message
                  (websockets' send of an iterable: one non-final frame per element, then an
                  empty final frame):
                  {"text": true|false, "frames": ["<hex>", ...]} sends exactly those payloads
                  (hex, so a frame may end inside a UTF-8 sequence, or hold invalid UTF-8);
                  {"text": false, "count": K, "size": N} sends K frames of N bytes, byte i of
                  the message being (i * 7) & 0xFF
Any text message `close:<code>:<reason>` makes the server close with that code/reason.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from _peer_common import (announce, choose_subprotocol, install_stop_triggers, parse_args,
                          parse_close_command, parse_close_path, route)


async def close_with(ws: ServerConnection, code: int, reason: str) -> None:
    """Close as asked; a code websockets refuses to send (e.g. 1005) becomes 1011."""
    try:
        await ws.close(code, reason)
    except Exception as e:  # noqa: BLE001 - report and still close
        print(f"cannot close with {code} {reason!r}: {e}; using 1011", file=sys.stderr)
        await ws.close(1011, "invalid close requested")


def fragments_for(command: dict) -> list[bytes]:
    """The frame payloads a /fragments command asks for."""
    if "frames" in command:
        return [bytes.fromhex(frame) for frame in command["frames"]]
    count, size = int(command["count"]), int(command["size"])
    pattern = bytes((i * 7) & 0xFF for i in range(7 * 256))  # period 256, sliceable at any offset
    frames = []
    for k in range(count):
        start = (k * size) % 256
        whole = pattern * (size // len(pattern) + 2)
        frames.append(whole[start:start + size])
    return frames


async def handler(ws: ServerConnection) -> None:
    kind = route(ws.request.path)
    if kind == "close":
        parsed = parse_close_path(ws.request.path)
        if parsed is not None:
            await close_with(ws, *parsed)
            return
    elif kind == "headers":
        headers: dict[str, str] = {}
        for name, value in ws.request.headers.raw_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        await ws.send(json.dumps(headers))
    elif kind == "subprotocol":
        await ws.send(ws.subprotocol or "")
    elif kind == "fragments":
        try:
            async for message in ws:
                command = json.loads(message)
                # text=True sends bytes in text frames as they are (websockets >= 14).
                await ws.send(fragments_for(command), text=bool(command.get("text")))
        except ConnectionClosed:
            pass
        return

    try:
        async for message in ws:  # str for text, bytes for binary: send() keeps the type
            if isinstance(message, str):
                command = parse_close_command(message)
                if command is not None:
                    await close_with(ws, *command)
                    return
            await ws.send(message)
    except ConnectionClosed:
        pass  # peer went away mid-echo; nothing to report for a test fixture


async def main() -> None:
    args = parse_args("websockets echo server for interop tests and benchmarks", tls=True)
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    supported = list(args.subprotocol)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_triggers(loop, stop, watch_stdin=not args.no_stdin_watch)

    async with serve(
        handler,
        args.host,
        args.port,
        subprotocols=supported or None,
        select_subprotocol=lambda _conn, offered: choose_subprotocol(supported, offered),
        compression="deflate" if args.compression == "on" else None,
        # accept-all: RFC 7692 parameters exactly as the client requests them (interop matrix).
        extensions=[ServerPerMessageDeflateFactory()] if args.compression == "accept-all" else None,
        max_size=args.max_size,
        # No unsolicited pings: tests that assert on exact frames must not see them.
        ping_interval=None,
        close_timeout=2,
        ssl=tls,
    ) as server:
        announce(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()  # closes open connections with 1001 going away
        await asyncio.wait_for(server.wait_closed(), 5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.TimeoutError):
        pass
