import Testing
import WebSocketCore

@testable import WebSockets

/// Per-connection memory: a connection owns no read buffer. Over TCP (and TLS over TCP) its
/// reader waits holding nothing and reads into the event loop's one buffer, lent only for the
/// synchronous span between the non-blocking read and the protocol core (README, "Scale and soak").
@Suite("Read memory")
struct ReadMemoryTests {
    /// Client frames for `payloads` (masked), as one buffer: written at once, they arrive as one chunk.
    private static func clientFrames(_ payloads: [[UInt8]]) throws -> [UInt8] {
        var core = ConnectionCore(role: .client)
        for payload in payloads {
            try payload.withUnsafeBytes { try core.send($0, kind: .binary) }
        }
        return core.takeOutput().flatMap { $0 }
    }

    @Test("over TCP neither side owns a read buffer: idle, or after messages larger than one read")
    func tcpConnectionsOwnNoReadBuffer() async throws {
        let (clientTCP, serverTCP, listener) = try await tcpPair()
        defer { listener.close() }
        let clientInbox = MessageInbox()
        let serverInbox = MessageInbox()
        let client = await WebSocketConnection.started(clientTCP, .client, clientInbox)
        let server = await WebSocketConnection.started(serverTCP, .server, serverInbox)
        #expect(await client.waitUntilTransportParked(.readable))
        #expect(await server.waitUntilTransportParked(.readable))
        #expect(await client.readMemoryHeld == 0, "an idle client owns read memory")
        #expect(await server.readMemoryHeld == 0, "an idle server connection owns read memory")

        let large = (0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0) }  // several 64 KiB reads
        var serverMessages = serverInbox.makeStream().makeAsyncIterator()
        var clientMessages = clientInbox.makeStream().makeAsyncIterator()
        try await client.send(large, kind: .binary)
        #expect(try await serverMessages.next() == .binary(large))
        try await server.send(large, kind: .binary)
        #expect(try await clientMessages.next() == .binary(large))
        #expect(await client.readMemoryHeld == 0)
        #expect(await server.readMemoryHeld == 0)

        try await client.close(code: .normalClosure, reason: "")
        await server.waitUntilFinalized()
    }

    @Test("backpressure: the rest of a chunk waits in the connection's memory until there is room, then is released")
    func unreadBytesAreHeldOnlyUnderBackpressure() async throws {
        let (clientTCP, serverTCP, listener) = try await tcpPair()
        defer { listener.close() }
        let inbox = MessageInbox(highWater: 1)
        let server = await WebSocketConnection.started(serverTCP, .server, inbox)
        let payloads: [[UInt8]] = [[1], [2, 2], [3, 3, 3]]
        // One write: the server's first read takes all three frames, and room for one message.
        try await clientTCP.write([try Self.clientFrames(payloads)], isolation: nil)
        await inbox.waitUntilProducerPauses()
        #expect(await server.readMemoryHeld > 0, "the two frames after the first must be kept")
        var messages = inbox.makeStream().makeAsyncIterator()
        for payload in payloads {
            #expect(try await messages.next() == .binary(payload))
        }
        // The last message came out of the kept bytes, which were released as it was fed to the core.
        #expect(await server.readMemoryHeld == 0)
        clientTCP.close()
        await server.waitUntilFinalized()
    }
}
