/// The frames waiting to be written, in order, and how many bytes they hold: a plain value, so
/// the writer's bookkeeping is tested without a socket.
///
/// The writer takes everything queued as one batch (one gathered write), and gives the batch's
/// storage back when the write is done, so that neither array reallocates per write: the queue and
/// the batch swap buffers.
struct OutboundQueue {
    private var pending: [[UInt8]] = []
    private var spare: [[UInt8]] = []
    /// Bytes queued or being written: what `send` backpressure is measured against.
    private(set) var queuedBytes = 0

    /// A batch taken for writing: the frames and their size.
    struct Batch {
        var frames: [[UInt8]]
        var byteCount: Int
    }

    /// Whether nothing waits to be written (a batch being written does not count).
    var isEmpty: Bool { pending.isEmpty }

    /// Queues frames after everything queued before.
    mutating func append(contentsOf frames: [[UInt8]]) {
        for frame in frames {
            queuedBytes += frame.count
            pending.append(frame)
        }
    }

    /// Takes every queued frame as one batch, in order.
    mutating func takeBatch() -> Batch {
        var frames = spare
        spare = []
        swap(&frames, &pending)
        var byteCount = 0
        for frame in frames { byteCount += frame.count }
        return Batch(frames: frames, byteCount: byteCount)
    }

    /// Records that `batch` was written and keeps its storage for the next one. `consuming`: the
    /// caller's batch is the storage's only other owner, so emptying it keeps the buffer instead of
    /// allocating a new one (a borrowed batch made that an allocation per write).
    mutating func completed(_ batch: consuming Batch) {
        queuedBytes -= batch.byteCount
        batch.frames.removeAll(keepingCapacity: true)
        spare = batch.frames
    }

    /// Drops everything (the transport is gone).
    mutating func removeAll() {
        pending.removeAll()
        spare = []
        queuedBytes = 0
    }
}
