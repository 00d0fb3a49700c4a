/// Settings of a ``MessageWebSocket``, fixed when ``MessageWebSocket/connect(to:)-(String)`` starts
/// (WinRT `MessageWebSocketControl`).
///
/// Only ``messageType`` may change after connecting (through ``MessageWebSocket/setMessageType(_:)``):
/// every other field shapes the handshake or the limits the connection was built with.
/// Every limit has a safe default so that a hostile peer cannot exhaust memory or hang a task.
public struct MessageWebSocketControl: Sendable, Hashable {
    /// Use as ``maxMessageSize`` to accept messages of any size. Unlimited must be asked for by
    /// name: 0 and negative sizes are rejected, never read as "no limit".
    public static let unlimited = Int.max

    // MARK: TLS (wss://)

    /// Certificate problems to tolerate for `wss://` (WinRT `IgnorableServerCertificateErrors`).
    /// Default empty: every problem fails `connect` with `.serverCertificateInvalid`. Only for tests
    /// and private setups; `.revoked` and `.invalidSignature` can never be ignored.
    public var ignorableServerCertificateErrors: Set<ChainValidationResult> = []
    /// Extra trusted root certificates for `wss://` (a private CA), in addition to the system's.
    public var additionalTrustRoots: [CertificateSource] = []
    /// Whether `wss://` trusts the system's root certificates. Default `true`.
    public var usesSystemTrustStore = true
    /// The client certificate and key presented when the server asks (mutual TLS).
    public var clientIdentity: TLSIdentity?
    /// The second validation stage (WinRT `ServerCustomValidationRequested`): called during the TLS
    /// handshake after the default validation passed, which waits for it (under ``openTimeout``).
    /// `.reject` or a thrown error fails `connect` with `.serverCertificateRejected`. For
    /// callback-style code, see ``ServerValidationEvent/handler(_:)``.
    public var serverCustomValidation: ServerValidationHandler? {
        get { validationHook?.handler }
        set { validationHook = newValue.map(ValidationHook.init) }
    }
    private var validationHook: ValidationHook?

    /// The client-side TLS settings these fields make.
    package var tlsConfiguration: TLSClientConfiguration {
        var configuration = TLSClientConfiguration()
        configuration.usesSystemTrustStore = usesSystemTrustStore
        configuration.additionalTrustRoots = additionalTrustRoots
        configuration.ignorableErrors = ignorableServerCertificateErrors
        configuration.customValidation = serverCustomValidation
        configuration.identity = clientIdentity
        return configuration
    }

    // MARK: Proxy

    /// Which proxy to connect through. Default ``ProxySetting/system``: the environment's
    /// (`https_proxy` for `wss://`, `http_proxy` for `ws://`, `all_proxy`, `no_proxy`; see
    /// ``ProxyEnvironment``), else directly. HTTP `CONNECT`, `https://` proxies and SOCKS5 are
    /// supported; `wss://` keeps TLS end to end through any of them.
    public var proxy: ProxySetting = .system
    /// The credential for the proxy (WinRT `ProxyCredential`), used when the proxy URL carries no
    /// `user:password@` of its own: Basic after the HTTP proxy answers 407 (once), or SOCKS5
    /// username/password (RFC 1929). Default `nil`.
    public var proxyCredential: ProxyCredential?

    /// The type of messages sent from bytes (`send(_ bytes:)`, `sendFinalFrame`, `sendNonfinalFrame`).
    /// Default `.binary`, as in WinRT. Does not affect received messages.
    public var messageType: MessageKind = .binary
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in order of preference. The server's choice
    /// is ``MessageWebSocketInformation/negotiatedProtocol``.
    public var supportedProtocols: [String] = []
    /// The largest message accepted, in bytes (a larger one fails the connection with 1009 and the
    /// stream throws `.messageTooBig`). Default 16 MiB; ``unlimited`` for none.
    public var maxMessageSize: Int = 16 * 1024 * 1024
    /// The largest handshake response head accepted, in bytes. Default 16 KiB.
    public var maxHandshakeResponseSize: Int = 16 * 1024
    /// How long the TCP connection and the opening handshake may take together. Default 20 s.
    public var openTimeout: Duration = .seconds(20)
    /// How long ``MessageWebSocket/close(code:reason:)`` waits for the peer's close frame (and then
    /// for the server to end the TCP connection) before dropping the connection. Default 10 s.
    public var closeTimeout: Duration = .seconds(10)
    /// Bytes queued for sending above which `send` suspends until the socket drained them. Default 1 MiB.
    public var outboundBufferSize: Int = 1024 * 1024
    /// Received messages waiting for the application above which the socket stops reading from the
    /// network (backpressure; nothing is dropped). Default 16.
    public var maxPendingMessages: Int = 16
    /// Disables Nagle's algorithm (`TCP_NODELAY`). Default `true`, as in WinRT.
    public var noDelay = true

