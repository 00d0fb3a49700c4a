#!/usr/bin/env python3
"""Self-test of the Python echo peers, so a broken fixture is caught before it
makes Swift interop tests fail for the wrong reason.

    python check_peers.py            # checks echo_server.py, aiohttp_echo_server.py, redirect_server.py

For each server: starts it with a stdin pipe, reads `LISTENING <port>`, checks
text/binary echo, /headers, /close/4000/bye, the `close:3000:x` command,
subprotocol selection, compression, the loopback refusal, and that it exits on
stdin EOF and on SIGTERM. redirect_server.py is checked with websockets' own client (which
follows redirects and sends `user:pass@` as Basic): /old/<status>, /loop/a, /private. First, the interop client (interop_client.py) runs
its scenarios against echo_server.py. Ends with a `N passed, N failed` line;
exit 1 on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, SecurityError

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ["echo_server.py", "aiohttp_echo_server.py"]
passed = failed = 0


def check(name: str, ok: bool, detail: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}")
    else:
        failed += 1
        print(f"  FAIL {name} {detail}")


def start(script: str, *extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"{script}: unexpected first line {line!r}")
    return proc, int(line.split()[1])


async def expect_close(ws) -> tuple[int | None, str | None]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as e:
        return (e.rcvd.code, e.rcvd.reason) if e.rcvd else (None, None)


async def run_checks(script: str, port: int) -> None:
    base = f"ws://127.0.0.1:{port}"
    async with connect(base + "/echo", compression=None) as ws:
        await ws.send("héllo")
        check("text echo", await ws.recv() == "héllo")
        await ws.send(b"\x00\x01\xff")
        check("binary echo keeps type", await ws.recv() == b"\x00\x01\xff")
        big = os.urandom(1 << 20)
        await ws.send(big)
        check("1 MiB binary echo", await ws.recv() == big)
    async with connect(base + "/headers", additional_headers={"X-Probe": "42"}) as ws:
        headers = json.loads(await ws.recv())
        check("/headers JSON", headers.get("x-probe") == "42" and "sec-websocket-key" in headers,
              repr(headers))
        await ws.send("after")
        check("/headers then echo", await ws.recv() == "after")
    async with connect(base + "/close/4000/bye%20now") as ws:
        got = await expect_close(ws)
        check("/close/4000/bye%20now", got == (4000, "bye now"), repr(got))
    async with connect(base + "/echo") as ws:
        await ws.send("close:3000:x:y")
        got = await expect_close(ws)
        check("close:3000:x:y command", got == (3000, "x:y"), repr(got))
    async with connect(base + "/subprotocol") as ws:
        check("/subprotocol none", await ws.recv() == "")
    if script == "echo_server.py":
        async with connect(base + "/fragments") as ws:
            await ws.send(json.dumps({"text": True, "frames": ["61c3", "a962"]}))
            check("/fragments text frames, reassembled", await ws.recv() == "aéb")
            await ws.send(json.dumps({"text": False, "count": 3, "size": 1000}))
            got = await ws.recv()
            check("/fragments count x size", got == bytes((i * 7) & 0xFF for i in range(3000)), f"{len(got)} bytes")


async def run_subprotocol_checks(port: int) -> None:
    base = f"ws://127.0.0.1:{port}"
    # Server supports chat and superchat; the client's order decides.
    async with connect(base + "/subprotocol", subprotocols=["superchat", "chat"]) as ws:
        got = await ws.recv()
        check("subprotocol: client's first supported", got == "superchat" == ws.subprotocol, got)
    async with connect(base + "/subprotocol", subprotocols=["other"]) as ws:
        check("subprotocol: no overlap -> none", await ws.recv() == "")


async def run_compression_check(port: int) -> None:
    async with connect(f"ws://127.0.0.1:{port}/echo", compression="deflate") as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        await ws.send("z" * 10000)
        check("compression on: negotiated + echo",
              "permessage-deflate" in ext and await ws.recv() == "z" * 10000, ext)


async def run_redirect_checks(port: int) -> None:
    base = f"ws://127.0.0.1:{port}"
    for status in (301, 302, 303, 307, 308):
        async with connect(f"{base}/old/{status}") as ws:
            got = json.loads(await ws.recv())
            check(f"redirect {status} lands on /landing", got == {"path": f"/landing?from={status}", "user": None}, repr(got))
    try:
        async with connect(f"{base}/loop/a"):
            check("redirect loop never accepted", False)
    except SecurityError:
        check("redirect loop never accepted", True)
    async with connect(f"ws://ann:secret@127.0.0.1:{port}/private") as ws:
        got = json.loads(await ws.recv())
        check("/private with ann:secret", got == {"path": "/private", "user": "ann"}, repr(got))
        await ws.send("x")
        check("/private then echo", await ws.recv() == "x")
    for label, url in (("no credential", f"{base}/private"),
                       ("wrong password", f"ws://ann:wrong@127.0.0.1:{port}/private")):
        try:
            async with connect(url):
                check(f"/private refused: {label}", False)
        except InvalidStatus as e:
            challenge = e.response.headers.get("WWW-Authenticate")
            check(f"/private refused: {label}, 401 Basic",
                  e.response.status_code == 401 and challenge == 'Basic realm="x", charset="UTF-8"', repr(challenge))


def run_client_checks() -> None:
    """interop_client.py (the client the server interop tests run) against echo_server.py."""
    print("== interop_client.py against echo_server.py")
    proc, port = start("echo_server.py", "--subprotocol", "chat", "--compression", "on")
    url = f"ws://127.0.0.1:{port}/echo"
    client = os.path.join(HERE, "interop_client.py")
    scenarios = [
        ("echo", [], "ECHO binary 1048576 ok"),
        ("fragmented", [], "FRAGMENTED binary 16 1048576 ok"),
        ("subprotocol", ["--subprotocol", "chat"], "SUBPROTOCOL chat"),
        ("close", ["--close-code", "4000", "--close-reason", "bye now"], "CLOSE_RCVD 4000 bye now"),
        ("ping", [], "PONG random ok"),
        ("compression", [], "DEFLATE 12 12"),
        ("compression", ["--compression", "off"], "EXTENSIONS -"),
    ]
    try:
        for scenario, extra, expected in scenarios:
            r = subprocess.run([sys.executable, client, url, scenario, *extra], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=60)
            lines = r.stdout.splitlines()
            check(f"client {scenario} {' '.join(extra)}".rstrip(),
                  r.returncode == 0 and lines[-1:] == ["PASS"] and expected in lines, r.stdout + r.stderr)
        # A server that closes at once: await-close must report the mismatch, not pass.
        r = subprocess.run([sys.executable, client, f"ws://127.0.0.1:{port}/close/1001/x", "await-close"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        check("client reports a mismatch with exit 1", r.returncode == 1 and r.stdout.splitlines()[-1].startswith("FAIL"),
              r.stdout + r.stderr)
    finally:
        proc.stdin.close()
        proc.wait(10)


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # keep order with servers' stderr in CI logs
    run_client_checks()
    for script in SERVERS:
        print(f"== {script}")
        proc, port = start(script)
        asyncio.run(run_checks(script, port))
        proc.stdin.close()  # the parent "dies": server must exit by itself
        try:
            check("exits on stdin EOF", proc.wait(10) == 0, f"rc={proc.returncode}")
        except subprocess.TimeoutExpired:
            proc.kill()
            check("exits on stdin EOF", False, "still running after 10 s")

        proc, port = start(script, "--subprotocol", "chat", "--subprotocol", "superchat",
                           "--compression", "on")
        asyncio.run(run_subprotocol_checks(port))
        asyncio.run(run_compression_check(port))
        proc.send_signal(signal.SIGTERM)
        try:
            check("exits on SIGTERM", proc.wait(10) == 0, f"rc={proc.returncode}")
        except subprocess.TimeoutExpired:
            proc.kill()
            check("exits on SIGTERM", False, "still running after 10 s")

        r = subprocess.run([sys.executable, os.path.join(HERE, script), "--host", "0.0.0.0"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        check("refuses non-loopback --host", r.returncode != 0 and not r.stdout, r.stderr)
    print("== redirect_server.py")
    proc, port = start("redirect_server.py")
    asyncio.run(run_redirect_checks(port))
    proc.stdin.close()
    try:
        check("exits on stdin EOF", proc.wait(10) == 0, f"rc={proc.returncode}")
    except subprocess.TimeoutExpired:
        proc.kill()
        check("exits on stdin EOF", False, "still running after 10 s")
    print(f"peer self-check: {passed} ok, {failed} bad")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
