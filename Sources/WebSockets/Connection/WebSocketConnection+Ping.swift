/// `ping()` that returns its round-trip time (RFC 6455 §5.5.2, §5.5.3).
///
/// Each ping waits for the pong that carries its payload. A pong also answers every ping sent
/// before the one it names, because §5.5.3 lets a peer answer only the most recent of several
/// pings (Python `websockets` does the same). A ping without a payload gets a unique one (its
/// number, 8 bytes), so that concurrent pings are told apart; pings with the same payload are
/// answered in order. When the connection ends first, every waiting ping throws how it ended; when
/// a write fails, at once (the ping may not have gone out).
extension WebSocketConnection {
    /// A ping of ``ping(_:)`` on its way: answered (`outcome`) before or after its caller waits.
    struct PendingPing {
        let id: UInt64
        let payload: [UInt8]
        let sentAt: ContinuousClock.Instant
        var waiter: CheckedContinuation<Duration, any Error>?
        var outcome: Result<Duration, WebSocketError>?
    }

    /// Sends a ping with `payload` (at most 125 bytes; a unique one when empty) and returns the
    /// time from queuing it to reading its pong.
    package func ping(_ payload: [UInt8]) async throws -> Duration {
        pingCount &+= 1
        let id = pingCount
        let payload = payload.isEmpty ? withUnsafeBytes(of: id.bigEndian) { Array($0) } : payload
        do {
            try core.sendPing(payload)
        } catch {
            resumePingWatchers()
            throw Self.map(error)
        }
        pendingPings.append(PendingPing(id: id, payload: payload, sentAt: .now))
        if let events { events.emit(.pingSent(size: payload.count)) }
        resumePingWatchers()  // queued: whatever a test calls next comes after it
        do {
            try await writeOutput()
        } catch {
            pendingPings.removeAll { $0.id == id }
            throw error
        }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Duration, any Error>) in
            guard let index = pendingPings.firstIndex(where: { $0.id == id }) else {
                return continuation.resume(throwing: WebSocketError(.closed, "the connection closed before the pong arrived"))
            }
            if let outcome = pendingPings[index].outcome {
                pendingPings.remove(at: index)
                continuation.resume(with: outcome.mapError { $0 as any Error })
            } else {
                pendingPings[index].waiter = continuation
            }
        }
    }

    /// Test hook: returns once a ping of ``ping(_:)`` was queued (or refused) on this connection,
    /// at once if one was: a test can then call what must come after it, in that order.
    package func waitUntilPingQueued() async {
        // `pingCount` grows in the same synchronous span that queues (or refuses) the ping.
        guard pingCount == 0 else { return }
        await withCheckedContinuation { pingWatchers.append($0) }
    }

    private func resumePingWatchers() {
        let watchers = pingWatchers
        pingWatchers.removeAll()
        for watcher in watchers { watcher.resume() }
    }

    /// A pong with `payload` arrived: it answers the oldest unanswered ping with that payload and
    /// every unanswered ping before it. Returns the round-trip time of the ping it names, if any.
    @discardableResult
    func settlePings(answeredBy payload: [UInt8]) -> Duration? {
        guard let last = pendingPings.firstIndex(where: { $0.outcome == nil && $0.payload == payload }) else { return nil }
        let now = ContinuousClock.now
        let roundTrip = now - pendingPings[last].sentAt
        latency = roundTrip
        settle(upTo: last) { .success(now - $0.sentAt) }
        return roundTrip
    }

    /// The connection ended: every waiting ping throws `error`.
    func failPendingPings(_ error: WebSocketError) {
        guard !pendingPings.isEmpty else { return }
        settle(upTo: pendingPings.count - 1) { _ in .failure(error) }
    }

    /// Gives the unanswered pings up to index `last` their outcome: resumes those whose caller
    /// waits (and forgets them), keeps it for the others until their caller asks.
    private func settle(upTo last: Int, _ outcome: (PendingPing) -> Result<Duration, WebSocketError>) {
        var resumed: Set<UInt64> = []
        for index in 0...last where pendingPings[index].outcome == nil {
            let result = outcome(pendingPings[index])
            if let waiter = pendingPings[index].waiter {
                waiter.resume(with: result.mapError { $0 as any Error })
                resumed.insert(pendingPings[index].id)
            } else {
                pendingPings[index].outcome = result
            }
        }
        if !resumed.isEmpty { pendingPings.removeAll { resumed.contains($0.id) } }
    }
}
