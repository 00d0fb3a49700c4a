import Synchronization

/// The read side of a stream socket (``StreamWebSocket``, and the server's stream view): the
/// binary messages the connection delivers as fragments (``ConnectionCore/Configuration/deliversFragments``),
/// handed out as one sequential byte stream, without message boundaries.
///
/// Nothing is assembled: each fragment is what one read from the network produced (at most the
/// reader's 64 KiB buffer, or the bytes of one frame), and it is handed out as it is, or split
/// when a read asks for fewer bytes (the rest stays here for the next read). Empty fragments
/// (an empty message, an empty final frame) carry no bytes and produce no chunk. Backpressure is
/// the inbox's: the connection stops reading from the network while its high-water mark of
/// fragments waits unconsumed.
///
/// One consumer at a time: ``input`` and the `read` methods take from the same bytes; a read that
/// starts while another one waits throws `.invalidState`. After the end, every read returns the
/// end again: empty for a clean end (a close handshake), the error otherwise.
package final class ByteStreamReader: Sendable {
    private struct State {
        /// A fragment partly handed out by a read that asked for fewer bytes, and how far.
        var leftover: [UInt8] = []
        var offset = 0
        var reading = false
        /// How the stream ended, once a read saw the end: `nil` for a clean end.
        var end: Result<Void, WebSocketError>?
        /// Whether ``input`` threw its error: an `AsyncIteratorProtocol` then returns `nil`.
        var inputThrew = false
    }

    private let inbox: Inbox<MessageFragment>
    private let state = Lock(State())

    package init(inbox: Inbox<MessageFragment>) {
        self.inbox = inbox
    }

    /// Byte chunks as they arrive; finishes after a close handshake, throws how the connection
    /// failed otherwise. Once it has thrown, it returns `nil`.
    package func makeInput() -> AsyncThrowingStream<[UInt8], any Error> {
        AsyncThrowingStream(unfolding: {
            if self.state.withLock({ $0.inputThrew }) { return nil }
            do {
                return try await self.nextChunk(maxCount: .max)
            } catch {
                self.state.withLock { $0.inputThrew = true }
                throw error
            }
        })
    }

    /// The next 1 to `maxCount` bytes, waiting for them; `nil` at a clean end.
    nonisolated(nonsending) package func nextChunk(maxCount: Int) async throws -> [UInt8]? {
        let ready = try state.withLock { state throws(WebSocketError) -> [UInt8]?? in
            if state.reading {
                throw WebSocketError(
                    .invalidState, "the stream is already being read by another task; read it from one task at a time")
            }
            if state.offset < state.leftover.count {
                let end = state.offset + min(maxCount, state.leftover.count - state.offset)
                let chunk = Array(state.leftover[state.offset..<end])
                state.offset = end
                if end == state.leftover.count {
                    state.leftover = []
                    state.offset = 0
                }
                return .some(chunk)
            }
            switch state.end {
            case .success?: return .some(nil)
            case .failure(let error)?: throw error
            case nil: break
            }
            state.reading = true
            return nil
        }
        if let ready { return ready }
        do {
            while let fragment = try await inbox.next() {
                guard !fragment.bytes.isEmpty else { continue }
                return state.withLock { state in
                    state.reading = false
                    guard fragment.bytes.count > maxCount else { return fragment.bytes }
                    state.leftover = fragment.bytes
                    state.offset = maxCount
                    return Array(fragment.bytes[..<maxCount])
                }
            }
            // The inbox ends cleanly also when this task was cancelled (the connection then closes
            // with 1001): that is not the peer's clean end.
            let cancelled = Task.isCancelled
            state.withLock { state in
                state.reading = false
                if !cancelled { state.end = .success(()) }
            }
            if cancelled { throw WebSocketError(.operationCanceled, "the read was cancelled; the connection closes with 1001") }
            return nil
        } catch let error as WebSocketError where error.status == .operationCanceled {
            throw error
        } catch {
            let failure = error as? WebSocketError ?? WebSocketError(.connectionAborted, "\(error)")
            state.withLock { state in
                state.reading = false
                state.end = .failure(failure)
            }
            throw failure
        }
    }

    /// Test hook: returns once a read waits for bytes from the connection.
    package func waitUntilReaderWaits() async {
        await inbox.waitUntilConsumerWaits()
    }

    /// Test hook: returns once the connection stopped reading because fragments wait unconsumed.
    package func waitUntilProducerPauses() async {
        await inbox.waitUntilProducerPauses()
    }
}
