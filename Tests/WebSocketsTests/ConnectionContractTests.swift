import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// What the application may rely on while a connection runs: one reader of `messages`, exact
/// receive backpressure, settings that are not lost, sends that do not wait for each other,
/// arguments checked before state.
@Suite("MessageWebSocket contracts")
struct ConnectionContractTests {
    @Test(
        "a second concurrent iteration of messages throws .invalidState at once; the first goes on",
        .timeLimit(.minutes(1)))
    func secondConcurrentIterationFails() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await withThrowingTaskGroup(of: Result<Message?, WebSocketError>.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var iterator = socket.messages.makeAsyncIterator()
                    do { return .success(try await iterator.next()) } catch { return .failure(error as! WebSocketError) }
                }
            }
            // Nothing was sent yet: the first to finish is the iteration that was refused.
            let refused = try await group.next()
            guard case .failure(let error)? = refused else {
                Issue.record("expected .invalidState, got \(String(describing: refused))")
                return
            }
            #expect(error.status == .invalidState)
            try await peer.send(.text("still here"))
            #expect(try await group.next() == .success(.text("still here")))
        }
    }

    @Test("receive backpressure is exact: the reader stops after the message that fills maxPendingMessages")
    func receiveBackpressureIsExact() async throws {
        var control = MessageWebSocketControl()
        control.maxPendingMessages = 4
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        // 100 small messages in one write: one read takes them all from the transport.
        var burst: [UInt8] = []
        for index in 0..<100 { burst += ViolationScenario.frame(0x81, Array("\(index)".utf8), masked: false) }
        try await peer.sendRaw(burst)
        await socket.waitUntilReaderPauses()
        #expect(await socket.information.statistics.messagesReceived == 4)
        var received: [Message] = []
        for try await message in socket.messages {
            received.append(message)
            if received.count == 100 { break }
        }
        #expect(received == (0..<100).map { .text("\($0)") }, "nothing lost, nothing reordered")
    }

    @Test("setMessageType while connect is in progress applies to the connection")
    func messageTypeSetDuringConnectIsKept() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let peer = MockWebSocketServer(transport: server)
        let socket = MessageWebSocket()  // binary by default
        let connecting = Task { try await socket.connect(to: "ws://mock.test/", over: client) }
        try await peer.readHandshakeRequest()  // connect now waits for the response
        await socket.setMessageType(.text)
        try await peer.acceptHandshake()
        try await connecting.value
        try await socket.send(Array("typed".utf8))
        #expect(try await peer.nextMessage() == .text("typed"))
    }

    @Test(
        "a send returns once its own frames are written, not after frames other tasks queued meanwhile",
        .timeLimit(.minutes(1)))
    func sendDoesNotWaitForOtherTasksFrames() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let gated = GatedTransport(client)
        let peer = MockWebSocketServer(transport: server)
        let socket = MessageWebSocket()
        async let accepted: Void = peer.acceptHandshake()
        try await socket.connect(to: "ws://mock.test/", over: gated)
        try await accepted
        gated.closeGate()
        let first = Task { try await socket.send(text: "A") }
        await gated.waitUntilHeld(1)  // A's write is blocked in the transport
        try await socket.send(text: "B")  // queued behind it: returns at once
        try await socket.send(text: "C")
        gated.releaseOne()  // A's write completes
        try await first.value  // ... and A returns, while B and C wait
        #expect(gated.completedWrites.count == 2)  // the handshake request and A
        gated.openGate()
        #expect(try await peer.nextMessage() == .text("A"))
        #expect(try await peer.nextMessage() == .text("B"))
        #expect(try await peer.nextMessage() == .text("C"))
    }

    @Test(
        "§7.4: close with a code that must not be sent throws .invalidArgument whatever the state",
        arguments: [CloseCode.noStatusReceived, .abnormalClosure, CloseCode(2999), CloseCode(5000)])
    func closeArgumentsAreCheckedFirst(_ code: CloseCode) async throws {
        let idle = MessageWebSocket()
        #expect(await thrownStatus { try await idle.close(code: code) } == .invalidArgument)
        #expect(await idle.state == .idle, "a rejected close changes nothing")

        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        #expect(await thrownStatus { try await socket.close(code: code) } == .invalidArgument)
        #expect(await socket.state == .open)
        async let echo = peer.nextClose()
        try await socket.close(code: .normalClosure)
        _ = try await echo
        #expect(await thrownStatus { try await socket.close(code: code) } == .invalidArgument)
        let tooLong = String(repeating: "x", count: 124)
        #expect(await thrownStatus { try await socket.close(code: .normalClosure, reason: tooLong) } == .invalidArgument)
    }
}
