"""Shared plumbing for the Python echo peers (websockets and aiohttp).

Both servers must honour one contract so that Swift interop tests and
Scripts/bench.sh can drive either the same way: loopback only, one
`LISTENING <port>` line on stdout, and a clean exit on SIGTERM/SIGINT or when
stdin reaches EOF (the parent test process died or closed its end).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import stat
import sys
import threading
import urllib.parse
from typing import Callable

DEFAULT_MAX_SIZE = 64 * 1024 * 1024


def parse_args(description: str, argv: list[str] | None = None, tls: bool = False,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The shared options; `extra` adds a peer's own (e.g. redirect_server.py's --user)."""
    p = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(p)
    if tls:
        p.add_argument("--tls-cert", metavar="PATH", help="serve wss:// with this PEM certificate chain")
        p.add_argument("--tls-key", metavar="PATH", help="the PEM private key for --tls-cert")
    p.add_argument("--host", default="127.0.0.1",
                   help="loopback address to bind (127.0.0.0/8, ::1 or localhost only)")
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = ephemeral (default)")
    p.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                   help="largest accepted message in bytes (default 64 MiB)")
    p.add_argument("--subprotocol", action="append", default=[], metavar="P",
                   help="supported subprotocol; repeatable")
    p.add_argument("--compression", choices=("on", "off", "accept-all"), default="off",
                   help="permessage-deflate (default off); on: the library's defaults; accept-all: "
                        "accept whatever window sizes and context takeover the client requests")
    p.add_argument("--no-stdin-watch", action="store_true",
                   help="do not exit on stdin EOF (for running by hand with stdin=/dev/null)")
    args = p.parse_args(argv)
    if tls and (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    args.host = checked_loopback(args.host, p)
    return args


def checked_loopback(host: str, parser: argparse.ArgumentParser) -> str:
    """Refuse non-loopback binds: these peers are test fixtures, never services.

    "localhost" is mapped to 127.0.0.1 so exactly one socket (one port) is bound.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        parser.error(f"--host must be a loopback IP address or localhost, got {host!r}")
    if not ip.is_loopback:
        parser.error(f"--host {host} is not a loopback address; refusing to bind")
    return host


def announce(port: int) -> None:
    """The one line a parent reads to learn the port; nothing else goes to stdout."""
    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()


def install_stop_triggers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event,
                          watch_stdin: bool) -> None:
    """Set `stop` on SIGTERM/SIGINT and (optionally) on EOF of a piped stdin.

    stdin is read by a daemon thread because asyncio's connect_read_pipe rejects
    regular files and /dev/null; a blocking read works for every kind of stdin.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not watch_stdin:
        return
    # Only a pipe, socket or terminal on stdin can tell us the parent went away.
    # /dev/null or a file would hit EOF at once and kill a server whose parent
    # merely forgot to give it a pipe, so those are not watched.
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(0)):
        print("note: stdin is not a pipe; exit on parent death disabled", file=sys.stderr)
        return

    def drain() -> None:
        # os.read, not sys.stdin.buffer: a daemon thread blocked inside the
        # BufferedReader holds its lock and aborts interpreter shutdown.
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=drain, name="stdin-eof-watch", daemon=True).start()


def choose_subprotocol(supported: list[str], offered: list[str] | tuple[str, ...]) -> str | None:
    """First subprotocol in the *client's* order that the server supports, else none.

    Unlike the libraries' defaults this never rejects the handshake, so tests can
    probe "no common subprotocol" and still read the result via /subprotocol.
    """
    for p in offered:
        if p in supported:
            return p
    return None


def parse_close_path(path: str) -> tuple[int, str] | None:
    """`/close/<code>/<reason>` -> (code, URL-decoded reason); reason may be empty."""
    parts = urllib.parse.urlsplit(path).path.split("/", 3)
    # "", "close", code, reason
    if len(parts) < 3 or parts[1] != "close":
        return None
    try:
        code = int(parts[2])
    except ValueError:
        return None
    reason = urllib.parse.unquote(parts[3]) if len(parts) > 3 else ""
    return code, reason


def parse_close_command(text: str) -> tuple[int, str] | None:
    """Text message `close:<code>:<reason>` -> (code, reason); reason may contain ':'."""
    if not text.startswith("close:"):
        return None
    _, code_s, *rest = text.split(":", 2)
    try:
        code = int(code_s)
    except ValueError:
        return None
    return code, (rest[0] if rest else "")


def route(path: str) -> str:
    """Name of the behaviour selected by the request path (query string ignored)."""
    p = urllib.parse.urlsplit(path).path
    if p in ("/headers", "/subprotocol", "/fragments"):
        return p[1:]
    if p.startswith("/close/"):
        return "close"
    return "echo"