    // MARK: Reaching the server

    /// The user name and password answering a `401` that offers HTTP Basic (WinRT
    /// `ServerCredential`), once, and only to the URL's host. Default `nil`: then a URL's
    /// `user:password@` is used. See ``ServerCredential`` for when it is (never) sent.
    public var serverCredential: ServerCredential?
    /// How many redirects (301, 302, 303, 307, 308) the opening handshake follows. Default 5, as
    /// browsers' and curl's order of magnitude; 0 follows none (the 3xx fails `connect` with
    /// `.handshakeFailed`). Loops fail at once with `.redirectFailed`; all hops share ``openTimeout``.
    /// Where the connection ended up is ``MessageWebSocketInformation/url``.
    public var maxRedirects = 5
    /// Whether a redirect from `wss://` to `ws://` is followed. Default `false`: it fails with
    /// `.httpsToHttpOnRedirection`, since it would send the request (and what follows) unencrypted.
    public var allowsInsecureRedirects = false
    /// Happy Eyeballs (RFC 8305 §5): when a host has several addresses, the next connection
    /// attempt starts this long after the previous one if that has not connected (at once when it
    /// failed); the first to connect wins and the others are closed. Default 250 ms (RFC 8305's
    /// recommendation). The attempts share ``openTimeout``, so no single dead address uses it up.
    public var connectionAttemptDelay: Duration = HappyEyeballs.defaultAttemptDelay
    /// permessage-deflate (RFC 7692). Default ``WebSocketCompression/clientDefault`` (offered, as in
    /// Python `websockets`); the server's answer is ``MessageWebSocketInformation/compression``.
    public var compression: WebSocketCompression = .clientDefault
    /// Keep-alive: while the connection is open, send a ping this often (RFC 6455 §5.5.2), which
    /// keeps NATs and proxies from dropping an idle connection and, with ``pongTimeout``, finds a
    /// peer that is gone. Default `nil`: no pings, as in WinRT's `MessageWebSocket` (a long-lived
    /// connection should set it; Python `websockets` uses 20 s). Each answered ping updates
    /// ``MessageWebSocketInformation/latency``.
    public var pingInterval: Duration?
    /// With ``pingInterval``: when no pong arrives within this time after a keep-alive ping (any
    /// pong: RFC 6455 §5.5.3 lets a peer answer only the latest ping), close with 1011 and end
    /// `messages` with `.timeout`. At most ``pingInterval`` (longer is capped to it). Default `nil`:
    /// pongs are not awaited, and a dead peer shows only as a failed write.
    public var pongTimeout: Duration?
    /// Send an unsolicited pong this often while open (WinRT `DesiredUnsolicitedPongInterval`): a
    /// one-way heartbeat that the peer does not answer (RFC 6455 §5.5.3), for servers that time
    /// out silent clients. Default `nil`: none (WinRT's 0). The interval in effect is
    /// ``MessageWebSocketInformation/actualUnsolicitedPongInterval``.
    public var desiredUnsolicitedPongInterval: Duration?
    /// Whether received messages arrive whole in ``MessageWebSocket/messages`` (`.fullMessage`,
    /// the default, as in WinRT) or as pieces as they arrive in ``MessageWebSocket/fragments``
    /// (`.partialMessage`: a message larger than memory can stream through;
    /// ``maxMessageSize`` still bounds the whole message, `unlimited` lifts it).
    public var receiveMode: MessageWebSocketReceiveMode = .fullMessage
    /// Receives the connection's ``WebSocketEvent``s (connecting, connected, messages, pings,
    /// closing, failures, closed), synchronously on the thread that produced them: it must not
    /// block. Default `nil`: no events are built at all. Levels map one to one onto swift-log's;
    /// ``WebSocketEvent`` shows the bridge. Compared by identity (the control stays `Hashable`).
    public var eventHandler: WebSocketEventHandler? {
        get { eventHook?.handler }
        set { eventHook = newValue.map(EventHandlerBox.init) }
    }
    private var eventHook: EventHandlerBox?

