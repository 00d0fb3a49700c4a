/// Writing: one writer at a time, frames in the order the core produced them.
///
/// A `send` that finds no write in progress writes the queued frames itself, on the loop thread,
/// usually without suspending (the kernel takes them at once). It writes only what was queued up
/// to and including its own frames: frames that other tasks queued meanwhile go to a background
/// writer task, so that no `send` waits for other tasks' frames, and cancelling one sender cannot
/// abort the writing of another's. A `send` that finds a write in progress leaves its frames to it
/// and returns, unless more than ``WebSocketConnection/outboundBufferSize`` bytes are queued:
/// then it waits until the queue drains below that (backpressure).
///
/// A failed write stops all writing for good (the byte stream may end inside a frame), but does not
/// end the connection at once: see ``writeFailed(_:)``.
extension WebSocketConnection {
    /// For sends: writes the core's output now, or leaves it to the write in progress.
    func writeOutput() async throws {
        takeCoreOutput()
        guard !isWriting else {
            while outbound.queuedBytes > outboundBufferSize && ending != .finished && !writesFailed {
                await withCheckedContinuation { drainWaiters.append($0) }
            }
            if ending == .finished || writesFailed, let endError { throw endError }
            return
        }
        guard ending != .finished, !writesFailed else {
            throw endError ?? WebSocketError(.closed, "the connection is closed")
        }
        isWriting = true
        try await writeBatch()
        writeRestInBackground()
    }

    /// For output the core produced on its own (pongs, close frames): writes it now unless a
    /// write is in progress, which then takes it along. Never throws: a failed write ends the
    /// connection, which is how the application learns of it.
    func flushOutput() async {
        takeCoreOutput()
        guard !isWriting, ending != .finished else { return }
        guard !outbound.isEmpty else { return closeTransportIfFlushed() }
        isWriting = true
        do { try await writeBatch() } catch { return }
        writeRestInBackground()
    }

    /// Moves the core's output to the queue (or discards it once writes failed).
    func takeCoreOutput() {
        guard core.hasOutput else { return }
        let output = core.takeOutput()
        if !writesFailed { outbound.append(contentsOf: output) }
    }

    /// Writes one batch: everything queued now. The caller has set `isWriting`; on failure it is
    /// cleared and the connection has ended.
    private func writeBatch() async throws {
        let batch = outbound.takeBatch()
        do {
            try await transport.write(batch.frames, isolation: self)
        } catch {
            isWriting = false
            writeFailed(error)
            throw endError ?? WebSocketError(.connectionAborted, "the connection failed while sending: \(error)")
        }
        counters.bytesSent += batch.byteCount
        outbound.completed(batch)
        resumeDrainWaiters()
    }

    /// Finishes a batch that an immediate send (`WebSocketConnection+ImmediateSend.swift`) wrote
    /// only in part: writes `remainder`, then whatever was queued meanwhile. The caller has set
    /// `isWriting`.
    func writeInBackground(_ remainder: [[UInt8]], completing batch: OutboundQueue.Batch, alreadyWritten: Int) async {
        do {
            try await transport.write(remainder, isolation: self)
        } catch {
            isWriting = false
            return writeFailed(error)
        }
        counters.bytesSent += batch.byteCount - alreadyWritten
        outbound.completed(batch)
        resumeDrainWaiters()
        writeRestInBackground()
    }

    private func resumeDrainWaiters() {
        guard outbound.queuedBytes <= outboundBufferSize && !drainWaiters.isEmpty else { return }
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// After an inline batch: frames queued meanwhile are written by a background task, so the
    /// caller returns now. Clears `isWriting` when nothing is left.
    private func writeRestInBackground() {
        guard !outbound.isEmpty, ending != .finished else {
            isWriting = false
            return closeTransportIfFlushed()
        }
        Task {
            while !self.outbound.isEmpty && self.ending != .finished {
                do { try await self.writeBatch() } catch { return }
            }
            self.isWriting = false
            self.closeTransportIfFlushed()
        }
    }
}
