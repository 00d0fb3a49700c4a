import WebSocketServer
import WebSockets

/// `websocket` with no arguments: the whole library on an embedded default. Starts the echo
/// server on loopback in-process, connects, exchanges messages of various sizes, prints a small
/// round-trip timing table, and closes cleanly.
enum DemoCommand {
    static func run() async -> Int32 {
        do {
            let server = try await WebSocketServer.echo(port: 0)
            Output.out("echo server listening on \(server.url())")
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url(path: "/demo"))
            let info = await socket.information
            Output.out("connected \(info.localAddress ?? "?") -> \(info.remoteAddress ?? "?")")
            var iterator = socket.messages.makeAsyncIterator()

            Output.out("")
            Output.out("exchange                      sent        echoed")
            let samples: [Message] = [
                .text(""), .text("Hello, WebSocket"), .text("Grüße, 世界 🌍"),
                .binary([]), .binary(Array(0..<125)), .binary([UInt8](repeating: 7, count: 126)),
                .binary([UInt8](repeating: 1, count: 65_536)), .text(String(repeating: "x", count: 1 << 20)),
            ]
            for message in samples {
                try await socket.send(message)
                guard let echo = try await iterator.next() else { throw WebSocketError(.connectionAborted, "echo missing") }
                let label = "\(message.kind) \(message.bytes.count) bytes".padding(28)
                let verdict = echo == message ? "identical" : "DIFFERENT"
                Output.out("\(label)  \(String(message.bytes.count).padding(10))  \(verdict)")
                guard echo == message else { throw WebSocketError(.protocolViolation(.protocolError), "echo differs") }
            }

            Output.out("")
            Output.out("round trips (binary, 500 each)   p50 µs   p99 µs   round trips/s")
            let clock = ContinuousClock()
            for size in [16, 1024, 16 * 1024, 256 * 1024] {
                let payload = [UInt8](repeating: 0x42, count: size)
                var latencies: [Double] = []
                let start = clock.now
                for _ in 0..<500 {
                    let sent = clock.now
                    try await socket.send(.binary(payload))
                    _ = try await iterator.next()
                    latencies.append(Double((clock.now - sent) / .nanoseconds(1)) / 1000)
                }
                let elapsed = Double((clock.now - start) / .nanoseconds(1)) / 1e9
                latencies.sort()
                let p50 = Int(latencies[latencies.count / 2])
                let p99 = Int(latencies[latencies.count * 99 / 100])
                let rate = Int(500 / elapsed)
                Output.out("\("\(size) bytes".padding(33))\(String(p50).padding(9))\(String(p99).padding(9))\(rate)")
            }

            Output.out("")
            try await socket.close(code: .normalClosure, reason: "demo done")
            while try await iterator.next() != nil {}
            let status = await socket.closeStatus
            let stats = await socket.information.statistics
            Output.out("closed cleanly: peer answered \(status.map { "\($0.code.rawValue)" } ?? "nothing")")
            Output.out(
                "sent \(stats.messagesSent) messages (\(stats.bytesSent) bytes), received \(stats.messagesReceived) (\(stats.bytesReceived) bytes)"
            )
            await server.shutDown()
            return 0
        } catch {
            Output.fail(error)
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
