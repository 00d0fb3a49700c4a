import Synchronization

/// The queue between a connection's reader and the application: whole messages for a
/// `for try await` loop (``MessageInbox``), or fragments for the server's fragment context.
///
/// `AsyncThrowingStream`'s own buffer either grows without bound or drops elements, and never tells
/// the producer that the consumer fell behind. This queue is pulled by the stream (it is built with
/// `AsyncThrowingStream(unfolding:)`), so it knows when messages are consumed: the reader pauses
/// while the high-water mark of messages wait, and resumes once the consumer brought the queue
/// down to half of it. TCP flow control then pushes back on the peer. Nothing is ever dropped.
///
/// One consumer at a time (the stream is single-consumer); one producer (the connection's reader).
package final class Inbox<Element: Sendable>: Sendable {

    private struct State {
        var queue: [Element] = []
        var head = 0
        /// `nil` while open; `.success` after a clean finish, `.failure` after an error.
        var terminal: Result<Void, any Error>?
        var consumer: CheckedContinuation<Element?, any Error>?
        var producer: CheckedContinuation<Void, Never>?
        var consumerCancelled = false
        /// Whether the consumer was handed an element and has not asked for the next one yet: it
        /// may still be answering it, so a failure's close frame waits (see `finish`).
        var consumerHoldsElement = false
        var onConsumerCancelled: (@Sendable () -> Void)?
        /// Called once the consumer has taken every message and reached the terminal error.
        var onDrained: (@Sendable () -> Void)?
        var highWater: Int
        var lowWater: Int { highWater / 2 }

        var count: Int { queue.count - head }

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
    }

    private let state: Mutex<State>

    /// What a waiting ``next()`` found once it held the lock.
    private enum Outcome {
        case message(Element, CheckedContinuation<Void, Never>?)
        case end(Result<Void, any Error>)
        case wait
        case cancelled
    }

    /// - Parameter highWater: how many undelivered messages pause the reader (at least 1).
    package init(highWater: Int = 16) {
        state = Mutex(State(highWater: max(1, highWater)))
    }

    /// Changes how many undelivered messages pause the reader (before a connection starts).
    package func setHighWater(_ highWater: Int) {
        state.withLock { $0.highWater = max(1, highWater) }
    }

    /// The stream handed to the application.
    package func makeStream() -> AsyncThrowingStream<Element, any Error> {
        AsyncThrowingStream(unfolding: { try await self.next() })
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

    /// Delivers a message. Returns `false` when the queue reached the high-water mark: the producer
    /// should `await waitForSpace()` before reading more.
    @discardableResult
    package func push(_ message: Element) -> Bool {
        let (consumer, hasSpace) = state.withLock { state -> (CheckedContinuation<Element?, any Error>?, Bool) in
            guard state.terminal == nil else { return (nil, true) }
            if let consumer = state.consumer {
                state.consumer = nil
                state.consumerHoldsElement = true
                return (consumer, true)
            }
            state.queue.append(message)
            return (nil, state.count < state.highWater)
        }
        consumer?.resume(returning: message)
        return hasSpace
    }

    /// Whether the producer should pause.
    package var isFull: Bool { state.withLock { $0.count >= $0.highWater } }

    /// Suspends until the consumer has taken enough messages (or the inbox finished).
    package func waitForSpace() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.count <= state.lowWater || state.terminal != nil || state.consumerCancelled { return true }
                state.producer = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Ends the stream after the queued messages: normally (`error == nil`) or by throwing `error`.
    /// Later calls are ignored: the first ending wins.
    ///
    /// - Parameter whenDrained: called once the consumer has taken every queued message and come
    ///   back for more (at once if none are queued and it holds none), or stopped consuming. A connection uses it to send the close frame
    ///   of a failure only after the application saw, and could answer, what came before.
    package func finish(throwing error: (any Error)? = nil, whenDrained: (@Sendable () -> Void)? = nil) {
        let (consumer, producer, drained) = state.withLock { state -> (CheckedContinuation<Element?, any Error>?, CheckedContinuation<Void, Never>?, (@Sendable () -> Void)?) in
            guard state.terminal == nil else { return (nil, nil, nil) }
            state.terminal = error.map { .failure($0) } ?? .success(())
            defer { state.consumer = nil; state.producer = nil }
            if (state.count == 0 && !state.consumerHoldsElement) || state.consumerCancelled {
                return (state.consumer, state.producer, whenDrained)
            }
            state.onDrained = whenDrained
            return (state.consumer, state.producer, nil)
        }
        drained?()
        if let consumer {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
        producer?.resume()
    }

    private func takeDrainedHandler() -> (@Sendable () -> Void)? {
        state.withLock { state in
            defer { state.onDrained = nil }
            return state.onDrained
        }
    }

    /// The stream's pull: the next message, `nil` at a clean end, or the terminal error.
    package func next() async throws -> Element? {
        // Fast path: a message (or the end) is already here; no continuation, no allocation.
        let (ready, producer) = state.withLock { state -> (Result<Element?, any Error>?, CheckedContinuation<Void, Never>?) in
            state.consumerHoldsElement = false  // asking for more: done with the previous one
            if let message = state.pop() {
                state.consumerHoldsElement = true
                var producer: CheckedContinuation<Void, Never>?
                if state.count <= state.lowWater {
                    producer = state.producer
                    state.producer = nil
                }
                return (.success(message), producer)
            }
            switch state.terminal {
            case .success?: return (.success(nil), nil)
            case .failure(let error)?: return (.failure(error), nil)
            case nil: return (nil, nil)
            }
        }
        producer?.resume()
        if let ready {
            if case .success(.some) = ready {} else { takeDrainedHandler()?() }
            return try ready.get()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                let outcome = state.withLock { state -> Outcome in
                    if let message = state.pop() {
                        state.consumerHoldsElement = true
                        var producer: CheckedContinuation<Void, Never>?
                        if state.count <= state.lowWater, let waiting = state.producer {
                            producer = waiting
                            state.producer = nil
                        }
                        return .message(message, producer)
                    }
                    if let terminal = state.terminal { return .end(terminal) }
                    if state.consumerCancelled { return .cancelled }
                    state.consumer = continuation
                    return .wait
                }
                switch outcome {
                case .message(let message, let producer):
                    producer?.resume()
                    continuation.resume(returning: message)
                case .end(.success):
                    takeDrainedHandler()?()
                    continuation.resume(returning: nil)
                case .end(.failure(let error)):
                    takeDrainedHandler()?()
                    continuation.resume(throwing: error)
                case .cancelled:
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            let (consumer, producer, handler, drained) = state.withLock { state in
                state.consumerCancelled = true
                defer { state.consumer = nil; state.producer = nil; state.onDrained = nil }
                return (state.consumer, state.producer, state.onConsumerCancelled, state.onDrained)
            }
            consumer?.resume(returning: nil)
            producer?.resume()
            handler?()
            drained?()
        }
    }
}

/// The inbox of a message-level connection.
package typealias MessageInbox = Inbox<Message>

/// What a connection's reader needs from its inbox, whatever the element type.
package protocol InboxControl: Sendable {
    var isFull: Bool { get }
    func waitForSpace() async
    func setConsumerCancellationHandler(_ handler: @escaping @Sendable () -> Void)
    func finish(throwing error: (any Error)?, whenDrained: (@Sendable () -> Void)?)
}

extension Inbox: InboxControl {}

extension InboxControl {
    /// Ends the inbox after what is queued, normally or with `error`.
    package func finish(throwing error: (any Error)? = nil) {
        finish(throwing: error, whenDrained: nil)
    }
}
