import Testing
import WebSocketCore
import WebSocketServer

@testable import WebSockets

/// `WebSocketListener` over loopback TCP: the application sees each upgrade request and answers
/// it (RFC 6455 §4.2.2), and the listener's limits and lifecycle hold.
///
/// The time limit only catches a hang: under ThreadSanitizer, with the interop suites alongside,
/// an `.exclusiveProcessResources` test here (which may first wait for the low-priority
/// 1,000-connection test) went past one minute; hence three.
@Suite("WebSocketListener", .timeLimit(.minutes(3)))
struct ListenerTests {
    /// The next upgrade from `listener`, failing the test if the sequence ended.
    static func nextUpgrade(_ listener: WebSocketListener) async throws -> WebSocketUpgrade {
        var iterator = listener.makeAsyncIterator()
        return try #require(await iterator.next())
    }

    @Test("the application sees path, query, headers, offered subprotocols and the client's address (§4.2.1)")
    func upgradeShowsTheRequest() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let client = MessageWebSocket()
            try await client.configure { $0.supportedProtocols = ["chat.v2", "chat.v1"] }
            try await client.setRequestHeader("X-Token", "abc")
            async let connected: Void = client.connect(to: listener.url(path: "/room/7?user=ann"))
            let upgrade = try await Self.nextUpgrade(listener)
            #expect(upgrade.request.path == "/room/7")
            #expect(upgrade.request.query == "user=ann")
            #expect(upgrade.request.header("x-token") == "abc")
            #expect(upgrade.request.headerFields.contains { $0.name == "X-Token" && $0.value == "abc" })
            #expect(upgrade.request.protocols == ["chat.v2", "chat.v1"])
            let socket = try await upgrade.accept(subprotocol: "chat.v1")
            try await connected
            #expect(upgrade.remoteAddress == (await client.information.localAddress))
            #expect(socket.negotiatedProtocol == "chat.v1")
            #expect(await client.information.negotiatedProtocol == "chat.v1")
            try await client.send(text: "hi")
            var iterator = socket.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("hi"))
            try await client.close()
        }
    }

    @Test("accept adds the application's response headers to the 101 (§4.2.2)")
    func acceptWithHeaders() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let upgrade = try await Self.nextUpgrade(listener)
            _ = try await upgrade.accept(headers: [("Set-Cookie", "session=1")])
            let head = try await raw.readResponseHead()
            #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
            #expect(head.contains("\r\nSet-Cookie: session=1\r\n"))
            #expect(head.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        }
    }

    @Test("reject sends the chosen status and headers, and the client fails with handshakeFailed(status)")
    func rejectWithStatus() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port, path: "/private")
            defer { raw.close() }
            let upgrade = try await Self.nextUpgrade(listener)
            await upgrade.reject(status: 401, headers: [("WWW-Authenticate", "Bearer")], body: "log in first")
            let response = String(decoding: try await raw.readToEnd(), as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
            #expect(response.contains("\r\nWWW-Authenticate: Bearer\r\n"))
            #expect(response.hasSuffix("\r\n\r\nlog in first"))

            let client = MessageWebSocket()
            let url = listener.url()
            let connecting = Task { try await client.connect(to: url) }
            try await Self.nextUpgrade(listener).reject(status: 404)
            await #expect { try await connecting.value } throws: {
                ($0 as? WebSocketError)?.status == .handshakeFailed(httpStatus: 404)
            }
        }
    }

    @Test("a subprotocol the client did not offer is refused (§4.2.2) and the upgrade can still be answered")
    func unofferedSubprotocol() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let client = MessageWebSocket()
            try await client.configure { $0.supportedProtocols = ["a"] }
            async let connected: Void = client.connect(to: listener.url())
            let upgrade = try await Self.nextUpgrade(listener)
            await #expect { try await upgrade.accept(subprotocol: "b") } throws: {
                ($0 as? WebSocketError)?.status == .invalidArgument
            }
            _ = try await upgrade.accept(subprotocol: "a")
            try await connected
            await #expect { try await upgrade.accept() } throws: { ($0 as? WebSocketError)?.status == .invalidState }
            try await client.close()
        }
    }

    @Test("without an explicit choice the first configured subprotocol the client offered is selected")
    func configuredSubprotocols() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.subprotocols = ["v3", "v2", "v1"]
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let client = MessageWebSocket()
            try await client.configure { $0.supportedProtocols = ["v1", "v2"] }
            async let connected: Void = client.connect(to: listener.url())
            let socket = try await Self.nextUpgrade(listener).accept()
            try await connected
            #expect(socket.negotiatedProtocol == "v2")
            try await client.close()
        }
    }

    @Test("an upgrade dropped without an answer is refused with 503")
    func droppedUpgradeGets503() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            do { _ = try await Self.nextUpgrade(listener) }
            let head = try await raw.readResponseHead()
            #expect(head.hasPrefix("HTTP/1.1 503 "))
        }
    }

    @Test("upgrades beyond maxPendingUpgrades get 503 while the application does not take them")
    func pendingUpgradeLimit() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.maxPendingUpgrades = 1
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let first = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { first.close() }
            // The first request must be queued before the second arrives.
            try await awaitState("the first upgrade is queued") { await listener.waitUntil { $0.upgradesQueued == 1 } }
            let second = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { second.close() }
            #expect(try await second.readResponseHead().hasPrefix("HTTP/1.1 503 "))
            _ = try await Self.nextUpgrade(listener).accept()
            #expect(try await first.readResponseHead().hasPrefix("HTTP/1.1 101 "))
        }
    }

    @Test("a plain HTTP GET is answered with 400 and never reaches the application (§4.2.1)")
    func plainGetIsRefused() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let raw = try await RawWebSocketClient(port: listener.port)
            defer { raw.close() }
            try await raw.send(raw: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let response = String(decoding: try await raw.readToEnd(), as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            // The next, valid upgrade is the first thing the application sees.
            let client = MessageWebSocket()
            let url = listener.url(path: "/second")
            let connecting = Task { try await client.connect(to: url) }
            #expect(try await Self.nextUpgrade(listener).request.path == "/second")  // then dropped: 503
            await #expect(throws: WebSocketError.self) { try await connecting.value }
        }
    }

    @Test("close() stops accepting and ends the sequence; accepted connections keep working")
    func closeKeepsAcceptedConnections() async throws {
        let listener = try await WebSocketListener.bind()
        let client = MessageWebSocket()
        async let connected: Void = client.connect(to: listener.url())
        let socket = try await Self.nextUpgrade(listener).accept()
        try await connected
        listener.close()
        var upgrades = listener.makeAsyncIterator()
        #expect(await upgrades.next() == nil)
        await #expect { try await MessageWebSocket().connect(to: listener.url()) } throws: {
            ($0 as? WebSocketError)?.status == .cannotConnect
        }
        try await client.send(text: "still here")
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("still here"))
        #expect(listener.connectionCount == 1)
        try await client.close()
        #expect(try await messages.next() == nil)
    }

    @Test("ServerWebSocket: byte sends use messageType (binary by default, changeable), ping reaches the client")
    func serverMessageType() async throws {
        try await withTeardown(await WebSocketListener.bind()) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await Self.nextUpgrade(listener).accept()
            _ = try await raw.readResponseHead()
            #expect(socket.localAddress == listener.localAddress)
            #expect(await socket.messageType == .binary)
            try await socket.send(Array("one".utf8))
            await socket.setMessageType(.text)
            try await socket.send(Array("two".utf8))
            async let roundTrip = socket.ping([1])
            #expect(try await raw.nextEvent() == .message(.binary(Array("one".utf8))))
            #expect(try await raw.nextEvent() == .message(.text("two")))
            #expect(try await raw.nextEvent() == .ping([1]))
            try await raw.send { _ in }  // writes the pong the raw client's core queued
            #expect(try await roundTrip > .zero, "ping returns once the pong arrived")
        }
    }

    @Test(
        "after a violation the close carries its code (1007), not the handler's 1000, and follows the echo of what came before (§7.1.7)"
    )
    func violationCodeWinsOverHandlerClose() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                do {
                    for try await message in socket.messages { try await socket.send(message) }
                } catch {
                    try await socket.close(code: .normalClosure)  // what a handler typically does
                }
            }
        ) { server in
            let raw = try await RawWebSocketClient(port: server.port)
            defer { raw.close() }
            try await raw.upgrade()
            let key = MaskingKey(9, 8, 7, 6)
            let frames =
                FrameEncoder.encode(opcode: .text, isFinal: true, reservedBits: 0, payload: Array("fine".utf8), maskingKey: key)
                + FrameEncoder.encode(opcode: .text, isFinal: true, reservedBits: 0, payload: [0xC0, 0xAF], maskingKey: key)
            try await raw.transport.write([frames], isolation: nil)
            #expect(try await raw.nextEvent() == .message(.text("fine")))
            guard case .closed(let frame)? = try await raw.nextEvent() else {
                Issue.record("expected the server's close frame")
                return
            }
            #expect(frame.code == .invalidPayload)
        }
    }

    @Test("a handshake in progress when the listener closes is answered 503, not dropped")
    func handshakeDuringClose() async throws {
        let listener = try await WebSocketListener.bind()
        let raw = try await RawWebSocketClient(port: listener.port)
        defer { raw.close() }
        let request = RawWebSocketClient.upgradeRequest()
        try await raw.send(raw: String(request.prefix(20)))
        // Accepted, its handshake started (the head is incomplete: it cannot have ended).
        try await awaitState("the handshake started") { await listener.waitUntil { $0.handshakesStarted == 1 } }
        listener.close()
        try await raw.send(raw: String(request.dropFirst(20)))
        #expect(try await raw.readResponseHead().hasPrefix("HTTP/1.1 503 "))
    }

    @Test("shutDown drops upgrades the application never answered, and ends with no connections")
    func shutDownDropsPendingUpgrades() async throws {
        let listener = try await WebSocketListener.bind()
        let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
        defer { raw.close() }
        // Queued, nobody iterates.
        try await awaitState("the upgrade is queued") { await listener.waitUntil { $0.upgradesQueued == 1 } }
        await listener.shutDown(timeout: .seconds(1))
        // Closed without a 101: an orderly end, or a reset if the request was still unread.
        let response = (try? await raw.readToEnd()) ?? []
        #expect(response.isEmpty)
        #expect(listener.connectionCount == 0)
    }

    @Test("receiveBufferLimit: a bigger message fails the connection with 1009 (§7.4.1), smaller ones pass")
    func receiveBufferLimit() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.receiveBufferLimit = 1000
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let client = MessageWebSocket()
            try await client.configure { $0.compression = .disabled }
            async let connected: Void = client.connect(to: listener.url())
            let socket = try await Self.nextUpgrade(listener).accept()
            try await connected
            try await client.send([UInt8](repeating: 1, count: 1000))
            try await client.send([UInt8](repeating: 2, count: 1001))
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next()?.bytes.count == 1000)
            await #expect { _ = try await messages.next() } throws: { ($0 as? WebSocketError)?.status == .messageTooBig }
            _ = await drain(client)
            #expect(await client.closeStatus?.code == .messageTooBig)
        }
    }

    @Test("the default receiveBufferLimit is IIS's 4 MiB")
    func defaultLimit() {
        #expect(WebSocketServerConfiguration().receiveBufferLimit == 4 * 1024 * 1024)
        #expect(WebSocketServerConfiguration().pingInterval == nil)
    }

    @Test("pingInterval: the server pings an idle client (§5.5.2), and the client's pong is swallowed")
    func pingInterval() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.pingInterval = .milliseconds(50)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await Self.nextUpgrade(listener).accept()
            _ = try await raw.readResponseHead()
            var pings = 0
            while pings < 2 {
                guard let event = try await raw.nextEvent() else { break }
                if case .ping = event { pings += 1 }  // the raw core answered it with a pong
            }
            #expect(pings == 2)
            try await raw.send { try $0.send(text: "after pings") }
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("after pings"))
        }
    }

    @Test("unsolicitedPongInterval: the server sends unsolicited pongs (§5.5.3) to a silent client")
    func unsolicitedPongs() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.unsolicitedPongInterval = .milliseconds(20)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await Self.nextUpgrade(listener).accept()
            _ = try await raw.readResponseHead()
            #expect(try await raw.nextEvent() == .pong([]))
            #expect(try await raw.nextEvent() == .pong([]))
            withExtendedLifetime(socket) {}
        }
    }

    @Test("pingTimeout: a client that stops answering pings is closed with 1011 and messages throws .timeout")
    func pingTimeoutClosesSilentClients() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.pingInterval = .milliseconds(100)
        configuration.pingTimeout = .milliseconds(50)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await Self.nextUpgrade(listener).accept()
            _ = try await raw.readResponseHead()
            // The raw client reads nothing, so its core never answers the ping.
            var messages = socket.messages.makeAsyncIterator()
            await #expect { _ = try await messages.next() } throws: { ($0 as? WebSocketError)?.status == .timeout }
            var events: [ConnectionCore.Event] = []
            while let event = try await raw.nextEvent() { events.append(event) }
            #expect(events.first == .ping([0, 0, 0, 1]), "the first keep-alive ping carries its number")
            #expect(events.contains(.closed(.init(code: .internalError, reason: "keepalive ping timeout"))))
        }
    }

    // Timing-based by nature: generous margins, and not alongside the 1,000-connection test,
    // which can keep the shared event loop busy for longer than any sane timeout.
    @Test("pingTimeout: a client that answers pings stays connected across several intervals", .exclusiveProcessResources)
    func pingTimeoutKeepsLiveClients() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.pingInterval = .milliseconds(1200)
        configuration.pingTimeout = .milliseconds(1000)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let client = MessageWebSocket()  // answers pings automatically
            let url = listener.url()
            let transport = PingCountingTransport(try await TCPTransport.connect(host: "127.0.0.1", port: listener.port))
            let connecting = Task { try await client.connect(to: url, over: transport) }
            let socket = try await Self.nextUpgrade(listener).accept()
            try await connecting.value
            // The server sends its next keep-alive ping only once the pong to the previous one
            // arrived in time (otherwise it closes with 1011): a third ping means two were answered.
            let pings = try await awaitState("three keep-alive pings") { await transport.waitUntilPings(3) }
            #expect(pings >= 3)
            try await client.send(text: "still alive")
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("still alive"))
            try await client.close()
        }
    }

    @Test("listening on IPv6 loopback reports the bound port and serves clients")
    func ipv6() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.host = "::1"
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            #expect(listener.port > 0)
            #expect(listener.localAddress == "[::1]:\(listener.port)")
            #expect(listener.url(path: "x") == "ws://[::1]:\(listener.port)/x")
            let client = MessageWebSocket()
            async let connected: Void = client.connect(to: listener.url())
            let upgrade = try await Self.nextUpgrade(listener)
            #expect(upgrade.remoteAddress?.hasPrefix("[::1]:") == true)
            _ = try await upgrade.accept()
            try await connected
            try await client.close()
        }
    }

    @Test(
        "invalid configurations are refused at bind time",
        arguments: [
            { (c: inout WebSocketServerConfiguration) in c.port = 70_000 },
            { (c: inout WebSocketServerConfiguration) in c.receiveBufferLimit = 0 },
            { (c: inout WebSocketServerConfiguration) in c.pingInterval = .zero },
            { (c: inout WebSocketServerConfiguration) in c.pingTimeout = .milliseconds(-1) },
            { (c: inout WebSocketServerConfiguration) in c.host = "localhost" },
        ] as [@Sendable (inout WebSocketServerConfiguration) -> Void])
    func invalidConfiguration(change: @Sendable (inout WebSocketServerConfiguration) -> Void) async {
        var configuration = WebSocketServerConfiguration()
        change(&configuration)
        await #expect { _ = try await WebSocketListener.bind(configuration: configuration) } throws: {
            ($0 as? WebSocketError)?.status == .invalidArgument
        }
    }

    @Test("a port in use is reported, not silently shared")
    func portInUse() async throws {
        let first = try await WebSocketListener.bind()
        defer { first.close() }
        var configuration = WebSocketServerConfiguration()
        configuration.port = first.port
        await #expect(throws: WebSocketError.self) { _ = try await WebSocketListener.bind(configuration: configuration) }
    }
}
