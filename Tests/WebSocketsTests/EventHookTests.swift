import Testing
import WebSocketCore
import WebSocketServer
import WebSocketTesting

@testable import WebSockets

/// The event hook (`MessageWebSocketControl.eventHandler`, `WebSocketServerConfiguration.eventHandler`):
/// every step of a connection's life, in order, with the negotiated details, sizes, round trips,
/// close codes and failures; over the scripted in-memory peer and over loopback TCP.
@Suite("Event hook", .timeLimit(.minutes(1)))
struct EventHookTests {
    static func control(_ recorder: EventRecorder) -> MessageWebSocketControl {
        var control = MessageWebSocketControl()
        control.eventHandler = recorder.handler
        return control
    }

    @Test(
        "a connection's life in order: connecting, connected, sent, received, ping/pong with its round trip, closing (RFC 6455 §7.1.2), closed"
    )
    func lifeInOrderInMemory() async throws {
        let recorder = EventRecorder()
        let (socket, peer) = try await MockWebSocketServer.connectedPair(
            control: Self.control(recorder), url: "ws://mock.test/chat",
            subprotocol: nil)
        try await socket.send(text: "héllo")
        #expect(try await peer.nextMessage() == .text("héllo"))
        try await peer.send(.binary([1, 2, 3]))
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == .binary([1, 2, 3]))
        async let pinged = socket.ping([7, 7])
        #expect(try await peer.nextEvent() == .ping([7, 7]))  // the peer answers as it reads
        let roundTrip = try await pinged
        async let peerSawClose = peer.nextClose()
        try await socket.close(code: .normalClosure, reason: "done")
        _ = try await peerSawClose

