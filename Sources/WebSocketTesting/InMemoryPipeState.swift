import WebSockets

// The value types behind ``InMemoryPipe``'s lock: what each end and each direction of a pair
// holds. Plain values, mutated only inside `InMemoryPipe`'s `withLock`; internal to this module
// (not public) so that the pipe's logic and its state can live in two files.

enum Terminal {
    /// A clean end of stream (close or half-close): reads return 0.
    case endOfStream
    /// An abrupt drop: reads throw `.connectionAborted`.
    case aborted
}

enum Event {
    case data([UInt8])
    case end(Terminal)
}

struct InFlight {
    var deadline: ContinuousClock.Instant
    var event: Event
}

struct Waiter {
    var id: UInt64
    var continuation: CheckedContinuation<Void, any Error>
}

struct EndState {
    var closed = false
    var writeClosed = false
    var faults = InMemoryTransport.Faults()
    var onWrite: (@Sendable ([UInt8]) -> Void)?
    var bytesWritten = 0
    var bytesRead = 0
    var waiter: Waiter?
    var lastWaiterID: UInt64 = 0
    /// Tests waiting for a read on this end to be suspended (`waitUntilReadIsPending`). Empty
    /// unless a test waits: parking a read checks it under the lock it holds anyway.
    var pendingReadWatchers: [CheckedContinuation<Void, Never>] = []
}

struct DirectionState {
    /// Arrived, not yet read.
    var segments = SegmentQueue()
    /// How the stream ended, once that has arrived. Read after `segments` drain.
    var terminal: Terminal?
    /// Delayed events in arrival order; deadlines never decrease.
    var inFlight: [InFlight] = []
    /// Identifies the running pump task, if any.
    var pumpGeneration: UInt64?
    var pumpTask: Task<Void, Never>?
    /// Pump tasks that have not returned yet (a stopped one returns when it next wakes up).
    var runningPumps = 0
    /// Tests waiting until this direction is settled (`waitUntilNothingInFlight`).
    var settledWatchers: [CheckedContinuation<Void, Never>] = []

    /// Nothing is in flight and no pump task runs: nothing more can arrive by delay.
    var isSettled: Bool { inFlight.isEmpty && runningPumps == 0 }
}

struct PairState {
    var ends = [EndState(), EndState()]
    var directions = [DirectionState(), DirectionState()]
    /// Set by a drop: all writes fail.
    var dropped = false
    var lastPumpGeneration: UInt64 = 0

    func isReadable(end: Int) -> Bool {
        ends[end].closed || !directions[1 - end].segments.isEmpty || directions[1 - end].terminal != nil
    }

    /// An event arrives at the reading end of `direction`.
    mutating func deliver(_ event: Event, direction: Int) {
        guard !ends[1 - direction].closed, directions[direction].terminal == nil else { return }
        switch event {
        case .data(let bytes): directions[direction].segments.append(bytes)
        case .end(let terminal): directions[direction].terminal = terminal
        }
    }
}

/// Arrived segments; reads consume the front one.
struct SegmentQueue {
    private var segments: [[UInt8]] = []
    private var head = 0
    private var offset = 0

    var isEmpty: Bool { head == segments.count }

    mutating func append(_ bytes: [UInt8]) {
        if !bytes.isEmpty { segments.append(bytes) }
    }

    mutating func removeAll() {
        segments.removeAll()
        head = 0
        offset = 0
    }

    /// Copies from the front segment into the front of `buffer`; at most `buffer.count` bytes.
    mutating func read(into buffer: inout [UInt8]) -> Int {
        let segment = segments[head]
        let count = min(buffer.count, segment.count - offset)
        guard count > 0 else { return 0 }
        let start = offset
        buffer.withUnsafeMutableBufferPointer { destination in
            segment.withUnsafeBufferPointer { source in
                destination.baseAddress!.update(from: source.baseAddress! + start, count: count)
            }
        }
        offset += count
        if offset == segment.count {
            segments[head] = []
            head += 1
            offset = 0
            if head == segments.count {
                segments.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 32 && head * 2 >= segments.count {
                segments.removeFirst(head)
                head = 0
            }
        }
        return count
    }
}
