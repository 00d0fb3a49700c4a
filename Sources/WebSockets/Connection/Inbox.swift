import Synchronization

/// The queue between a connection's reader and the application: whole messages for a
/// `for try await` loop (``MessageInbox``), or fragments for the server's fragment context.
///
/// `AsyncThrowingStream`'s own buffer either grows without bound or drops elements, and never tells
/// the producer that the consumer fell behind. This queue is pulled by the stream (it is built with
/// `AsyncThrowingStream(unfolding:)`), so it knows when messages are consumed: the reader takes at
/// most ``room`` more messages from its bytes, pauses once the high-water mark of messages wait,
/// and resumes once the consumer brought the queue down to half of it. TCP flow control then pushes
/// back on the peer. Nothing is ever dropped.
///
/// One consumer at a time: a second `next()` while one waits throws `.invalidState` at once. One
/// producer (the connection's reader). The stream ends only with ``finish(throwing:)``, which the
/// connection calls once the connection has ended (`WebSocketConnection+Closing.swift`).
package final class Inbox<Element: Sendable>: Sendable {

    private struct State {
        var queue: [Element] = []
        var head = 0
        /// `nil` while open; `.success` after a clean finish, `.failure` after an error.
        var terminal: Result<Void, any Error>?
        /// Whether a `next()` has thrown the terminal error: from then on the stream returns `nil`.
        var terminalErrorThrown = false
        /// Unsafe, not checked: every path that takes it out of the state resumes it, under the
        /// lock's exclusion, exactly once; a checked one allocated a canary object per wait.
        var consumer: UnsafeContinuation<Element?, any Error>?
        var producer: CheckedContinuation<Void, Never>?
        var consumerCancelled = false
        /// Whether the consumer was handed an element and has not asked for the next one yet: it
        /// may still be answering it.
        var consumerHoldsElement = false
        var onConsumerCancelled: (@Sendable () -> Void)?
        /// Tests waiting for the producer to pause (``Inbox/waitUntilProducerPauses()``).
        var pauseWatchers: [CheckedContinuation<Void, Never>] = []
        /// Tests waiting for a consumer to wait in `next()` (``Inbox/waitUntilConsumerWaits()``).
        var consumerWatchers: [CheckedContinuation<Void, Never>] = []
        /// Called once the consumer has taken every queued element and come back (see
        /// ``Inbox/notifyWhenCaughtUp(_:)``).
        var onCaughtUp: (@Sendable () -> Void)?
        var highWater: Int
        var lowWater: Int { highWater / 2 }

        var count: Int { queue.count - head }
        var isCaughtUp: Bool { (count == 0 && !consumerHoldsElement) || consumerCancelled }

        mutating func pop() -> Element? {
            guard head < queue.count else { return nil }
            let message = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return message
        }

        /// The caught-up handler, taken, when the consumer has just caught up.
        mutating func takeCaughtUpHandler() -> (@Sendable () -> Void)? {
            guard isCaughtUp, let handler = onCaughtUp else { return nil }
            onCaughtUp = nil
            return handler
        }
    }

    private let state: Lock<State>

    /// What a waiting ``next()`` found once it held the lock.
    private enum Outcome {
        case message(Element, CheckedContinuation<Void, Never>?)
        case end(Result<Void, any Error>)
        case wait((@Sendable () -> Void)?, [CheckedContinuation<Void, Never>])
        case cancelled
        case busy
    }

    /// - Parameter highWater: how many undelivered messages pause the reader (at least 1).
    package init(highWater: Int = 16) {
        state = Lock(State(highWater: max(1, highWater)))
    }

    /// Changes how many undelivered messages pause the reader (before a connection starts).
    package func setHighWater(_ highWater: Int) {
        state.withLock { $0.highWater = max(1, highWater) }
    }

    /// The stream handed to the application.
    ///
    /// The stream ends once, as `AsyncIteratorProtocol` requires: after it has thrown the terminal
    /// error, `next()` returns `nil`. (`AsyncThrowingStream(unfolding:)` calls its closure again
    /// after a throw, which on its own would throw the error again.)
    package func makeStream() -> AsyncThrowingStream<Element, any Error> {
        AsyncThrowingStream(unfolding: {
            if self.state.withLock({ $0.terminalErrorThrown }) { return nil }
            return try await self.next()
        })
    }

    /// Called (once, from any thread) when the consuming task is cancelled while waiting: the
    /// application stopped reading, so the connection should close (with 1001) rather than let
    /// messages pile up unseen.
    package func setConsumerCancellationHandler(_ handler: @escaping @Sendable () -> Void) {
        let alreadyCancelled = state.withLock { state -> Bool in
            state.onConsumerCancelled = handler
            return state.consumerCancelled
        }
        if alreadyCancelled { handler() }
    }

    /// Delivers a message. The producer keeps to ``room``. Dropped once the consumer stopped
    /// consuming (its task was cancelled): nobody will read it, and the connection is closing.
    package func push(_ message: Element) {
        let consumer = state.withLock { state -> UnsafeContinuation<Element?, any Error>? in
            guard state.terminal == nil, !state.consumerCancelled else { return nil }
            if let consumer = state.consumer {
                state.consumer = nil
                state.consumerHoldsElement = true
                return consumer
            }
            state.queue.append(message)
            return nil
        }
        consumer?.resume(returning: message)
    }

    /// How many more messages the producer may push before the high-water mark (0: pause);
    /// unlimited once the consumer stopped (pushes are dropped then).
    package var room: Int {
        state.withLock { $0.consumerCancelled ? Int.max : max(0, $0.highWater - $0.count) }
    }

    /// Suspends until the consumer has taken enough messages (or the inbox finished).
    ///
    /// On the caller's isolation (the connection's actor, on the event loop): a nonisolated async
    /// method would run on the global pool, so each pause of the reader would wake a pool thread
    /// and then the loop thread to come back.
    package func waitForSpace(isolation: isolated (any Actor)? = #isolation) async {
        await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Never>) in
            let (resumeNow, watchers) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                if state.count <= state.lowWater || state.terminal != nil || state.consumerCancelled { return (true, []) }
                state.producer = continuation
                defer { state.pauseWatchers = [] }
                return (false, state.pauseWatchers)
            }
            if resumeNow { continuation.resume() }
            for watcher in watchers { watcher.resume() }
        }
    }

    /// Test hook: returns once a consumer is suspended in ``next()``, waiting for a message (at
    /// once if one is).
    package func waitUntilConsumerWaits() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waitingNow = state.withLock { state -> Bool in
                if state.consumer != nil { return true }
                state.consumerWatchers.append(continuation)
                return false
            }
            if waitingNow { continuation.resume() }
        }
    }

    /// Test hook: returns once the producer is paused in ``waitForSpace()`` (at once if it is).
    package func waitUntilProducerPauses() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let pausedNow = state.withLock { state -> Bool in
                if state.producer != nil { return true }
                state.pauseWatchers.append(continuation)
                return false
            }
            if pausedNow { continuation.resume() }
        }
    }

    /// Calls `handler` once the consumer has taken every queued message and come back for more,
    /// or stopped consuming; at once (returning `true`, without calling it) when that is already
    /// so, including when it never took a message. A connection that failed sends the failure's
    /// close frame then: the application has seen, and could answer, what came before.
    package func notifyWhenCaughtUp(_ handler: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state -> Bool in
            if state.isCaughtUp { return true }
            state.onCaughtUp = handler
            return false
        }
    }

    /// Ends the stream after the queued messages: normally (`error == nil`) or by throwing `error`.
    /// Later calls are ignored: the first ending wins.
    package func finish(throwing error: (any Error)? = nil) {
        let (consumer, producer) = state.withLock {
            state -> (UnsafeContinuation<Element?, any Error>?, CheckedContinuation<Void, Never>?) in
            guard state.terminal == nil else { return (nil, nil) }
            state.terminal = error.map { .failure($0) } ?? .success(())
            state.onCaughtUp = nil
            if error != nil && state.consumer != nil { state.terminalErrorThrown = true }
            defer {
                state.consumer = nil
                state.producer = nil
            }
            return (state.consumer, state.producer)
        }
        if let consumer {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
        producer?.resume()
    }

    /// The stream's pull: the next message, `nil` at a clean end, or the terminal error.
    nonisolated(nonsending) package func next() async throws -> Element? {
        // Fast path: a message (or the end) is already here; no continuation, no allocation.
        let (ready, producer, caughtUp) = state.withLock {
            state -> (Result<Element?, any Error>?, CheckedContinuation<Void, Never>?, (@Sendable () -> Void)?) in
            guard state.consumer == nil else { return (nil, nil, nil) }  // a second consumer: below
            state.consumerHoldsElement = false  // asking for more: done with the previous one
            if let message = state.pop() {
                state.consumerHoldsElement = true
                var producer: CheckedContinuation<Void, Never>?
                if state.count <= state.lowWater {
                    producer = state.producer
                    state.producer = nil
                }
                return (.success(message), producer, nil)
            }
            switch state.terminal {
            case .success?: return (.success(nil), nil, nil)
            case .failure(let error)?:
                state.terminalErrorThrown = true
                return (.failure(error), nil, nil)
            case nil: return (nil, nil, state.takeCaughtUpHandler())
            }
        }
        producer?.resume()
        caughtUp?()
        if let ready { return try ready.get() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Element?, any Error>) in
                let outcome = state.withLock { state -> Outcome in
                    if state.consumer != nil { return .busy }
                    if let message = state.pop() {
                        state.consumerHoldsElement = true
                        var producer: CheckedContinuation<Void, Never>?
                        if state.count <= state.lowWater, let waiting = state.producer {
                            producer = waiting
                            state.producer = nil
                        }
                        return .message(message, producer)
                    }
                    if let terminal = state.terminal {
                        if case .failure = terminal { state.terminalErrorThrown = true }
                        return .end(terminal)
                    }
                    if state.consumerCancelled { return .cancelled }
                    state.consumer = continuation
                    defer { state.consumerWatchers = [] }
                    return .wait(state.takeCaughtUpHandler(), state.consumerWatchers)
                }
                switch outcome {
                case .message(let message, let producer):
                    producer?.resume()
                    continuation.resume(returning: message)
                case .end(.success):
                    continuation.resume(returning: nil)
                case .end(.failure(let error)):
                    continuation.resume(throwing: error)
                case .cancelled:
                    continuation.resume(returning: nil)
                case .busy:
                    continuation.resume(
                        throwing: WebSocketError(
                            .invalidState, "messages is already being iterated by another task; iterate it from one task"))
                case .wait(let caughtUp, let watchers):
                    caughtUp?()
                    for watcher in watchers { watcher.resume() }
                }
            }
        } onCancel: {
            let (consumer, producer, handler, caughtUp) = state.withLock { state in
                state.consumerCancelled = true
                let caughtUp = state.onCaughtUp
                defer {
                    state.consumer = nil
                    state.producer = nil
                    state.onCaughtUp = nil
                }
                return (state.consumer, state.producer, state.onConsumerCancelled, caughtUp)
            }
            consumer?.resume(returning: nil)
            producer?.resume()
            handler?()
            caughtUp?()
        }
    }
}

/// The inbox of a message-level connection.
package typealias MessageInbox = Inbox<Message>

/// What a connection's reader needs from its inbox, whatever the element type.
package protocol InboxControl: Sendable {
    var room: Int { get }
    func waitForSpace(isolation: isolated (any Actor)?) async
    func setConsumerCancellationHandler(_ handler: @escaping @Sendable () -> Void)
    func notifyWhenCaughtUp(_ handler: @escaping @Sendable () -> Void) -> Bool
    func finish(throwing error: (any Error)?)
}

extension Inbox: InboxControl {}
