import Synchronization

/// A FIFO async lock: one holder at a time, waiters served in arrival order.
///
/// ``TLSTransport`` holds it across `await`s (a `Mutex` must not be), for as long as ciphertext
/// drained from its `SSL` object is on its way to the wire, so that records reach the wire whole
/// and in the order OpenSSL produced them.
///
/// Waiting is a checked continuation, not a spin: ``acquire(isolation:)`` suspends while the gate
/// is held, ``release()`` hands it to the first waiter directly (it never opens in between, so a
/// late arrival cannot overtake a waiter). ``tryAcquire()`` is the non-waiting form, for
/// synchronous callers such as `close()`.
final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Lock(State())

    /// Takes the gate, suspending (on `isolation`) until it is free. Not cancellable: the holder
    /// always releases it soon, since it only guards one write.
    func acquire(isolation: isolated (any Actor)? = #isolation) async {
        if tryAcquire() { return }
        await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if !state.busy {
                    state.busy = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Takes the gate if it is free, without waiting.
    /// - Returns: whether the caller now holds the gate (and must ``release()`` it).
    func tryAcquire() -> Bool {
        state.withLock { state -> Bool in
            if state.busy { return false }
            state.busy = true
            return true
        }
    }

    /// Hands the gate to the next waiter, or opens it. Only the holder calls this.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
