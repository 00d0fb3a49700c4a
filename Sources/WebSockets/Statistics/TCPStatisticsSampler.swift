/// Turns a series of ``TCPInfo`` snapshots into ``RoundTripTimeStatistics`` and
/// ``BandwidthStatistics``: the one place that says how each figure is derived (the public types'
/// doc comments repeat it for users).
///
/// A value with no I/O and no clock of its own: the caller passes each snapshot with the instant it
/// was taken, so the derivation is tested with made-up series. Any transport with a TCP connection
/// underneath (``Transport/tcpInfo()``) can use it, a future `StreamWebSocket`'s included.
struct TCPStatisticsSampler: Sendable {
    /// The shortest time an inbound rate is measured over (after the first): reading the figures
    /// twice in a row must not report a rate over a few microseconds (usually 0). A closer sample
    /// updates everything else and keeps the inbound figures.
    static let minimumInboundInterval: Duration = .milliseconds(100)

    /// The instant and received-byte count the next inbound rate is measured from.
    private var lastInstant: ContinuousClock.Instant
    private var lastBytesReceived: UInt64
    /// The largest smoothed RTT sampled (`TCP_INFO` has no maximum).
    private var maxRoundTripTime: UInt32 = 0
    private var outbound = RateEstimate()
    private var inbound = RateEstimate()
    /// The figures of the last sample; `nil` before the first.
    private(set) var latest: (roundTrip: RoundTripTimeStatistics, bandwidth: BandwidthStatistics)?

    /// Starts measuring from `baseline`, taken at `instant` (the connection's start).
    init(baseline: TCPInfo, at instant: ContinuousClock.Instant) {
        lastInstant = instant
        lastBytesReceived = baseline.bytesReceived
    }

    /// Adds a snapshot taken at `instant` and updates ``latest``.
    mutating func record(_ info: TCPInfo, at instant: ContinuousClock.Instant) {
        let smoothed = info.smoothedRoundTripTime
        maxRoundTripTime = Swift.max(maxRoundTripTime, smoothed)
        let minimum = info.minimumRoundTripTime == 0 ? smoothed : Swift.min(info.minimumRoundTripTime, smoothed)
        let roundTrip = RoundTripTimeStatistics(
            min: minimum, max: maxRoundTripTime, smoothed: smoothed,
            variance: info.roundTripTimeVariation)

        outbound.add(Double(info.deliveryRate) * 8)
        let interval = instant - lastInstant
        let elapsed = Self.seconds(interval)
        if elapsed > 0 && (interval >= Self.minimumInboundInterval || !inbound.hasSamples) {
            // A counter that went backwards (it cannot on one socket) counts as nothing received.
            let received = info.bytesReceived >= lastBytesReceived ? info.bytesReceived - lastBytesReceived : 0
            inbound.add(Double(received) * 8 / elapsed)
            lastInstant = instant
            lastBytesReceived = info.bytesReceived
        }
        var bandwidth = BandwidthStatistics()
        bandwidth.outboundBitsPerSecond = outbound.current
        bandwidth.outboundBitsPerSecondInstability = outbound.instability
        bandwidth.outboundBandwidthPeaked = info.deliveryRate > 0 && !info.isDeliveryRateApplicationLimited
        bandwidth.inboundBitsPerSecond = inbound.current
        bandwidth.inboundBitsPerSecondInstability = inbound.instability
        bandwidth.inboundBandwidthPeaked = inbound.isNearPeak
        latest = (roundTrip, bandwidth)
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// One direction's rate samples: the latest, their smoothed mean and mean absolute deviation
/// (RFC 6298's gains, 1/8 and 1/4), and the highest seen.
struct RateEstimate: Sendable {
    private var latest: Double = 0
    private var mean: Double = 0
    private var deviation: Double = 0
    private var peak: Double = 0
    private var count = 0

    mutating func add(_ rate: Double) {
        if count == 0 {
            mean = rate
        } else {
            deviation += (abs(rate - mean) - deviation) / 4
            mean += (rate - mean) / 8
        }
        latest = rate
        peak = Swift.max(peak, rate)
        count += 1
    }

    var hasSamples: Bool { count > 0 }
    /// The latest sample, in bits per second.
    var current: UInt64 { Self.clamped(latest) }
    /// The smoothed mean absolute deviation, in bits per second (0 after one sample).
    var instability: UInt64 { Self.clamped(deviation) }
    /// From the second sample on: the latest is non-zero and at least 90 % of the peak.
    var isNearPeak: Bool { count >= 2 && latest > 0 && latest >= 0.9 * peak }

    private static func clamped(_ value: Double) -> UInt64 {
        value >= Double(UInt64.max) ? .max : UInt64(Swift.max(0, value.rounded()))
    }
}
