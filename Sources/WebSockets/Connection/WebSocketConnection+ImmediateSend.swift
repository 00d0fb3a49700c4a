/// Sending from the event loop thread without entering the actor through the job queue.
///
/// An application running its message loop on the loop (``MessageWebSocket/eventLoopExecutor``)
/// calls `send` from nonisolated code on the loop thread. Entering the connection's actor would
/// queue a job and leaving it another; instead, since the loop thread runs every job of the
/// actor, the caller *is* isolated to it already (`assumeIsolated` checks that), and the send
/// can write its frame right away when nothing stands in the way:
/// no write in progress, nothing queued, the connection running, and a frame that fits in
/// ``WebSocketConnection/outboundBufferSize`` (so that a partial write leaves at most what a send
/// may leave queued behind a write in progress; see `WebSocketConnection+Writing.swift`). Then
/// the outcome is exactly the inline write's: the send returns once the kernel took the frame,
/// or, when it took only part, once the rest is queued for the background writer; a failed
/// write throws as the inline write does. Otherwise the caller takes the ordinary path.
extension WebSocketConnection {
    /// A send of `bytes` as a message of `kind` (``messageType`` when `nil`) made now, when the
    /// caller runs on the loop thread and the fast path applies. Returns `false` having done
    /// nothing otherwise: the caller then calls ``send(_:kind:)``.
    package nonisolated func sendImmediately(_ bytes: [UInt8], kind: MessageKind?) throws -> Bool {
        guard EventLoop.shared.inEventLoop else { return false }
        return try assumeIsolated { connection in
            guard connection.canSendImmediately(bytes.count) else { return false }
            let kind = kind ?? connection.messageType
            do { try bytes.withUnsafeBytes { buffer in try connection.core.send(buffer, kind: kind) } } catch {
                throw Self.map(error)
            }
            try connection.writeImmediately()
            return true
        }
    }

    /// ``sendImmediately(_:kind:)`` for a text message.
    package nonisolated func sendImmediately(text: String) throws -> Bool {
        guard EventLoop.shared.inEventLoop else { return false }
        return try assumeIsolated { connection in
            guard connection.canSendImmediately(text.utf8.count) else { return false }
            do { try connection.core.send(text: text) } catch { throw Self.map(error) }
            try connection.writeImmediately()
            return true
        }
    }

    /// Whether a message of `count` bytes can take the fast path (before anything is done).
    private func canSendImmediately(_ count: Int) -> Bool {
        // 14: the largest client frame header, so that the whole frame fits.
        !isWriting && outbound.isEmpty && ending == .running && !writesFailed
            && count + 14 <= outboundBufferSize && immediateWriter != nil
    }

    /// Writes the core's output now, as much as the socket takes; the rest goes to the background
    /// writer. Throws what the inline write would throw.
    private func writeImmediately() throws {
        counters.messagesSent += 1
        takeCoreOutput()
        guard let writer = immediateWriter else { return }
        let batch = outbound.takeBatch()
        let written: Int
        do {
            written = try writer.writeAvailable(batch.frames)
        } catch {
            writeFailed(error)
            throw endError ?? WebSocketError(.connectionAborted, "the connection failed while sending: \(error)")
        }
        counters.bytesSent += written
        guard written < batch.byteCount else {
            outbound.completed(batch)
            return closeTransportIfFlushed()
        }
        // The socket is full: the unwritten rest is written in the background, like frames queued
        // behind an inline write.
        isWriting = true
        let remainder = Self.unwritten(batch.frames, after: written)
        Task { await self.writeInBackground(remainder, completing: batch, alreadyWritten: written) }
    }

    /// The frames of `frames` from byte `written` on.
    private static func unwritten(_ frames: [[UInt8]], after written: Int) -> [[UInt8]] {
        var skip = written
        var rest: [[UInt8]] = []
        for frame in frames {
            if skip >= frame.count {
                skip -= frame.count
            } else {
                rest.append(skip == 0 ? frame : Array(frame[skip...]))
                skip = 0
            }
        }
        return rest
    }
}
