import Testing
import WebSocketCore

@testable import WebSocketServer
@testable import WebSockets

/// The IIS-style fragment context (`IWebSocketContext`) over loopback TCP: reads in the caller's
/// buffer size as bytes arrive, writes piece by piece, the close and cancellation contract.
@Suite("WebSocketFragmentContext", .timeLimit(.minutes(1)))
struct FragmentContextTests {
    /// A listener, a connected `MessageWebSocket` client and the server's fragment context.
    static func connect(
        _ configure: (inout WebSocketServerConfiguration) -> Void = { _ in }
    ) async throws -> (WebSocketListener, MessageWebSocket, WebSocketFragmentContext) {
        var configuration = WebSocketServerConfiguration()
        configure(&configuration)
        let listener = try await WebSocketListener.bind(configuration: configuration)
        let client = MessageWebSocket()
        try await client.configure { $0.compression = .disabled }
        let url = listener.url()
        let connecting = Task { try await client.connect(to: url) }
        var upgrades = listener.makeAsyncIterator()
        let context = try await #require(await upgrades.next()).acceptFragments()
        try await connecting.value
        return (listener, client, context)
    }

    /// A raw client (no reading unless asked) and the server's fragment context.
    static func connectRaw(
        _ configure: (inout WebSocketServerConfiguration) -> Void = { _ in }
    ) async throws -> (WebSocketListener, RawWebSocketClient, WebSocketFragmentContext) {
        var configuration = WebSocketServerConfiguration()
        configure(&configuration)
        let listener = try await WebSocketListener.bind(configuration: configuration)
        let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
        var upgrades = listener.makeAsyncIterator()
        let context = try await #require(await upgrades.next()).acceptFragments()
        #expect(try await raw.readResponseHead().hasPrefix("HTTP/1.1 101 "))
        return (listener, raw, context)
    }

    /// ``connect(_:)``, then `body` with the client and the server's context, then the listener's
    /// shutdown, awaited whether `body` returned or threw.
    @discardableResult
    static func withConnection<T>(
        _ configure: (inout WebSocketServerConfiguration) -> Void = { _ in },
        _ body: (MessageWebSocket, WebSocketFragmentContext) async throws -> T
    ) async throws -> T {
        try await withTeardown(await connect(configure), tearDown: { listener, _, _ in await listener.shutDown() }) {
            _, client, context in
            try await body(client, context)
        }
    }

    /// ``connectRaw(_:)``, then `body` with the raw client and the server's context, then the raw
    /// client's close and the listener's shutdown, awaited. The raw client closes first: it never
    /// answers the server's close, which would hold the shutdown for its whole timeout.
    @discardableResult
    static func withRawConnection<T>(
        _ configure: (inout WebSocketServerConfiguration) -> Void = { _ in },
        _ body: (RawWebSocketClient, WebSocketFragmentContext) async throws -> T
    ) async throws -> T {
        try await withTeardown(
            await connectRaw(configure),
            tearDown: { listener, raw, _ in
                raw.close()
                await listener.shutDown()
            }
        ) { _, raw, context in
            try await body(raw, context)
        }
    }

    /// Reads one whole message piece by piece with a `size`-byte buffer.
    static func readMessage(_ context: WebSocketFragmentContext, bufferSize size: Int) async throws
        -> (bytes: [UInt8], reads: [FragmentReadResult])
    {
        var buffer = [UInt8](repeating: 0, count: size)
        var bytes: [UInt8] = []
        var reads: [FragmentReadResult] = []
        while true {
            let read = try await context.readFragment(into: &buffer)
            reads.append(read)
            bytes += buffer[..<read.byteCount]
            if read.isFinalFragment || read.isConnectionClose { return (bytes, reads) }
        }
    }

    static func status(_ error: any Error) -> WebSocketError.Status? {
        (error as? WebSocketError)?.status
    }

    @Test("a message sent in many frames is read in buffer-sized pieces; only the last is final (§5.4)")
    func manyFrames() async throws {
        try await Self.withConnection { client, context in
            let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            for start in stride(from: 0, to: payload.count - 10_000, by: 10_000) {
                try await client.sendNonfinalFrame(Array(payload[start..<(start + 10_000)]))
            }
            try await client.sendFinalFrame(Array(payload[90_000...]))
            let (bytes, reads) = try await Self.readMessage(context, bufferSize: 4096)
            #expect(bytes == payload)
            #expect(reads.allSatisfy { $0.byteCount <= 4096 && !$0.isUTF8 && !$0.isConnectionClose })
            #expect(reads.filter(\.isFinalFragment).count == 1)
            #expect(reads.count >= 25)  // at least 100,000 / 4,096 pieces
            try await client.close()
        }
    }

