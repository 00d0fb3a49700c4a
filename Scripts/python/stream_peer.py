#!/usr/bin/env python3
"""A plain TCP peer for the StreamSocket interop tests, with Python's `socket` and `ssl` only.

    python stream_peer.py [--host 127.0.0.1] [--port 0] [--mode echo|starttls]
                          [--tls-cert PATH --tls-key PATH] [--max-tls 1.2]

Prints exactly `LISTENING <port>` on stdout once bound, then serves every connection in a
thread of its own. It exits when a piped stdin reaches EOF (so a crashed parent cannot leak it).

Modes:
  echo      send back every byte received; at the client's end of stream (FIN) end this side
            too (shutdown(SHUT_WR)), then close.
  starttls  the STARTTLS pattern: read the plaintext line `STARTTLS\\r\\n`, answer `OK\\r\\n`,
            run the server side of a TLS handshake (TLS 1.2+, --tls-cert/--tls-key), then echo
            over TLS until the client's close_notify, answer with close_notify, close.
            Any other first line is answered `ERR\\r\\n` and closed. `--max-tls 1.2` caps the
            server at TLS 1.2 (to test a client's minimum version).
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import stat
import sys
import threading


def echo(conn: socket.socket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


def read_line(conn: socket.socket) -> bytes:
    """Reads up to and including b"\\n", one byte at a time: nothing after it is consumed, so
    the TLS handshake that follows finds its first bytes still in the socket."""
    line = b""
    while not line.endswith(b"\n") and len(line) < 1024:
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return line


def serve(conn: socket.socket, args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    try:
        if args.mode == "echo":
            echo(conn)
            conn.shutdown(socket.SHUT_WR)
            return
        if read_line(conn) != b"STARTTLS\r\n":
            conn.sendall(b"ERR\r\n")
            return
        conn.sendall(b"OK\r\n")
        assert context is not None
        tls = context.wrap_socket(conn, server_side=True)
        echo(tls)  # recv returns b"" at the client's close_notify
        try:
            tls.unwrap()  # our close_notify
        except (ssl.SSLError, OSError):
            pass
        tls.close()
    except (OSError, ssl.SSLError) as error:
        print(f"connection failed: {error}", file=sys.stderr)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("echo", "starttls"), default="echo")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--max-tls", choices=("1.2", "1.3"), default="1.3")
    args = parser.parse_args()
    context = None
    if args.mode == "starttls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.max_tls == "1.2":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.tls_cert, args.tls_key)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(16)
    print(f"LISTENING {listener.getsockname()[1]}", flush=True)

    if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        def watch_stdin() -> None:
            sys.stdin.buffer.read()
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args, context), daemon=True).start()


if __name__ == "__main__":
    main()
