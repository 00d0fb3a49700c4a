#!/usr/bin/env python3
"""Ask the fuzzing server to write its reports: `update_reports.py PORT AGENT` (stdlib only).

Scripts/autobahn.sh uses it only as a fallback, when our client stopped before it reached
/updateReports itself (crash, timeout), so the cases it did run are still reported. The server
writes the reports while opening the connection, then sends a close frame; we wait for it.
"""
import base64
import os
import socket
import sys


def main():
    port, agent = int(sys.argv[1]), sys.argv[2]
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET /updateReports?agent=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (agent, port, key))
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if not data.startswith(b"HTTP/1.1 101"):
            print("updateReports: unexpected answer: %r" % data[:200], file=sys.stderr)
            return 1
        data = data.split(b"\r\n\r\n", 1)[1]
        while len(data) < 2:  # wait for the server's close frame (reports are written by then)
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        # answer with a masked, empty close frame and leave
        s.sendall(b"\x88\x80" + os.urandom(4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