    /// The defaults given on each property (see the README's defaults table): 16 MiB messages, 20 s to
    /// open, 10 s to close, compression offered, no keep-alive pings.
    public init() {}

    /// Throws `.invalidArgument` for settings that cannot work.
    func validate() throws(WebSocketError) {
        func require(_ condition: Bool, _ message: String) throws(WebSocketError) {
            if !condition { throw WebSocketError(.invalidArgument, message) }
        }
        try require(maxMessageSize > 0, "maxMessageSize must be positive (use MessageWebSocketControl.unlimited for no limit)")
        try require(maxHandshakeResponseSize >= 256, "maxHandshakeResponseSize must be at least 256 bytes")
        try require(openTimeout > .zero, "openTimeout must be positive")
        try require(closeTimeout >= .zero, "closeTimeout must not be negative")
        try require(maxRedirects >= 0, "maxRedirects must not be negative (0 follows no redirect)")
        try require(connectionAttemptDelay > .zero, "connectionAttemptDelay must be positive")
        try serverCredential?.validate()
        try require(outboundBufferSize > 0, "outboundBufferSize must be positive")
        try require(maxPendingMessages > 0, "maxPendingMessages must be positive")
        try require(pingInterval.map { $0 > .zero } ?? true, "pingInterval must be positive (nil sends no pings)")
        try require(pongTimeout.map { $0 > .zero } ?? true, "pongTimeout must be positive (nil waits for no pong)")
        try require(
            desiredUnsolicitedPongInterval.map { $0 > .zero } ?? true,
            "desiredUnsolicitedPongInterval must be positive (nil sends none)")
        try require(
            pongTimeout == nil || pingInterval != nil, "pongTimeout needs a pingInterval: only keep-alive pings are timed")
        for error in ignorableServerCertificateErrors where !error.isIgnorable {
            throw WebSocketError(.invalidArgument, "certificate error \(error) cannot be ignored")
        }
        try compression.validate()
        if case .explicit(let server) = proxy {
            try require(!server.host.isEmpty, "the proxy's host is empty")
            try require((1...65535).contains(server.port), "the proxy's port \(server.port) is not in 1...65535")
        }
        for name in supportedProtocols {
            try require(
                !name.isEmpty && name.utf8.allSatisfy { HTTPToken.isTokenByte($0) },
                "subprotocol \"\(name)\" is not a valid HTTP token (RFC 6455 §4.1)")
        }
    }
}

/// How a ``MessageWebSocket`` hands received messages to the application (WinRT
/// `MessageWebSocketReceiveMode`).
public enum MessageWebSocketReceiveMode: Sendable, Hashable {
    /// Whole messages, in ``MessageWebSocket/messages`` (WinRT `FullMessage`, the default).
    case fullMessage
    /// Pieces of messages as their bytes arrive, in ``MessageWebSocket/fragments``, each saying
    /// its message's kind and whether it completes the message (WinRT `PartialMessage` with
    /// `IsMessageComplete`).
    case partialMessage
}

/// A hook compared by identity, so that the control stays `Hashable`.
private final class ValidationHook: Sendable, Hashable {
    let handler: ServerValidationHandler
    init(_ handler: @escaping ServerValidationHandler) { self.handler = handler }
    static func == (lhs: ValidationHook, rhs: ValidationHook) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// HTTP token characters (RFC 7230 §3.2.6), for subprotocol and header names.
enum HTTPToken {
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
