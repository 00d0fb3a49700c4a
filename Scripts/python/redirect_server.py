#!/usr/bin/env python3
"""Python `websockets` server that redirects and challenges: the independent peer for the
redirect and HTTP Basic interop tests (RFC 9110 §15.4, RFC 7617).

    python redirect_server.py [--host 127.0.0.1] [--port 0] [--user USER:PASS] [--realm R]
                              [--no-stdin-watch] [--tls-cert PATH --tls-key PATH]

Answers are made by websockets' own `process_request` hook (and, for /private, its `basic_auth`),
so the Swift client is checked against an implementation other than our ScriptedHTTPServer.
The rejection responses carry `Connection: close`: each redirect is followed on a new connection.

Paths:
  /old/<status>   <status> (301, 302, 303, 307 or 308) with the relative `Location:
                  ../landing?from=<status>` (resolves to /landing?from=<status>)
  /loop/a, /loop/b  302 to each other (`Location: b`, `Location: a`): a redirect loop
  /private        401 with `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"` unless
                  `Authorization: Basic` carries --user (default ann:secret)
  anything else   accepted
Every accepted connection first receives one text message, the JSON object
{"path": <request path with query>, "user": <authenticated user or null>}, then its text and
binary messages are echoed with their type.

Prints exactly `LISTENING <port>` on stdout once bound; exits on SIGTERM/SIGINT or on EOF of a
piped stdin, like echo_server.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import urllib.parse

from websockets.asyncio.server import ServerConnection, basic_auth, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from _peer_common import announce, install_stop_triggers, parse_args

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", default="ann:secret", metavar="USER:PASS",
                   help="the credential /private accepts (default ann:secret)")
    p.add_argument("--realm", default="x", help="the Basic realm /private names (default x)")


def redirect(connection: ServerConnection, status: int, location: str) -> Response:
    response = connection.respond(status, f"see {location}\n")
    response.headers["Location"] = location
    return response


def make_process_request(user: str, password: str, realm: str):
    check_basic = basic_auth(realm=realm, credentials=(user, password))

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path = urllib.parse.urlsplit(request.path).path
        parts = path.split("/")  # "", "old", status
        if len(parts) == 3 and parts[1] == "old" and parts[2].isdigit() and int(parts[2]) in REDIRECT_STATUSES:
            return redirect(connection, int(parts[2]), f"../landing?from={parts[2]}")
        if path == "/loop/a":
            return redirect(connection, 302, "b")
        if path == "/loop/b":
            return redirect(connection, 302, "a")
        if path == "/private":
            return await check_basic(connection, request)
        return None

    return process_request


async def handler(ws: ServerConnection) -> None:
    # `username` is set by basic_auth only when it accepted a credential.
    user = getattr(ws, "username", None)
    try:
        await ws.send(json.dumps({"path": ws.request.path, "user": user}))
        async for message in ws:  # str for text, bytes for binary: send() keeps the type
            await ws.send(message)
    except ConnectionClosed:
        pass  # the peer went away; nothing to report for a test fixture


async def main() -> None:
    args = parse_args("websockets server answering redirects and Basic challenges", tls=True,
                      extra=add_options)
    user, sep, password = args.user.partition(":")
    if not sep:
        raise SystemExit("--user expects USER:PASS")
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_triggers(loop, stop, watch_stdin=not args.no_stdin_watch)

    async with serve(
        handler,
        args.host,
        args.port,
        process_request=make_process_request(user, password, args.realm),
        max_size=args.max_size,
        ping_interval=None,  # no unsolicited pings
        close_timeout=2,
        ssl=tls,
    ) as server:
        announce(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.TimeoutError):
        pass
