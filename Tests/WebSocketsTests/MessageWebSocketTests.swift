import Testing
import WebSocketTesting

@testable import WebSockets

/// The status of the error `body` throws (`nil` when it does not throw a ``WebSocketError``).
func thrownStatus(_ body: () async throws -> Void) async -> WebSocketError.Status? {
    do {
        try await body()
        return nil
    } catch {
        return (error as? WebSocketError)?.status
    }
}

/// Collects every message until the stream ends; returns them and how it ended.
func drain(_ socket: MessageWebSocket) async -> (messages: [Message], error: WebSocketError.Status?) {
    var messages: [Message] = []
    do {
        for try await message in socket.messages { messages.append(message) }
        return (messages, nil)
    } catch {
        return (messages, (error as? WebSocketError)?.status ?? .operationCanceled)
    }
}

/// `MessageWebSocket` over an in-memory pair against the scripted peer: real handshake and frame
/// bytes, no network.
@Suite("MessageWebSocket over an in-memory transport")
struct MessageWebSocketTests {
    @Test("messages flow both ways; the peer sees unmasked payloads (RFC 6455 §5.3)")
    func messagesFlowBothWays() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await socket.send(text: "hello")
        try await socket.send([1, 2, 3])
        #expect(try await peer.nextMessage() == .text("hello"))
        #expect(try await peer.nextMessage() == .binary([1, 2, 3]))
        try await peer.send(.text("welcome"))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("welcome"))
    }

    @Test("§7.1.2: a client-initiated close completes when the peer answers; the stream finishes normally")
    func clientInitiatedClose() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        async let peerSaw = peer.nextClose()
        try await socket.close(code: .normalClosure, reason: "bye")
        #expect(try await peerSaw == WebSocketCloseStatus(code: .normalClosure, reason: "bye"))
        let ending = await drain(socket)
        #expect(ending.error == nil)
        #expect(await socket.closeStatus?.code == .normalClosure)
        #expect(await socket.state == .closed)
        #expect(peer.transport.isClosed == false)  // the peer ended its side itself (§7.1.1)
    }

    @Test("§5.5.1: a server-initiated close is echoed; the stream finishes normally with the server's status")
    func serverInitiatedClose() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.send(.text("last"))
        try await peer.close(code: CloseCode(4000), reason: "done")
        // The peer reads the echo and then ends the stream (§7.1.1), which ends `messages`.
        async let echo = peer.nextClose()
        let ending = await drain(socket)
        #expect(ending.messages == [.text("last")])
        #expect(ending.error == nil)
        #expect(await socket.closeStatus == WebSocketCloseStatus(code: CloseCode(4000), reason: "done"))
        #expect(try await echo.code == CloseCode(4000))
    }

    @Test("§7.1.5: a connection dropped without a close handshake throws connectionAborted, no close status")
    func abruptDropThrowsConnectionAborted() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.send(.text("before"))
        await peer.dropConnection()
        let ending = await drain(socket)
        #expect(ending.messages == [.text("before")])
        #expect(ending.error == .connectionAborted)
        #expect(await socket.closeStatus == nil)
    }

    @Test("a peer that stops mid-frame and leaves is an abort, not a message")
    func peerStopsMidFrame() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.sendRaw([0x82, 0x7E, 0x01, 0x00, 1, 2, 3])  // announces 256 bytes, sends 3
        await peer.endStream()
        let ending = await drain(socket)
        #expect(ending.messages.isEmpty)
        #expect(ending.error == .connectionAborted)
    }

    @Test("§5.5.2: pings are answered with a pong carrying the same payload")
    func pingIsAnsweredWithPong() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.ping([9, 8, 7])
        #expect(try await peer.nextEvent() == .pong([9, 8, 7]))
        withExtendedLifetime(socket) {}
    }

    @Test("a message over maxMessageSize fails with 1009 and the stream throws messageTooBig")
    func oversizedMessageFailsWith1009() async throws {
        var control = MessageWebSocketControl()
        control.maxMessageSize = 10
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        try await peer.send(.binary([UInt8](repeating: 0, count: 10)))
        try await peer.send(.binary([UInt8](repeating: 0, count: 11)))
        let ending = await drain(socket)
        #expect(ending.messages.count == 1)
        #expect(ending.error == .messageTooBig)
        #expect(try await peer.nextClose().code == .messageTooBig)
    }

    @Test(
        "protocol violations by the server fail the connection with the right code",
        arguments: [
            ("masked frame from a server (§5.1)", [UInt8]([0x81, 0x81, 1, 2, 3, 4, 0x41]), UInt16(1002)),
            ("reserved opcode (§5.2)", [0x83, 0x00], 1002),
            ("oversized control frame (§5.5)", [0x89, 0x7E, 0x00, 0x7E] + [UInt8](repeating: 0, count: 126), 1002),
            ("invalid UTF-8 (§8.1)", [0x81, 0x02, 0xC0, 0x80], 1007),
            (
                "64-bit length claiming exabytes (§5.2, limit)", [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                1009
            ),
        ])
    func serverViolations(_ name: String, _ bytes: [UInt8], _ code: UInt16) async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.sendRaw(bytes)
        let ending = await drain(socket)
        let expected: WebSocketError.Status = code == 1009 ? .messageTooBig : .protocolViolation(CloseCode(code))
        #expect(ending.error == expected, "\(name)")
        #expect(try await peer.nextClose().code == CloseCode(code), "\(name)")
    }

    @Test("sending after close throws closed; before connect throws invalidState")
    func sendOutsideOpenStateThrows() async throws {
        let idle = MessageWebSocket()
        #expect(await thrownStatus { try await idle.send(text: "early") } == .invalidState)
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        async let answered = peer.nextClose()
        try await socket.close(code: .normalClosure)
        _ = try await answered
        #expect(await thrownStatus { try await socket.send(text: "late") } == .closed)
    }

    @Test("close codes that may not be sent are rejected with invalidArgument (RFC 6455 §7.4)")
    func invalidCloseCodeIsRejected() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        #expect(await thrownStatus { try await socket.close(code: .noStatusReceived) } == .invalidArgument)
        #expect(
            await thrownStatus { try await socket.close(code: .normalClosure, reason: String(repeating: "r", count: 124)) }
                == .invalidArgument)
        #expect(await socket.state == .open)
        withExtendedLifetime(peer) {}
    }

    @Test("a peer that never answers the close: close returns after closeTimeout and drops the connection")
    func unansweredCloseTimesOut() async throws {
        var control = MessageWebSocketControl()
        control.closeTimeout = .milliseconds(200)
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        await peer.setRespondsAutomatically(false)
        let clock = ContinuousClock()
        let started = clock.now
        try await socket.close(code: .normalClosure)
        #expect(clock.now - started >= .milliseconds(150))
        let ending = await drain(socket)
        #expect(ending.error == .timeout)
        #expect(await socket.state == .closed)
    }

    @Test("fragments sent with sendNonfinalFrame/sendFinalFrame arrive as one message of messageType")
    func fragmentedSend() async throws {
        var control = MessageWebSocketControl()
        control.messageType = .text
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        try await socket.sendNonfinalFrame(Array("Hel".utf8))
        #expect(await thrownStatus { try await socket.send(text: "interleaved") } == .invalidArgument)
        try await socket.sendNonfinalFrame([0xE2, 0x82])  // a UTF-8 sequence split across frames
        try await socket.sendFinalFrame([0xAC])
        #expect(try await peer.nextMessage() == .text("Hel€"))
        await socket.setMessageType(.binary)
        try await socket.send([0xFF])
        #expect(try await peer.nextMessage() == .binary([0xFF]))
    }

    @Test("subprotocol negotiation: the server's choice is reported (RFC 6455 §4.1)")
    func subprotocolIsReported() async throws {
        var control = MessageWebSocketControl()
        control.supportedProtocols = ["chat.v2", "chat.v1"]
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control, subprotocol: "chat.v1")
        #expect(await socket.information.negotiatedProtocol == "chat.v1")
        #expect(await peer.request?.protocols == ["chat.v2", "chat.v1"])
    }

    @Test("request headers reach the server; handshake-owned headers and extensions are refused")
    func requestHeaders() async throws {
        let socket = MessageWebSocket()
        try await socket.setRequestHeader("Authorization", "Bearer abc")
        #expect(
            await thrownStatus { try await socket.setRequestHeader("Sec-WebSocket-Extensions", "permessage-deflate") }
                == .invalidArgument)
        #expect(await thrownStatus { try await socket.setRequestHeader("Upgrade", "h2c") } == .invalidArgument)
        #expect(await thrownStatus { try await socket.setRequestHeader("Bad Name", "x") } == .invalidArgument)
        #expect(await thrownStatus { try await socket.setRequestHeader("X-Ok", "line\r\nbreak") } == .invalidArgument)
        let (client, server) = InMemoryTransport.makePair()
        let peer = MockWebSocketServer(transport: server)
        async let accepted: Void = peer.acceptHandshake()
        try await socket.connect(to: "ws://mock.test/path?q=1", over: client)
        try await accepted
        let request = try #require(await peer.request)
        #expect(request.headers.first("Authorization") == "Bearer abc")
        #expect(request.path == "/path")
        #expect(await thrownStatus { try await socket.setRequestHeader("X-Late", "1") } == .invalidState)
        #expect(await thrownStatus { try await socket.configure { $0.maxMessageSize = 1 } } == .invalidState)
    }

    @Test("empty messages are delivered as real messages")
    func emptyMessagesAreDelivered() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await peer.send(.text(""))
        try await peer.send(.binary([]))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text(""))
        #expect(try await iterator.next() == .binary([]))
    }

    @Test("bytes split into 1-byte pieces by the network still form the same messages")
    func splitDeliveryIsReassembled() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        peer.transport.faults = .init(splitWritesInto: 1)
        try await peer.send(.text("fragmented delivery ✓"))
        try await peer.send(.binary(Array(0..<200)))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("fragmented delivery ✓"))
        #expect(try await iterator.next() == .binary(Array(0..<200)))
    }

    @Test("the reader stops reading while maxPendingMessages wait unconsumed, and loses nothing")
    func receiveBackpressure() async throws {
        var control = MessageWebSocketControl()
        control.maxPendingMessages = 4
        let (socket, peer, client) = try await connectedOverMemory(control: control)
        for index in 0..<40 { try await peer.send(.binary([UInt8(index)] + [UInt8](repeating: 0, count: 99))) }
        // The reader stops once maxPendingMessages wait unconsumed (and never without backpressure).
        try await awaitState("the reader pauses with 4 messages pending") { await socket.waitUntilReaderPauses() }
        // Each message is its own segment of 102 bytes; far fewer than 40 were read.
        #expect(client.bytesRead < 20 * 102)
        var received: [UInt8] = []
        var iterator = socket.messages.makeAsyncIterator()
        for _ in 0..<40 {
            guard case .binary(let bytes) = try await iterator.next() else { break }
            received.append(bytes[0])
        }
        #expect(received == Array(0..<40))
    }

    @Test("cancelling the task that consumes messages closes the connection with 1001")
    func cancellingConsumerCloses() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        let consumer = Task {
            for try await _ in socket.messages {}
        }
        // The consumer is parked in `next()`, waiting for a message, when it is cancelled.
        try await awaitState("the consumer waits for a message") { await socket.waitUntilConsumerWaits() }
        consumer.cancel()
        _ = await consumer.result
        #expect(try await peer.nextClose().code == .goingAway)
    }

    @Test("dropping the last reference to the socket closes the connection with 1001")
    func droppingTheSocketCloses() async throws {
        var socket: MessageWebSocket?
        let peer: MockWebSocketServer
        (socket, peer) = try await MockWebSocketServer.connectedPair()
        #expect(socket != nil)
        socket = nil
        #expect(try await peer.nextClose().code == .goingAway)
    }
}
