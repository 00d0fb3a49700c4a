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
    /// Send an unsolicited pong this often on every connection: a one-way heartbeat that clients
    /// do not answer (RFC 6455 §5.5.3). `nil` (the default): none.
    public var unsolicitedPongInterval: Duration?
    /// The largest request head accepted (431 above). Default 16 KiB.
    public var maxRequestHeadSize = 16 * 1024
    /// The most header fields a request may have (431 above). Default 100 (Apache's
    /// `LimitRequestFields`); browsers send about 15.
    public var maxRequestHeaderCount = 100
    /// How long a client may take, from the moment its connection is accepted, to finish TLS and
    /// send its whole upgrade request; then the connection is closed. A total deadline, not a
    /// per-read one: trickling a byte at a time does not extend it (slowloris). Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// The most WebSocket connections open at once. Valid upgrade requests beyond it get 503
    /// Service Unavailable with `Retry-After: 1` (checked before the application sees the
    /// upgrade, and again when it accepts). Default 10,000, a fixed number rather than one
    /// derived from `RLIMIT_NOFILE`, so that a server behaves the same on every machine; when the
    /// descriptor limit is lower, `accept` failing for lack of descriptors is handled (the
    /// listener pauses, see ``WebSocketListener``).
    public var maxConnections = 10_000
    /// The most opening handshakes (TLS and upgrade request, before the upgrade reaches the
    /// application) in progress at once. At the limit the listener stops accepting: new
    /// connections wait in the kernel's listen backlog (``backlog``) until a handshake ends,
    /// within ``handshakeTimeout``. Default 256. Upgrades waiting for the application are not
    /// counted (``maxPendingUpgrades`` bounds them).
    public var maxConcurrentHandshakes = 256
    /// Close a connection when nothing arrived from the client (no frame of any kind, pongs
    /// included) for this long: 1001 (going away) with reason "idle timeout", and `messages`
    /// throws `.timeout`. Time in which the application does not read (``maxPendingMessages``
    /// waiting) does not count. With ``pingInterval`` shorter than this, a live client's pongs
    /// keep it open, so only clients that stopped answering are closed. `nil` (the default):
    /// a quiet connection is normal for WebSockets (browsers send nothing on their own), and
    /// ``maxConnections`` bounds what silent clients can hold.
    public var idleTimeout: Duration?
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
    /// `WebSocketCompression/serverDefault` (accepted with 12-bit windows, as Python
    /// `websockets` does); `.disabled` answers no offer.
    public var compression: WebSocketCompression = .serverDefault
    /// Receives the events of every accepted connection (`WebSocketEvent`: connected, messages,
    /// pings, closing, failures, closed; `WebSocketEvent/connectionID` tells connections apart),
    /// synchronously on the thread that produced them: it must not block. Upgrades that are
    /// rejected or fail before the response is sent report nothing. Default `nil`: no events are
    /// built at all.
    public var eventHandler: WebSocketEventHandler?
    /// Whether ``WebSocketServer``'s handlers run on the connections' event-loop thread
    /// (`MessageWebSocket.eventLoopExecutor`) instead of Swift's global pool. Default `false`.
    ///
    /// On the loop, a message's read, the handler's code and the reply's write happen on one
    /// thread: no thread is woken per message, and an echo round trip costs one context switch
    /// instead of about four (measured: 256-byte round trips 1.5x, 8 KiB streaming 3x the
    /// messages per second). The price is the one of the client's opt-in: the loop thread runs
    /// every connection's I/O and now your handler's code, so a handler must never block it
    /// (no blocking calls, no long computation; hand such work to a plain `Task` and await it).
    /// Awaiting is fine: a suspended handler frees the loop. Off by default because a handler
    /// that blocks would stall every connection, where on the pool it stalls one thread.
    /// ``WebSocketListener``'s connections run where the application's tasks do: there, start a
    /// task with `Task(executorPreference: MessageWebSocket.eventLoopExecutor)` for the same effect.
    public var runsHandlersOnEventLoop = false

    /// After a failed `accept` (descriptors exhausted), how long the listener pauses at most
    /// before trying again, unless one of its connections ends first: the lower bound, doubled
    /// after each failure in a row up to the upper bound. Package level, for tests.
    package var acceptRetryDelay: ClosedRange<Duration> = .milliseconds(10)...(.seconds(1))

    /// The defaults given on each property: loopback (`127.0.0.1`), a free port, IIS's limits, no TLS.
    public init() {}

    func validate() throws {
        guard (0...65535).contains(port) else {
            throw WebSocketError(.invalidArgument, "port \(port) is outside 0...65535")
        }
        guard backlog > 0, receiveBufferLimit > 0, maxRequestHeadSize > 0, maxRequestHeaderCount > 0,
            outboundBufferSize > 0, maxPendingMessages > 0, maxPendingUpgrades > 0, maxConnections > 0,
            maxConcurrentHandshakes > 0
        else {
            throw WebSocketError(.invalidArgument, "backlog and every size and count limit must be positive")
        }
        guard handshakeTimeout > .zero, acceptRetryDelay.lowerBound > .zero else {
            throw WebSocketError(.invalidArgument, "handshakeTimeout must be positive")
        }
        if let idleTimeout, idleTimeout <= .zero {
            throw WebSocketError(.invalidArgument, "idleTimeout must be positive (nil for none)")
        }
        if let pingInterval, pingInterval <= .zero {
            throw WebSocketError(.invalidArgument, "pingInterval must be positive (nil sends no pings)")
        }
        if let unsolicitedPongInterval, unsolicitedPongInterval <= .zero {
            throw WebSocketError(.invalidArgument, "unsolicitedPongInterval must be positive (nil sends none)")
        }
        if let pingTimeout, pingTimeout <= .zero {
            throw WebSocketError(.invalidArgument, "pingTimeout must be positive (nil waits for no pong)")
        }
        try compression.validate()
    }
}
