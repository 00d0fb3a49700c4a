/// Sending from the event loop thread: no hop into the actor, and one system call per loop turn.
///
/// An application running its message loop on the loop (``MessageWebSocket/eventLoopExecutor``)
/// calls `send` from nonisolated code on the loop thread. Entering the connection's actor would
/// queue a job and leaving it another; instead, since the loop thread runs every job of the
/// actor, the caller *is* isolated to it already (`assumeIsolated` checks that), and the send
/// encodes its frame right away when nothing stands in the way: no write in progress, the
/// connection running, and room for the frame within ``WebSocketConnection/outboundBufferSize``.
///
/// The loop's first send of a turn writes its frame at once: a lone reply (one connection's round
/// trip) waits for nothing. Later sends of the same turn, on this connection or on others, are
/// queued and written when the turn ends (``EventLoop/atEndOfTurn(_:)``), one gathered `sendmsg`
/// per connection instead of one per message, which is what a stream of small messages costs
/// most; and many connections answered in one turn reach the peer together, so it answers them
/// together too (measured: 8 % more round trips/s over 100 connections than writing each at once).
/// They wait only for the rest of the turn. What the kernel does not take at once is written by
/// the background writer, as after an inline write.
///
/// The send returns once its frame is queued, like a send that finds a write in progress (see
/// `WebSocketConnection+Writing.swift`): a write that then fails ends the connection, which is how
/// the application learns of it (`messages` throws, later sends throw), exactly as for frames
/// queued behind a write in progress. Otherwise the caller takes the ordinary path.
extension WebSocketConnection: LoopTurnEndAction {
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
            if let events = connection.events { events.emit(.messageSent(kind, size: bytes.count)) }
            connection.queueForTurnEnd()
            return true
        }
    }

    /// Sends `message`: from the caller's job when ``sendImmediately(_:kind:)`` applies, else
    /// through the actor. What `MessageWebSocket.send(_:)` and `ServerWebSocket.send(_:)` do.
    package nonisolated(nonsending) func send(_ message: Message) async throws {
        switch message {
        case .text(let text):
            if try sendImmediately(text: text) { return }
            try await send(text: text)
        case .binary(let bytes):
            if try sendImmediately(bytes, kind: .binary) { return }
            try await send(bytes, kind: .binary)
        }
    }

    /// ``sendImmediately(_:kind:)`` for a text message.
    package nonisolated func sendImmediately(text: String) throws -> Bool {
        guard EventLoop.shared.inEventLoop else { return false }
        return try assumeIsolated { connection in
            guard connection.canSendImmediately(text.utf8.count) else { return false }
            do { try connection.core.send(text: text) } catch { throw Self.map(error) }
            if let events = connection.events { events.emit(.messageSent(.text, size: text.utf8.count)) }
            connection.queueForTurnEnd()
            return true
        }
    }

    /// Whether a message of `count` bytes can take the fast path (before anything is done).
    private func canSendImmediately(_ count: Int) -> Bool {
        // 14: the largest client frame header, so that the whole frame fits.
        !isWriting && ending == .running && !writesFailed && immediateWriter != nil
            && outbound.queuedBytes + count + 14 <= outboundBufferSize
    }

    /// Writes the frame the core just encoded now if it is the loop's first send of this turn
    /// (a lone reply waits for nothing), else queues it for the end of the turn.
    private func queueForTurnEnd() {
        counters.messagesSent += 1
        takeCoreOutput()
        guard !gatheredWriteScheduled else { return }
        gatheredWriteScheduled = true
        if EventLoop.shared.atEndOfTurn(self) { writeGathered() }
    }

    /// ``LoopTurnEndAction``: the loop's turn ended, so write what its later sends queued.
    package nonisolated func turnEnded() {
        assumeIsolated { connection in
            connection.gatheredWriteScheduled = false
            connection.writeGathered()
        }
    }

    /// Writes every queued frame now, as much as the socket takes; the rest goes to the background
    /// writer. Nothing to do when another write took them along meanwhile (a close, a pong).
    private func writeGathered() {
        guard !isWriting, !outbound.isEmpty, ending != .finished, !writesFailed,
            let writer = immediateWriter
        else { return }
        let batch = outbound.takeBatch()
        gatheredWriteCount += 1
        let written: Int
        do {
            written = try writer.writeAvailable(batch.frames)
        } catch {
            return writeFailed(error)
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
