import CWebSocketsShim

/// The kernel's figures for one TCP connection, read with `getsockopt(TCP_INFO)` (Linux
/// `struct tcp_info`): the raw material of ``RoundTripTimeStatistics`` and ``BandwidthStatistics``.
///
/// A snapshot, taken when asked (``Transport/tcpInfo()``); the derivation of the statistics from a
/// series of these is `TCPStatisticsSampler`. A field the running kernel does not report is 0.
public struct TCPInfo: Sendable, Hashable {
    /// `tcpi_rtt`: the smoothed round-trip time (SRTT, RFC 6298), in microseconds.
    public var smoothedRoundTripTime: UInt32
    /// `tcpi_rttvar`: the mean deviation of the round-trip time (RTTVAR, RFC 6298), in microseconds.
    public var roundTripTimeVariation: UInt32
    /// `tcpi_min_rtt`: the smallest round-trip time the kernel measured over its recent window
    /// (about five minutes), in microseconds; 0 before Linux 4.6.
    public var minimumRoundTripTime: UInt32
    /// `tcpi_delivery_rate`: the rate at which the last acknowledged data was delivered, in bytes
    /// per second; 0 before Linux 4.9 and until data was acknowledged.
    public var deliveryRate: UInt64
    /// `tcpi_delivery_rate_app_limited`: the last ``deliveryRate`` sample was limited by the sender
    /// having nothing more to send, not by the network, so it understates what the path can carry.
    public var isDeliveryRateApplicationLimited: Bool
    /// `tcpi_bytes_acked`: bytes sent and acknowledged by the peer since the connection opened.
    public var bytesAcknowledged: UInt64
    /// `tcpi_bytes_received`: bytes received in order since the connection opened.
    public var bytesReceived: UInt64

    /// A snapshot with these figures (the transport reads them; public so that a custom ``Transport``
    /// and tests can supply their own).
    public init(
        smoothedRoundTripTime: UInt32, roundTripTimeVariation: UInt32, minimumRoundTripTime: UInt32,
        deliveryRate: UInt64, isDeliveryRateApplicationLimited: Bool, bytesAcknowledged: UInt64,
        bytesReceived: UInt64
    ) {
        self.smoothedRoundTripTime = smoothedRoundTripTime
        self.roundTripTimeVariation = roundTripTimeVariation
        self.minimumRoundTripTime = minimumRoundTripTime
        self.deliveryRate = deliveryRate
        self.isDeliveryRateApplicationLimited = isDeliveryRateApplicationLimited
        self.bytesAcknowledged = bytesAcknowledged
        self.bytesReceived = bytesReceived
    }

    /// Reads `TCP_INFO` of `fd`; `nil` when the descriptor is not a TCP socket (or off Linux).
    static func read(from fd: CInt) -> TCPInfo? {
        var raw = cws_tcp_figures()
        guard cws_tcp_info(fd, &raw) == 0 else { return nil }
        return TCPInfo(
            smoothedRoundTripTime: raw.rtt_us, roundTripTimeVariation: raw.rttvar_us,
            minimumRoundTripTime: raw.min_rtt_us, deliveryRate: raw.delivery_rate,
            isDeliveryRateApplicationLimited: raw.delivery_rate_app_limited != 0,
            bytesAcknowledged: raw.bytes_acked, bytesReceived: raw.bytes_received)
    }
}

extension Transport {
    /// No TCP connection underneath (an in-memory pair, a custom medium): no figures.
    public func tcpInfo() -> TCPInfo? { nil }
}

extension TCPTransport {
    /// The socket's `TCP_INFO`, `nil` once closed. Does not disturb reads or writes in progress
    /// (readiness is left as it is).
    public func tcpInfo() -> TCPInfo? {
        registration.inspectDescriptor { TCPInfo.read(from: $0) } ?? nil
    }
}

extension TLSTransport {
    /// The figures of the TCP connection the TLS records travel over (``TLSTransport`` adds only
    /// its record overhead to the byte counts).
    public func tcpInfo() -> TCPInfo? { inner.tcpInfo() }
}
