import WebSocketCore
import WebSockets

/// A scripted WebSocket server that speaks real bytes over an ``InMemoryTransport``: it reads the
/// client's upgrade request, answers the handshake, decodes (and unmasks) what the client sends
/// and encodes what you tell it to send. Use it to unit-test client code without a network.
///
/// ```swift
/// let (socket, peer) = try await MockWebSocketServer.connectedPair()
/// try await socket.send(text: "hello")
/// #expect(try await peer.nextMessage() == .text("hello"))
/// try await peer.send(.text("welcome"))
/// try await peer.close(code: .goingAway, reason: "bye")
/// ```
///
/// By default the peer behaves like a correct server: it answers pings and echoes a close frame
/// (then ends the TCP stream, RFC 6455 §7.1.1). Set ``setRespondsAutomatically(_:)`` to `false` to
/// script a peer that ignores pings or never answers a close. ``sendRaw(_:)`` and
/// ``sendFrame(_:payload:isFinal:reservedBits:masked:)`` send anything at all, including frames
/// that break the protocol, to test how the client reacts.
public actor MockWebSocketServer {
    /// The server's end of the in-memory connection (set faults on it to disturb the client).
    public nonisolated let transport: InMemoryTransport
    /// The client's upgrade request, once read.
    public private(set) var request: UpgradeRequest?

    private var core = ConnectionCore(role: .server)
    private var events: [ConnectionCore.Event] = []
    private var respondsAutomatically = true
    private var reachedEnd = false
    /// Whether this peer ended its side of the stream after the close handshake.
    private var endedStream = false

    /// A peer on `transport` (the server end of an ``InMemoryTransport`` pair).
    /// How many bytes one read takes: a scripted peer exchanges small frames, and a larger
    /// message just takes more reads.
    static let readSize = 16 * 1024

    /// A peer on `transport`, the server end of an ``InMemoryTransport`` pair; it does nothing until
    /// asked (``acceptHandshake(subprotocol:)``, or made by ``connectedPair(control:url:subprotocol:)``).
    public init(transport: InMemoryTransport) {
        self.transport = transport
    }

    /// Creates a client socket connected to a new scripted peer over an in-memory pair.
    ///
    /// - Parameters:
    ///   - control: the client's settings.
    ///   - url: the URL the client connects to (only its path and host reach the peer).
    ///   - subprotocol: the subprotocol the peer selects (it must be one the client offers).
    public static func connectedPair(
        control: MessageWebSocketControl = .init(), url: String = "ws://mock.test/", subprotocol: String? = nil
    ) async throws -> (socket: MessageWebSocket, peer: MockWebSocketServer) {
        let socket = MessageWebSocket(control: control)
        let peer = try await acceptingPeer(subprotocol: subprotocol) { try await socket.connect(to: url, over: $0) }
        return (socket, peer)
    }

    /// A peer that accepted the opening handshake of a client that `connect` connects over the
    /// client end of a new in-memory pair (for any client socket type). When `connect` throws,
    /// the peer's end is closed and the error rethrown.
    package static func acceptingPeer(
        subprotocol: String? = nil, connect: (InMemoryTransport) async throws -> Void
    ) async throws -> MockWebSocketServer {
        let (client, server) = InMemoryTransport.makePair()
        let peer = MockWebSocketServer(transport: server)
        async let accepted: Void = peer.acceptHandshake(subprotocol: subprotocol)
        do {
            try await connect(client)
        } catch {
            server.close()
            _ = try? await accepted
            throw error
        }
        try await accepted
        return peer
    }

    // MARK: - Handshake

    /// Reads and validates the client's upgrade request (RFC 6455 §4.2.1).
    @discardableResult
    public func readHandshakeRequest() async throws -> UpgradeRequest {
        var parser = HTTPHeadParser<HTTPRequestHead>()
        var buffer = [UInt8](repeating: 0, count: Self.readSize)
        while true {
            let count = try await transport.read(into: &buffer, isolation: self)
            guard count > 0 else { throw WebSocketError(.connectionAborted, "the client left before its upgrade request") }
            guard case .complete(let head, let remaining) = try parser.append(buffer[..<count]) else { continue }
            let request = try ServerHandshake.validate(request: head)
            self.request = request
            if !remaining.isEmpty { feed(remaining) }
            return request
        }
    }

    /// Answers the handshake with 101 Switching Protocols (selecting `subprotocol`).
    public func acceptHandshake(subprotocol: String? = nil) async throws {
        var request = self.request
        if request == nil { request = try await readHandshakeRequest() }
        guard let request else { return }
        try await transport.write([ServerHandshake.responseBytes(for: request, subprotocol: subprotocol)], isolation: self)
    }

    // MARK: - Sending

    /// Whether the peer answers pings and close frames by itself (default `true`).
    public func setRespondsAutomatically(_ value: Bool) {
        respondsAutomatically = value
    }

    /// Sends a message as one unmasked frame.
    public func send(_ message: Message) async throws {
        switch message {
        case .text(let text): try await sendFrame(.text, payload: Array(text.utf8))
        case .binary(let bytes): try await sendFrame(.binary, payload: bytes)
        }
    }

    /// Sends one frame exactly as described, valid or not.
    public func sendFrame(
        _ opcode: Opcode, payload: [UInt8], isFinal: Bool = true, reservedBits: UInt8 = 0,
        masked: Bool = false
    ) async throws {
        let key: MaskingKey? = masked ? MaskingKey(0x12, 0x34, 0x56, 0x78) : nil
        try await sendRaw(
            FrameEncoder.encode(
                opcode: opcode, isFinal: isFinal, reservedBits: reservedBits,
                payload: payload, maskingKey: key))
    }

    /// Sends a ping.
    public func ping(_ payload: [UInt8] = []) async throws {
        try await sendFrame(.ping, payload: payload)
    }

    /// Starts the close handshake: sends a close frame (`nil` code: an empty one). The client's
    /// answer then completes it (read it with ``nextClose()``). To send an invalid close frame, use
    /// ``sendFrame(_:payload:isFinal:reservedBits:masked:)``.
    ///
    /// Unless ``setRespondsAutomatically(_:)`` turned that off, the peer also ends its side of the
    /// stream right after the close frame (the server closes TCP first, RFC 6455 §7.1.1), without
    /// waiting to read the client's answer: the client's `messages` then ends as soon as it
    /// answered, whether or not the test reads from the peer again. The client's answer can still
    /// be read.
    public func close(code: CloseCode? = .normalClosure, reason: String = "") async throws {
        try core.close(code: code, reason: reason)
        try await transport.write(core.takeOutput(), isolation: self)
        if respondsAutomatically && !endedStream {
            endedStream = true
            transport.closeWrite()
        }
    }

    /// Writes bytes as they are.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        try await transport.write([bytes], isolation: self)
    }

    /// Ends the TCP-like stream cleanly (the client reads end of stream).
    public func endStream() {
        transport.closeWrite()
    }

    /// Drops the connection abruptly, as a network failure would.
    public func dropConnection() {
        transport.abort()
    }

    // MARK: - Receiving

    /// The next thing the client sent: a message, ping, pong or close (`.closed`), or `nil` once
    /// the client ended the stream. Protocol violations by the client surface as `.failed`.
    public func nextEvent() async throws -> ConnectionCore.Event? {
        while events.isEmpty {
            guard !reachedEnd else { return nil }
            let count: Int
            var buffer = [UInt8](repeating: 0, count: Self.readSize)
            do {
                count = try await transport.read(into: &buffer, isolation: self)
            } catch {
                reachedEnd = true
                throw error
            }
            if count == 0 {
                reachedEnd = true
                core.receiveEndOfStream()
                collect()
            } else {
                feed(Array(buffer[..<count]))
            }
            try await writeAutomaticReplies()
        }
        return events.removeFirst()
    }

    /// The next message the client sent, skipping pings and pongs.
    /// - Throws: `.closed` if the client closed or ended the stream first.
    public func nextMessage() async throws -> Message {
        while let event = try await nextEvent() {
            switch event {
            case .message(let message): return message
            case .ping, .pong, .fragment: continue  // the mock's core assembles messages: no fragments
            case .closed(let frame):
                throw WebSocketError(
                    .closed, "the client closed (\(frame.code.rawValue) \(frame.reason)) instead of sending a message")
            case .failed(let violation): throw WebSocketError(.protocolViolation(violation.closeCode), violation.detail)
            case .aborted: throw WebSocketError(.connectionAborted, "the client dropped the connection")
            }
        }
        throw WebSocketError(.closed, "the client ended the stream")
    }

    /// Waits for the client's close frame and returns it, skipping anything before it.
    public func nextClose() async throws -> WebSocketCloseStatus {
        while let event = try await nextEvent() {
            if case .closed(let frame) = event { return frame }
        }
        throw WebSocketError(.connectionAborted, "the client ended the stream without a close frame")
    }

    private func feed(_ bytes: [UInt8]) {
        core.receive(bytes)
        collect()
    }

    private func collect() {
        while let event = core.nextEvent() {
            // A scripted peer answers nothing on its own: a violation's close frame goes out at once.
            if case .failed = event { core.closeAfterFailure() }
            events.append(event)
        }
    }

    private func writeAutomaticReplies() async throws {
        let output = core.takeOutput()
        guard respondsAutomatically else { return }
        if !output.isEmpty { try? await transport.write(output, isolation: self) }
        if core.state == .closed, !reachedEnd, !endedStream {
            // §7.1.1: once the close handshake is over (either side started it), the server ends
            // the TCP connection first; the client waits for that before its `messages` ends.
            endedStream = true
            transport.closeWrite()
        }
    }
}
