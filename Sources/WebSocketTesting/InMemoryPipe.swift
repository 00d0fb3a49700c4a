import Synchronization
import WebSockets

/// The shared state of two connected ``InMemoryTransport`` ends, behind one lock.
///
/// Ends are 0 (client) and 1 (server). Direction `d` carries what end `d` writes to end `1 - d`.
/// Continuations are taken out of the state under the lock and resumed after it is released, so each
/// is resumed exactly once: whoever removes it from the state owns it.
final class InMemoryPipe: Sendable {
    private let state = Lock(PairState())

    enum ReadOutcome {
        case bytes(Int)
        case failed(WebSocketError)
        case wouldBlock
    }

    struct WriteOutcome {
        var delivered: [UInt8] = []
        var tap: (@Sendable ([UInt8]) -> Void)?
        var error: WebSocketError?
    }

    // MARK: Reading

    func read(end: Int, into buffer: inout [UInt8]) -> ReadOutcome {
        state.withLock { state in
            if state.ends[end].closed {
                return .failed(WebSocketError(.closed, "the transport was closed"))
            }
            if buffer.isEmpty {
                return .bytes(0)
            }
            let inbound = 1 - end
            if !state.directions[inbound].segments.isEmpty {
                let count = state.directions[inbound].segments.read(into: &buffer)
                state.ends[end].bytesRead += count
                return .bytes(count)
            }
            switch state.directions[inbound].terminal {
            case .endOfStream: return .bytes(0)
            case .aborted: return .failed(WebSocketError(.connectionAborted, "the connection was dropped"))
            case nil: return .wouldBlock
            }
        }
    }

    func makeWaiterID(end: Int) -> UInt64 {
        state.withLock { state in
            state.ends[end].lastWaiterID &+= 1
            return state.ends[end].lastWaiterID
        }
    }

    /// Parks `continuation` as the reader of `end`, or returns how to resume it right away.
    func park(end: Int, id: UInt64, _ continuation: CheckedContinuation<Void, any Error>) -> Result<Void, WebSocketError>? {
        let (immediate, watchers) = state.withLock {
            state -> (Result<Void, WebSocketError>?, [CheckedContinuation<Void, Never>]) in
            // Checked under the lock: a cancellation handler that runs after this either finds the
            // waiter parked below, or ran before and set the flag this sees.
            if Task.isCancelled {
                return (.failure(WebSocketError(.operationCanceled, "the read was cancelled")), [])
            }
            if state.isReadable(end: end) {
                return (.success(()), [])
            }
            if state.ends[end].waiter != nil {
                return (.failure(WebSocketError(.invalidState, "another read is already pending on this transport")), [])
            }
            state.ends[end].waiter = Waiter(id: id, continuation: continuation)
            guard !state.ends[end].pendingReadWatchers.isEmpty else { return (nil, []) }
            defer { state.ends[end].pendingReadWatchers = [] }
            return (nil, state.ends[end].pendingReadWatchers)
        }
        for watcher in watchers { watcher.resume() }
        return immediate
    }

