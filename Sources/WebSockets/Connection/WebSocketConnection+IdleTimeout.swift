/// The idle timeout (the server's `idleTimeout`): a connection on which nothing arrived from the
/// peer for that long is closed with 1001 (going away), and `messages` throws `.timeout`.
///
/// "Nothing arrived" counts bytes of any frame, control frames included, so that a peer that
/// answers keep-alive pings is never idle: as in uWebSockets, the idle timeout plus keep-alive
/// pings drops dead peers, and the idle timeout alone also drops live but silent ones. Time in
/// which the reader waits for the application (``Inbox`` full) is not idle time: the peer may be
/// sending, held back by TCP flow control.

import WebSocketCore

extension WebSocketConnection {
    func startIdleTimer(_ timeout: Duration) {
        lastReceived = .now
        idleTask = Task { [weak self] in
            var deadline = ContinuousClock.now + timeout
            while !Task.isCancelled {
                try? await releasingSleep(for: ContinuousClock.now.duration(to: deadline))
                guard !Task.isCancelled, let self, let next = await self.idleDeadline(timeout) else { return }
                deadline = next
            }
        }
    }

    /// The next time to check, or `nil` once the connection is no longer open or was closed here
    /// for being idle (then the close handshake runs as for `close`, bounded by `closeTimeout`).
    private func idleDeadline(_ timeout: Duration) async -> ContinuousClock.Instant? {
        guard ending == .running, core.state == .open else { return nil }
        let now = ContinuousClock.now
        if readerAwaitsApplication { return now + timeout }
        let deadline = lastReceived + timeout
        if deadline > now { return deadline }
        endError =
            endError
            ?? WebSocketError(
                .timeout, "nothing received from the peer for \(timeout) (idle timeout); connection closed with 1001")
        try? await startClose(code: .goingAway, reason: "idle timeout")
        return nil
    }
}
