import Testing
import WebSocketCore
import WebSocketServer
import WebSocketTesting

@testable import WebSockets

/// `RoundTripTimeStatistics` and `BandwidthStatistics` (WinRT's, from Linux `TCP_INFO`): how each
/// figure is derived (over made-up series), and that real traffic over loopback produces plausible
/// ones, while a transport without TCP has none.
@Suite("TCP statistics", .timeLimit(.minutes(1)))
struct StatisticsTests {
    static func info(
        rtt: UInt32 = 100, rttvar: UInt32 = 50, minRTT: UInt32 = 80, rate: UInt64 = 0,
        appLimited: Bool = true, received: UInt64 = 0
    ) -> TCPInfo {
        TCPInfo(
            smoothedRoundTripTime: rtt, roundTripTimeVariation: rttvar, minimumRoundTripTime: minRTT,
            deliveryRate: rate, isDeliveryRateApplicationLimited: appLimited, bytesAcknowledged: 0,
            bytesReceived: received)
    }

    @Test(
        "round trips: smoothed and variance are the kernel's, min is tcpi_min_rtt (at most smoothed), max the largest smoothed sampled"
    )
    func roundTripDerivation() throws {
        let start = ContinuousClock.now
        var sampler = TCPStatisticsSampler(baseline: Self.info(), at: start)
        #expect(sampler.latest == nil, "nothing before the first sample")
        sampler.record(Self.info(rtt: 300, rttvar: 40, minRTT: 90), at: start + .seconds(1))
        sampler.record(Self.info(rtt: 200, rttvar: 30, minRTT: 90), at: start + .seconds(2))
        #expect(try #require(sampler.latest).roundTrip == RoundTripTimeStatistics(min: 90, max: 300, smoothed: 200, variance: 30))
        sampler.record(Self.info(rtt: 50, rttvar: 30, minRTT: 0), at: start + .seconds(3))  // an old kernel: no tcpi_min_rtt
        #expect(try #require(sampler.latest).roundTrip == RoundTripTimeStatistics(min: 50, max: 300, smoothed: 50, variance: 30))
        sampler.record(Self.info(rtt: 40, minRTT: 60), at: start + .seconds(4))  // min capped at smoothed
        #expect(try #require(sampler.latest).roundTrip.min == 40)
    }

    @Test(
        "bandwidth: outbound is the delivery rate × 8, inbound the received bytes × 8 over the time between samples, instability a smoothed mean absolute deviation"
    )
    func bandwidthDerivation() throws {
        let start = ContinuousClock.now
        var sampler = TCPStatisticsSampler(baseline: Self.info(received: 1_000), at: start)
        sampler.record(Self.info(rate: 1_000, appLimited: false, received: 11_000), at: start + .seconds(2))
        var bandwidth = try #require(sampler.latest).bandwidth
        #expect(bandwidth.outboundBitsPerSecond == 8_000)
        #expect(bandwidth.inboundBitsPerSecond == 40_000, "10,000 bytes over 2 s")
        #expect(
            bandwidth.outboundBitsPerSecondInstability == 0 && bandwidth.inboundBitsPerSecondInstability == 0,
            "one sample: no spread yet")
        #expect(bandwidth.outboundBandwidthPeaked, "not application-limited: the network is the limit")
        #expect(!bandwidth.inboundBandwidthPeaked, "one sample is no evidence of a peak")

        sampler.record(Self.info(rate: 3_000, appLimited: true, received: 16_000), at: start + .seconds(3))
        bandwidth = try #require(sampler.latest).bandwidth
        #expect(bandwidth.outboundBitsPerSecond == 24_000)
        #expect(bandwidth.outboundBitsPerSecondInstability == 4_000, "(|24,000 − 8,000| − 0) / 4")
        #expect(bandwidth.inboundBitsPerSecond == 40_000, "5,000 bytes over 1 s")
        #expect(bandwidth.inboundBitsPerSecondInstability == 0)
        #expect(!bandwidth.outboundBandwidthPeaked, "application-limited")
        #expect(bandwidth.inboundBandwidthPeaked, "at the highest inbound rate seen")

