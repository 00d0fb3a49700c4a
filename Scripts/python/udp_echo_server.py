"""A UDP echo peer for the DatagramSocket interop tests: Python's own `socket` stack.

Binds a loopback address (127.0.0.1 by default, or ::1), prints `LISTENING <port>`, and sends
every datagram back to its sender unchanged (empty ones too), until it is killed or stdin reaches
EOF (the parent test process went away), as the WebSocket peers do (`_peer_common.py`).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import threading

from _peer_common import announce, checked_loopback


def watch_stdin() -> None:
    """Exit once stdin reaches EOF: the parent test process closed it or went away."""
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=0, help="UDP port, 0 = ephemeral (default)")
    args = p.parse_args()
    host = checked_loopback(args.host, p)
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    # A plain blocking socket, not asyncio: asyncio's `sendto` silently skips empty datagrams.
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, args.port))
    threading.Thread(target=watch_stdin, name="stdin-eof-watch", daemon=True).start()
    announce(sock.getsockname()[1])
    while True:
        data, sender = sock.recvfrom(65536)
        sock.sendto(data, sender)


if __name__ == "__main__":
    main()
