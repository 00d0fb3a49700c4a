import WebSocketCore
import WebSockets

/// One accepted WebSocket connection, seen from the server: the same message-level shape as the
/// client (``messages`` as an `AsyncThrowingStream`, `send`, `close`), and WinRT's
/// `ServerMessageWebSocket` surface (outgoing message type, close, statistics, addresses, protocol).
///
/// Design note: this and ``WebSocketFragmentContext`` are two views of the same connection actor
/// and protocol core. Messages are assembled by the core (one copy, straight from the socket
/// buffer) instead of by re-reading the fragment API, which would add a copy per fragment; the
/// behaviour (limits, pings, close) is the same either way.
///
/// Pings are answered automatically and never surfaced. Releasing the socket while it is open
/// closes it with 1001 (going away), as does cancelling the task that iterates ``messages``.
/// (``WebSocketServer`` closes it with 1000 when its handler returns.)
public final class ServerWebSocket: Sendable {
    /// The upgrade request the client sent (path, query, offered subprotocols and extensions).
    public let request: UpgradeRequest
    /// The subprotocol the server selected, if any.
    public let negotiatedProtocol: String?
    /// The permessage-deflate parameters agreed on (RFC 7692), `nil` when messages are not compressed.
    public let compression: PerMessageDeflate.Parameters?
    /// The client's address, `host:port`.
    public let remoteAddress: String?
    /// The address the client connected to.
    public let localAddress: String?
    /// The TLS session for `wss://` (with the client's certificate, if one was requested), `nil` for `ws://`.
    public let tls: TLSSessionInfo?
    /// Received messages; finishes normally after a close handshake, throws otherwise.
    public let messages: AsyncThrowingStream<Message, any Error>

    let connection: WebSocketConnection

    init(
        request: UpgradeRequest, negotiatedProtocol: String?, compression: PerMessageDeflate.Parameters? = nil,
        tls: TLSSessionInfo? = nil,
        connection: WebSocketConnection, messages: AsyncThrowingStream<Message, any Error>
    ) {
        self.request = request
        self.negotiatedProtocol = negotiatedProtocol
        self.compression = compression
        self.tls = tls
        self.remoteAddress = connection.transport.remoteAddress
        self.localAddress = connection.transport.localAddress
        self.connection = connection
        self.messages = messages
    }

    deinit {
        let connection = self.connection
        Task { await connection.shutDown(code: .goingAway) }
    }

    /// Sends a message.
    /// - Throws: `.closed` once a close frame was sent or the connection ended; the error of a
    ///   failed write (`.connectionAborted` when the connection dropped) for the send whose
    ///   message it hit, queued or being written, and for every later send.
    ///
    /// Called on the event loop (`MessageWebSocket.eventLoopExecutor`), a send that can write at
    /// once does so from the caller's own job, without a hop into the connection.
    public nonisolated(nonsending) func send(_ message: Message) async throws {
        try await connection.send(message)
    }

    /// Sends a text message.
    public func send(text: String) async throws {
        if try connection.sendImmediately(text: text) { return }
        try await connection.send(text: text)
    }

    /// Sends bytes as one message of type ``messageType`` (binary unless changed).
    public func send(_ bytes: [UInt8]) async throws {
        if try connection.sendImmediately(bytes, kind: nil) { return }
        try await connection.send(bytes, kind: nil)
    }

    /// The type of messages sent by ``send(_:)-([UInt8])`` (WinRT
    /// `ServerMessageWebSocketControl.MessageType`, default binary); may change at any time.
    public var messageType: MessageKind {
        get async { await connection.messageType }
    }

    /// Changes ``messageType`` for later sends.
    public func setMessageType(_ type: MessageKind) async {
        await connection.setMessageType(type)
    }

    /// Sends a ping with up to 125 bytes of application data (RFC 6455 §5.5.2) and returns its
    /// round-trip time once the client's pong arrived; as `MessageWebSocket.ping(_:)` (a unique
    /// payload when none is given; a pong also answers earlier pings).
    /// - Throws: `.invalidArgument` for a payload over 125 bytes; how the connection ended when it
    ///   ends before the pong.
    @discardableResult
    public func ping(_ payload: [UInt8] = []) async throws -> Duration {
        try await connection.ping(payload)
    }

    /// Test hook: returns once a ``ping(_:)`` was queued (or refused) on this connection.
    package func waitUntilPingQueued() async {
        await connection.waitUntilPingQueued()
    }

    /// Sends one frame of a message; `isFinal` ends it. The first frame's `kind` sets the type.
    public func sendFrame(_ bytes: [UInt8], kind: MessageKind, isFinal: Bool) async throws {
        try await connection.sendFrame(bytes, kind: kind, isFinal: isFinal)
    }

    /// Starts the close handshake and waits until the connection ended (the client answered, or
    /// the close timeout passed). `nil` sends an empty close frame.
    public func close(code: CloseCode? = .normalClosure, reason: String = "") async throws {
        try await connection.close(code: code, reason: reason)
    }

    /// The client's close frame, once received.
    public var closeStatus: WebSocketCloseStatus? {
        get async { await connection.closeStatus }
    }

    /// Traffic counters.
    public var statistics: WebSocketStatistics {
        get async { await connection.statistics }
    }

    /// Round-trip times of the TCP connection, in microseconds (WinRT `RoundTripTimeStatistics`,
    /// from `TCP_INFO`; see the type for how each is derived). Sampled when read, and as the
    /// connection ends; `nil` over a transport without TCP underneath.
    public var roundTripTimeStatistics: RoundTripTimeStatistics? {
        get async { await connection.sampleTransport()?.roundTrip }
    }

    /// Bandwidth estimates of the TCP connection, in bits per second (WinRT `BandwidthStatistics`;
    /// see the type for how each is derived). Sampled when read, and as the connection ends; `nil`
    /// over a transport without TCP underneath.
    public var bandwidthStatistics: BandwidthStatistics? {
        get async { await connection.sampleTransport()?.bandwidth }
    }
}
