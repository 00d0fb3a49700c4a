import CWebSocketsShim

/// A job queued for an ``EventLoop``, and which face of the loop it was queued on.
struct LoopJob {
    let job: UnownedJob
    /// Queued through ``LoopTaskExecutor`` (nonisolated code of a task that prefers the loop), not
    /// through the loop's serial executor (an actor of the loop, a parked readiness wait).
    let isTaskExecutorJob: Bool
}

/// The jobs waiting for an ``EventLoop``'s next turn, shared by its two executor faces.
///
/// Other threads signal the loop's eventfd when they queue a job while the loop may be blocked in
/// `epoll_wait`; the loop thread itself never does.
final class LoopJobQueue: Sendable {
    struct State {
        var jobs: [LoopJob] = []
        /// Registrations whose descriptor was closed; the loop drops its reference to them between
        /// turns, so a readiness report already fetched by `epoll_wait` never points at freed memory.
        var releases: [Unmanaged<DescriptorState>] = []
        /// True while the loop is in (or about to enter) a blocking `epoll_wait`.
        var sleeping = false
        /// Jobs queued so far (see ``EventLoop/scheduledJobCount``).
        var scheduled = 0
        /// Of those, the jobs queued through ``LoopTaskExecutor``.
        var scheduledTaskJobs = 0
    }

    let state = Lock(State())
    /// The loop's edge-triggered wake-up eventfd (see ``EventLoop``).
    private let wakeFD: CInt

    init(wakeFD: CInt) {
        self.wakeFD = wakeFD
    }

    func schedule(_ job: LoopJob) {
        let wake = state.withLock { state -> Bool in
            state.jobs.append(job)
            state.scheduled &+= 1
            if job.isTaskExecutorJob { state.scheduledTaskJobs &+= 1 }
            guard state.sleeping else { return false }
            state.sleeping = false  // one signal per sleep is enough
            return true
        }
        if wake { _ = cws_eventfd_signal(wakeFD) }
    }
}

/// The event loop as a task executor: where the nonisolated code of a task that prefers the loop
/// runs (``MessageWebSocket/eventLoopExecutor``).
///
/// Why a face of its own, apart from the loop's serial executor: a job runs either *isolated to*
/// the loop (an actor's code) or as plain nonisolated code that only prefers the loop, and the
/// runtime must be told which. Were every job run as isolated to the loop, each call from the
/// application's nonisolated code into another nonisolated async function would look like a
/// change of isolation to the runtime and be re-queued: about twenty queue round trips per
/// message instead of the two hops into and out of the connection's actor.
package final class LoopTaskExecutor: TaskExecutor, Sendable {
    private let queue: LoopJobQueue

    init(queue: LoopJobQueue) {
        self.queue = queue
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        queue.schedule(LoopJob(job: UnownedJob(job), isTaskExecutorJob: true))
    }
}
