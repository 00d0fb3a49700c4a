import Foundation
import Synchronization
import Testing
import WebSocketServer

@testable import WebSockets

/// A Python `websockets` client (Scripts/python/interop_client.py) run as a child process against
/// a server of this package. Available exactly when the Python peers are (see ``PythonPeer``).
struct PythonClient {
    /// What the client printed and how it exited.
    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var lines: [String]
        var stderr: String

        /// The rest of every line that starts with `key` and a space (or is exactly `key`).
        func values(_ key: String) -> [String] {
            lines.compactMap { line in
                if line == key { return "" }
                return line.hasPrefix(key + " ") ? String(line.dropFirst(key.count + 1)) : nil
            }
        }

        /// The client's verdict: exit status 0 and a final `PASS` line.
        var passed: Bool { status == 0 && lines.last == "PASS" }

        var description: String {
            "exit \(status)\n" + lines.joined(separator: "\n") + (stderr.isEmpty ? "" : "\nstderr: \(stderr)")
        }
    }

    static var script: URL { PythonPeer.scriptsDirectory.appendingPathComponent("interop_client.py") }

    /// Runs `scenario` against `url` and waits for the client to exit, at most `timeout` (then it
    /// is killed, and the result says so). Each step of the client may take 30 s: generous, since
    /// a loaded machine running the whole suite can stall the in-process server for seconds.
    static func run(
        _ url: String, _ scenario: String, _ arguments: [String] = [],
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        guard PythonPeer.isAvailable else {
            throw PeerError(
                "Python peers are required (WEBSOCKETS_INTEROP=1) but `\(PythonPeer.python)` cannot import websockets and aiohttp"
            )
        }
        let child = try RecordedProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [PythonPeer.python, script.path, url, scenario, "--timeout", "30"] + arguments,
            standardInput: FileHandle.nullDevice)
        let process = child.process
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            process.terminate()
        }
        let (status, output, errors) = await child.waitForExit()
        watchdog.cancel()
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        return Result(status: status, lines: lines, stderr: errors)
    }
}

