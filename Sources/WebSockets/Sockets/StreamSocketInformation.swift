/// A snapshot of what is known about a ``StreamSocket``'s connection (WinRT
/// `StreamSocketInformation`). Readable in any state; fields are `nil` (or empty) until known,
/// and the endpoints are `nil` before connecting, as in WinRT.
///
/// The TLS fields have the meaning and the names of ``MessageWebSocketInformation``'s. On a socket
/// accepted by a TLS ``StreamSocketListener`` the "server" certificate fields describe the
/// peer's, that is the client's certificate, if it sent one; they are filled once the handshake
/// is done, which the first read or write drives.
public struct StreamSocketInformation: Sendable, Hashable {
    /// This side's address and port, as the kernel reports them.
    public var localEndpoint: SocketEndpoint?
    /// The peer's address and port (numeric, the address actually connected to).
    public var remoteEndpoint: SocketEndpoint?
    /// The host name as given to ``StreamSocket/connect(host:port:tls:)`` (WinRT
    /// `RemoteHostName`); `nil` for an accepted socket.
    public var remoteHostName: String?
    /// Whether TLS protects the connection (WinRT `ProtectionLevel`, `Tls12`/`Tls13` vs `PlainSocket`).
    public var isSecure = false
    /// The TLS version (`TLSv1.3`), `nil` without TLS.
    public var tlsVersion: String?
    /// The TLS cipher suite, `nil` without TLS.
    public var cipher: String?
    /// The peer's certificate (the server's on a client).
    public var serverCertificate: Certificate?
    /// The other certificates the peer sent.
    public var serverIntermediateCertificates: [Certificate] = []
    /// Certificate problems that were tolerated because they were listed as ignorable.
    public var serverCertificateErrors: [ChainValidationResult] = []
    /// The severity of ``serverCertificateErrors``.
    public var serverCertificateErrorSeverity: SSLErrorSeverity = .none
    /// Round-trip times of the TCP connection, in microseconds (from `TCP_INFO`, derived as for
    /// ``MessageWebSocketInformation/roundTripTimeStatistics``). Sampled when `information` is
    /// read; `nil` before connecting and after closing.
    public var roundTripTimeStatistics: RoundTripTimeStatistics?
    /// Bandwidth estimates of the TCP connection, in bits per second (as
    /// ``MessageWebSocketInformation/bandwidthStatistics``). Sampled and `nil` as
    /// ``roundTripTimeStatistics``.
    public var bandwidthStatistics: BandwidthStatistics?

    /// Nothing known yet: what an unconnected socket reports.
    public init() {}

    mutating func record(_ info: TLSSessionInfo) {
        isSecure = true
        recordTLSDetails(info)
    }
}

extension StreamSocketInformation: TLSDetailsRecording {}
