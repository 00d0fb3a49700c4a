/// Settings of a ``StreamSocket`` (WinRT `StreamSocketControl`), fixed when
/// ``StreamSocket/connect(host:port:tls:)`` starts: changing them afterwards
/// (``StreamSocket/configure(_:)``) throws `.invalidState`, as in WinRT.
///
/// A ``StreamSocketListener`` applies the socket options of its control (``noDelay``, the
/// keep-alive fields, ``outboundBufferSize``, ``hopLimit``) to every connection it accepts; it
/// takes the control when it binds, so the seed's rule "set before binding" holds by construction.
///
/// Every field has a safe default: the system's own value where `nil`.
public struct StreamSocketControl: Sendable {
    /// `TCP_NODELAY`: send small writes at once instead of coalescing them (Nagle's algorithm).
    /// Default `true`, as in WinRT: a write is usually a whole request or reply.
    public var noDelay = true
    /// `SO_KEEPALIVE`: probe an idle connection so that a dead peer is noticed (a pending read
    /// then fails with `.timedOut`). Default `false`.
    public var keepAlive = false
    /// With ``keepAlive``: how long the connection stays idle before the first probe
    /// (`TCP_KEEPIDLE`, whole seconds, 1 s...32767 s). `nil`: the system's (Linux: 7200 s).
    public var keepAliveIdle: Duration?
    /// With ``keepAlive``: the time between probes (`TCP_KEEPINTVL`, whole seconds,
    /// 1 s...32767 s). `nil`: the system's (Linux: 75 s).
    public var keepAliveInterval: Duration?
    /// With ``keepAlive``: how many unanswered probes end the connection (`TCP_KEEPCNT`,
    /// 1...127). `nil`: the system's (Linux: 9).
    public var keepAliveProbeCount: Int?
    /// The kernel's send buffer in bytes (`SO_SNDBUF`, WinRT `OutboundBufferSizeInBytes`; Linux
    /// doubles the value for its bookkeeping). How much ``StreamSocket/write(_:)`` can hand over
    /// before it waits for the peer to read. `nil`: the system's (auto-tuned). 1 byte...1 GiB.
    public var outboundBufferSize: Int?
    /// The IP time-to-live / IPv6 hop limit of outgoing packets (`IP_TTL`, `IPV6_UNICAST_HOPS`;
    /// WinRT `OutboundUnicastHopLimit`), 1...255. `nil`: the system's (Linux: 64).
    public var hopLimit: Int?
    /// TLS for ``StreamSocket/connect(host:port:tls:)`` with `tls: true` and for
    /// ``StreamSocket/upgradeToTLS(validationHostName:)``: trust roots, ignorable certificate
    /// errors, the validation hook and the client certificate, the same settings
    /// ``MessageWebSocketControl`` has for `wss://`.
    public var tls = TLSClientConfiguration()

    /// The oldest TLS version offered (WinRT `MinProtectionLevel`): ``TLSClientConfiguration/minimumVersion``
    /// of ``tls``. Default TLS 1.2.
    public var minimumTLSVersion: TLSVersion {
        get { tls.minimumVersion }
        set { tls.minimumVersion = newValue }
    }

    /// How long a TLS handshake may take: `connect(..., tls: true)`, ``StreamSocket/upgradeToTLS(validationHostName:)``
    /// and, for a socket accepted by a TLS ``StreamSocketListener``, the server handshake its first
    /// read or write runs. When it passes, the connection is closed and the operation throws
    /// `.timedOut`: a peer that connects and never speaks TLS cannot hold a socket. Default 10 s.
    public var tlsHandshakeTimeout: Duration = .seconds(10)

    /// The defaults: `noDelay`, no keep-alive, the system's buffer and hop limit, TLS 1.2+ with
    /// the system's trust store, 10 s for a TLS handshake.
    public init() {}

    /// Checks every field's range.
    /// - Throws: `.invalidArgument` naming the first field out of range.
    func validate() throws(SocketError) {
        func check(_ ok: Bool, _ text: String) throws(SocketError) {
            if !ok { throw SocketError(.invalidArgument, "StreamSocketControl.\(text)") }
        }
        let seconds = Duration.seconds(1)...Duration.seconds(32767)
        if let idle = keepAliveIdle { try check(seconds.contains(idle), "keepAliveIdle must be 1 s...32767 s") }
        if let interval = keepAliveInterval {
            try check(seconds.contains(interval), "keepAliveInterval must be 1 s...32767 s")
        }
        if let count = keepAliveProbeCount { try check((1...127).contains(count), "keepAliveProbeCount must be 1...127") }
        if let size = outboundBufferSize { try check((1...(1 << 30)).contains(size), "outboundBufferSize must be 1...1 GiB") }
        if let hops = hopLimit { try check((1...255).contains(hops), "hopLimit must be 1...255") }
        try check(tlsHandshakeTimeout > .zero, "tlsHandshakeTimeout must be positive")
    }
}
