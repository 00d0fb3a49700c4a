#!/usr/bin/env python3
"""Python benchmark client with the same flags and output as `websocket bench`,
so Scripts/bench.sh can compare our Swift client against the Python ones line
for line.

    python bench_client.py --impl websockets|picows|aiohttp --url ws://127.0.0.1:PORT/echo \
        --size BYTES --seconds S --mode rtt|stream [--conns C]

rtt:    each of C connections sends one binary message of BYTES and awaits its
        echo, over and over, for S seconds. Last line:
        rps=<round trips/s> p50_us=<median us> p99_us=<99th percentile us>
stream: one connection keeps up to 64 messages in flight for S seconds. Last line:
        mbps=<MB/s of echoed payload, MB = 1e6 B, 1 decimal> msgs=<echoed messages>

Before the result line: rusage csw_per_op=<context switches> cpu_us_per_op=<CPU us> ops=<n>,
this process's getrusage over the timed window divided by the round trips (or echoed messages),
as `websocket bench` prints it.

Connections are opened before the clock starts, so handshakes are not measured.
Each library is driven its fastest idiomatic way (picows: WSListener callbacks;
websockets: asyncio client, compression=None). uvloop is used if it is installed,
never required.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import sys
import time

STREAM_WINDOW = 64  # messages in flight in stream mode (part of the contract)


def percentile_us(sorted_ns: list[int], p: float) -> int:
    """Nearest-rank percentile of sorted nanosecond samples, in whole microseconds."""
    if not sorted_ns:
        return 0
    rank = max(1, math.ceil(p * len(sorted_ns)))
    return round(sorted_ns[rank - 1] / 1000)


def rtt_line(latencies_ns: list[int], elapsed_s: float) -> str:
    latencies_ns.sort()
    rps = round(len(latencies_ns) / elapsed_s) if elapsed_s > 0 else 0
    return (f"rps={rps} p50_us={percentile_us(latencies_ns, 0.50)} "
            f"p99_us={percentile_us(latencies_ns, 0.99)}")


class Usage:
    """getrusage(RUSAGE_SELF) at the start of the timed window; `line(ops)` at its end."""

    def __init__(self) -> None:
        self.start = resource.getrusage(resource.RUSAGE_SELF)

    def line(self, ops: int) -> str:
        end, start, n = resource.getrusage(resource.RUSAGE_SELF), self.start, max(ops, 1)
        csw = (end.ru_nvcsw + end.ru_nivcsw - start.ru_nvcsw - start.ru_nivcsw) / n
        cpu = (end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime) * 1e6 / n
        return f"rusage csw_per_op={csw:.2f} cpu_us_per_op={cpu:.1f} ops={ops}"


def stream_line(msgs: int, size: int, elapsed_s: float) -> str:
    mbps = msgs * size / elapsed_s / 1e6 if elapsed_s > 0 else 0.0
    return f"mbps={mbps:.1f} msgs={msgs}"


# --------------------------------------------------------------------------- websockets

async def websockets_rtt(url: str, payload: bytes, seconds: float, conns: int) -> str:
    from websockets.asyncio.client import connect

    wss = [await connect(url, compression=None, max_size=None, ping_interval=None,
                         close_timeout=1) for _ in range(conns)]
    latencies: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)

    async def loop(ws) -> None:
        send, recv, record = ws.send, ws.recv, latencies.append
        while (t0 := clock()) < deadline:
            await send(payload)
            reply = await recv()
            record(clock() - t0)
            if len(reply) != len(payload):
                raise RuntimeError(f"echo of {len(payload)} B came back as {len(reply)} B")

    usage, start = Usage(), clock()
    await asyncio.gather(*(loop(ws) for ws in wss))
    elapsed = (clock() - start) / 1e9
    print(usage.line(len(latencies)), flush=True)
    await asyncio.gather(*(ws.close() for ws in wss), return_exceptions=True)
    return rtt_line(latencies, elapsed)


async def websockets_stream(url: str, payload: bytes, seconds: float) -> str:
    from websockets.asyncio.client import connect

    ws = await connect(url, compression=None, max_size=None, ping_interval=None,
                       close_timeout=1, max_queue=STREAM_WINDOW * 2)
    window = asyncio.Semaphore(STREAM_WINDOW)
    echoed = 0

    async def sender() -> None:
        while True:
            await window.acquire()
            await ws.send(payload)

    async def receiver() -> None:
        nonlocal echoed
        while True:
            reply = await ws.recv()
            if len(reply) != len(payload):
                raise RuntimeError(f"echo of {len(payload)} B came back as {len(reply)} B")
            echoed += 1
            window.release()

    usage, start = Usage(), time.perf_counter()
    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
    done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
    msgs, elapsed = echoed, time.perf_counter() - start  # snapshot at the deadline
    print(usage.line(msgs), flush=True)
    for t in tasks:
        t.cancel()
    for t in done:
        t.result()  # a task ended early only by failing: surface it
    await asyncio.gather(*tasks, return_exceptions=True)
    await ws.close()
    return stream_line(msgs, len(payload), elapsed)


# --------------------------------------------------------------------------- picows

def picows_listener_class():
    """Built lazily so --impl websockets works without picows installed."""
    import logging

    from picows import WSListener, WSMsgType

    # picows warns on every write-buffer pause/resume, which a 64-message window
    # hits by design; keep stderr for real errors.
    logging.getLogger("picows").setLevel(logging.ERROR)

    data_types = (WSMsgType.BINARY, WSMsgType.CONTINUATION, WSMsgType.TEXT)
    clock = time.perf_counter_ns

    class BenchListener(WSListener):
        """Callback-driven client: the next send happens inside on_ws_frame, with
        no task switch, which is how picows is meant to be used for speed."""

        def __init__(self, payload: bytes, window: int, latencies: list[int] | None):
            super().__init__()
            self.payload, self.window, self.latencies = payload, window, latencies
            self.transport = None
            self.deadline = 0
            self.sent_at: list[int] = []  # send times of in-flight messages, FIFO
            self.head = 0
            self.partial = 0  # bytes of the message being reassembled
            self.echoed = 0
            self.done = asyncio.get_running_loop().create_future()

        def on_ws_connected(self, transport) -> None:
            self.transport = transport

        def start(self, deadline_ns: int) -> None:
            self.deadline = deadline_ns
            for _ in range(self.window):
                self._send()

        def _send(self) -> None:
            self.sent_at.append(clock())
            self.transport.send(WSMsgType.BINARY, self.payload)

        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type in data_types:
                self.partial += frame.payload_size
                if not frame.fin:
                    return
                now = clock()
                if self.partial != len(self.payload):
                    self._fail(f"echo of {len(self.payload)} B came back as {self.partial} B")
                    return
                self.partial = 0
                self.echoed += 1
                sent = self.sent_at[self.head]
                self.head += 1
                if self.latencies is not None:
                    self.latencies.append(now - sent)
                if now < self.deadline:
                    self._send()
                elif self.head == len(self.sent_at) and not self.done.done():
                    self.done.set_result(None)  # everything sent has come back
            elif frame.msg_type == WSMsgType.CLOSE:
                self._fail(f"server closed: {frame.get_close_code()} {frame.get_close_reason()}")

        def on_ws_disconnected(self, transport) -> None:
            if not self.done.done():
                self._fail("disconnected")

        def _fail(self, why: str) -> None:
            if not self.done.done():
                self.done.set_exception(RuntimeError(why))

    return BenchListener


async def picows_connect(url: str, payload: bytes, window: int, latencies: list[int] | None):
    from picows import ws_connect

    listener_class = picows_listener_class()
    transport, listener = await ws_connect(
        lambda: listener_class(payload, window, latencies), url,
        max_frame_size=max(10 * 1024 * 1024, len(payload) + 1024))
    return transport, listener


async def picows_close(transport, listener) -> None:
    if not listener.done.done():
        listener.done.set_result(None)  # we are closing on purpose: not a failure
    transport.send_close()
    transport.disconnect()
    try:
        await asyncio.wait_for(transport.wait_disconnected(), 2)
    except asyncio.TimeoutError:
        pass


async def picows_rtt(url: str, payload: bytes, seconds: float, conns: int) -> str:
    latencies: list[int] = []
    pairs = [await picows_connect(url, payload, 1, latencies) for _ in range(conns)]
    usage, start = Usage(), time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    for _, listener in pairs:
        listener.start(deadline)
    await asyncio.gather(*(listener.done for _, listener in pairs))
    elapsed = (time.perf_counter_ns() - start) / 1e9
    print(usage.line(len(latencies)), flush=True)
    for transport, listener in pairs:
        await picows_close(transport, listener)
    return rtt_line(latencies, elapsed)


async def picows_stream(url: str, payload: bytes, seconds: float) -> str:
    transport, listener = await picows_connect(url, payload, STREAM_WINDOW, None)
    usage, start = Usage(), time.perf_counter()
    listener.start(time.perf_counter_ns() + int(seconds * 1e9))
    try:
        await asyncio.wait_for(asyncio.shield(listener.done), seconds)
    except asyncio.TimeoutError:
        pass
    msgs, elapsed = listener.echoed, time.perf_counter() - start  # snapshot at the deadline
    print(usage.line(msgs), flush=True)
    if listener.done.done() and listener.done.exception() is not None:
        raise listener.done.exception()
    await picows_close(transport, listener)
    return stream_line(msgs, len(payload), elapsed)


# --------------------------------------------------------------------------- aiohttp

async def aiohttp_connect(session, url: str):
    return await session.ws_connect(url, compress=0, autoping=False, autoclose=False,
                                    max_msg_size=0, heartbeat=None)


async def aiohttp_rtt(url: str, payload: bytes, seconds: float, conns: int) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        wss = [await aiohttp_connect(session, url) for _ in range(conns)]
        latencies: list[int] = []
        clock = time.perf_counter_ns
        deadline = clock() + int(seconds * 1e9)

        async def loop(ws) -> None:
            send, receive, record = ws.send_bytes, ws.receive_bytes, latencies.append
            while (t0 := clock()) < deadline:
                await send(payload)
                reply = await receive()
                record(clock() - t0)
                if len(reply) != len(payload):
                    raise RuntimeError(f"echo of {len(payload)} B came back as {len(reply)} B")

        usage, start = Usage(), clock()
        await asyncio.gather(*(loop(ws) for ws in wss))
        elapsed = (clock() - start) / 1e9
        print(usage.line(len(latencies)), flush=True)
        await asyncio.gather(*(ws.close() for ws in wss), return_exceptions=True)
    return rtt_line(latencies, elapsed)


async def aiohttp_stream(url: str, payload: bytes, seconds: float) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        ws = await aiohttp_connect(session, url)
        window = asyncio.Semaphore(STREAM_WINDOW)
        echoed = 0

        async def sender() -> None:
            while True:
                await window.acquire()
                await ws.send_bytes(payload)

        async def receiver() -> None:
            nonlocal echoed
            while True:
                reply = await ws.receive_bytes()
                if len(reply) != len(payload):
                    raise RuntimeError(f"echo of {len(payload)} B came back as {len(reply)} B")
                echoed += 1
                window.release()

        usage, start = Usage(), time.perf_counter()
        tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
        done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
        msgs, elapsed = echoed, time.perf_counter() - start  # snapshot at the deadline
        print(usage.line(msgs), flush=True)
        for t in tasks:
            t.cancel()
        for t in done:
            t.result()  # a task ended early only by failing: surface it
        await asyncio.gather(*tasks, return_exceptions=True)
        await ws.close()
    return stream_line(msgs, len(payload), elapsed)


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="WebSocket echo benchmark client (Python side)")
    p.add_argument("--impl", choices=("websockets", "picows", "aiohttp"), required=True)
    p.add_argument("--url", required=True, help="echo endpoint, e.g. ws://127.0.0.1:PORT/echo")
    p.add_argument("--size", type=int, required=True, help="payload bytes per message")
    p.add_argument("--seconds", type=float, required=True, help="measured duration")
    p.add_argument("--mode", choices=("rtt", "stream"), required=True)
    p.add_argument("--conns", type=int, default=1, help="connections (rtt mode only)")
    args = p.parse_args(argv)
    if args.size < 0 or args.seconds <= 0 or args.conns < 1:
        p.error("--size >= 0, --seconds > 0 and --conns >= 1 are required")
    if args.mode == "stream" and args.conns != 1:
        print("note: stream mode uses one connection; --conns ignored", file=sys.stderr)
    return args


async def run(args: argparse.Namespace) -> str:
    payload = os.urandom(args.size)
    if args.impl == "websockets":
        if args.mode == "rtt":
            return await websockets_rtt(args.url, payload, args.seconds, args.conns)
        return await websockets_stream(args.url, payload, args.seconds)
    if args.impl == "aiohttp":
        if args.mode == "rtt":
            return await aiohttp_rtt(args.url, payload, args.seconds, args.conns)
        return await aiohttp_stream(args.url, payload, args.seconds)
    if args.mode == "rtt":
        return await picows_rtt(args.url, payload, args.seconds, args.conns)
    return await picows_stream(args.url, payload, args.seconds)


def main() -> int:
    args = parse_args()
    try:
        import uvloop  # optional: only if the environment already has it
        runner, loop_name = uvloop.run, "uvloop"
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    print(f"impl={args.impl} loop={loop_name} mode={args.mode} size={args.size} "
          f"seconds={args.seconds:g} conns={args.conns if args.mode == 'rtt' else 1}",
          flush=True)

    async def bounded() -> str:
        # Hard cap so a stuck peer cannot hang a benchmark run or CI.
        return await asyncio.wait_for(run(args), args.seconds + 30)

    try:
        line = runner(bounded())
    except Exception as e:  # noqa: BLE001 - one clear line instead of a traceback
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
