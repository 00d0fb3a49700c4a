import Testing
import WebSocketCore

@testable import WebSockets

/// The event hook and the TCP statistics against an independent peer: Python `websockets` on
/// loopback (see ``PythonPeer`` for how it is enabled).
@Suite("Events and statistics with a Python websockets peer", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage))
struct EventsInteropTests {
    @Test(
        "a Python websockets echo: the hook sees the negotiated details, every message and a clean close; the TCP figures are plausible"
    )
    func eventsAndStatistics() async throws {
        let peer = try await PythonPeer(script: "echo_server.py")
        let recorder = EventRecorder()
        var control = MessageWebSocketControl()
        control.eventHandler = recorder.handler
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: peer.url())
        var messages = socket.messages.makeAsyncIterator()
        let big = [UInt8](repeating: 0x42, count: 1 << 20)
        for message: Message in [.text("héllo"), .binary(big)] {
            try await socket.send(message)
            #expect(try await messages.next() == message)
        }
        let roundTrip = try await socket.ping()
        let information = await socket.information
        try await socket.close(code: .normalClosure, reason: "done")
        #expect(try await messages.next() == nil)

        // Python websockets pings every 20 s by default: on a very slow run one may come in.
        let kinds = recorder.kinds.filter { if case .pingReceived = $0 { false } else { true } }
        try #require(kinds.count == 10, "\(kinds)")
        #expect(kinds[0] == .connecting(url: peer.url()))
        guard case .connected(let details) = kinds[1] else {
            Issue.record("\(kinds[1])")
            return
        }
        #expect(details.extensions == information.negotiatedExtensions, "as information reports the server's answer")
        #expect(details.isSecure == false)
        #expect(details.remoteAddress == "127.0.0.1:\(peer.port)")
        #expect(
            Array(kinds[2...5]) == [
                .messageSent(.text, size: 6), .messageReceived(.text, size: 6),
                .messageSent(.binary, size: 1 << 20), .messageReceived(.binary, size: 1 << 20),
            ])
        #expect(kinds[6] == .pingSent(size: 8))
        #expect(kinds[7] == .pongReceived(size: 8, roundTripTime: roundTrip))
        #expect(kinds[8] == .closing(code: .normalClosure, reason: "done", initiatedBy: .local))
        guard case .closed(.normalClosure?, _, true) = kinds[9] else {
            Issue.record("\(kinds[9])")
            return
        }

        let rtt = try #require(information.roundTripTimeStatistics)
        #expect(rtt.smoothed > 0 && rtt.min <= rtt.smoothed && rtt.smoothed <= rtt.max)
        #expect(try #require(information.bandwidthStatistics).inboundBitsPerSecond > 0)
    }
}
