import Testing
import WebSocketCore
import WebSocketServer

@testable import WebSockets

/// Echoes the client's bytes back as they arrive, through the server's stream view: each piece
/// read is written as one binary message.
let streamEchoHandler: WebSocketServer.StreamHandler = { socket in
    for try await chunk in socket.input { try await socket.write(chunk) }
}

/// `StreamWebSocket` against our `WebSocketServer` over real loopback TCP, with the server's
/// stream view (`ServerStreamWebSocket`) on the other end.
@Suite("StreamWebSocket over loopback TCP", .timeLimit(.minutes(2)))
struct StreamWebSocketLoopbackTests {
    @Test(
        "100 MiB both ways through the stream views, in pieces of at most 64 KiB, with bounded read memory")
    func hundredMebibytesBothWays() async throws {
        try await withTeardown(await WebSocketServer.startStreams(handler: streamEchoHandler)) { server in
            let socket = StreamWebSocket()
            try await socket.connect(to: server.url())
            let writes = Sanitizers.active ? 20 : 100  // see Sanitizers
            let size = writes << 20  // writes of 1 MiB
            let writer = Task {
                for index in 0..<writes {
                    try await socket.write([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size / writes))
                }
            }
            var total = 0
            var largest = 0
            var heldMost = 0
            var inOrder = true
            while total < size {
                let chunk = try await socket.read(upTo: .max)
                #expect(!chunk.isEmpty)
                // Byte i of the stream belongs to write i / (size / writes), whose bytes all equal its index.
                if chunk.first != UInt8(truncatingIfNeeded: total / (size / writes)) { inOrder = false }
                total += chunk.count
                largest = max(largest, chunk.count)
                heldMost = max(heldMost, await socket.readMemoryHeld)
            }
            try await writer.value
            #expect(total == size)
            #expect(inOrder)
            #expect(largest <= 64 * 1024, "a piece is at most one read's worth: 1 MiB messages are never assembled")
            #expect(heldMost <= 64 * 1024, "the connection holds at most one read's worth of unread bytes")
            try await socket.close(code: .normalClosure, reason: "done")
            #expect(await drainStream(socket.input).error == nil)
            let information = await socket.information
            #expect(information.statistics.bytesReceived > size)
            #expect(information.roundTripTimeStatistics != nil)
        }
    }

    @Test("each write reaches a message-level server as one binary message")
    func writesAreMessagesAtAMessageServer() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                for try await message in socket.messages {
                    guard case .binary(let bytes) = message else { return }
                    try await socket.send(.binary(Array("\(bytes.count);".utf8)))  // the size of each message seen
                }
            }
        ) { server in
            let socket = StreamWebSocket()
            try await socket.connect(to: server.url())
            try await socket.write([UInt8](repeating: 1, count: 70_000))
            try await socket.write([2, 3, 4])
            var reply: [UInt8] = []
            while reply.count < "70000;3;".utf8.count { reply += try await socket.read(upTo: 100) }
            #expect(String(decoding: reply, as: UTF8.self) == "70000;3;")
            try await socket.close(code: .normalClosure)
        }
    }

    @Test("a text message from a message-level server fails the stream with 1003 (RFC 6455 §7.4.1)")
    func textFromTheServerIsRefused() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.send(text: "text")
                for try await _ in socket.messages {}
            }
        ) { server in
            let socket = StreamWebSocket()
            try await socket.connect(to: server.url())
            let ending = await drainStream(socket.input)
            #expect(ending.bytes.isEmpty)
            #expect(ending.error == .protocolViolation(.unsupportedData))
        }
    }

    @Test("the server's stream view refuses a text message with 1003 (RFC 6455 §7.4.1) and its read throws")
    func serverViewRefusesText() async throws {
        let outcome = Recorder()
        try await withTeardown(
            await WebSocketServer.startStreams { socket in
                do {
                    for try await chunk in socket.input { try await socket.write(chunk) }
                } catch let error as WebSocketError {
                    outcome.append(.text("\(error.status)"))
                }
            }
        ) { server in
            let client = MessageWebSocket()
            try await client.connect(to: server.url())
            try await client.send([1, 2])
            var iterator = client.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .binary([1, 2]))
            try await client.send(text: "text")
            #expect(try await iterator.next() == nil, "the server closed the handshake cleanly")
            #expect(await client.closeStatus?.code == .unsupportedData)
            #expect(await outcome.messages(count: 1) == [.text("protocolViolation(1003)")])
        }
    }

    @Test("a client close ends the server view's input normally, with its closeStatus set")
    func serverViewSeesTheClose() async throws {
        let status = Recorder()
        try await withTeardown(
            await WebSocketServer.startStreams { socket in
                var bytes: [UInt8] = []
                for try await chunk in socket.input { bytes += chunk }
                let close = await socket.closeStatus
                status.append(.text("\(bytes.count) \(close?.code.rawValue ?? 0) \(close?.reason ?? "")"))
            }
        ) { server in
            let socket = StreamWebSocket()
            try await socket.connect(to: server.url())
            try await socket.write([1, 2, 3])
            try await socket.write([4])
            try await socket.close(code: CloseCode(4001), reason: "enough")
            #expect(await status.messages(count: 1) == [.text("4 4001 enough")])
        }
    }
}

/// The stream socket against Python `websockets` (see ``PythonPeer`` for how these are enabled).
@Suite(
    "StreamWebSocket interop with Python websockets", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage), .serialized,
    .timeLimit(.minutes(2)))
struct StreamWebSocketInteropTests {
    @Test(
        "8 MiB written in 256 KiB writes echo back intact through the Python peer",
        arguments: InteropTests.peers)
    func largeBinaryEcho(_ script: String) async throws {
        let peer = try await PythonPeer(script: script)
        let socket = StreamWebSocket()
        try await socket.connect(to: peer.url())
        let payload = (0..<((Sanitizers.active ? 2 : 8) << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let writer = Task {
            for start in stride(from: 0, to: payload.count, by: 256 << 10) {
                try await socket.write(payload[start..<(start + (256 << 10))])
            }
        }
        var received: [UInt8] = []
        received.reserveCapacity(payload.count)
        while received.count < payload.count { received += try await socket.read(upTo: .max) }
        try await writer.value
        #expect(received == payload)
        try await socket.close(code: .normalClosure, reason: "done")
        #expect(await drainStream(socket.input).error == nil)
        #expect(await socket.closeStatus?.code == .normalClosure)
    }
}

/// `websocket URL --stream` (a contract: raw bytes on stdout, diagnostics on stderr).
@Suite("websocket --stream", .serialized)
struct StreamCLITests {
    @Test("--stream pipes stdin to the server and the echo to stdout unchanged; EOF closes with 1000")
    func streamRoundTrip() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let input = "first line\nsecond, no newline at the end"
            let result = try await runCLI([server.url(), "--stream"], input: input) { $0 == input }
            #expect(result.stdout == input)
            #expect(result.stderr == "closed 1000 \n")
            #expect(result.status == 0)
        }
    }

    @Test("--stream exits 1 with an error line when the server sends text")
    func streamRefusesText() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.send(text: "text")
                for try await _ in socket.messages {}
            }
        ) { server in
            let result = try await runCLI([server.url(), "--stream"], closeInputWhen: { _ in false })
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix("error protocolViolation(1003): "))
            #expect(result.status == 1)
        }
    }
}
