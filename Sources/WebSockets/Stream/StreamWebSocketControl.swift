/// Settings of a ``StreamWebSocket``, all fixed when ``StreamWebSocket/connect(to:)-(String)``
/// starts (WinRT `StreamWebSocketControl`, which is stricter than the message control: "any
/// changes … must be set before the StreamWebSocket is connected"; after connecting,
/// ``StreamWebSocket/configure(_:)`` throws `.invalidState`).
///
/// The fields mean exactly what they mean on ``MessageWebSocketControl`` (and are validated by the
/// same code: this control wraps one), minus what a byte stream does not have: no
/// `maxMessageSize` (a stream has no messages to limit: bytes are handed out as they arrive,
/// so memory is bounded by the backpressure, not by a message size), no `messageType` (always
/// binary). Two defaults differ, on purpose: ``compression`` is off (see there) and
/// ``maxPendingChunks`` counts pieces of the stream, not messages.
public struct StreamWebSocketControl: Sendable, Hashable {
    /// The message control that carries the shared fields; its `maxMessageSize` is unlimited.
    private(set) var base: MessageWebSocketControl

    /// The defaults of ``MessageWebSocketControl``, except that compression is off and a stream has no
    /// message size limit.
    public init() {
        self.init(sharing: MessageWebSocketControl())
    }

    /// The fields `base` has in common with a stream control (TLS, handshake, timeouts, reaching
    /// the server, keep-alive, events), with a stream's message size (none) and compression (off).
    /// For code that builds both kinds of control from one set of options (the CLI).
    package init(sharing base: MessageWebSocketControl) {
        self.base = base
        self.base.maxMessageSize = MessageWebSocketControl.unlimited
        self.base.compression = .disabled
    }

    // MARK: TLS (wss://)

    /// Certificate problems to tolerate for `wss://`; see ``MessageWebSocketControl/ignorableServerCertificateErrors``.
    public var ignorableServerCertificateErrors: Set<ChainValidationResult> {
        get { base.ignorableServerCertificateErrors }
        set { base.ignorableServerCertificateErrors = newValue }
    }
    /// Extra trusted root certificates for `wss://`; see ``MessageWebSocketControl/additionalTrustRoots``.
    public var additionalTrustRoots: [CertificateSource] {
        get { base.additionalTrustRoots }
        set { base.additionalTrustRoots = newValue }
    }
    /// Whether `wss://` trusts the system's roots. Default `true`.
    public var usesSystemTrustStore: Bool {
        get { base.usesSystemTrustStore }
        set { base.usesSystemTrustStore = newValue }
    }
    /// The client certificate and key presented when the server asks (WinRT `ClientCertificate`).
    public var clientIdentity: TLSIdentity? {
        get { base.clientIdentity }
        set { base.clientIdentity = newValue }
    }
    /// The second validation stage with its deferral (WinRT `ServerCustomValidationRequested`);
    /// see ``MessageWebSocketControl/serverCustomValidation``.
    public var serverCustomValidation: ServerValidationHandler? {
        get { base.serverCustomValidation }
        set { base.serverCustomValidation = newValue }
    }
    /// The client-side TLS settings these fields make.
    package var tlsConfiguration: TLSClientConfiguration { base.tlsConfiguration }

    // MARK: Handshake, limits, timeouts

