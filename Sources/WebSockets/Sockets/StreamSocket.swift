/// A TCP connection, optionally over TLS (WinRT `StreamSocket`): connect, read and write bytes,
/// half-close, close.
///
/// ```swift
/// let socket = StreamSocket()
/// try await socket.connect(host: "example.com", port: 443, tls: true)
/// try await socket.write(Array("HEAD / HTTP/1.0\r\nHost: example.com\r\n\r\n".utf8))
/// try await socket.shutdownWrite()                 // FIN: "nothing more from me"
/// for try await chunk in socket.chunks() { print(chunk.count, "bytes") }
/// await socket.close()
/// ```
///
/// The sequence is the seed's: set the ``StreamSocketControl`` (at `init` or with
/// ``configure(_:)``) before ``connect(host:port:tls:)``; afterwards it is fixed (`.invalidState`).
/// One read and one write may be in progress at a time, together (full duplex); a second
/// concurrent read (or write) throws `.invalidState`.
///
/// Ending, as in WinRT: ``close()`` sends an orderly FIN when every received byte was read, and
/// resets the connection (RST) when some were not, so that the peer learns its data was lost.
/// **Cancelling the task of a pending read or write tears the connection down** the same way (a
/// byte stream cut at an unknown point cannot be resumed); the operation throws
/// `.operationCanceled`. Dropping a socket without closing it closes the connection too.
///
/// Every failure is a ``SocketError`` whose message says what was being done:
/// `connect to 127.0.0.1:9: Connection refused`.
public actor StreamSocket {
    enum Phase {
        case idle, connecting, open, closed
    }

    /// The settings in force (frozen at connect).
    public private(set) var control: StreamSocketControl
    var phase: Phase = .idle
    /// The TCP connection (under TLS, if any): its descriptor is where options, `shutdown` and
    /// the reset-on-close go.
    var tcp: TCPTransport?
    /// What reads and writes go through: `tcp`, or TLS over it.
    var transport: (any Transport)?
    /// An accepted socket of a TLS listener, before its handshake: the server context. The
    /// first read or write runs the handshake (``secured(for:)``).
    var pendingServerTLS: TLSServerContext?
    /// That handshake, shared by a read and a write that both wait for it.
    var serverHandshake: Task<TLSTransport, any Error>?
    /// True for sockets from a ``StreamSocketListener`` (they cannot ``upgradeToTLS(validationHostName:)``).
    let isAccepted: Bool
    var isReading = false
    var isWriting = false
    var isWriteShutDown = false
    var info = StreamSocketInformation()
    var sampler: TCPStatisticsSampler?

    /// A socket to connect, with its settings (changeable until connect).
    public init(control: StreamSocketControl = .init()) {
        self.control = control
        self.isAccepted = false
    }

    /// A connection accepted by a listener, open from the start.
    init(accepted tcp: TCPTransport, control: StreamSocketControl, tls: TLSServerContext?) {
        self.control = control
        self.isAccepted = true
        self.phase = .open
        self.tcp = tcp
        self.transport = tcp
        self.pendingServerTLS = tls
        self.info.isSecure = tls != nil
        (info.localEndpoint, info.remoteEndpoint, sampler) = Self.baseline(of: tcp)
    }

    /// Replaces the settings (WinRT: setting `Control` properties before `ConnectAsync`).
    /// - Throws: `.invalidState` once ``connect(host:port:tls:)`` has started (or for an
    ///   accepted socket), as WinRT does; `.invalidArgument` for a field out of range.
    public func configure(_ control: StreamSocketControl) throws(SocketError) {
        guard phase == .idle else {
            throw SocketError(.invalidState, "set control: the control is fixed once the socket connects")
        }
        try control.validate()
        self.control = control
    }

    /// Connects to `host:port` (WinRT `ConnectAsync(HostName, serviceName[, protectionLevel])`).
    ///
    /// `host` is a DNS name or an IPv4/IPv6 literal (with or without brackets); names are resolved
    /// like the WebSocket client's, and each address is tried in the resolver's order until one
    /// connects. With `tls`, the TLS handshake follows at once, validated against `host` with
    /// ``StreamSocketControl/tls``. WinRT warns that a server that never finishes the TLS
    /// handshake can stall a connect: bound it with your own timeout (cancel the task).
    /// - Throws: `.invalidState` if already connected or closed; `.invalidArgument` for a port
    ///   outside 0...65535 or a control out of range; `.hostNotFound`; the last address's
    ///   failure (`.connectionRefused`, `.networkUnreachable`, `.timedOut`, ...);
    ///   `.serverCertificateInvalid` / `.secureConnectionFailed` for TLS; `.operationCanceled`.
    ///   On failure the socket is closed.
    public func connect(host: String, port: Int, tls: Bool = false) async throws(SocketError) {
        guard phase == .idle else {
            throw SocketError(.invalidState, "connect: the socket is \(phase == .closed ? "closed" : "already connected")")
        }
        try control.validate()
        phase = .connecting
        do {
            let tcp = try await StreamConnector.connect(host: host, port: port, control: control)
            guard phase == .connecting else {  // closed while connecting
                tcp.close()
                throw SocketError(.closed, "connect to \(host):\(port): the socket was closed")
            }
            self.tcp = tcp
            transport = tcp
            info.remoteHostName = host
            phase = .open
            (info.localEndpoint, info.remoteEndpoint, sampler) = Self.baseline(of: tcp)
            if tls { try await startTLS(serverName: host, operation: "TLS handshake with \(host):\(port)") }
        } catch {
            abort()
            throw SocketError(error, "connect to \(host):\(port)")
        }
    }

    /// What is known about the connection now (addresses, TLS, TCP statistics sampled now).
    public var information: StreamSocketInformation {
        if phase == .open, let tcp, let figures = tcp.tcpInfo() {
            sampler?.record(figures, at: .now)
            if let latest = sampler?.latest {
                info.roundTripTimeStatistics = latest.roundTrip
                info.bandwidthStatistics = latest.bandwidth
            }
        }
        return info
    }

    /// The connection's endpoints, and the statistics sampler started from its first `TCP_INFO`.
    private static func baseline(of tcp: TCPTransport) -> (SocketEndpoint?, SocketEndpoint?, TCPStatisticsSampler?) {
        let endpoints = tcp.registration.inspectDescriptor { fd in
            (SocketAddress.local(of: fd).map(SocketEndpoint.init), SocketAddress.peer(of: fd).map(SocketEndpoint.init))
        }
        let sampler = tcp.tcpInfo().map { TCPStatisticsSampler(baseline: $0, at: .now) }
        return (endpoints?.0, endpoints?.1, sampler)
    }

    /// Closes the connection (WinRT `Close`): an orderly FIN when no received byte is left
    /// unread, else a reset (RST), so that the peer's further writes fail instead of vanishing.
    /// With TLS, `close_notify` goes first (best effort). A pending read or write throws
    /// `.closed`. Idempotent; afterwards every operation throws `.closed`.
    public func close() {
        guard phase != .closed else { return }
        let unread = tcp?.registration.inspectDescriptor { StreamSocketOptions.hasUnreadBytes($0) } ?? false
        if unread { resetOnClose() }
        finish()
    }

    /// Tears the connection down with a reset (a cancelled read or write, a failed connect).
    func abort() {
        guard phase != .closed else { return }
        resetOnClose()
        finish()
    }

    private func resetOnClose() {
        _ = tcp?.registration.inspectDescriptor { StreamSocketOptions.resetOnClose($0) }
    }

    private func finish() {
        phase = .closed
        serverHandshake?.cancel()
        transport?.close()
        tcp?.close()
        info.roundTripTimeStatistics = nil
        info.bandwidthStatistics = nil
    }
}
