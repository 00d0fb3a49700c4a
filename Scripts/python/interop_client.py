#!/usr/bin/env python3
"""Python `websockets` client that drives one scenario against a WebSocket server.

    python interop_client.py URL SCENARIO [--subprotocol P ...] [--compression on|off]
                             [--close-code N] [--close-reason TEXT] [--timeout SECONDS]

The reference client for the server interop tests (Tests/WebSocketsTests/ServerInteropTests.swift):
the server under test must echo every message with its type unchanged. Output is one result per
line, `KEY value...`, ending with exactly one `PASS` or `FAIL <why>` line; the exit status is 0 on
PASS, 1 on a mismatch (FAIL), 2 when the connection could not be used at all (ERROR line).

Scenarios:
  echo         text, binary, empty text, empty binary, 1 MiB binary and 1 MiB (UTF-8 bytes) text
               round-trip unchanged; then close 1000.      Lines: ECHO <kind> <bytes> ok|mismatch
  fragmented   messages sent as several frames (send() of an iterable) come back whole.
                                                            Lines: FRAGMENTED <kind> <frames> <bytes> ok|mismatch
  subprotocol  reports the negotiated subprotocol (`-` for none), then one echo.
                                                            Lines: SUBPROTOCOL <name|->
  close        one echo, then close with --close-code/--close-reason (default 1000, "").
                                                            Lines: CLOSE_RCVD <code> <reason>
  await-close  sends "ready", waits for its echo (READY line), then waits for the server to close.
                                                            Lines: READY, CLOSED <code> <reason>
  ping         pings (explicit payload, then websockets' random one) are answered with pongs, and a
               message sent after them is the next message received (pings never surface as
               messages).                                   Lines: PONG <payload-hex|random> ok|timeout
  compression  reports the negotiated Sec-WebSocket-Extensions and deflate parameters, then large
               compressible and small messages round-trip.
                                                            Lines: EXTENSIONS <header|->,
                                                            DEFLATE <remote_bits> <local_bits>|-, ECHO ...
"""

from __future__ import annotations

import argparse
import sys

from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.sync.client import ClientConnection, connect

MIB = 1 << 20


class Mismatch(Exception):
    """A scenario's check failed; the message says which."""


def emit(*fields: object) -> None:
    print(" ".join(str(f) for f in fields), flush=True)


def kind_of(message: str | bytes) -> str:
    return "text" if isinstance(message, str) else "binary"


def size_of(message: str | bytes) -> int:
    return len(message.encode()) if isinstance(message, str) else len(message)


def expect_echo(ws: ClientConnection, message: str | bytes, timeout: float, label: str = "ECHO",
                frames: int | None = None) -> bool:
    """Receives one message and compares it with `message` (type and content)."""
    got = ws.recv(timeout=timeout)
    ok = type(got) is type(message) and got == message
    fields = [label, kind_of(message)] + ([frames] if frames is not None else []) + [size_of(message)]
    emit(*fields, "ok" if ok else "mismatch")
    if not ok:
        detail = f"got {kind_of(got)} of {size_of(got)} bytes"
        raise Mismatch(f"{label.lower()} of {kind_of(message)} ({size_of(message)} bytes): {detail}")
    return ok


def round_trip(ws: ClientConnection, messages: list[str | bytes], timeout: float) -> None:
    for message in messages:
        ws.send(message)
        expect_echo(ws, message, timeout)


