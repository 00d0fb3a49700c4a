import CWebSocketsShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The state of one registered descriptor, shared by the registration, its gates and the loop.
///
/// The loop holds one reference (its epoll data) until the descriptor is closed.
final class DescriptorState: Sendable {
    struct Direction {
        /// An edge arrived since the last attempt and no task was waiting.
        var ready = false
        /// The waiting task's job, parked by the gate until readiness, close or cancellation.
        var parked: UnownedJob?
        /// The waiting task was cancelled before its job reached the gate.
        var cancelled = false
    }

    struct State {
        /// The descriptor, or -1 once closed.
        var fd: CInt
        var isClosed = false
        /// System calls currently using `fd` (see `withDescriptor`).
        var inFlight = 0
        var reading = Direction()
        var writing = Direction()
        /// The peer ended its side (or the socket failed). Sticky: end of stream is reported only
        /// once by epoll, but a reader that consumed data after it must still find it, so waiting
        /// to read never blocks again.
        var readClosed = false
        /// The loop reported an error or hang-up (`CWS_EVENT_ERROR`: a reset, for example). Sticky.
        var errorReported = false
        /// Tests waiting for something to happen here (`FDRegistration.waitUntilParked(_:)`,
        /// `FDRegistration.waitUntilErrorReported()`). Empty unless a test waits: the paths that
        /// check it pay one `isEmpty` under the lock they hold anyway.
        var watchers: [Watcher] = []

        /// Removes and returns the watchers waiting for `milestone`.
        mutating func takeWatchers(for milestone: Watcher.Milestone) -> [Watcher] {
            let taken = watchers.filter { $0.milestone == milestone }
            if !taken.isEmpty { watchers.removeAll { $0.milestone == milestone } }
            return taken
        }

        subscript(interest: FDRegistration.Interest) -> Direction {
            get { interest == .readable ? reading : writing }
            set {
                if interest == .readable { reading = newValue } else { writing = newValue }
            }
        }
    }

    /// A test waiting for a milestone of this descriptor; resumed with `true` when it happens, or
    /// `false` when the descriptor is closed first.
    struct Watcher {
        enum Milestone: Equatable {
            /// A task is parked waiting for this direction.
            case parked(FDRegistration.Interest)
            /// The loop reported an error or hang-up.
            case errorReported
        }

        var milestone: Milestone
        var continuation: CheckedContinuation<Bool, Never>
    }

    static let closedError = WebSocketError(.closed, "the connection was closed locally")
    static let cancelledError = WebSocketError(.operationCanceled, "the task was cancelled while waiting for the socket")

    let loop: EventLoop
    let mutex: Lock<State>

    init(fd: CInt, loop: EventLoop) {
        self.loop = loop
        self.mutex = Lock(State(fd: fd))
    }

    /// Called by the loop thread for each readiness report (`CWS_EVENT_*` bits); appends the jobs
    /// of the tasks it wakes to `ready`.
    func handle(_ events: UInt32, waking ready: inout [UnownedJob]) {
        let wakesReader = events & (CWS_EVENT_READABLE | CWS_EVENT_READ_CLOSED | CWS_EVENT_ERROR) != 0
        let wakesWriter = events & (CWS_EVENT_WRITABLE | CWS_EVENT_ERROR) != 0
        let (reader, writer, watchers) = mutex.withLock { state -> (UnownedJob?, UnownedJob?, [Watcher]) in
            var reader: UnownedJob?
            var writer: UnownedJob?
            if events & (CWS_EVENT_READ_CLOSED | CWS_EVENT_ERROR) != 0 {
                state.readClosed = true
                if events & CWS_EVENT_ERROR != 0 { state.errorReported = true }
            }
            if wakesReader {
                reader = state.reading.parked
                state.reading.parked = nil
                if reader == nil { state.reading.ready = true }
            }
            if wakesWriter {
                writer = state.writing.parked
                state.writing.parked = nil
                if writer == nil { state.writing.ready = true }
            }
            guard !state.watchers.isEmpty, state.errorReported else { return (reader, writer, []) }
            return (reader, writer, state.takeWatchers(for: .errorReported))
        }
        if let reader { ready.append(reader) }
        if let writer { ready.append(writer) }
        for watcher in watchers { watcher.continuation.resume(returning: true) }
    }

