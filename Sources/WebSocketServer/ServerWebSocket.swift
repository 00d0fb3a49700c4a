import WebSocketCore
import WebSockets

/// One accepted WebSocket connection, seen from the server: the same message-level shape as the
/// client (``messages`` as an `AsyncThrowingStream`, `send`, `close`).
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
    /// The TLS session for `wss://` (with the client's certificate, if one was requested), `nil` for `ws://`.
    public let tls: TLSSessionInfo?
    /// Received messages; finishes normally after a close handshake, throws otherwise.
    public let messages: AsyncThrowingStream<Message, any Error>

    let connection: WebSocketConnection

    init(request: UpgradeRequest, negotiatedProtocol: String?, compression: PerMessageDeflate.Parameters? = nil, tls: TLSSessionInfo? = nil,
         connection: WebSocketConnection, messages: AsyncThrowingStream<Message, any Error>) {
        self.request = request
        self.negotiatedProtocol = negotiatedProtocol
        self.compression = compression
        self.tls = tls
        self.remoteAddress = connection.transport.remoteAddress
        self.connection = connection
        self.messages = messages
    }

    deinit {
        let connection = self.connection
        Task { await connection.shutDown(code: .goingAway) }
    }

    /// Sends a message.
    public func send(_ message: Message) async throws {
        switch message {
        case .text(let text): try await connection.send(text: text)
        case .binary(let bytes): try await connection.send(bytes, kind: .binary)
        }
    }

    /// Sends a text message.
    public func send(text: String) async throws {
        try await connection.send(text: text)
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
}