/// Our server against an independent client implementation: Python `websockets` (PyPI), driven
/// by Scripts/python/interop_client.py on loopback.
@Suite("Server interop: Python websockets client", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage), .serialized)
struct ServerInteropTests {
    @Test(
        "§5.6: text, binary, empty and 1 MiB messages from the Python client echo intact (with and without compression)",
        arguments: ["on", "off"])
    func echo(compression: String) async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in
            let result = try await PythonClient.run(server.url(path: "/echo"), "echo", ["--compression", compression])
            #expect(result.passed, "\(result)")
            #expect(
                result.values("ECHO") == [
                    "text 13 ok", "binary 3 ok", "text 0 ok", "binary 0 ok",
                    "binary 1048576 ok", "text 1048576 ok",
                ])
            // The Python client closed with 1000 "done"; our server echoed the code (§5.5.1).
            #expect(result.values("CLOSE_RCVD") == ["1000 "])

            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            #expect(connection.request.path == "/echo")
            #expect(connection.messages.map(\.kind) == [.text, .binary, .text, .binary, .binary, .text])
            #expect(connection.messages[4] == .binary((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
            #expect(connection.messages[5] == .text(String(repeating: "ü", count: 1 << 19)))
            #expect(connection.streamError == nil)
            #expect(connection.closeStatus == WebSocketCloseStatus(code: .normalClosure, reason: "done"))
            #expect((connection.compression != nil) == (compression == "on"))
        }
    }

    @Test("§5.4: messages the Python client sends as several frames reach the handler whole")
    func fragmented() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in
            let result = try await PythonClient.run(server.url(), "fragmented")
            #expect(result.passed, "\(result)")
            #expect(result.values("FRAGMENTED") == ["text 3 14 ok", "binary 3 3 ok", "binary 16 1048576 ok", "text 3 30 ok"])

            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            // One message per send(), however many frames it took.
            #expect(connection.messages.count == 4)
            #expect(connection.messages.first == .text("fragmented ✓"))
            #expect(connection.messages.dropFirst().first == .binary([1, 2, 3]))
            #expect(
                connection.messages.dropFirst(2).first
                    == .binary((0..<16).flatMap { [UInt8](repeating: UInt8($0), count: 64 * 1024) }))
            #expect(connection.messages.last == .text("only the middle frame has data"))
        }
    }

    @Test(
        "§4.2.2 (/subprotocol/): the server selects the first of its subprotocols that the Python client offers",
        arguments: [
            (["chat.v1", "chat.v2"], "chat.v2"),  // the server's preference wins over the client's order
            (["chat.v1"], "chat.v1"),
            (["other"], "-"),  // nothing in common: no Sec-WebSocket-Protocol, the client accepts that
            ([], "-"),
        ])
    func subprotocol(offered: [String], expected: String) async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log) { $0.subprotocols = ["chat.v2", "chat.v1"] }) { server in
            let result = try await PythonClient.run(server.url(), "subprotocol", offered.flatMap { ["--subprotocol", $0] })
            #expect(result.passed, "\(result)")
            #expect(result.values("SUBPROTOCOL") == [expected])
            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            #expect(connection.request.protocols == offered)
            #expect(connection.negotiatedProtocol == (expected == "-" ? nil : expected))
        }
    }

    @Test(
        "§7.1.2/§5.5.1: a close the Python client starts reaches the handler's closeStatus, and the server echoes the code",
        arguments: [(UInt16(1000), ""), (4000, "client reason"), (4999, "bye ✓"), (3000, "")])
    func clientCloses(code: UInt16, reason: String) async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in
            let result = try await PythonClient.run(server.url(), "close", ["--close-code", "\(code)", "--close-reason", reason])
            #expect(result.passed, "\(result)")
            #expect(result.values("CLOSE_RCVD") == ["\(code) "])
            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            #expect(connection.streamError == nil)  // the messages stream finished normally
            #expect(connection.closeStatus == WebSocketCloseStatus(code: CloseCode(code), reason: reason))
        }
    }

    @Test("§7.4.1: shutDown closes with 1001 going away, and the Python client sees 1001", .timeLimit(.minutes(1)))
    func shutDownGoingAway() async throws {
        let log = ServerLog()
        let server = try await WebSocketServer.logging(log)
        let client = Task { try await PythonClient.run(server.url(), "await-close") }
        // The client sends "ready" once connected: then the server has registered the connection.
        #expect(await log.wait(timeout: .seconds(20)) { $0.received == 1 })
        let clock = ContinuousClock()
        let started = clock.now
        await server.shutDown(timeout: .seconds(60))
        #expect(clock.now - started < .seconds(20))  // the client answered the close: no wait for the timeout
        let result = try await client.value
        #expect(result.passed, "\(result)")
        #expect(result.values("READY") == [""])
        #expect(result.values("CLOSED") == ["1001 server shutting down"])
        #expect(await log.wait { $0.finished.count == 1 })
        #expect(log.finished.first?.streamError == nil)
        #expect(log.finished.first?.closeStatus?.code == .goingAway)  // websockets echoes the code
    }

    @Test("§5.5.2/§5.5.3: pings from the Python client are answered with pongs and never surface as messages")
    func pings() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in
            let result = try await PythonClient.run(server.url(), "ping")
            #expect(result.passed, "\(result)")
            #expect(result.values("PONG") == ["73776966743f ok", "random ok"])
            #expect(await log.wait { $0.finished.count == 1 })
            #expect(log.finished.first?.messages == [.text("after the pings")])
        }
    }

    @Test(
        "RFC 7692 §7.1: websockets' default permessage-deflate offer is accepted with 12-bit windows; large messages round-trip compressed"
    )
    func compressionNegotiated() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in  // compression: .serverDefault
            let result = try await PythonClient.run(server.url(), "compression")
            #expect(result.passed, "\(result)")
            #expect(result.values("EXTENSIONS") == ["permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"])
            #expect(result.values("DEFLATE") == ["12 12"])
            #expect(result.values("ECHO").count == 5)
            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            #expect(connection.compression == PerMessageDeflate.Parameters(serverMaxWindowBits: 12, clientMaxWindowBits: 12))
            let stats = connection.statistics.compression
            #expect(stats.uncompressedBytesReceived > 3 << 20)
            #expect(stats.compressedBytesReceived * 4 < stats.uncompressedBytesReceived)
            #expect(stats.compressedBytesSent * 4 < stats.uncompressedBytesSent)
        }
    }

    @Test("RFC 7692 §5: with compression = .disabled the offer is declined and messages flow uncompressed")
    func compressionDeclined() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log) { $0.compression = .disabled }) { server in
            let result = try await PythonClient.run(server.url(), "compression")
            #expect(result.passed, "\(result)")
            #expect(result.values("EXTENSIONS") == ["-"])
            #expect(result.values("DEFLATE") == ["-"])
            #expect(result.values("ECHO").count == 5)
            #expect(await log.wait { $0.finished.count == 1 })
            let connection = try #require(log.finished.first)
            #expect(connection.request.extensions?.contains("permessage-deflate") == true)  // it was offered
            #expect(connection.compression == nil)
            #expect(connection.statistics.compression.compressedBytesReceived == 0)
            #expect(connection.statistics.bytesReceived > 3 << 20)
        }
    }
}
