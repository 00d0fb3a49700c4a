/// When and how often ``ReconnectingMessageWebSocket`` tries again (the shape of Python
/// `websockets`' `async for websocket in connect(...)`): exponential backoff with full jitter,
/// retrying only failures that may pass by themselves.
///
/// The wait before the `n`th retry of a run of failures is a random duration between zero and
/// `min(maxDelay, initialDelay × factor^(n-1))` ("full jitter", so that clients dropped together
/// do not come back together). A `Retry-After` in a 429 or 503 answer is honoured: the wait is
/// then at least that long (delta-seconds; an HTTP date counts as absent), up to ``maxRetryAfter``.
///
/// Retried (``isRetryable(_:)``): `.cannotConnect`, `.hostNameNotResolved`, `.timeout`,
/// `.connectionAborted`, a handshake answered 5xx or 429 (or not answered, status 0), since a
/// restarting or overloaded server produces them. Not retried: other 4xx (the request itself is
/// wrong), certificate failures, protocol violations, redirect failures, invalid arguments and
/// cancellation: trying again would fail the same way.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The cap on the first retry's wait. Default 1 s.
    public var initialDelay: Duration = .seconds(1)
    /// How much the cap grows per consecutive failure. Default 2.
    public var factor: Double = 2
    /// The largest cap. Default 60 s.
    public var maxDelay: Duration = .seconds(60)
    /// The longest `Retry-After` honoured; a longer one is cut to it. Default 5 minutes.
    public var maxRetryAfter: Duration = .seconds(300)
    /// Consecutive failed attempts after which the sequence throws the last error. Default `nil`:
    /// retry for as long as the failures are retryable.
    public var maxAttempts: Int?

    /// The defaults: 1 s, factor 2, capped at 60 s, `Retry-After` up to 5 minutes, no attempt limit.
    public init() {}

    /// The backoff cap for the `failures`th consecutive failure (1 for the first).
    public func cap(afterFailures failures: Int) -> Duration {
        var seconds = Self.seconds(initialDelay)
        let limit = Self.seconds(maxDelay)
        var step = 1
        while step < failures && seconds < limit {
            seconds *= factor
            step += 1
        }
        let capped = min(seconds, limit)
        return .nanoseconds(Int64(capped * 1e9))
    }

    /// The wait before retrying after `error`, the `failures`th consecutive failure. `random` is
    /// a number in `0...1` (full jitter: the wait is `random × cap`).
    public func delay(afterFailures failures: Int, error: WebSocketError, random: Double) -> Duration {
        let jittered = cap(afterFailures: failures) * min(max(random, 0), 1)
        guard let retryAfter = Self.retryAfter(error) else { return jittered }
        return max(jittered, min(retryAfter, maxRetryAfter))
    }

    /// Whether `error` may pass by itself (see the type's documentation).
    public static func isRetryable(_ error: WebSocketError) -> Bool {
        switch error.status {
        case .cannotConnect, .hostNameNotResolved, .timeout, .connectionAborted:
            return true
        case .handshakeFailed(let status):
            return status == 0 || status == 429 || (500...599).contains(status)
        default:
            return false
        }
    }

    /// The `Retry-After` delta-seconds of a 429 or 503 answer (RFC 9110 §10.2.3), `nil` otherwise.
    public static func retryAfter(_ error: WebSocketError) -> Duration? {
        guard let response = error.handshakeResponse, response.status == 429 || response.status == 503,
            let value = response.headers.first(where: { $0.name.lowercased() == "retry-after" })?.value,
            let seconds = Int(value.filter { $0 != " " && $0 != "\t" }), seconds >= 0
        else { return nil }
        return .seconds(seconds)
    }

    /// Throws `.invalidArgument` for a policy that cannot work.
    func validate() throws(WebSocketError) {
        guard initialDelay >= .zero, maxDelay >= initialDelay, factor >= 1, factor.isFinite, maxRetryAfter >= .zero,
            (maxAttempts ?? 1) > 0
        else {
            throw WebSocketError(
                .invalidArgument,
                "ReconnectPolicy: needs initialDelay ≥ 0, maxDelay ≥ initialDelay, a finite factor ≥ 1, maxRetryAfter ≥ 0 and maxAttempts > 0"
            )
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
