/// Connected ``MessageWebSocket``s to one URL, one after another, reconnecting when a connection
/// ends: the equivalent of Python `websockets`' `async for websocket in connect(uri)`.
///
/// ```swift
/// for try await socket in MessageWebSocket.reconnecting(to: "wss://example.com/feed") {
///     do {
///         for try await message in socket.messages { handle(message) }
///     } catch {
///         continue  // dropped: the next iteration reconnects
///     }
/// }
/// ```
///
/// Each step makes a new socket with ``control`` and ``requestHeaders`` and connects it. The
/// first attempt of a step is immediate; when it fails with a retryable error (see
/// ``ReconnectPolicy``), the step waits the policy's backoff (full jitter, `Retry-After`
/// honoured) and tries again, until it connects, the failure is not retryable, or
/// ``ReconnectPolicy/maxAttempts`` failed in a row: then the iteration throws that error. A
/// success resets the backoff. Asking for the next socket closes the previous one if it is still
/// open (with 1000, waiting as ``MessageWebSocket/close(code:reason:)``). Cancelling the
/// iterating task ends a wait at once with `.operationCanceled`. The sequence never finishes by
/// itself: stop by leaving the loop.
public struct ReconnectingMessageWebSocket: AsyncSequence, Sendable {
    /// A connected socket.
    public typealias Element = MessageWebSocket
    /// A ``WebSocketError``: the failure that was not retried.
    public typealias Failure = any Error

    /// Where to connect, validated at each attempt (a malformed URL throws `.invalidArgument`).
    public let url: String
    /// The settings of every socket.
    public let control: MessageWebSocketControl
    /// Headers added to every opening handshake (as ``MessageWebSocket/setRequestHeader(_:_:)``).
    public let requestHeaders: [(name: String, value: String)]
    /// When to retry and how long to wait.
    public let policy: ReconnectPolicy
    /// Waits between attempts (test hook: tests record the waits and return at once).
    package var sleep: @Sendable (Duration) async throws -> Void = { try await releasingSleep(for: $0) }
    /// The jitter source, a number in `0...1` (test hook).
    package var random: @Sendable () -> Double = { Double.random(in: 0...1) }

    /// Reconnects to `url` with `control`, adding `requestHeaders` to every handshake, waiting as
    /// `policy` says. Nothing happens until the first `next()`.
    public init(
        url: String, control: MessageWebSocketControl = .init(), requestHeaders: [(name: String, value: String)] = [],
        policy: ReconnectPolicy = .init()
    ) {
        self.url = url
        self.control = control
        self.requestHeaders = requestHeaders
        self.policy = policy
    }

    /// An iterator that connects on its first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(sequence: self)
    }

    /// Produces the connected sockets; see ``ReconnectingMessageWebSocket``.
    public struct Iterator: AsyncIteratorProtocol {
        let sequence: ReconnectingMessageWebSocket
        var previous: MessageWebSocket?

        /// The next connected socket; throws the first failure that is not retried.
        public mutating func next() async throws -> MessageWebSocket? {
            if let previous { try? await previous.close() }  // a valid default code: cannot throw
            previous = nil
            try sequence.policy.validate()
            var failures = 0
            while true {
                if Task.isCancelled { throw WebSocketError(.operationCanceled, "reconnecting was cancelled") }
                let socket = MessageWebSocket(control: sequence.control)
                for (name, value) in sequence.requestHeaders { try await socket.setRequestHeader(name, value) }
                do {
                    try await socket.connect(to: sequence.url)
                    previous = socket
                    return socket
                } catch let error as WebSocketError {
                    failures += 1
                    guard ReconnectPolicy.isRetryable(error), failures < (sequence.policy.maxAttempts ?? .max) else {
                        throw error
                    }
                    let wait = sequence.policy.delay(afterFailures: failures, error: error, random: sequence.random())
                    do {
                        try await sequence.sleep(wait)
                    } catch {
                        throw WebSocketError(.operationCanceled, "reconnecting was cancelled while waiting \(wait) to retry")
                    }
                }
            }
        }
    }
}

extension MessageWebSocket {
    /// Connected sockets to `url`, reconnecting with `policy` whenever the previous one ended; see
    /// ``ReconnectingMessageWebSocket``.
    public static func reconnecting(
        to url: String, control: MessageWebSocketControl = .init(), policy: ReconnectPolicy = .init()
    ) -> ReconnectingMessageWebSocket {
        ReconnectingMessageWebSocket(url: url, control: control, policy: policy)
    }
}