        sampler.record(Self.info(received: 16_500), at: start + .seconds(4))
        bandwidth = try #require(sampler.latest).bandwidth
        #expect(bandwidth.inboundBitsPerSecond == 4_000)
        #expect(bandwidth.inboundBitsPerSecondInstability == 9_000, "(|4,000 − 40,000| − 0) / 4")
        #expect(!bandwidth.inboundBandwidthPeaked, "under 90 % of the peak")
    }

    @Test("a sample within 100 ms of the inbound measurement keeps the inbound rate instead of measuring over microseconds")
    func closeSamplesKeepTheInboundRate() throws {
        let start = ContinuousClock.now
        var sampler = TCPStatisticsSampler(baseline: Self.info(), at: start)
        sampler.record(Self.info(received: 1_000), at: start + .seconds(1))
        sampler.record(Self.info(rtt: 120, received: 1_000), at: start + .seconds(1) + .milliseconds(1))
        let latest = try #require(sampler.latest)
        #expect(latest.bandwidth.inboundBitsPerSecond == 8_000)
        #expect(latest.roundTrip.smoothed == 120, "round trips are updated")
        sampler.record(Self.info(received: 2_000), at: start + .seconds(2))
        #expect(
            try #require(sampler.latest).bandwidth.inboundBitsPerSecond == 8_000,
            "1,000 bytes over the 1 s since the last measurement")
    }

    @Test("the in-memory transport has no TCP underneath: no round-trip or bandwidth figures")
    func noneInMemory() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair()
        try await socket.send(text: "x")
        #expect(try await peer.nextMessage() == .text("x"))
        let information = await socket.information
        #expect(information.roundTripTimeStatistics == nil)
        #expect(information.bandwidthStatistics == nil)
        #expect(information.statistics.messagesSent == 1, "the WebSocket counters are there")
        #expect(InMemoryTransport.makePair().client.tcpInfo() == nil)
    }

    @Test(
        "over loopback TCP, traffic produces plausible figures on both ends (min ≤ smoothed ≤ max, non-zero rates), still readable after the close"
    )
    func loopbackFigures() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                for try await message in socket.messages {
                    guard message == .text("figures?") else {
                        try await socket.send(message)
                        continue
                    }
                    // Bandwidth first: each read samples, and this first one measures the inbound rate
                    // since the start. Read second, after a stall of ≥ 100 ms (a loaded machine), it
                    // would measure the stall alone, in which nothing arrived: 0 (seen once).
                    let bandwidth = await socket.bandwidthStatistics
                    let roundTrip = await socket.roundTripTimeStatistics
                    try await socket.send(text: "\(roundTrip?.smoothed ?? 0) \(bandwidth?.inboundBitsPerSecond ?? 0)")
                }
            }
        ) { server in
            var control = MessageWebSocketControl()
            control.compression = .disabled  // the bytes on the wire are the bytes sent
            let socket = MessageWebSocket(control: control)
            try await socket.connect(to: server.url())
            var messages = socket.messages.makeAsyncIterator()
            let payload = (0..<(256 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            for _ in 0..<8 {
                try await socket.send(payload)
                #expect(try await messages.next() == .binary(payload))
            }
            let information = await socket.information
            let roundTrip = try #require(information.roundTripTimeStatistics)
            #expect(roundTrip.smoothed > 0)
            #expect(roundTrip.min <= roundTrip.smoothed && roundTrip.smoothed <= roundTrip.max)
            let bandwidth = try #require(information.bandwidthStatistics)
            #expect(bandwidth.inboundBitsPerSecond > 0, "2 MiB arrived")
            #expect(bandwidth.outboundBitsPerSecond > 0, "2 MiB were acknowledged")
            try await socket.send(text: "figures?")
            let serverFigures = try #require(try await messages.next()?.text).split(separator: " ").compactMap { UInt64($0) }
            #expect(
                serverFigures.count == 2 && serverFigures.allSatisfy { $0 > 0 },
                "the server's RTT and inbound rate: \(serverFigures)")
            try await socket.close(code: .normalClosure, reason: "done")
            #expect(try await messages.next() == nil)
            #expect(await socket.information.roundTripTimeStatistics != nil, "the last sample stays readable after the end")
        }
    }

    @Test("the figures are sampled as the connection ends: readable afterwards though never read while open")
    func sampledAtTheEnd() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            var messages = socket.messages.makeAsyncIterator()
            try await socket.send([UInt8](repeating: 1, count: 64 * 1024))
            _ = try await messages.next()
            try await socket.close(code: .normalClosure, reason: "done")
            let roundTrip = try #require(await socket.information.roundTripTimeStatistics)
            #expect(roundTrip.smoothed > 0)
            #expect(try #require(await socket.information.bandwidthStatistics).inboundBitsPerSecond > 0)
        }
    }
}
