/// A snapshot of what is known about a ``MessageWebSocket``'s connection (WinRT
/// `MessageWebSocketInformation`). Readable in any state; fields are `nil` or zero until known.
public struct MessageWebSocketInformation: Sendable, Hashable {
    /// The URL the connection was opened to, after any redirects (without credentials); `nil`
    /// before connecting.
    public var url: String?
    /// The subprotocol the server selected, `nil` before connecting or when none was selected.
    public var negotiatedProtocol: String?
    /// The local endpoint, `host:port` (`[v6]:port` for IPv6).
    public var localAddress: String?
    /// The remote endpoint, `host:port` (`[v6]:port` for IPv6).
    public var remoteAddress: String?
    /// The server's certificate (`wss://` only), once the TLS connection is established.
    public var serverCertificate: Certificate?
    /// The other certificates the server sent (`wss://`).
    public var serverIntermediateCertificates: [Certificate] = []
    /// Certificate problems that were tolerated because they were listed as ignorable.
    public var serverCertificateErrors: [ChainValidationResult] = []
    /// The severity of ``serverCertificateErrors``.
    public var serverCertificateErrorSeverity: SSLErrorSeverity = .none
    /// The TLS version (`TLSv1.3`), `nil` for `ws://`.
    public var tlsVersion: String?
    /// The TLS cipher suite, `nil` for `ws://`.
    public var cipher: String?
    /// The server's `Sec-WebSocket-Extensions` answer as received, `nil` when it accepted none.
    public var negotiatedExtensions: String?
    /// The permessage-deflate parameters agreed on (RFC 7692), `nil` when messages are not compressed.
    public var compression: PerMessageDeflate.Parameters?
    /// Traffic counters since the connection opened.
    public var statistics = WebSocketStatistics()
    /// The round-trip time of the last answered ping, a keep-alive one
    /// (``MessageWebSocketControl/pingInterval``) or ``MessageWebSocket/ping(_:)``'s: from queuing
    /// the ping to reading its pong, so it includes both ends' queues, like Python `websockets`'
    /// `latency`. `nil` until a ping was answered.
    public var latency: Duration?
    /// Round-trip times of the TCP connection underneath, in microseconds (WinRT
    /// `RoundTripTimeStatistics`, from Linux `TCP_INFO`; see the type for how each is derived).
    /// Sampled when `information` is read, and as the connection ends. `nil` before connecting and
    /// over a transport without TCP underneath (the in-memory pair); `wss://` has them (TLS runs
    /// over TCP). Transport figures, without the WebSocket queues that ``latency`` includes.
    public var roundTripTimeStatistics: RoundTripTimeStatistics?
    /// Bandwidth estimates of the TCP connection underneath, in bits per second (WinRT
    /// `BandwidthStatistics`; see the type for how each is derived). Sampled and `nil` as
    /// ``roundTripTimeStatistics``.
    public var bandwidthStatistics: BandwidthStatistics?
    /// The interval at which unsolicited pongs are sent (WinRT `ActualUnsolicitedPongInterval`):
    /// ``MessageWebSocketControl/desiredUnsolicitedPongInterval`` as given, since nothing here
    /// needs to adjust it; `nil` when none are sent or before connecting.
    public var actualUnsolicitedPongInterval: Duration?

    /// Information before a connection: nothing negotiated, no certificate, zero counters.
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
    /// Payload bytes of compressed messages before and after permessage-deflate, both directions
    /// (their ratio is the compression achieved; uncompressed messages are not counted).
    public var compression = PerMessageDeflate.Statistics()

    /// All counters at 0.
    public init() {}
}
