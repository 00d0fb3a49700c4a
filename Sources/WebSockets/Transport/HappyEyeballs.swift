#if canImport(Glibc)
    import Glibc
#endif

/// Happy Eyeballs v2 (RFC 8305): connecting to a host with several addresses without waiting on
/// a dead one.
///
/// The addresses are interleaved by family (``interleave(_:)``), then attempts start one after
/// another: the next begins when the previous one failed, or `attemptDelay` after it started if it
/// is still pending (RFC 8305 §5, 250 ms by default). Attempts already started keep running; the
/// first to connect wins and every other one is cancelled and its socket closed. So an address
/// that never answers (a dropped SYN) delays the connection by `attemptDelay`, not by the whole
/// open timeout. Used by ``TCPTransport/connect(host:port:noDelay:isolation:)`` and by any client
/// of the sockets family that connects by name.
package enum HappyEyeballs {
    /// RFC 8305 §8's recommended Connection Attempt Delay.
    package static let defaultAttemptDelay: Duration = .milliseconds(250)

    /// How a pending attempt's wait is measured; tests inject one that returns when they say so.
    package typealias Sleep = @Sendable (Duration) async throws -> Void

    /// RFC 8305 §4: the first address's family first, then the families alternate (`v6, v4, v6,
    /// v4, ...`); within a family the resolver's order is kept. Leftovers of the larger family
    /// come last, in order.
    package static func interleave(_ addresses: [SocketAddress]) -> [SocketAddress] {
        guard let first = addresses.first else { return [] }
        let preferred = addresses.filter { $0.family == first.family }
        let other = addresses.filter { $0.family != first.family }
        var result: [SocketAddress] = []
        result.reserveCapacity(addresses.count)
        for index in 0..<max(preferred.count, other.count) {
            if index < preferred.count { result.append(preferred[index]) }
            if index < other.count { result.append(other[index]) }
        }
        return result
    }

    /// Races connections to `addresses` (already in the order to try; see ``interleave(_:)``).
    /// - Parameters:
    ///   - name: `host:port` as the caller knows it, for error messages.
    ///   - attemptStarted: called as each attempt starts (test hook).
    ///   - sleep: waits `attemptDelay` (test hook; the event loop's sleep by default).
    /// - Throws: the last attempt's `.cannotConnect` when every one failed; `.operationCanceled`.
    package static func connect(
        to addresses: [SocketAddress], name: String, noDelay: Bool, attemptDelay: Duration = defaultAttemptDelay,
        loop: EventLoop, attemptStarted: (@Sendable (SocketAddress) -> Void)? = nil,
        sleep: @escaping Sleep = { try await releasingSleep(for: $0) }
    ) async throws -> TCPTransport {
        try await connect(
            to: addresses, name: name, attemptDelay: attemptDelay, attemptStarted: attemptStarted, sleep: sleep
        ) { address in
            try await TCPTransport.connect(to: address, noDelay: noDelay, loop: loop, name: name, isolation: nil)
        }
    }

    /// Races `attempt` over `addresses`, as above: `attempt` makes one connection (the plain
    /// sockets set their options before `connect`, so they bring their own) and throws its own
    /// error type, which is what a failed race throws.
    package static func connect(
        to addresses: [SocketAddress], name: String, attemptDelay: Duration = defaultAttemptDelay,
        attemptStarted: (@Sendable (SocketAddress) -> Void)? = nil,
        sleep: @escaping Sleep = { try await releasingSleep(for: $0) },
        attempt: @escaping @Sendable (SocketAddress) async throws -> TCPTransport
    ) async throws -> TCPTransport {
        guard !addresses.isEmpty else {
            throw WebSocketError(.cannotConnect, "could not connect to \(name): no address")
        }
        if addresses.count == 1 {
            attemptStarted?(addresses[0])
            return try await attempt(addresses[0])
        }
        enum Outcome: Sendable {
            case connected(TCPTransport)
            case failed(any Error)
            /// The delay after attempt `index` started has passed.
            case delayPassed(index: Int)
        }
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            var started = 0
            var pending = 0
            func startNext() {
                let address = addresses[started]
                let index = started
                started += 1
                pending += 1
                attemptStarted?(address)
                group.addTask {
                    do {
                        return .connected(try await attempt(address))
                    } catch {
                        return .failed(error)
                    }
                }
                if started < addresses.count {
                    group.addTask {
                        try await sleep(attemptDelay)
                        return .delayPassed(index: index)
                    }
                }
            }
            startNext()
            var lastError: any Error = WebSocketError(.cannotConnect, "could not connect to \(name)")
            while let outcome = try await group.next() {
                switch outcome {
                case .connected(let transport):
                    group.cancelAll()
                    // Losers still racing are cancelled (their sockets closed as they throw); one
                    // that connected at the same moment is closed here.
                    while let late = try? await group.next() {
                        if case .connected(let loser) = late { loser.close() }
                    }
                    return transport
                case .failed(let error):
                    pending -= 1
                    if isCancellation(error) { throw error }
                    lastError = error
                    if started < addresses.count {
                        startNext()
                    } else if pending == 0 {
                        group.cancelAll()
                        throw lastError
                    }
                case .delayPassed(let index):
                    // Only the delay of the latest attempt counts: an earlier failure started it already.
                    if index == started - 1, started < addresses.count { startNext() }
                }
            }
            throw lastError
        }
    }

    /// Whether `error` is a cancellation (of either error type), which ends the race at once.
    private static func isCancellation(_ error: any Error) -> Bool {
        if let error = error as? WebSocketError { return error.status == .operationCanceled }
        if let error = error as? SocketError { return error.status == .operationCanceled }
        return error is CancellationError
    }
}
