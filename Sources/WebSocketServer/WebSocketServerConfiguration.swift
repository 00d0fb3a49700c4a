import WebSocketCore
import WebSockets

/// Settings of a ``WebSocketListener`` (and of ``WebSocketServer``, built on it), fixed when it
/// binds. The names of the IIS `<system.webServer><webSocket>` settings are kept where they exist
/// (``receiveBufferLimit``, ``pingInterval``), with IIS's defaults.
public struct WebSocketServerConfiguration: Sendable {
    /// The address to listen on: a numeric IPv4 or IPv6 literal. Default `127.0.0.1` (loopback
    /// only); `::1` for IPv6 loopback, `0.0.0.0` / `::` for every interface.
    public var host = "127.0.0.1"
    /// The port; 0 picks a free one (read it back from ``WebSocketListener/port``).
    public var port = 0
    /// The listen backlog: connections the kernel queues before they are accepted. Default 511.
    public var backlog = 511
    /// Subprotocols the server supports, in its order of preference. An upgrade accepted without
    /// naming a subprotocol gets the first of these that the client offered (none if empty).
    public var subprotocols: [String] = []
    /// The largest message accepted, in bytes (decompressed size with permessage-deflate; the sum
    /// of the fragments for the fragment context). A bigger one fails the connection with close
    /// code 1009 (message too big). Default 4 MiB, IIS's `receiveBufferLimit`.
    public var receiveBufferLimit = 4 * 1024 * 1024
    /// Send a ping this often on every connection (keep-alive through proxies and NATs); pongs
    /// are not awaited. `nil` (the default, IIS's `00:00:00`) sends none.
    public var pingInterval: Duration?
    /// With ``pingInterval``: fail a connection whose client sent no pong within this time after
    /// a keep-alive ping (close 1011 "keepalive ping timeout", `messages` throws `.timeout`), so
    /// that dead peers are found. At most ``pingInterval`` (longer is capped to it). `nil` (the
    /// default, as IIS): pongs are not awaited.
    public var pingTimeout: Duration?
    /// The largest request head accepted (431 above). Default 16 KiB.
    public var maxRequestHeadSize = 16 * 1024
    /// How long a client may take to send its upgrade request (and finish TLS). Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// How long a close waits for the client's close frame. Default 10 s.
    public var closeTimeout: Duration = .seconds(10)
    /// Bytes queued for sending above which `send` suspends. Default 1 MiB.
    public var outboundBufferSize = 1024 * 1024
    /// Received messages (or fragments) waiting for the application above which reading pauses
    /// (TCP flow control then slows the client down). Default 16.
    public var maxPendingMessages = 16
    /// Valid upgrade requests waiting for the application to take them from the listener; more
    /// are answered with 503 Service Unavailable. Default 128.
    public var maxPendingUpgrades = 128
    /// Serve `wss://`: TLS with this certificate chain and key (and, optionally, client
    /// certificates). `nil` (the default) serves plain `ws://`.
    public var tls: TLSServerConfiguration?
    /// permessage-deflate (RFC 7692) for clients that offer it. Default
    /// ``WebSocketCompression/serverDefault`` (accepted with 12-bit windows, as Python
    /// `websockets` does); `.disabled` answers no offer.
    public var compression: WebSocketCompression = .serverDefault

    public init() {}

    func validate() throws {
        guard (0...65535).contains(port) else {
            throw WebSocketError(.invalidArgument, "port \(port) is outside 0...65535")
        }
        guard backlog > 0, receiveBufferLimit > 0, maxRequestHeadSize > 0, outboundBufferSize > 0,
              maxPendingMessages > 0, maxPendingUpgrades > 0 else {
            throw WebSocketError(.invalidArgument, "backlog and every size and count limit must be positive")
        }
        if let pingInterval, pingInterval <= .zero {
            throw WebSocketError(.invalidArgument, "pingInterval must be positive (nil sends no pings)")
        }
        if let pingTimeout, pingTimeout <= .zero {
            throw WebSocketError(.invalidArgument, "pingTimeout must be positive (nil waits for no pong)")
        }
        try compression.validate()
    }
}
