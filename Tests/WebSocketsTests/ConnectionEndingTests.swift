import Synchronization
import Testing
import WebSocketCore
import WebSocketServer
import WebSocketTesting

@testable import WebSockets

/// Every byte one end of an in-memory pair wrote, as it was handed to the medium.
final class WrittenBytes: Sendable {
    private let bytes = Lock<[UInt8]>([])
    var all: [UInt8] { bytes.withLock { $0 } }

    /// Records what `transport` writes from now on.
    init(of transport: InMemoryTransport) {
        transport.onWrite = { [weak self] written in self?.append(written) }
    }

    private func append(_ written: [UInt8]) {
        bytes.withLock { $0 += written }
    }
}

/// A client connected to the scripted peer over an in-memory pair, with the client's end of it.
func connectedOverMemory(control: MessageWebSocketControl = .init()) async throws
    -> (socket: MessageWebSocket, peer: MockWebSocketServer, transport: InMemoryTransport)
{
    let (client, server) = InMemoryTransport.makePair()
    let peer = MockWebSocketServer(transport: server)
    let socket = MessageWebSocket(control: control)
    async let accepted: Void = peer.acceptHandshake()
    try await socket.connect(to: "ws://mock.test/", over: client)
    try await accepted
    return (socket, peer, client)
}

/// ``connectedOverMemory(control:)``, recording what the client writes from now on.
func recordedClient(control: MessageWebSocketControl = .init()) async throws
    -> (socket: MessageWebSocket, peer: MockWebSocketServer, transport: InMemoryTransport, written: WrittenBytes)
{
    let (socket, peer, client) = try await connectedOverMemory(control: control)
    return (socket, peer, client, WrittenBytes(of: client))
}

/// The status `messages` ends with for a violation's close code.
func violationStatus(_ code: UInt16) -> WebSocketError.Status {
    code == 1009 ? .messageTooBig : .protocolViolation(CloseCode(code))
}

/// RFC 6455 §7.1.7 from the application's side: when `messages` throws, our close frame is
/// already written and the connection has ended, so a program that exits in its `catch` has told
/// the peer why (the lifecycle issue's invariants 1–3).
@Suite("How a connection ends: the close frame is out before the error surfaces")
struct ConnectionEndingTests {
    @Test(
        "§7.1.7: when messages throws, the close frame with the violation's code was written and the transport closed",
        arguments: ViolationScenario.all(violatorIsServer: true))
    func closeFrameIsWrittenBeforeTheErrorSurfaces(_ scenario: ViolationScenario) async throws {
        let (socket, peer, transport, written) = try await recordedClient()
        try await peer.sendRaw(ViolationScenario.frame(0x81, Array("before".utf8), masked: false) + scenario.bytes(false))
        var received: [Message] = []
        do {
            for try await message in socket.messages { received.append(message) }
            Issue.record("\(scenario): messages finished without an error")
        } catch {
            // Exactly what a program that exits here has left on the wire:
            #expect(closeCodes(in: written.all, writtenBy: .client) == [scenario.expectedCode], "\(scenario)")
            #expect(transport.isClosed, "\(scenario): the connection has ended")
            #expect((error as? WebSocketError)?.status == violationStatus(scenario.expectedCode), "\(scenario)")
        }
        #expect(received == [.text("before")], "\(scenario): what came before the violation is delivered first")
    }

    @Test("§7.1.7: answers to messages that arrived before a violation go out before its close frame")
    func answersPrecedeTheFailureClose() async throws {
        let (socket, peer, _, written) = try await recordedClient()
        try await peer.sendRaw(
            ViolationScenario.frame(0x81, Array("one".utf8), masked: false)
                + ViolationScenario.frame(0x81, Array("two".utf8), masked: false)
                + ViolationScenario.frame(0x83, [], masked: false))
        do {
            for try await message in socket.messages { try await socket.send(message) }
        } catch {
            var reader = ConnectionCore(role: .server)
            reader.receive(written.all)
            #expect(
                reader.drainedEvents() == [
                    .message(.text("one")), .message(.text("two")),
                    .closed(.init(code: .protocolError, reason: "protocol error")),
                ])
        }
    }

    @Test("§7.1.7: after a violation state is closing, then closed once messages threw; send then throws .closed")
    func stateAndSendAfterAViolation() async throws {
        let (socket, peer, _, _) = try await recordedClient()
        try await peer.sendRaw(
            ViolationScenario.frame(0x81, Array("before".utf8), masked: false)
                + ViolationScenario.frame(0x83, [], masked: false))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("before"))
        // The violation arrived with the message: the connection is ending, though the answer to
        // what came before it may still go out (it precedes the close frame).
        #expect(await socket.state == .closing)
        try await socket.send(text: "answer")
        await #expect(throws: WebSocketError.self) { _ = try await iterator.next() }
        #expect(await socket.state == .closed)
        #expect(await thrownStatus { try await socket.send(text: "late") } == .closed)
    }

    @Test("§7.1.7: a violation nobody reads yet still sends its close frame at once, and sends then fail")
    func violationWithoutAReader() async throws {
        let (socket, peer, _, _) = try await recordedClient()
        try await peer.sendRaw(ViolationScenario.frame(0x83, [], masked: false))
        #expect(try await peer.nextClose().code == .protocolError)
        #expect(await socket.state != .open)
        #expect(await thrownStatus { try await socket.send(text: "late") } == .closed)
    }

    @Test("§7.1.1: after the peer's close, messages finishes only once the transport is closed")
    func cleanEndWaitsForTheTransport() async throws {
        let (socket, peer, transport, written) = try await recordedClient()
        try await peer.close(code: CloseCode(4000), reason: "bye")
        async let echo = peer.nextClose()  // the peer reads our echo, then ends the stream (§7.1.1)
        for try await _ in socket.messages {}
        #expect(try await echo.code == CloseCode(4000))
        #expect(closeCodes(in: written.all, writtenBy: .client) == [4000])
        #expect(transport.isClosed)
        #expect(await socket.closeStatus?.code == CloseCode(4000))
    }
}

extension ConnectionCore {
    /// All events queued now.
    mutating func drainedEvents() -> [Event] {
        var events: [Event] = []
        while let event = nextEvent() { events.append(event) }
        return events
    }
}
