import Dispatch

/// Sleeps for `duration`, as `Task.sleep(for:)` does, except that a cancelled sleep frees its
/// timer at once.
///
/// Why: `Task.sleep` queues a wake-up job for its deadline; cancelling resumes the sleeper at once,
/// but that job (about 1 KiB) stays queued until the deadline passes. Every connection arms
/// timeouts that are almost always cancelled (opening 20 s, closing 10 s, the server's handshake
/// 10 s), so memory grew with every connection of the last 20 s: the soak measured 1.4 KiB per
/// connect/echo/close cycle, on a curve that never looked flat (README, "Scale and soak"). A
/// cancelled dispatch timer is released when it is cancelled.
/// - Throws: `CancellationError` when the task is cancelled (at once if it already is).
package func releasingSleep(for duration: Duration) async throws {
    let sleep = CancellableSleep()
    try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            sleep.start(continuation, duration)
        }
    } onCancel: {
        sleep.cancel()
    }
}

/// One sleep's timer and continuation: whichever of the deadline and the cancellation comes first
/// resumes the sleeper and cancels the timer (which releases it and its handler).
private final class CancellableSleep: Sendable {
    private enum Phase {
        case starting
        case sleeping(CheckedContinuation<Void, any Error>)
        case cancelledEarly
        case over
    }

    private let phase = Lock(Phase.starting)
    // Safe to share unisolated: a dispatch source is thread-safe (libdispatch's sources may be
    // scheduled, activated and cancelled from any thread); it is only declared non-Sendable.
    private nonisolated(unsafe) let timer = DispatchSource.makeTimerSource(queue: .global())

    func start(_ continuation: CheckedContinuation<Void, any Error>, _ duration: Duration) {
        let cancelled = phase.withLock { phase -> Bool in
            guard case .starting = phase else { return true }
            phase = .sleeping(continuation)
            return false
        }
        if cancelled {
            // A source created inactive must be activated before its last release (libdispatch
            // traps otherwise); cancelled first, it never fires.
            timer.cancel()
            timer.activate()
            return continuation.resume(throwing: CancellationError())
        }
        timer.setEventHandler { [self] in finish(cancelled: false) }
        let (seconds, attoseconds) = duration.components
        let nanoseconds =
            seconds >= Int64.max / 1_000_000_000 ? Int.max : Int(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds))
        timer.activate()
    }

    func cancel() {
        finish(cancelled: true)
    }

    private func finish(cancelled: Bool) {
        let sleeping = phase.withLock { phase -> CheckedContinuation<Void, any Error>? in
            switch phase {
            case .starting:
                if cancelled { phase = .cancelledEarly }
                return nil
            case .sleeping(let continuation):
                phase = .over
                return continuation
            case .cancelledEarly, .over:
                return nil
            }
        }
        guard let continuation = sleeping else { return }
        timer.cancel()
        if cancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
    }
}
