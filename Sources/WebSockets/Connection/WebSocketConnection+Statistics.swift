/// What `information` reports while the connection runs: the WebSocket's traffic counters, the
/// latency of the last answered ping and, over TCP, the transport's round-trip and bandwidth
/// figures (``TCPStatisticsSampler``).
///
/// TCP figures are sampled when read, and once more as the connection ends (before the socket is
/// closed), so that they stay readable, as of the end, afterwards. Nothing is sampled otherwise: a
/// connection whose figures nobody reads pays one `getsockopt` at its start and one at its end.
extension WebSocketConnection {
    /// Everything `information` reads from the connection, in one hop.
    package struct LiveFigures: Sendable {
        package var statistics: WebSocketStatistics
        package var latency: Duration?
        package var roundTripTime: RoundTripTimeStatistics?
        package var bandwidth: BandwidthStatistics?
    }

    /// The figures now (taking a TCP sample while the transport is open).
    package func liveFigures() -> LiveFigures {
        let tcp = sampleTransport()
        return LiveFigures(statistics: statistics, latency: latency, roundTripTime: tcp?.roundTrip, bandwidth: tcp?.bandwidth)
    }

    /// Takes a TCP sample while the transport is open and returns the latest figures; `nil` when
    /// the transport has no TCP connection underneath.
    @discardableResult
    package func sampleTransport() -> (roundTrip: RoundTripTimeStatistics, bandwidth: BandwidthStatistics)? {
        guard tcpSampler != nil else { return nil }
        if ending != .finished, let info = transport.tcpInfo() {
            tcpSampler?.record(info, at: .now)
        }
        return tcpSampler?.latest
    }
}
