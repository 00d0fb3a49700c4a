#!/usr/bin/env python3
"""picows echo server: the fastest server we know of, for benchmarks.

A slow server hides a client's cost, so client benchmarks run against this one.
Same conventions as echo_server.py: loopback only, `LISTENING <port>` on stdout,
exits on SIGTERM/SIGINT/stdin EOF. It echoes every data frame as it arrives
(same opcode and FIN bit, so fragmented messages come back fragmented), answers
pings, and echoes a close frame's code before disconnecting. No compression,
no subprotocols: a benchmark peer, not an interop fixture.
"""

from __future__ import annotations

import asyncio

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

from _peer_common import announce, install_stop_triggers, parse_args


class EchoListener(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type != WSMsgType.PONG:
            transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)


async def main() -> None:
    args = parse_args("picows echo server for benchmarks")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_triggers(loop, stop, watch_stdin=not args.no_stdin_watch)
    server = await ws_create_server(lambda request: EchoListener(), args.host, args.port,
                                    max_frame_size=args.max_size)
    announce(server.sockets[0].getsockname()[1])
    try:
        await stop.wait()
    finally:
        server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
