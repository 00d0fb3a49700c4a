import WebSockets

/// The stream benchmark's window: the receiver grants one credit per echo, the sender takes one
/// per message. A counter and at most one waiting sender, behind the package's `Lock`.
///
/// Why not an `AsyncStream<Void>`: its unspecialized storage costs a generic-metadata lookup and a
/// continuation per element, about a tenth of the CPU of an 8 KiB stream, which would be charged
/// to the WebSocket client under test. (The Python clients use an `asyncio.Semaphore`, picows a
/// callback.)
final class Credits: Sendable {
    private struct State {
        var available = 0
        var finished = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Lock(State())

    /// Adds one credit (wakes the sender if it waits).
    func grant() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let waiter = state.waiter else {
                state.available += 1
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// No more credits: a waiting or later `take()` returns `false`.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }

    /// Takes a credit, waiting for one; `false` once finished and none is left.
    func take() async -> Bool {
        let now = state.withLock { state -> Bool? in
            if state.available > 0 {
                state.available -= 1
                return true
            }
            return state.finished ? false : nil
        }
        if let now { return now }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let immediate = state.withLock { state -> Bool? in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                if state.finished { return false }
                state.waiter = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
