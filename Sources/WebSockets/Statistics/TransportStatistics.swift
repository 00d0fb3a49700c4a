/// Round-trip times of the TCP connection under a WebSocket (WinRT `RoundTripTimeStatistics`), in
/// microseconds, as the kernel measures them for every acknowledged segment (Linux `TCP_INFO`).
///
/// These are transport figures: they include neither end's WebSocket queues. The WebSocket-level
/// round trip of a ping is ``MessageWebSocketInformation/latency`` beside it.
///
/// How each number is derived (`TCPStatisticsSampler`), at each sample: ``smoothed`` and
/// ``variance`` are the kernel's current values; ``min`` is `tcpi_min_rtt` (capped at ``smoothed``,
/// and ``smoothed`` itself when the kernel does not report it); ``max`` is the largest ``smoothed``
/// among the samples taken so far, since `TCP_INFO` has no maximum. Invariant: `min <= smoothed <= max`.
public struct RoundTripTimeStatistics: Sendable, Hashable {
    /// The smallest round-trip time (`tcpi_min_rtt`, the minimum over the kernel's recent window).
    public var min: UInt32
    /// The largest smoothed round-trip time among the samples taken (not in `TCP_INFO`).
    public var max: UInt32
    /// The smoothed round-trip time (`tcpi_rtt`, SRTT of RFC 6298): WinRT's `Sum`, which despite its
    /// name is "a smoothed RTT computed from all samples".
    public var smoothed: UInt32
    /// The round-trip time's variation (`tcpi_rttvar`, RTTVAR of RFC 6298: a smoothed mean
    /// deviation, like WinRT's `Variance`, not a statistical variance).
    public var variance: UInt32

    /// Figures in microseconds; all 0 by default (nothing measured).
    public init(min: UInt32 = 0, max: UInt32 = 0, smoothed: UInt32 = 0, variance: UInt32 = 0) {
        self.min = min
        self.max = max
        self.smoothed = smoothed
        self.variance = variance
    }
}

/// Bandwidth estimates of the TCP connection under a WebSocket (WinRT `BandwidthStatistics`), in
/// bits per second, from Linux `TCP_INFO`.
///
/// How each number is derived (`TCPStatisticsSampler`), at each sample:
/// - ``outboundBitsPerSecond``: the kernel's delivery rate (`tcpi_delivery_rate` × 8), the rate at
///   which the peer acknowledged our most recent data: an estimate of what the path carries.
/// - ``inboundBitsPerSecond``: bytes received in order (`tcpi_bytes_received`) since the previous
///   sample, × 8, divided by the time between the two samples (the first sample measures from the
///   connection's start, after the opening handshake): the throughput actually received. A sample
///   less than 100 ms after the one the rate was last measured from keeps the previous figure.
/// - The instabilities: a smoothed mean absolute deviation of the rate samples around their smoothed
///   mean, with RFC 6298's gains (`deviation += (|rate − mean| − deviation) / 4`, then
///   `mean += (rate − mean) / 8`); 0 after the first sample.
/// - ``outboundBandwidthPeaked``: the last delivery-rate sample was *not* limited by the
///   application (`tcpi_delivery_rate_app_limited` clear, and a rate measured): the congestion
///   window, not a lack of data to send, was what held the sender back, which is WinRT's meaning.
/// - ``inboundBandwidthPeaked``: from the second sample on, the inbound rate is non-zero and at
///   least 90 % of the highest inbound rate seen so far.
///
/// Samples are taken when the figures are read (`information`, `ServerWebSocket`'s statistics) and
/// once as the connection ends, so rates are averages over the time between two reads.
public struct BandwidthStatistics: Sendable, Hashable {
    /// The outbound bandwidth estimate, in bits per second.
    public var outboundBitsPerSecond: UInt64
    /// The inbound bandwidth measured, in bits per second.
    public var inboundBitsPerSecond: UInt64
    /// How much the outbound estimate varies between samples, in bits per second.
    public var outboundBitsPerSecondInstability: UInt64
    /// How much the inbound figure varies between samples, in bits per second.
    public var inboundBitsPerSecondInstability: UInt64
    /// Whether the application sends enough for the network, not the application, to limit the rate.
    public var outboundBandwidthPeaked: Bool
    /// Whether data arrives at (nearly) the highest rate seen on this connection.
    public var inboundBandwidthPeaked: Bool

    /// Figures in bits per second; all 0 and not peaked by default (nothing measured).
    public init(
        outboundBitsPerSecond: UInt64 = 0, inboundBitsPerSecond: UInt64 = 0,
        outboundBitsPerSecondInstability: UInt64 = 0, inboundBitsPerSecondInstability: UInt64 = 0,
        outboundBandwidthPeaked: Bool = false, inboundBandwidthPeaked: Bool = false
    ) {
        self.outboundBitsPerSecond = outboundBitsPerSecond
        self.inboundBitsPerSecond = inboundBitsPerSecond
        self.outboundBitsPerSecondInstability = outboundBitsPerSecondInstability
        self.inboundBitsPerSecondInstability = inboundBitsPerSecondInstability
        self.outboundBandwidthPeaked = outboundBandwidthPeaked
        self.inboundBandwidthPeaked = inboundBandwidthPeaked
    }
}
