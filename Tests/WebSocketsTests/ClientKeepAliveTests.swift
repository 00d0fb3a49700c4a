import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// The client's keep-alive (`MessageWebSocketControl.pingInterval`, `.pongTimeout`): pings while
/// open (RFC 6455 §5.5.2), a pong timeout that finds a peer that is gone, and the latency of each
/// answered ping. Over the scripted in-memory peer, which answers pings unless told not to.
@Suite("Client keep-alive", .timeLimit(.minutes(3)))  // a test may wait for the exclusive lock first
struct ClientKeepAliveTests {
    @Test("keep-alive is off by default: the control sends no pings and awaits no pong")
    func offByDefault() {
        let control = MessageWebSocketControl()
        #expect(control.pingInterval == nil)
        #expect(control.pongTimeout == nil)
    }

    @Test(
        "§5.5.2: with pingInterval the client pings an idle peer, each ping numbered, and latency is the answered ping's round trip"
    )
    func pingsAnIdlePeerAndMeasuresLatency() async throws {
        var control = MessageWebSocketControl()
        control.pingInterval = .milliseconds(20)
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        #expect(await socket.information.latency == nil, "no ping answered yet (the peer answers when it reads)")
        #expect(try await peer.nextEvent() == .ping([0, 0, 0, 1]))  // answered at once
        try await peer.send(.text("after the pong"))
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("after the pong"))
        // The client reads in order: the pong came before this message, so its round trip is known.
        let latency = try #require(await socket.information.latency)
        #expect(latency > .zero && latency < .seconds(30))
        #expect(try await peer.nextEvent() == .ping([0, 0, 0, 2]), "pings go on while the connection is open")
        try await Self.close(socket, peer)
    }

    @Test("§5.5.3: a peer that stops answering pings is closed with 1011 within pongTimeout and messages throws .timeout")
    func silentPeerTimesOut() async throws {
        var control = MessageWebSocketControl()
        control.pingInterval = .milliseconds(100)
        control.pongTimeout = .milliseconds(50)
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        await peer.setRespondsAutomatically(false)
        var messages = socket.messages.makeAsyncIterator()
        await #expect { _ = try await messages.next() } throws: { ($0 as? WebSocketError)?.status == .timeout }
        #expect(try await peer.nextEvent() == .ping([0, 0, 0, 1]))
        let close = try await peer.nextClose()
        #expect(close.code == .internalError)
        #expect(close.reason == "keepalive ping timeout")
    }

    // Timing-based by nature (a pong must come back within pongTimeout): generous margins, and not
    // alongside the tests that keep the shared event loop busy for long.
    @Test("a peer that answers stays connected across several pong timeouts", .exclusiveProcessResources)
    func answeringPeerStaysConnected() async throws {
        var control = MessageWebSocketControl()
        control.pingInterval = .milliseconds(1000)
        // 2 s for a pong that the peer sends as it reads: a sanitized build on a loaded machine is
        // slow (800 ms failed once under a load average of 9). Three pings take about 3 s, more than
        // one timeout, so a timer that an answered pong did not stop would still fire in the test.
        control.pongTimeout = .milliseconds(2000)
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        // A ping is sent only after the previous one was answered in time; the third proves two were.
        for number in UInt8(1)...3 {
            #expect(try await peer.nextEvent() == .ping([0, 0, 0, number]))
        }
        try await peer.send(.text("still here"))
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("still here"))
        try await Self.close(socket, peer)
    }

    /// Closes `socket` while `peer` reads (the scripted peer answers the close only when it reads).
    private static func close(_ socket: MessageWebSocket, _ peer: MockWebSocketServer) async throws {
        async let peerSawClose = peer.nextClose()
        try await socket.close(code: .normalClosure, reason: "done")
        #expect(try await peerSawClose == .init(code: .normalClosure, reason: "done"))
    }

    @Test("§5.5.3: with desiredUnsolicitedPongInterval the client sends unsolicited pongs, and information reports the interval")
    func unsolicitedPongs() async throws {
        var control = MessageWebSocketControl()
        control.desiredUnsolicitedPongInterval = .milliseconds(20)
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        #expect(await socket.information.actualUnsolicitedPongInterval == .milliseconds(20))
        #expect(try await peer.nextEvent() == .pong([]))
        #expect(try await peer.nextEvent() == .pong([]))
        try await Self.close(socket, peer)
    }

    @Test("§5.5.2: ping() returns once its pong arrived, with the round trip, which becomes the latency")
    func pingReturnsTheRoundTrip() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        async let roundTrip = socket.ping([7, 7])
        #expect(try await peer.nextEvent() == .ping([7, 7]))  // the peer answers as it reads
        let measured = try await roundTrip
        #expect(measured > .zero && measured < .seconds(30))
        #expect(await socket.information.latency == measured)
        try await Self.close(socket, peer)
    }

    @Test("§5.5.3: concurrent pings get unique payloads; a pong to the later one answers both")
    func pongAnswersEarlierPings() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        await peer.setRespondsAutomatically(false)
        async let first = socket.ping()
        guard case .ping(let firstPayload)? = try await peer.nextEvent() else { throw PeerError("expected a ping") }
        async let second = socket.ping()
        guard case .ping(let secondPayload)? = try await peer.nextEvent() else { throw PeerError("expected a ping") }
        #expect(firstPayload != secondPayload && firstPayload.count == 8 && secondPayload.count == 8)
        try await peer.sendFrame(.pong, payload: secondPayload)  // only the latest is answered
        #expect(try await first > .zero)
        #expect(try await second > .zero)
        await peer.setRespondsAutomatically(true)
        try await Self.close(socket, peer)
    }

    @Test("a ping whose pong never comes throws how the connection ended")
    func unansweredPingThrowsTheEnding() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        await peer.setRespondsAutomatically(false)
        let roundTrip = Task { try await socket.ping([1]) }
        #expect(try await peer.nextEvent() == .ping([1]))
        await peer.dropConnection()
        await #expect { _ = try await roundTrip.value } throws: { ($0 as? WebSocketError)?.status == .connectionAborted }
    }

    @Test(
        "bad keep-alive settings are refused before connecting",
        arguments: [
            (Duration?.some(.zero), Duration?.none), (.some(.seconds(-1)), nil),
            (.some(.seconds(1)), .some(.zero)), (nil, .some(.seconds(1))),
        ])
    func badSettingsAreRefused(interval: Duration?, timeout: Duration?) async throws {
        var control = MessageWebSocketControl()
        control.pingInterval = interval
        control.pongTimeout = timeout
        let socket = MessageWebSocket(control: control)
        await #expect { try await socket.connect(to: "ws://127.0.0.1:9/") } throws: {
            ($0 as? WebSocketError)?.status == .invalidArgument
        }
    }
}

/// The CLI client's keep-alive flags.
@Suite("CLI keep-alive")
struct CLIKeepAliveTests {
    @Test(
        "websocket URL --ping-interval S --pong-timeout S: a server that never answers is pinged, closed with 1011, and the CLI exits 1 with error timeout"
    )
    func cliKeepAliveFindsASilentServer() async throws {
        let server = try MisbehavingServer()  // answers the upgrade, then only reads
        async let clientBytes = server.serveOnce(sending: [])
        let run = try await runCLI(
            [server.url, "--ping-interval", "0.05", "--pong-timeout", "0.05"],
            closeInputWhen: { _ in false })  // stdin stays open
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("error timeout: "), "\(run.stderr)")
        var reader = ConnectionCore(role: .server)
        reader.receive(try await clientBytes)
        var events: [ConnectionCore.Event] = []
        while let event = reader.nextEvent() { events.append(event) }
        #expect(events.first == .ping([0, 0, 0, 1]))
        #expect(events.last == .closed(.init(code: .internalError, reason: "keepalive ping timeout")))
    }
}
