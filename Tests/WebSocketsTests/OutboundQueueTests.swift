import Testing

@testable import WebSockets

/// The writer's bookkeeping, without a socket.
@Suite("Outbound queue")
struct OutboundQueueTests {
    @Test("frames come out as one batch in order; queued bytes count until the batch is written")
    func batchesKeepOrderAndCountBytes() {
        var queue = OutboundQueue()
        queue.append(contentsOf: [[1, 2], [3]])
        queue.append(contentsOf: [[4, 5, 6]])
        #expect(queue.queuedBytes == 6)
        let batch = queue.takeBatch()
        #expect(batch.frames == [[1, 2], [3], [4, 5, 6]])
        #expect(batch.byteCount == 6)
        #expect(queue.isEmpty)
        #expect(queue.queuedBytes == 6, "a batch being written still counts for backpressure")
        queue.append(contentsOf: [[7]])
        queue.completed(batch)
        #expect(queue.queuedBytes == 1)
        #expect(queue.takeBatch().frames == [[7]], "frames queued during a write form the next batch")
    }

    @Test("removeAll drops everything, written or not")
    func removeAllDropsEverything() {
        var queue = OutboundQueue()
        queue.append(contentsOf: [[1], [2]])
        _ = queue.takeBatch()
        queue.append(contentsOf: [[3]])
        queue.removeAll()
        #expect(queue.isEmpty)
        #expect(queue.queuedBytes == 0)
    }
}
