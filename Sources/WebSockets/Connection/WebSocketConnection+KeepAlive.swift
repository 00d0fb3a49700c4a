/// Keep-alive pings (RFC 6455 §5.5.2) while the connection is open, one per `pingInterval`.
///
/// With `pingTimeout`, a ping not answered by a pong (any pong: §5.5.3 lets a peer answer only the
/// latest ping) within it fails the connection with 1011, as Python `websockets` does; without, a
/// dead peer shows up only as a failed write. Both roles: the server's `pingInterval` and
/// `pingTimeout`, the client's `pingInterval` and `pongTimeout`.

import WebSocketCore

extension WebSocketConnection {
    func startPinging(every interval: Duration) {
        let timeout = pingTimeout
        pingTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await releasingSleep(for: interval - (timeout ?? .zero))
                guard !Task.isCancelled, let self, await self.sendKeepAlivePing() else { return }
                guard let timeout else { continue }
                try? await releasingSleep(for: timeout)
                guard !Task.isCancelled, await self.pongArrived(within: timeout) else { return }
            }
        }
    }

    /// Queues a keep-alive ping; `false` once the connection is no longer open. Its payload is the
    /// ping's number (4 bytes), so that the pong that answers it is known (``latency``).
    private func sendKeepAlivePing() async -> Bool {
        keepAlivePingCount &+= 1
        let payload = withUnsafeBytes(of: keepAlivePingCount.bigEndian) { Array($0) }
        guard ending == .running, core.state == .open, (try? core.sendPing(payload)) != nil else { return false }
        pongReceived = false
        keepAlivePing = (payload, .now)
        if let events { events.emit(.pingSent(size: payload.count)) }
        await flushOutput()
        return true
    }

    /// A pong arrived: the peer is alive, and if it answers the keep-alive ping, the round trip
    /// is the new ``latency``.
    func pongArrived(_ payload: [UInt8]) {
        pongReceived = true
        var roundTrip = settlePings(answeredBy: payload)
        if let ping = keepAlivePing, ping.payload == payload {
            roundTrip = .now - ping.sentAt
            latency = roundTrip
            keepAlivePing = nil
        }
        if let events { events.emit(.pongReceived(size: payload.count, roundTripTime: roundTrip)) }
    }

    /// Whether a pong came since the last keep-alive ping; if not, closes with 1011 and drops the
    /// transport once that close frame is written, without waiting for a peer that stopped
    /// answering; `messages` then throws `.timeout`.
    private func pongArrived(within timeout: Duration) async -> Bool {
        guard ending == .running, core.state == .open else { return false }
        if pongReceived { return true }
        endError =
            endError ?? WebSocketError(.timeout, "no pong within \(timeout) of a keep-alive ping; connection closed with 1011")
        try? core.close(code: .internalError, reason: "keepalive ping timeout")
        reportClosing(code: .internalError, reason: "keepalive ping timeout", by: .local)
        armCloseDeadline()  // a peer that stopped reading could keep the close frame from going out
        await closeTransportOnceFlushed()
        return false
    }

    /// Sends an empty unsolicited pong every `interval` while open: a heartbeat that needs no
    /// answer (RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited"; the peer ignores it).
    func startSendingUnsolicitedPongs(every interval: Duration) {
        pongTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await releasingSleep(for: interval)
                guard !Task.isCancelled, let self, await self.sendUnsolicitedPong() else { return }
            }
        }
    }

    /// Queues an unsolicited pong; `false` once the connection is no longer open.
    private func sendUnsolicitedPong() async -> Bool {
        guard ending == .running, core.state == .open, (try? core.sendPong([])) != nil else { return false }
        await flushOutput()
        return true
    }
}