    /// Subprotocols offered, in order of preference (WinRT `SupportedProtocols`).
    public var supportedProtocols: [String] {
        get { base.supportedProtocols }
        set { base.supportedProtocols = newValue }
    }
    /// The largest handshake response head accepted, in bytes. Default 16 KiB.
    public var maxHandshakeResponseSize: Int {
        get { base.maxHandshakeResponseSize }
        set { base.maxHandshakeResponseSize = newValue }
    }
    /// How long TCP, TLS and the opening handshake may take together. Default 20 s.
    public var openTimeout: Duration {
        get { base.openTimeout }
        set { base.openTimeout = newValue }
    }
    /// How long ``StreamWebSocket/close(code:reason:)`` waits for the peer's close frame. Default 10 s.
    public var closeTimeout: Duration {
        get { base.closeTimeout }
        set { base.closeTimeout = newValue }
    }
    /// Bytes queued for sending above which ``StreamWebSocket/write(_:)`` suspends until the socket
    /// drained them (WinRT `OutboundBufferSizeInBytes`). Default 1 MiB.
    public var outboundBufferSize: Int {
        get { base.outboundBufferSize }
        set { base.outboundBufferSize = newValue }
    }
    /// Received pieces of the stream waiting for the application above which the socket stops
    /// reading from the network (backpressure; nothing is dropped). A piece is what one network
    /// read produced, at most 64 KiB without compression, so the default of 16 holds at most
    /// 1 MiB unread.
    public var maxPendingChunks: Int {
        get { base.maxPendingMessages }
        set { base.maxPendingMessages = newValue }
    }
    /// Which proxy to connect through; see ``MessageWebSocketControl/proxy``. Default ``ProxySetting/system``.
    public var proxy: ProxySetting {
        get { base.proxy }
        set { base.proxy = newValue }
    }
    /// The proxy's credential; see ``MessageWebSocketControl/proxyCredential``. Default `nil`.
    public var proxyCredential: ProxyCredential? {
        get { base.proxyCredential }
        set { base.proxyCredential = newValue }
    }
    /// Disables Nagle's algorithm (`TCP_NODELAY`). Default `true`, as in WinRT.
    public var noDelay: Bool {
        get { base.noDelay }
        set { base.noDelay = newValue }
    }
    /// permessage-deflate (RFC 7692). Default ``WebSocketCompression/disabled``, unlike the message
    /// socket: a stream carries large transfers that are mostly compressed already (the seed's
    /// photos and movies), and without a message size limit the only bound on inflation is one
    /// network read's worth of compressed bytes (64 KiB, which deflate's 1:1032 ratio can turn into
    /// 66 MiB per piece). Enable it for a peer you trust with compressible data.
    public var compression: WebSocketCompression {
        get { base.compression }
        set { base.compression = newValue }
    }

    // MARK: Reaching the server

    /// The credential answering a `401` offering HTTP Basic; see ``MessageWebSocketControl/serverCredential``.
    public var serverCredential: ServerCredential? {
        get { base.serverCredential }
        set { base.serverCredential = newValue }
    }
    /// Redirects the opening handshake follows (default 5, 0: none); see ``MessageWebSocketControl/maxRedirects``.
    public var maxRedirects: Int {
        get { base.maxRedirects }
        set { base.maxRedirects = newValue }
    }
    /// Whether a `wss://` → `ws://` redirect is followed (default `false`); see
    /// ``MessageWebSocketControl/allowsInsecureRedirects``.
    public var allowsInsecureRedirects: Bool {
        get { base.allowsInsecureRedirects }
        set { base.allowsInsecureRedirects = newValue }
    }
    /// Happy Eyeballs' delay between connection attempts (default 250 ms); see
    /// ``MessageWebSocketControl/connectionAttemptDelay``.
    public var connectionAttemptDelay: Duration {
        get { base.connectionAttemptDelay }
        set { base.connectionAttemptDelay = newValue }
    }

    // MARK: Keep-alive and events

    /// Keep-alive pings; see ``MessageWebSocketControl/pingInterval``. Default `nil`.
    public var pingInterval: Duration? {
        get { base.pingInterval }
        set { base.pingInterval = newValue }
    }
    /// No pong this long after a keep-alive ping: close with 1011, `input` throws `.timeout`;
    /// see ``MessageWebSocketControl/pongTimeout``. Default `nil`.
    public var pongTimeout: Duration? {
        get { base.pongTimeout }
        set { base.pongTimeout = newValue }
    }
    /// Unsolicited pongs this often (WinRT `DesiredUnsolicitedPongInterval`). Default `nil`.
    public var desiredUnsolicitedPongInterval: Duration? {
        get { base.desiredUnsolicitedPongInterval }
        set { base.desiredUnsolicitedPongInterval = newValue }
    }
    /// Receives the connection's ``WebSocketEvent``s; see ``MessageWebSocketControl/eventHandler``.
    /// Received data is reported as fragments (`fragmentReceived`), writes as messages.
    public var eventHandler: WebSocketEventHandler? {
        get { base.eventHandler }
        set { base.eventHandler = newValue }
    }

    /// Throws `.invalidArgument` for settings that cannot work (the message control's rules).
    func validate() throws(WebSocketError) {
        guard maxPendingChunks > 0 else { throw WebSocketError(.invalidArgument, "maxPendingChunks must be positive") }
        try base.validate()
    }
}