    /// The gate's executor: parks the waiting task's job, unless the wait is already over.
    func park(_ job: UnownedJob, _ interest: FDRegistration.Interest) {
        let (parked, watchers) = mutex.withLock { state -> (Bool, [Watcher]) in
            let direction = state[interest]
            precondition(direction.parked == nil, "two tasks wait on one socket direction at once")
            guard !state.isClosed, !direction.ready, !direction.cancelled,
                !(interest == .readable && state.readClosed)
            else { return (false, []) }
            state[interest].parked = job
            guard !state.watchers.isEmpty else { return (true, []) }
            return (true, state.takeWatchers(for: .parked(interest)))
        }
        if !parked { loop.schedule(job) }
        for watcher in watchers { watcher.continuation.resume(returning: true) }
    }

    /// Test hook: returns `true` once `milestone` has happened (at once if it has: a task is
    /// parked now, an error was reported), or `false` once the descriptor is closed without it.
    func waitUntil(_ milestone: Watcher.Milestone) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let now = mutex.withLock { state -> Bool? in
                switch milestone {
                case .parked(let interest): if state[interest].parked != nil { return true }
                case .errorReported: if state.errorReported { return true }
                }
                if state.isClosed { return false }
                state.watchers.append(Watcher(milestone: milestone, continuation: continuation))
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    func cancelWait(_ interest: FDRegistration.Interest) {
        let job = mutex.withLock { state -> UnownedJob? in
            guard let job = state[interest].parked else {
                state[interest].cancelled = true  // the job has not reached the gate yet
                return nil
            }
            state[interest].parked = nil
            return job
        }
        if let job { loop.schedule(job) }
    }

    func close() {
        let (fd, reader, writer, watchers) = mutex.withLock { state -> (CInt, UnownedJob?, UnownedJob?, [Watcher]) in
            guard !state.isClosed else { return (-1, nil, nil, []) }
            state.isClosed = true
            let reader = state.reading.parked
            let writer = state.writing.parked
            state.reading.parked = nil
            state.writing.parked = nil
            let watchers = state.watchers
            state.watchers = []
            guard state.inFlight == 0 else { return (-1, reader, writer, watchers) }
            let fd = state.fd
            state.fd = -1
            return (fd, reader, writer, watchers)
        }
        if fd >= 0 { closeDescriptor(fd) }
        if let reader { loop.schedule(reader) }
        if let writer { loop.schedule(writer) }
        for watcher in watchers { watcher.continuation.resume(returning: false) }
    }

    func abandon() {
        let fd = mutex.withLock { state -> CInt in
            state.isClosed = true
            defer { state.fd = -1 }
            return state.fd
        }
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    func endSystemCall() {
        let fd = mutex.withLock { state -> CInt in
            state.inFlight -= 1
            guard state.isClosed, state.inFlight == 0, state.fd >= 0 else { return -1 }
            defer { state.fd = -1 }
            return state.fd
        }
        if fd >= 0 { closeDescriptor(fd) }
    }

    /// Runs exactly once per registration, when no system call uses `fd` any more.
    private func closeDescriptor(_ fd: CInt) {
        // Explicit removal: a descriptor shared with a forked child would otherwise stay registered.
        _ = cws_epoll_del(loop.epollFD, fd)
        // Linux releases the descriptor even when close reports EINTR, so it is never retried.
        _ = Glibc.close(fd)
        loop.release(Unmanaged.passUnretained(self))
    }
}

/// Where a task waits for one direction of one descriptor (see `FDRegistration.wait`).
///
/// An actor that is its own executor: calling ``pass()`` hops onto it, which hands the task's job
/// to ``enqueue(_:)``; that parks the job in the descriptor state instead of running it. Whoever
/// ends the wait (a readiness report, ``FDRegistration/close()``, cancellation) gives the job to
/// the loop, which runs it as the loop's executor: the gate has no state that needs its own
/// isolation, and at most one task waits at a gate at a time.
actor ReadinessGate: SerialExecutor {
    nonisolated let interest: FDRegistration.Interest
    private nonisolated let state: DescriptorState
    /// Written by ``pass()`` so that the hop onto the gate is never optimized away.
    private var passes = 0

    init(_ state: DescriptorState, _ interest: FDRegistration.Interest) {
        self.state = state
        self.interest = interest
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        asUnownedSerialExecutor()
    }

    nonisolated func enqueue(_ job: consuming ExecutorJob) {
        state.park(UnownedJob(job), interest)
    }

    /// Returns once the wait is over; see the type's notes.
    func pass() {
        passes &+= 1
    }
}