def scenario_echo(ws: ClientConnection, args: argparse.Namespace) -> None:
    big_binary = bytes((i * 7) & 0xFF for i in range(MIB))
    big_text = "ü" * (MIB // 2)  # 1 MiB of UTF-8, every character two bytes
    round_trip(ws, ["héllo wörld", b"\x00\xff\x01", "", b"", big_binary, big_text], args.timeout)
    ws.close(1000, "done")
    report_close_rcvd(ws)


def scenario_fragmented(ws: ClientConnection, args: argparse.Namespace) -> None:
    cases: list[list[str] | list[bytes]] = [
        ["frag", "ment", "ed ✓"],
        [b"\x01\x02", b"", b"\x03"],
        [bytes([i]) * (64 * 1024) for i in range(16)],  # 1 MiB in 16 frames
        ["", "only the middle frame has data", ""],
    ]
    for fragments in cases:
        ws.send(fragments)  # websockets sends each item as one frame of a single message
        whole = "".join(fragments) if isinstance(fragments[0], str) else b"".join(fragments)
        expect_echo(ws, whole, args.timeout, label="FRAGMENTED", frames=len(fragments))
    ws.close(1000)


def scenario_subprotocol(ws: ClientConnection, args: argparse.Namespace) -> None:
    emit("SUBPROTOCOL", ws.subprotocol or "-")
    round_trip(ws, ["after the handshake"], args.timeout)
    ws.close(1000)


def report_close_rcvd(ws: ClientConnection) -> None:
    rcvd = ws.protocol.close_rcvd
    if rcvd is None:
        emit("CLOSE_RCVD", "-")
        raise Mismatch("the server did not answer the close frame")
    emit("CLOSE_RCVD", rcvd.code, rcvd.reason)


def scenario_close(ws: ClientConnection, args: argparse.Namespace) -> None:
    round_trip(ws, ["before closing"], args.timeout)
    ws.close(args.close_code, args.close_reason)
    report_close_rcvd(ws)


def scenario_await_close(ws: ClientConnection, args: argparse.Namespace) -> None:
    ws.send("ready")
    if ws.recv(timeout=args.timeout) != "ready":
        raise Mismatch("the server did not echo 'ready'")
    emit("READY")
    try:
        while True:
            ws.recv(timeout=args.timeout)  # anything but the close is unexpected but harmless
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            emit("CLOSED", "-")
            raise Mismatch("the connection ended without a close frame from the server") from None
        emit("CLOSED", closed.rcvd.code, closed.rcvd.reason)


def scenario_ping(ws: ClientConnection, args: argparse.Namespace) -> None:
    for payload in [b"swift?", None]:
        waiter = ws.ping(payload)  # None: websockets picks four random bytes
        answered = waiter.wait(args.timeout)
        emit("PONG", payload.hex() if payload is not None else "random", "ok" if answered else "timeout")
        if not answered:
            raise Mismatch("no pong within the timeout")
    # A ping the server answered must not have become a message: the next message is this echo.
    round_trip(ws, ["after the pings"], args.timeout)
    ws.close(1000)


def scenario_compression(ws: ClientConnection, args: argparse.Namespace) -> None:
    emit("EXTENSIONS", ws.response.headers.get("Sec-WebSocket-Extensions") or "-")
    deflate = [e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)]
    if deflate:
        emit("DEFLATE", deflate[0].remote_max_window_bits, deflate[0].local_max_window_bits)
    else:
        emit("DEFLATE", "-")
    json = ",".join(f'{{"id":{i},"name":"item {i % 13}","ok":true}}' for i in range(30_000))
    round_trip(ws, [json, json.encode()[::-1], "small", b"", "z" * MIB], args.timeout)
    ws.close(1000)


SCENARIOS = {
    "echo": scenario_echo,
    "fragmented": scenario_fragmented,
    "subprotocol": scenario_subprotocol,
    "close": scenario_close,
    "await-close": scenario_await_close,
    "ping": scenario_ping,
    "compression": scenario_compression,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="websockets client scenarios for server interop tests")
    p.add_argument("url", help="ws:// URL of the server under test")
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--subprotocol", action="append", default=[], metavar="P",
                   help="offer this subprotocol; repeatable, in order of preference")
    p.add_argument("--compression", choices=("on", "off"), default="on",
                   help="offer permessage-deflate (websockets' default offer) or not (default on)")
    p.add_argument("--close-code", type=int, default=1000)
    p.add_argument("--close-reason", default="")
    p.add_argument("--timeout", type=float, default=10.0, help="per-step timeout in seconds")
    args = p.parse_args(argv)

    try:
        ws = connect(
            args.url,
            subprotocols=args.subprotocol or None,
            compression="deflate" if args.compression == "on" else None,
            open_timeout=args.timeout,
            close_timeout=args.timeout,
            ping_interval=None,  # no unsolicited pings: the scenarios decide every frame sent
            max_size=64 * MIB,
        )
    except Exception as e:  # noqa: BLE001 - any failure to open is reported the same way
        emit("ERROR", f"connect: {type(e).__name__}: {e}")
        return 2
    try:
        with ws:
            SCENARIOS[args.scenario](ws, args)
    except Mismatch as e:
        emit("FAIL", e)
        return 1
    except Exception as e:  # noqa: BLE001 - timeouts, unexpected closes, protocol errors
        emit("FAIL", f"{type(e).__name__}: {e}")
        return 1
    emit("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
