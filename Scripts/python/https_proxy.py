#!/usr/bin/env python3
"""A TLS-terminating HTTP CONNECT proxy (an `https://` proxy), stdlib only, for tests.

tinyproxy, microsocks and dante do not speak TLS to their clients, so the `https://` proxy case
of the Swift tests runs against this: TLS from the client to the proxy, then `CONNECT host:port`,
`200 Connection established`, and bytes relayed both ways (for `wss://` a second TLS runs end to
end inside). With --user/--password a request without the matching `Proxy-Authorization: Basic`
gets 407 with `Proxy-Authenticate: Basic`. Loopback only; prints `LISTENING <port>`; exits on
SIGTERM or when stdin reaches EOF, like the echo peers.
"""

from __future__ import annotations

import argparse
import base64
import select
import socket
import ssl
import sys
import threading


def relay(client: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Copies bytes both ways until either side ends, in one thread: an SSL object must not be
    read and written from two threads at once."""
    peers = {client: upstream, upstream: client}
    try:
        while True:
            readable, _, _ = select.select(list(peers), [], [])
            for source in readable:
                while True:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
                    # Decrypted bytes already inside the SSL object do not wake select().
                    if not (source is client and client.pending()):
                        break
    except (OSError, ssl.SSLError):
        return


def handle(client: socket.socket, expected_auth: str | None) -> None:
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
            if len(head) > 16384:
                client.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n")
                return
        text, _, rest = head.partition(b"\r\n\r\n")
        lines = text.decode("latin-1").split("\r\n")
        method, target, _version = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if expected_auth is not None and headers.get("proxy-authorization") != expected_auth:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                           b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
            upstream.settimeout(None)
        except (OSError, ValueError):
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        relay(client, upstream)
        upstream.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        client.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tls-cert", required=True, help="PEM certificate chain presented to clients")
    p.add_argument("--tls-key", required=True, help="PEM private key for --tls-cert")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1, 0 = ephemeral (default)")
    p.add_argument("--user", help="require this user name (Basic)")
    p.add_argument("--password", default="", help="the password for --user")
    args = p.parse_args()
    expected = None
    if args.user is not None:
        expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print(f"LISTENING {listener.getsockname()[1]}", flush=True)

    def accept_loop() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            def serve(raw: socket.socket = raw) -> None:
                try:
                    client = context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError):
                    raw.close()
                    return
                handle(client, expected)
            threading.Thread(target=serve, daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
