/// A snapshot of what is known about a ``MessageWebSocket``'s connection (WinRT
/// `MessageWebSocketInformation`). Readable in any state; fields are `nil` or zero until known.
public struct MessageWebSocketInformation: Sendable, Hashable {
    /// The subprotocol the server selected, `nil` before connecting or when none was selected.
    public var negotiatedProtocol: String?
    /// The local endpoint, `host:port` (`[v6]:port` for IPv6).
    public var localAddress: String?
    /// The remote endpoint, `host:port` (`[v6]:port` for IPv6).
    public var remoteAddress: String?
    /// Traffic counters since the connection opened.
    public var statistics = WebSocketStatistics()

    public init() {}
}

/// Traffic counters of one connection. Never throw, never stale: a snapshot at the time of reading.
public struct WebSocketStatistics: Sendable, Hashable {
    /// Bytes written to the transport after the opening handshake (frame headers included).
    public var bytesSent: Int = 0
    /// Bytes read from the transport after the opening handshake (frame headers included).
    public var bytesReceived: Int = 0
    /// Complete messages sent (a fragmented message counts once, at its final frame).
    public var messagesSent: Int = 0
    /// Complete messages received.
    public var messagesReceived: Int = 0

    public init() {}
}
