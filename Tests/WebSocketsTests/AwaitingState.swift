import Synchronization
import Testing
import WebSockets

// Tests synchronize on state, never on time: a test that needs the other side to get somewhere
// awaits a hook that reports exactly that (`FDRegistration.waitUntilParked(_:)`,
// `WebSocketListener.waitUntil(_:)`, `MessageWebSocket.waitUntilReaderPauses()`, a
// ``StateSignal`` ...). The only clock left is a deadline: if the state is never reached (the
// behaviour under test broke), the test fails after a generous limit instead of hanging. In a
// passing run nothing waits for the clock.

/// Runs `body` and returns its result, or `nil` once `limit` has passed without it (then `body`
/// is cancelled and left to end on its own: a wait that ignores cancellation cannot hold the
/// test).
func withDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    var deadline: Task<Void, Never>?
    defer { deadline?.cancel() }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
        let first = FirstOutcome(continuation)
        let work = Task {
            do { first.resume(with: .success(try await body())) } catch { first.resume(with: .failure(error)) }
        }
        deadline = Task {
            // The deadline only: it ends the wait of a test whose state never came, and is
            // cancelled as soon as `body` returns.
            do { try await Task.sleep(for: limit) } catch { return }
            work.cancel()
            first.resume(with: .success(nil))
        }
    }
}

/// For ``withDeadline(_:_:)``: whichever of the body and the deadline comes first resumes the
/// caller; the other finds the continuation gone.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation: Lock<CheckedContinuation<T?, any Error>?>
    init(_ continuation: CheckedContinuation<T?, any Error>) { self.continuation = Lock(continuation) }
    func resume(with result: Result<T?, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}

/// Thrown by ``awaitState(_:within:sourceLocation:_:)`` when the state was not reached in time.
struct StateNotReached: Error, CustomStringConvertible {
    var description: String
}

/// Awaits `wait`, a hook that returns once some state is reached, and returns what it returned.
/// If that takes longer than `limit` (generous: a loaded machine may be slow, but a reached
/// state never takes seconds), records an issue naming `what` and throws ``StateNotReached``.
@discardableResult
func awaitState<T: Sendable>(
    _ what: String,
    within limit: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ wait: @escaping @Sendable () async throws -> T
) async throws -> T {
    guard let value = try await withDeadline(limit, wait) else {
        let message = "not reached within \(limit): \(what)"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        throw StateNotReached(description: message)
    }
    return value
}

/// State shared with other tasks or threads that a test waits on, without polling: whoever
/// changes the state calls ``notify()`` afterwards, and each waiter re-checks its condition then.
///
/// A condition must only read state (it runs under this signal's lock, possibly on the thread
/// that notifies); the state it reads must be changed *before* ``notify()`` is called.
final class StateSignal: Sendable {
    private struct Waiter {
        var id: Int
        var condition: @Sendable () -> Bool
        var continuation: CheckedContinuation<Bool, Never>
    }
    private struct State {
        var nextID = 0
        var waiters: [Waiter] = []
    }
    private let state = Lock(State())

    /// Tells the waiters that the state changed: those whose condition now holds resume.
    func notify() {
        let ready = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard !state.waiters.isEmpty else { return [] }
            var ready: [CheckedContinuation<Bool, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition() else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    /// Returns `true` once `condition` holds (at once if it does now), or `false` if the task is
    /// cancelled first.
    func wait(until condition: @escaping @Sendable () -> Bool) async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool? in
                    if condition() { return true }
                    if Task.isCancelled { return false }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: false)
        }
    }

    /// ``wait(until:)`` for at most `timeout`: whether `condition` held by then. The timeout is a
    /// deadline only; a condition that comes true returns at once.
    func wait(timeout: Duration, until condition: @escaping @Sendable () -> Bool) async -> Bool {
        (try? await withDeadline(timeout) { await self.wait(until: condition) }) == true
    }
}

/// A count shared with other tasks: ``increment()`` notifies ``changes``, so a test can wait for
/// a number of events (`await counter.changes.wait { counter.value >= n }`).
final class SharedCounter: Sendable {
    private let storage = Atomic<Int>(0)
    /// Notified after every increment.
    let changes = StateSignal()

    var value: Int { storage.load(ordering: .acquiring) }

    func increment() {
        storage.add(1, ordering: .releasing)
        changes.notify()
    }

    /// Returns once ``value`` is at least `count` (`false` if the task is cancelled first).
    @discardableResult
    func wait(untilAtLeast count: Int) async -> Bool {
        await changes.wait { self.value >= count }
    }
}
