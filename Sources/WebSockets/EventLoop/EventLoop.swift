import CWebSocketsShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One dedicated thread that runs Swift jobs and waits for socket readiness, alternately.
///
/// Why: a WebSocket round trip is "write, wait for readable, read". When the connection's actor,
/// its socket system calls and the readiness notifications all live on the same thread, a round
/// trip costs the system calls plus one `epoll_wait`, with no thread hop and no cross-thread
/// wake-up in between.
///
/// The thread alternates between
/// 1. running every job queued so far (``enqueue(_:)``) and every task woken by the last readiness
///    reports, then the turn's end actions (``atEndOfTurn(_:)``: the gathered writes of the sends
///    made during the turn), then
/// 2. `epoll_wait`: with timeout 0 when more jobs were queued meanwhile (I/O is never starved by a
///    busy actor), otherwise blocking until a descriptor is ready or another thread queues a job
///    (an eventfd, signalled only when the loop may be asleep).
///
/// Use it as an actor's executor, so the actor's code runs on the loop thread:
/// ```swift
/// actor Connection {
///     nonisolated var unownedExecutor: UnownedSerialExecutor {
///         EventLoop.shared.asUnownedSerialExecutor()
///     }
/// }
/// ```
/// Such an actor calling ``TCPTransport`` (which runs on the caller's isolation) reads, writes and
/// waits without leaving the loop thread: see `FDRegistration` for how a wait avoids the global
/// pool.
///
/// The loop has a task-executor face too (``taskExecutor``, public as
/// `MessageWebSocket.eventLoopExecutor`): with `withTaskExecutorPreference` an application runs its
/// message loop here, so receiving a message, handling it and sending the answer take one turn of
/// the loop and no thread wake-up. The runtime still queues such a task once (on this thread,
/// without a system call) where it enters or leaves an actor of the loop. Nothing here ever
/// blocks the thread waiting for work that only this thread can do: every wait is a suspension (a
/// parked job, a continuation), so 1 MiB messages in flight both ways with every task on the loop
/// cannot stall (`EventLoopExecutorTests`).
///
/// Descriptors are registered once with ``register(_:)`` (edge-triggered, persistent). A loop's
/// thread runs for the life of the process.
package final class EventLoop: SerialExecutor, Sendable {
    /// The process-wide loop, started on first use.
    package static let shared = EventLoop(name: "ws-event-loop")

    /// The epoll instance. Registration data is an `Unmanaged<DescriptorState>` pointer, or 0 for
    /// the wake-up eventfd.
    let epollFD: CInt
    /// Jobs queued for the next turn, plus the loop's "may be asleep" flag. It signals an
    /// edge-triggered eventfd when the loop may be asleep. The eventfd is never read: with EPOLLET
    /// every write is a new edge (the counter only overflows after 2^64 writes, which
    /// `cws_eventfd_signal` handles), so a wake-up costs one `write` and no `read`.
    private let jobQueue: LoopJobQueue
    /// The loop's task-executor face (see ``LoopTaskExecutor`` for why it is a separate object).
    package let taskExecutor: LoopTaskExecutor
    /// `pthread_self()` of the loop thread, 0 until it starts.
    private let threadID = Atomic<UInt>(0)
    /// Lent to connections for each read (``withReadBuffer(_:)``), so none owns a read buffer.
    let readBuffer = LoopReadBuffer()
    /// Actions run once the current turn's jobs have run (``atEndOfTurn(_:)``): gathered writes.
    let turnEnd = LoopTurnEnd()

    /// Creates a loop and starts its thread. The thread is never stopped.
    /// - Parameter name: the thread name (at most 15 bytes are kept on Linux).
    package init(name: String = "ws-event-loop") {
        let epollFD = cws_epoll_create()
        precondition(epollFD >= 0, "epoll_create1 failed: \(errnoDescription(errno))")
        let wakeFD = cws_eventfd()
        precondition(wakeFD >= 0, "eventfd failed: \(errnoDescription(errno))")
        precondition(
            cws_epoll_add(epollFD, wakeFD, CWS_EVENT_READABLE, 0) == 0,
            "epoll_ctl(ADD eventfd) failed: \(errnoDescription(errno))"
        )
        self.epollFD = epollFD
        let jobQueue = LoopJobQueue(wakeFD: wakeFD)
        self.jobQueue = jobQueue
        self.taskExecutor = LoopTaskExecutor(queue: jobQueue)
        let started = startDetachedThread(name: name) { [self] in self.run() }
        precondition(started, "could not start the event loop thread")
    }

    /// Whether the caller runs on this loop's thread.
    package var inEventLoop: Bool {
        // Relaxed is enough: only the loop thread ever stores its own id here, and it does so before
        // running anything, so a thread sees its own id or a value that cannot equal its own.
        threadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// How many jobs were queued with ``enqueue(_:)`` so far: hops onto the loop, from any thread.
    ///
    /// Tasks woken by readiness reports are not counted: they run without being queued, which is
    /// what a test can check (a loop-bound actor's socket round trip queues nothing).
    /// How many of ``scheduledJobCount`` were queued on the task-executor face (``taskExecutor``):
    /// the hops of tasks that prefer the loop into their nonisolated code.
    package var scheduledTaskJobCount: Int { jobQueue.state.withLock { $0.scheduledTaskJobs } }

    package var scheduledJobCount: Int {
        jobQueue.state.withLock { $0.scheduled }
    }

    // MARK: Executor

    /// Queues `job` for the loop thread. From another thread this signals the eventfd, but only
    /// when the loop may be blocked in `epoll_wait`; from the loop thread it never does.
    package func enqueue(_ job: consuming ExecutorJob) {
        schedule(UnownedJob(job))
    }

    /// ``enqueue(_:)`` for a job already taken apart (a task parked at a readiness gate).
    func schedule(_ job: UnownedJob) {
        jobQueue.schedule(LoopJob(job: job, isTaskExecutorJob: false))
    }

    /// Traps unless called on the loop thread (used by `assumeIsolated` and isolation checks).
    package func checkIsolated() {
        precondition(inEventLoop, "expected to run on the event loop thread")
    }

    /// Whether the caller is on the loop thread, so isolation checks never need to trap.
    package func isIsolatingCurrentContext() -> Bool? {
        inEventLoop
    }

    /// One loop is one thread: two executors share a context exactly when they are the same loop.
    package func isSameExclusiveExecutionContext(other: EventLoop) -> Bool {
        self === other
    }

    // MARK: Registrations

    /// Registers `fd` once for readable, writable and peer-closed readiness, edge-triggered.
    ///
    /// The registration takes ownership of `fd`: ``FDRegistration/close()`` closes it, and so does
    /// this method when it throws.
    package func register(_ fd: CInt) throws(WebSocketError) -> FDRegistration {
        let registration = FDRegistration(fd: fd, loop: self)
        // The loop owns one reference until the descriptor is closed (see `release(_:)`).
        let token = Unmanaged.passRetained(registration.loopToken)
        let data = UInt64(UInt(bitPattern: token.toOpaque()))
        if cws_epoll_add(epollFD, fd, CWS_EVENT_READABLE | CWS_EVENT_WRITABLE, data) != 0 {
            let error = errno
            token.release()
            registration.abandon()
            throw WebSocketError(.invalidState, "epoll_ctl(ADD) failed: \(errnoDescription(error))")
        }
        return registration
    }

    /// Drops the loop's reference to a registration whose descriptor was removed from epoll and
    /// closed. Off the loop thread this waits for the next turn, after any readiness report that
    /// `epoll_wait` may already have returned for it has been handled.
    func release(_ token: Unmanaged<DescriptorState>) {
        if inEventLoop {
            // Reports are only handled inside a turn's dispatch, which never runs user code, so
            // none refers to this registration now.
            token.release()
        } else {
            jobQueue.state.withLock { $0.releases.append(token) }
        }
    }

    // MARK: The loop

    private func run() -> Never {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        let serialExecutor = asUnownedSerialExecutor()
        let taskExecutor = self.taskExecutor.asUnownedTaskExecutor()
        let capacity: Int32 = 256
        let events = UnsafeMutablePointer<cws_event>.allocate(capacity: Int(capacity))
        // Swapped with the shared queue's arrays each turn, so steady state allocates nothing.
        var jobs: [LoopJob] = []
        jobs.reserveCapacity(256)
        var woken: [UnownedJob] = []  // tasks woken by readiness reports, run first next turn
        woken.reserveCapacity(256)
        var releases: [Unmanaged<DescriptorState>] = []

        while true {
            // Run jobs until none are queued (jobs queue more jobs: every hop between tasks and
            // actors on this loop is one), up to a budget so that I/O is polled regularly even
            // under a flood of work. Polling between every batch cost an `epoll_wait` per hop.
            var budget = 1024
            var more = true
            while more && budget > 0 {
                jobQueue.state.withLock { queue in
                    swap(&queue.jobs, &jobs)
                    if !queue.releases.isEmpty { swap(&queue.releases, &releases) }
                }
                budget -= jobs.count + woken.count
                for job in woken {  // parked readiness waits: isolated to the loop
                    job.runSynchronously(on: serialExecutor)
                }
                woken.removeAll(keepingCapacity: true)
                for job in jobs {
                    if job.isTaskExecutorJob {
                        // Nonisolated code of a task preferring the loop: not isolated to it.
                        job.job.runSynchronously(on: taskExecutor)
                    } else {
                        // An actor's job: isolated to the loop, and no task executor. Most tasks
                        // entering a loop actor (a connection's reader, a send from the pool) do
                        // not prefer the loop; run with the loop as their task executor, some of
                        // them hung in the fault-injection matrix (2 runs in 7), and a task that
                        // does prefer the loop pays one hop back to it, no more.
                        job.job.runSynchronously(on: serialExecutor)
                    }
                }
                jobs.removeAll(keepingCapacity: true)
                for token in releases { token.release() }
                releases.removeAll(keepingCapacity: true)
                more = jobQueue.state.withLock { !$0.jobs.isEmpty || !$0.releases.isEmpty }
                if !more && budget > 0 && !turnEnd.isEmpty {
                    // The turn's work is done: write what its sends queued (one system call per
                    // connection), then run whatever that woke (a sender waiting for space).
                    turnEnd.runAll()
                    more = jobQueue.state.withLock { !$0.jobs.isEmpty || !$0.releases.isEmpty }
                }
            }
            // Out of budget with actions pending: run them before polling all the same, so that
            // queued frames never wait for more than one turn.
            turnEnd.runAll()

            let block = jobQueue.state.withLock { queue -> Bool in
                guard queue.jobs.isEmpty else { return false }
                queue.sleeping = true
                return true
            }
            let count = cws_epoll_wait(epollFD, events, capacity, block ? -1 : 0)
            // Cleared before dispatch so that work queued from here on never signals the eventfd.
            if block { jobQueue.state.withLock { $0.sleeping = false } }
            if count < 0 {
                let error = errno
                precondition(error == EINTR, "epoll_wait failed: \(errnoDescription(error))")
                continue
            }
            for index in 0..<Int(count) {
                let event = events[index]
                guard let pointer = UnsafeRawPointer(bitPattern: UInt(event.data)) else { continue }
                Unmanaged<DescriptorState>.fromOpaque(pointer)._withUnsafeGuaranteedRef {
                    $0.handle(event.events, waking: &woken)
                }
            }
        }
    }
}

/// `strerror(code)`, for error messages.
func errnoDescription(_ code: CInt) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
}

/// Starts a detached pthread named `name` that runs `body`. Returns false if it could not start.
func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Entry: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let entry = Unmanaged.passRetained(Entry(name: name, body: body))
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { argument in
            let entry = Unmanaged<Entry>.fromOpaque(argument!).takeRetainedValue()
            cws_set_thread_name(entry.name)
            entry.body()
            return nil
        }, entry.toOpaque())
    guard result == 0 else {
        entry.release()
        return false
    }
    pthread_detach(thread)
    return true
}