    @Test("text pieces carry the UTF-8 flag; a buffer smaller than a frame splits it (IIS pcbData)")
    func smallBufferSplitsText() async throws {
        try await Self.withConnection { client, context in
            try await client.send(text: "héllo wörld")
            var buffer = [UInt8](repeating: 0, count: 3)
            var text: [UInt8] = []
            var finals: [Bool] = []
            while finals.last != true {
                let read = try await context.readFragment(into: &buffer)
                #expect(read.isUTF8)
                #expect(read.byteCount <= 3)
                text += buffer[..<read.byteCount]
                finals.append(read.isFinalFragment)
            }
            #expect(String(decoding: text, as: UTF8.self) == "héllo wörld")
            #expect(finals.count == 5)  // 13 bytes in pieces of at most 3
            try await client.close()
        }
    }

    @Test("an empty message reads as 0 bytes, final, not a close")
    func emptyMessage() async throws {
        try await Self.withConnection { client, context in
            try await client.send([UInt8]())
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(
                try await context.readFragment(into: &buffer)
                    == FragmentReadResult(byteCount: 0, isUTF8: false, isFinalFragment: true, isConnectionClose: false))
            try await client.close()
        }
    }

    @Test("writeFragment sends frames the client assembles into one message; the raw-pointer form too")
    func writeFragments() async throws {
        try await Self.withConnection { client, context in
            #expect(try await context.writeFragment(Array("frag".utf8), isUTF8: true, isFinalFragment: false) == 4)
            #expect(try await context.writeFragment(Array("men".utf8), isUTF8: true, isFinalFragment: false) == 3)
            let tail = Array("ted ✓".utf8)
            // The raw-pointer form, with memory the caller owns across the suspension (as IIS's pData).
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: tail.count, alignment: 1)
            defer { memory.deallocate() }
            memory.copyBytes(from: tail)
            let sent = try await context.writeFragment(UnsafeRawBufferPointer(memory), isUTF8: true, isFinalFragment: true)
            #expect(sent == tail.count)
            _ = try await context.writeFragment([1, 2, 3], isUTF8: false, isFinalFragment: true)
            var messages = client.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("fragmented ✓"))
            #expect(try await messages.next() == .binary([1, 2, 3]))
            try await client.close()
        }
    }

    @Test("writeFragment refuses text that is not UTF-8 and a type change inside a message")
    func writeMisuse() async throws {
        try await Self.withConnection { client, context in
            await #expect { _ = try await context.writeFragment([0xFF], isUTF8: true, isFinalFragment: true) } throws: {
                Self.status($0) == .invalidArgument
            }
            _ = try await context.writeFragment([1], isUTF8: false, isFinalFragment: false)
            await #expect { _ = try await context.writeFragment(Array("x".utf8), isUTF8: true, isFinalFragment: true) } throws: {
                Self.status($0) == .invalidArgument
            }
            _ = try await context.writeFragment([2], isUTF8: false, isFinalFragment: true)
            var messages = client.messages.makeAsyncIterator()
            #expect(try await messages.next() == .binary([1, 2]))
            try await client.close()
        }
    }

    @Test("full duplex: a read and a write overlap; echoing piece by piece preserves every message")
    func echoPieceByPiece() async throws {
        try await Self.withConnection { client, context in
            let echo = Task {
                var buffer = [UInt8](repeating: 0, count: 1000)
                while true {
                    let read = try await context.readFragment(into: &buffer)
                    if read.isConnectionClose { return }
                    _ = try await context.writeFragment(
                        Array(buffer[..<read.byteCount]), isUTF8: read.isUTF8,
                        isFinalFragment: read.isFinalFragment)
                }
            }
            let messages: [Message] = [
                .text(String(repeating: "ä", count: 5000)), .binary(Array(repeating: 9, count: 300_000)), .text(""),
            ]
            var iterator = client.messages.makeAsyncIterator()
            for message in messages {
                try await client.send(message)
                #expect(try await iterator.next() == message)
            }
            try await client.close(code: .normalClosure)
            try await echo.value
        }
    }

    @Test("the client's close is reported as isConnectionClose, with its code and reason in closeStatus (IIS GetCloseStatus)")
    func clientClose() async throws {
        try await Self.withConnection { client, context in
            try await client.close(code: CloseCode(4001), reason: "bye")
            var buffer = [UInt8](repeating: 0, count: 8)
            let read = try await context.readFragment(into: &buffer)
            #expect(read.isConnectionClose && read.byteCount == 0)
            #expect(await context.closeStatus == WebSocketCloseStatus(code: CloseCode(4001), reason: "bye"))
            #expect(try await context.readFragment(into: &buffer).isConnectionClose)  // and again
            // The server answered the close already (§5.5.1); sending one now does nothing.
            try await context.sendConnectionClose(code: .normalClosure)
            #expect(await client.closeStatus?.code == CloseCode(4001))
        }
    }

    @Test("sendConnectionClose: the client sees the code, and the next read reports the close")
    func serverClose() async throws {
        try await Self.withConnection { client, context in
            try await context.sendConnectionClose(code: .goingAway, reason: "maintenance")
            let ending = await drain(client)
            #expect(ending.error == nil)
            #expect(await client.closeStatus == WebSocketCloseStatus(code: .goingAway, reason: "maintenance"))
            var buffer = [UInt8](repeating: 0, count: 8)
            #expect(try await context.readFragment(into: &buffer).isConnectionClose)
            #expect(await context.closeStatus?.code == .goingAway)  // the client echoed it
            await #expect { _ = try await context.writeFragment([1], isUTF8: false, isFinalFragment: true) } throws: {
                Self.status($0) == .closed
            }
        }
    }

    @Test("pings are answered automatically and never surfaced (§5.5.2, IIS §14.3)")
    func pingsAreNotSurfaced() async throws {
        try await Self.withRawConnection { raw, context in
            try await raw.send { core in
                try core.sendPing([7, 7])
                try core.send(binary: UnsafeRawBufferPointer(start: nil, count: 0))
            }
            var buffer = [UInt8](repeating: 0, count: 8)
            let read = try await context.readFragment(into: &buffer)
            #expect(read == FragmentReadResult(byteCount: 0, isUTF8: false, isFinalFragment: true, isConnectionClose: false))
            #expect(try await raw.nextEvent() == .pong([7, 7]))
        }
    }

    @Test("cancelOutstandingIO completes a pending read and a blocked write with operationCanceled before it returns")
    func cancelOutstandingIO() async throws {
        // The raw client never reads, so a big write fills the socket buffers and stays pending.
        try await Self.withRawConnection({ $0.outboundBufferSize = 64 * 1024 }) { raw, context in
            let read = Task {
                var buffer = [UInt8](repeating: 0, count: 16)
                return try await context.readFragment(into: &buffer)
            }
            let write = Task {
                // 64 MiB in one frame: far more than the socket buffers hold, so it stays pending.
                _ = try await context.writeFragment([UInt8](repeating: 0, count: 64 << 20), isUTF8: false, isFinalFragment: false)
            }
            // The read waits for data the client never sends; the write is blocked on the full
            // socket (parked until the client reads, which it never does).
            try await awaitState("the read waits for data") { await context.waitUntilReadAwaitsData() }
            #expect(try await awaitState("the write blocks on the socket") { await context.waitUntilWriteBlocksOnSocket() })
            #expect(context.outstanding == (read: true, write: true))
            await context.cancelOutstandingIO()
            // Both operations are over when it returns: new ones are not refused as "another read
            // (write) is pending" (.invalidState), they fail because the connection is gone.
            var buffer = [UInt8](repeating: 0, count: 16)
            await #expect { _ = try await context.readFragment(into: &buffer) } throws: { Self.status($0) == .operationCanceled }
            await #expect { _ = try await context.writeFragment([1], isUTF8: false, isFinalFragment: true) } throws: {
                Self.status($0) == .closed
            }
            await #expect { _ = try await read.value } throws: { Self.status($0) == .operationCanceled }
            await #expect { try await write.value } throws: { Self.status($0) == .operationCanceled }
            // The TCP connection is gone: the client sees the end of the stream without a close frame.
            while let event = try await raw.nextEvent() {
                if case .aborted = event { break }
                if case .closed = event { Issue.record("a close frame was sent after cancelOutstandingIO") }
            }
        }
    }

    @Test("at most one outstanding read and one outstanding write")
    func oneReadAtATime() async throws {
        try await Self.withConnection { client, context in
            let first = Task {
                var buffer = [UInt8](repeating: 0, count: 16)
                return try await context.readFragment(into: &buffer)
            }
            try await awaitState("the first read waits for data") { await context.waitUntilReadAwaitsData() }
            var buffer = [UInt8](repeating: 0, count: 16)
            await #expect { _ = try await context.readFragment(into: &buffer) } throws: { Self.status($0) == .invalidState }
            // A write while the read is pending is fine (full duplex).
            _ = try await context.writeFragment([5], isUTF8: false, isFinalFragment: true)
            var messages = client.messages.makeAsyncIterator()
            #expect(try await messages.next() == .binary([5]))
            try await client.send([6])
            #expect(try await first.value.byteCount == 1)
            try await client.close()
        }
    }

    @Test("receiveBufferLimit bounds a message's total over its fragments: 1009 (§7.4.1)")
    func limitOverFragments() async throws {
        try await Self.withConnection({ $0.receiveBufferLimit = 1000 }) { client, context in
            try await client.sendNonfinalFrame([UInt8](repeating: 1, count: 600))
            try await client.sendFinalFrame([UInt8](repeating: 2, count: 600))
            var buffer = [UInt8](repeating: 0, count: 4096)
            #expect(try await context.readFragment(into: &buffer).byteCount == 600)
            await #expect { _ = try await context.readFragment(into: &buffer) } throws: { Self.status($0) == .messageTooBig }
            _ = await drain(client)
            #expect(await client.closeStatus?.code == .messageTooBig)
        }
    }

    @Test("invalid UTF-8 in a text message fails with 1007 after the valid pieces were read (§8.1)")
    func invalidUTF8() async throws {
        try await Self.withRawConnection { raw, context in
            // A client core refuses to send invalid text, so the frames are encoded by hand.
            let key = MaskingKey(1, 2, 3, 4)
            let frames =
                FrameEncoder.encode(opcode: .text, isFinal: false, reservedBits: 0, payload: [0x61, 0x62], maskingKey: key)
                + FrameEncoder.encode(opcode: .continuation, isFinal: true, reservedBits: 0, payload: [0xFF], maskingKey: key)
            try await raw.transport.write([frames], isolation: nil)
            var buffer = [UInt8](repeating: 0, count: 16)
            let first = try await context.readFragment(into: &buffer)
            #expect(first.byteCount == 2 && first.isUTF8 && !first.isFinalFragment)
            await #expect { _ = try await context.readFragment(into: &buffer) } throws: {
                Self.status($0) == .protocolViolation(.invalidPayload)
            }
            var closeCode: CloseCode?
            while let event = try await raw.nextEvent() {
                if case .closed(let frame) = event { closeCode = frame.code }
            }
            #expect(closeCode == .invalidPayload)
        }
    }

    @Test("closeTCPConnection before a close handshake drops the connection: the client sees 1006 (§7.1.5)")
    func closeTCPConnection() async throws {
        try await Self.withConnection { client, context in
            await context.closeTCPConnection()
            let ending = await drain(client)
            #expect(ending.error == .connectionAborted)
            var buffer = [UInt8](repeating: 0, count: 16)
            await #expect { _ = try await context.readFragment(into: &buffer) } throws: { Self.status($0) == .closed }
        }
    }

    @Test("permessage-deflate: compressed messages are read inflated")
    func compressed() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let client = MessageWebSocket()  // offers compression by default
            let url = listener.url()
            let connecting = Task { try await client.connect(to: url) }
            var upgrades = listener.makeAsyncIterator()
            let context = try await #require(await upgrades.next()).acceptFragments()
            try await connecting.value
            #expect(context.compression != nil)
            let text = String(repeating: "squeeze me ", count: 10_000)
            try await client.send(text: text)
            let (bytes, reads) = try await Self.readMessage(context, bufferSize: 8192)
            #expect(String(decoding: bytes, as: UTF8.self) == text)
            #expect(reads.allSatisfy { $0.isUTF8 })
            #expect(await context.statistics.compression.compressedBytesReceived < text.utf8.count / 10)
            try await client.close()
        }
    }
}
