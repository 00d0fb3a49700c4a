import CWebSocketsShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking descriptor registered with an ``EventLoop``, and the one owner of that descriptor.
///
/// The descriptor is registered once, edge-triggered, for both directions. Each readiness edge
/// either wakes the task waiting for that direction or, when none waits, is remembered in a flag.
/// At most one task waits per direction (one reader, one writer), which is the ``Transport``
/// contract.
///
/// Usage, for each attempt:
/// ```swift
/// let (n, error) = try registration.withDescriptor(for: .readable) { fd in
///     let n = read(fd, ...); return (n, n < 0 ? errno : 0)
/// }
/// if n < 0 && error == EAGAIN { try await registration.waitReadable() }  // then try again
/// ```
/// No lost wake-up: ``withDescriptor(for:_:)`` clears the direction's flag *before* the system call,
/// so an edge that arrives after the call returned `EAGAIN` is either already in the flag when the
/// waiter parks (the wait returns at once) or finds the waiter parked and wakes it.
///
/// Closing: ``close()`` is idempotent and callable from any thread. It wakes both waiters (they
/// throw `WebSocketError(.closed)`), makes later attempts throw `.closed`, and closes the descriptor
/// exactly once: immediately, or, if a system call is in flight on another thread, right after
/// that call returns, so a descriptor number is never used after close (or after reuse).
package final class FDRegistration: Sendable {
    /// A readiness direction.
    package enum Interest: Sendable {
        case readable
        case writable
    }

    /// The loop that reports this descriptor's readiness.
    package var loop: EventLoop { state.loop }
    private let state: DescriptorState
    private let readGate: ReadinessGate
    private let writeGate: ReadinessGate

    init(fd: CInt, loop: EventLoop) {
        state = DescriptorState(fd: fd, loop: loop)
        readGate = ReadinessGate(state, .readable)
        writeGate = ReadinessGate(state, .writable)
    }

    /// The last owner going away closes the descriptor, so a forgotten `close()` leaks nothing.
    deinit {
        state.close()
    }

    /// What the loop keeps a reference to and passes readiness reports to.
    var loopToken: DescriptorState { state }

    /// Whether ``close()`` was called.
    package var isClosed: Bool {
        state.mutex.withLock { $0.isClosed }
    }

    /// Runs one non-blocking system call on the descriptor.
    ///
    /// Clears the `interest` readiness flag first (see the type's notes on lost wake-ups) and keeps
    /// the descriptor open while `body` runs, even if another thread calls ``close()``. `body` must
    /// not block and should capture `errno` itself: the bookkeeping after it may change `errno`.
    /// - Throws: `WebSocketError(.closed)` after ``close()``, without calling `body`.
    package func withDescriptor<Result>(
        for interest: Interest,
        _ body: (CInt) -> Result
    ) throws(WebSocketError) -> Result {
        let fd = state.mutex.withLock { state -> CInt in
            guard !state.isClosed else { return -1 }
            state.inFlight += 1
            state[interest].ready = false
            return state.fd
        }
        guard fd >= 0 else { throw DescriptorState.closedError }
        defer { state.endSystemCall() }
        return body(fd)
    }

    /// Runs a non-blocking query on the descriptor (`getsockopt`) that neither reads nor writes:
    /// unlike ``withDescriptor(for:_:)`` it leaves both readiness flags as they are, so a reader or
    /// writer waiting on them is not disturbed. `nil` after ``close()``, without calling `body`.
    package func inspectDescriptor<Result>(_ body: (CInt) -> Result) -> Result? {
        let fd = state.mutex.withLock { state -> CInt in
            guard !state.isClosed else { return -1 }
            state.inFlight += 1
            return state.fd
        }
        guard fd >= 0 else { return nil }
        defer { state.endSystemCall() }
        return body(fd)
    }

    /// Suspends until the descriptor may be readable (or has an error or end of stream) since the
    /// last ``withDescriptor(for:_:)`` for `.readable`. Returns at once if that already happened.
    /// - Throws: `.closed` once ``close()`` was called; `.operationCanceled` if the task is cancelled
    ///   while waiting.
    package func waitReadable(isolation: isolated (any Actor)? = #isolation) async throws {
        try await wait(at: readGate, cancellable: true, isolation: isolation)
    }

    /// ``waitReadable(isolation:)`` for a task that is never cancelled: a connection's reader,
    /// which ends when the descriptor is closed (``close()`` wakes it, and it throws `.closed`).
    /// Installs no cancellation handler, which saves two updates of the task's status records,
    /// each under the task's lock, on every wait of every connection.
    package func waitReadableIgnoringCancellation(isolation: isolated (any Actor)? = #isolation) async throws {
        try await wait(at: readGate, cancellable: false, isolation: isolation)
    }

    /// Suspends until the descriptor may be writable (or has an error) since the last
    /// ``withDescriptor(for:_:)`` for `.writable`. Returns at once if that already happened.
    /// - Throws: `.closed` once ``close()`` was called; `.operationCanceled` if the task is cancelled
    ///   while waiting.
    package func waitWritable(isolation: isolated (any Actor)? = #isolation) async throws {
        try await wait(at: writeGate, cancellable: true, isolation: isolation)
    }

    /// Test hook: returns `true` once a task is parked waiting for `interest` on this descriptor
    /// (at once if one is now), or `false` if the descriptor is closed first. A read, write,
    /// accept or connect that returns this has provably found the socket not ready and is
    /// suspended until readiness, ``close()`` or cancellation.
    package func waitUntilParked(_ interest: Interest) async -> Bool {
        await state.waitUntil(.parked(interest))
    }

    /// Test hook: returns `true` once the loop has reported an error or hang-up for this descriptor
    /// (at once if it has; a peer's reset, for example), or `false` if it is closed first.
    package func waitUntilErrorReported() async -> Bool {
        await state.waitUntil(.errorReported)
    }

    /// Removes the descriptor from the loop, closes it (now, or when the system call in flight
    /// returns) and wakes any waiter, which throws `WebSocketError(.closed)`. Idempotent, any thread.
    package func close() {
        state.close()
    }

    /// Marks a registration whose `epoll_ctl(ADD)` failed as closed and closes its descriptor.
    func abandon() {
        state.abandon()
    }

    /// Why waiting goes through an actor hop instead of a continuation.
    ///
    /// A resumed continuation always continues on the generic executor (the global thread pool)
    /// and only then hops back to the caller's actor: two thread switches per wait, even when the
    /// caller's actor runs on the loop thread. Instead, the waiting task calls into the direction's
    /// ``ReadinessGate``, an actor whose executor does not run the job it is given but parks it.
    /// The loop later runs that job *as the loop's executor*, so a caller whose actor uses the
    /// loop continues right there without any hop; other callers hop back as they would anyway.
    private func wait(at gate: ReadinessGate, cancellable: Bool, isolation: isolated (any Actor)?) async throws {
        let interest = gate.interest
        let readyNow = state.mutex.withLock { state -> Bool? in
            guard !state.isClosed else { return nil }
            state[interest].cancelled = false
            return state[interest].ready
        }
        guard let readyNow else { throw DescriptorState.closedError }
        if readyNow { return }
        guard cancellable else {
            await gate.pass()
            if state.mutex.withLock({ $0.isClosed }) { throw DescriptorState.closedError }
            return
        }
        await withTaskCancellationHandler(
            operation: { await gate.pass() },
            onCancel: { [state] in state.cancelWait(interest) },
            isolation: isolation
        )
        if state.mutex.withLock({ $0.isClosed }) { throw DescriptorState.closedError }
        if Task.isCancelled { throw DescriptorState.cancelledError }
    }
}