        let kinds = recorder.kinds
        try #require(kinds.count == 8, "\(kinds)")
        #expect(kinds[0] == .connecting(url: "ws://mock.test/chat"))
        guard case .connected(let connection) = kinds[1] else {
            Issue.record("\(kinds[1])")
            return
        }
        #expect(connection.isSecure == false && connection.subprotocol == nil)
        #expect(kinds[2] == .messageSent(.text, size: 6))  // UTF-8 bytes
        #expect(kinds[3] == .messageReceived(.binary, size: 3))
        #expect(kinds[4] == .pingSent(size: 2))
        #expect(kinds[5] == .pongReceived(size: 2, roundTripTime: roundTrip))
        #expect(kinds[6] == .closing(code: .normalClosure, reason: "done", initiatedBy: .local))
        #expect(kinds[7] == .closed(code: .normalClosure, reason: "", wasClean: true), "the peer's answer: its code, no reason")
        #expect(Set(recorder.events.map(\.connectionID)).count == 1, "one connection, one number")
        #expect(recorder.events.map(\.level) == [.debug, .info, .trace, .trace, .debug, .debug, .debug, .info])
    }

    @Test("the peer's close starts the handshake: closing is reported as the peer's, with its code (§7.1.3)")
    func peerInitiatedClose() async throws {
        let recorder = EventRecorder()
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: Self.control(recorder))
        try await peer.close(code: CloseCode(4000), reason: "server bye")
        #expect(try await peer.nextClose().code == CloseCode(4000), "the client echoes the code (§5.5.1)")
        await peer.endStream()  // the server closes TCP after the handshake (§7.1.1)
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == nil)
        await recorder.waitUntilClosed()
        let kinds = recorder.kinds.dropFirst(2)
        #expect(
            Array(kinds) == [
                .closing(code: CloseCode(4000), reason: "server bye", initiatedBy: .peer),
                .closed(code: CloseCode(4000), reason: "server bye", wasClean: true),
            ])
        #expect(recorder.events.dropFirst(2).first?.level == .warning, "4000 reports a problem")
    }

    @Test(
        "§7.1.7: a protocol violation from the peer is reported as closing with 1002, then failed with .protocolViolation(1002), then closed uncleanly"
    )
    func protocolViolationIsReported() async throws {
        let recorder = EventRecorder()
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: Self.control(recorder))
        try await peer.sendRaw([0x83, 0x00])  // opcode 3 is reserved (§5.2)
        var messages = socket.messages.makeAsyncIterator()
        await #expect { _ = try await messages.next() } throws: {
            ($0 as? WebSocketError)?.status == .protocolViolation(.protocolError)
        }
        await recorder.waitUntilClosed()
        let tail = Array(recorder.events.dropFirst(2))
        try #require(tail.count == 3, "\(tail)")
        guard case .closing(.protocolError?, _, .local) = tail[0].kind else {
            Issue.record("\(tail[0])")
            return
        }
        guard case .failed(let error) = tail[1].kind else {
            Issue.record("\(tail[1])")
            return
        }
        #expect(error.status == .protocolViolation(.protocolError))
        #expect(tail[1].level == .error)
        guard case .closed(_, _, false) = tail[2].kind else {
            Issue.record("\(tail[2])")
            return
        }
        _ = peer
    }

    @Test("a connect that fails reports connecting, then failed with the error's status")
    func failedConnect() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let recorder = EventRecorder()
        let socket = MessageWebSocket(control: Self.control(recorder))
        await #expect(throws: WebSocketError.self) { try await socket.connect(to: "ws://127.0.0.1:\(refusing.port)/") }
        let kinds = recorder.kinds
        try #require(kinds.count == 2, "\(kinds)")
        #expect(kinds[0] == .connecting(url: "ws://127.0.0.1:\(refusing.port)/"))
        guard case .failed(let error) = kinds[1] else {
            Issue.record("\(kinds[1])")
            return
        }
        #expect(error.status == .cannotConnect)
    }

    @Test("over loopback TCP, the client's hook and the server configuration's hook each see the connection's life in order")
    func loopbackClientAndServer() async throws {
        let serverRecorder = EventRecorder()
        var configuration = WebSocketServer.Configuration()
        configuration.eventHandler = serverRecorder.handler
        try await withTeardown(
            await WebSocketServer.start(configuration: configuration) { socket in
                for try await message in socket.messages { try await socket.send(message) }
            }
        ) { server in
            let recorder = EventRecorder()
            let socket = MessageWebSocket(control: Self.control(recorder))
            let url = server.url(path: "/echo")
            try await socket.connect(to: url)
            try await socket.send([9, 8, 7, 6])
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next() == .binary([9, 8, 7, 6]))
            try await socket.close(code: .normalClosure, reason: "bye")
            await serverRecorder.waitUntilClosed()

            let client = recorder.kinds
            try #require(client.count == 6, "\(client)")
            #expect(client[0] == .connecting(url: url))
            guard case .connected(let details) = client[1] else {
                Issue.record("\(client[1])")
                return
            }
            #expect(details.remoteAddress == "127.0.0.1:\(server.port)")
            #expect(details.isSecure == false)
            #expect(details.extensions?.hasPrefix("permessage-deflate") == true, "compression is negotiated by default")
            #expect(
                Array(client[2...]) == [
                    .messageSent(.binary, size: 4), .messageReceived(.binary, size: 4),
                    .closing(code: .normalClosure, reason: "bye", initiatedBy: .local),
                    .closed(code: .normalClosure, reason: "", wasClean: true),
                ])

            let accepted = serverRecorder.kinds
            try #require(accepted.count == 5, "\(accepted)")
            guard case .connected(let serverSide) = accepted[0] else {
                Issue.record("\(accepted[0])")
                return
            }
            #expect(serverSide.remoteAddress == details.localAddress)
            #expect(
                Array(accepted[1...]) == [
                    .messageReceived(.binary, size: 4), .messageSent(.binary, size: 4),
                    .closing(code: .normalClosure, reason: "bye", initiatedBy: .peer),
                    .closed(code: .normalClosure, reason: "bye", wasClean: true),
                ])
            #expect(Set(serverRecorder.events.map(\.connectionID)).isDisjoint(with: recorder.events.map(\.connectionID)))
        }
    }

    @Test("levels map one to one onto swift-log's Logger.Level, in its order")
    func levels() {
        #expect(
            WebSocketEvent.Level.allCases.map(\.description) == [
                "trace", "debug", "info", "notice", "warning", "error", "critical",
            ])
        #expect(WebSocketEvent.Level.allCases == WebSocketEvent.Level.allCases.sorted())
        #expect(WebSocketEvent(connectionID: 1, kind: .failed(WebSocketError(.operationCanceled, "x"))).level == .notice)
        #expect(WebSocketEvent(connectionID: 1, kind: .closing(code: .goingAway, reason: "", initiatedBy: .peer)).level == .info)
    }

    @Test("without a handler there is no emitter, so no event site builds anything")
    func unsetHandlerBuildsNothing() {
        #expect(EventEmitter(nil) == nil)
        #expect(EventEmitter({ _ in }) != nil)
    }
}
