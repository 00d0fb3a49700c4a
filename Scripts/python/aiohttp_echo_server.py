#!/usr/bin/env python3
"""aiohttp echo server: a second, independently written peer for interop tests.

Same CLI and behaviour as echo_server.py (which see): `LISTENING <port>` on
stdout, loopback only, exits on SIGTERM/SIGINT/stdin EOF, echoes with the same
type, `close:<code>:<reason>` text command, and the /headers, /close/<code>/<reason>
and /subprotocol paths. A second implementation catches bugs that one peer's
leniency would hide.
"""

from __future__ import annotations

import asyncio
import json
import weakref

from aiohttp import WSMsgType, web

from _peer_common import (announce, install_stop_triggers, parse_args, parse_close_command,
                          parse_close_path, route)


def make_app(args) -> web.Application:
    live: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def handler(request: web.Request) -> web.StreamResponse:
        # aiohttp picks the first client-offered protocol it supports and, like
        # echo_server.py, continues without one when there is no overlap.
        ws = web.WebSocketResponse(
            protocols=tuple(args.subprotocol),
            compress=args.compression != "off",
            max_msg_size=args.max_size,
            autoping=True,
            heartbeat=None,  # no unsolicited pings in tests
        )
        await ws.prepare(request)
        live.add(ws)

        kind = route(request.path_qs)
        if kind == "close":
            parsed = parse_close_path(request.path_qs)
            if parsed is not None:
                await ws.close(code=parsed[0], message=parsed[1].encode())
                return ws
        elif kind == "headers":
            headers: dict[str, str] = {}
            for name, value in request.raw_headers:
                key = name.decode("latin-1").lower()
                val = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {val}" if key in headers else val
            await ws.send_str(json.dumps(headers))
        elif kind == "subprotocol":
            await ws.send_str(ws.ws_protocol or "")

        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                command = parse_close_command(msg.data)
                if command is not None:
                    await ws.close(code=command[0], message=command[1].encode())
                    break
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def on_shutdown(_app: web.Application) -> None:
        for ws in list(live):
            await ws.close(code=1001, message=b"server shutdown")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    app.on_shutdown.append(on_shutdown)
    return app


async def main() -> None:
    args = parse_args("aiohttp echo server for interop tests")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_triggers(loop, stop, watch_stdin=not args.no_stdin_watch)

    runner = web.AppRunner(make_app(args), access_log=None, handle_signals=False,
                           shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    announce(site.port)  # the bound port once started, even for --port 0
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