    /// Returns once a read on `end` is suspended waiting for bytes (at once if one is now).
    func waitUntilReadIsPending(end: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.ends[end].waiter != nil { return true }
                state.ends[end].pendingReadWatchers.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns once nothing is in flight towards `end` (delayed by the peer's
    /// ``InMemoryTransport/Faults/writeDelay``) and no task delivers it any more (at once if so now).
    func waitUntilNothingInFlight(towards end: Int) async {
        let direction = 1 - end
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.directions[direction].isSettled { return true }
                state.directions[direction].settledWatchers.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func cancelWaiter(end: Int, id: UInt64) -> CheckedContinuation<Void, any Error>? {
        state.withLock { state in
            guard let waiter = state.ends[end].waiter, waiter.id == id else { return nil }
            state.ends[end].waiter = nil
            return waiter.continuation
        }
    }

    // MARK: Writing

    func write(end: Int, _ buffers: [[UInt8]]) -> WriteOutcome {
        var wake: [CheckedContinuation<Void, any Error>] = []
        let outcome = state.withLock { state -> WriteOutcome in
            var outcome = WriteOutcome()
            if state.ends[end].closed {
                outcome.error = WebSocketError(.closed, "the transport was closed")
                return outcome
            }
            if state.ends[end].writeClosed {
                outcome.error = WebSocketError(.closed, "the sending direction was shut down")
                return outcome
            }
            if state.dropped {
                outcome.error = WebSocketError(.connectionAborted, "the connection was dropped")
                return outcome
            }
            if state.ends[1 - end].closed {
                outcome.error = WebSocketError(.connectionAborted, "the peer closed the connection")
                return outcome
            }
            if let error = state.ends[end].faults.failNextWrite {
                state.ends[end].faults.failNextWrite = nil
                outcome.error = error
                return outcome
            }

            var bytes = buffers.count == 1 ? buffers[0] : Array(buffers.joined())
            guard !bytes.isEmpty else { return outcome }

            var drop = false
            if let remaining = state.ends[end].faults.dropAfterBytes {
                if bytes.count >= remaining {
                    drop = true
                    state.ends[end].faults.dropAfterBytes = nil
                    if bytes.count > remaining {
                        bytes.removeSubrange(remaining...)
                        outcome.error = WebSocketError(
                            .connectionAborted, "injected fault: the connection dropped after the limit"
                        )
                    }
                } else {
                    state.ends[end].faults.dropAfterBytes = remaining - bytes.count
                }
            }

            var events: [Event] = []
            if let size = state.ends[end].faults.splitWritesInto, size < bytes.count {
                events.reserveCapacity((bytes.count + size - 1) / size + 1)
                var start = 0
                while start < bytes.count {
                    let stop = min(start + size, bytes.count)
                    events.append(.data(Array(bytes[start..<stop])))
                    start = stop
                }
            } else if !bytes.isEmpty {
                events.append(.data(bytes))
            }
            state.ends[end].bytesWritten += bytes.count

            if drop {
                state.dropped = true
                events.append(.end(.aborted))
                // The way back is cut at once: what was in flight towards this end is lost.
                cut(&state, direction: 1 - end, wake: &wake)
            }
            send(&state, events, direction: end, wake: &wake)

            outcome.delivered = bytes
            outcome.tap = state.ends[end].onWrite
            return outcome
        }
        for continuation in wake { continuation.resume() }
        return outcome
    }

    // MARK: Closing

    func close(end: Int) {
        var wake: [CheckedContinuation<Void, any Error>] = []
        state.withLock { state in
            guard !state.ends[end].closed else { return }
            state.ends[end].closed = true
            let sentEndOfStream = state.ends[end].writeClosed
            state.ends[end].writeClosed = true
            // Nothing more will be read here: drop what arrived or is on its way.
            let inbound = 1 - end
            state.directions[inbound].segments.removeAll()
            stopPump(&state, direction: inbound)
            if let waiter = state.ends[end].waiter.take() { wake.append(waiter.continuation) }
            if !sentEndOfStream && !state.dropped {
                send(&state, [.end(.endOfStream)], direction: end, wake: &wake)
            }
        }
        for continuation in wake { continuation.resume() }
    }

    func closeWrite(end: Int) {
        var wake: [CheckedContinuation<Void, any Error>] = []
        state.withLock { state in
            guard !state.ends[end].writeClosed else { return }
            state.ends[end].writeClosed = true
            if !state.dropped {
                send(&state, [.end(.endOfStream)], direction: end, wake: &wake)
            }
        }
        for continuation in wake { continuation.resume() }
    }

    func abort() {
        var wake: [CheckedContinuation<Void, any Error>] = []
        state.withLock { state in
            state.dropped = true
            cut(&state, direction: 0, wake: &wake)
            cut(&state, direction: 1, wake: &wake)
        }
        for continuation in wake { continuation.resume() }
    }

    // MARK: Properties

    func faults(end: Int) -> InMemoryTransport.Faults {
        state.withLock { $0.ends[end].faults }
    }

    func updateFaults(end: Int, _ body: (inout InMemoryTransport.Faults) -> Void) {
        state.withLock { state in
            var faults = state.ends[end].faults
            body(&faults)
            faults.validate()
            state.ends[end].faults = faults
        }
    }

    func onWrite(end: Int) -> (@Sendable ([UInt8]) -> Void)? {
        state.withLock { $0.ends[end].onWrite }
    }

    func setOnWrite(end: Int, _ tap: (@Sendable ([UInt8]) -> Void)?) {
        state.withLock { $0.ends[end].onWrite = tap }
    }

    func counters(end: Int) -> (written: Int, read: Int) {
        state.withLock { ($0.ends[end].bytesWritten, $0.ends[end].bytesRead) }
    }

    func isClosed(end: Int) -> Bool {
        state.withLock { $0.ends[end].closed }
    }

    func hasPendingRead(end: Int) -> Bool {
        state.withLock { $0.ends[end].waiter != nil }
    }

    // MARK: Delivery (all under the lock)

    /// Puts `events` on their way in `direction`: delivered now, or queued behind earlier delayed
    /// events with a deadline no earlier than theirs, so that arrivals keep the write order.
    private func send(
        _ state: inout PairState, _ events: [Event], direction: Int, wake: inout [CheckedContinuation<Void, any Error>]
    ) {
        let delay = state.ends[direction].faults.writeDelay
        if delay == .zero && state.directions[direction].inFlight.isEmpty {
            for event in events { state.deliver(event, direction: direction) }
            if let waiter = state.ends[1 - direction].waiter.take() { wake.append(waiter.continuation) }
            return
        }
        var deadline = ContinuousClock.now.advanced(by: delay)
        if let last = state.directions[direction].inFlight.last, last.deadline > deadline {
            deadline = last.deadline
        }
        for event in events {
            state.directions[direction].inFlight.append(InFlight(deadline: deadline, event: event))
        }
        if state.directions[direction].pumpGeneration == nil {
            state.lastPumpGeneration &+= 1
            let generation = state.lastPumpGeneration
            state.directions[direction].pumpGeneration = generation
            state.directions[direction].runningPumps += 1
            state.directions[direction].pumpTask = Task { [self] in
                await self.pump(direction: direction, generation: generation)
                self.pumpEnded(direction: direction)
            }
        }
    }

    /// Loses everything in flight in `direction` and ends it with a drop (unless it already ended).
    private func cut(_ state: inout PairState, direction: Int, wake: inout [CheckedContinuation<Void, any Error>]) {
        stopPump(&state, direction: direction)
        state.deliver(.end(.aborted), direction: direction)
        if let waiter = state.ends[1 - direction].waiter.take() { wake.append(waiter.continuation) }
    }

    private func stopPump(_ state: inout PairState, direction: Int) {
        state.directions[direction].inFlight.removeAll()
        state.directions[direction].pumpGeneration = nil
        state.directions[direction].pumpTask.take()?.cancel()
    }

    /// A pump task of `direction` has returned: wakes tests waiting for nothing to be in flight.
    private func pumpEnded(direction: Int) {
        let watchers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.directions[direction].runningPumps -= 1
            guard state.directions[direction].isSettled, !state.directions[direction].settledWatchers.isEmpty else { return [] }
            defer { state.directions[direction].settledWatchers = [] }
            return state.directions[direction].settledWatchers
        }
        for watcher in watchers { watcher.resume() }
    }

    /// Delivers the delayed events of `direction` as their deadlines pass; ends when none are left.
    private func pump(direction: Int, generation: UInt64) async {
        while true {
            var wake: CheckedContinuation<Void, any Error>?
            let next = state.withLock { state -> ContinuousClock.Instant? in
                guard state.directions[direction].pumpGeneration == generation else { return nil }
                let now = ContinuousClock.now
                let inFlight = state.directions[direction].inFlight
                let due = inFlight.firstIndex { $0.deadline > now } ?? inFlight.count
                if due > 0 {
                    for item in inFlight[..<due] { state.deliver(item.event, direction: direction) }
                    state.directions[direction].inFlight.removeFirst(due)
                    wake = state.ends[1 - direction].waiter.take()?.continuation
                }
                guard let first = state.directions[direction].inFlight.first else {
                    state.directions[direction].pumpGeneration = nil
                    state.directions[direction].pumpTask = nil
                    return nil
                }
                return first.deadline
            }
            wake?.resume()
            guard let next else { return }
            do {
                try await Task.sleep(until: next, clock: .continuous)
            } catch {
                return  // cancelled by stopPump, which already discarded what was in flight
            }
        }
    }
}
