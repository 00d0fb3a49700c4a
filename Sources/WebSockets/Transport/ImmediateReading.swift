#if canImport(Glibc)
    import Glibc
#endif

/// A transport whose read can be split in two: *wait* until bytes may be there, then *take* what
/// is there, synchronously, into memory the caller lends only for that call.
///
/// Why: ``Transport/read(into:isolation:)`` keeps the caller's buffer for as long as it waits,
/// which for an idle connection is its whole life, so every connection would own a read buffer.
/// Split this way, a connection waits holding nothing and reads into the event loop's one shared
/// buffer (``EventLoop/withReadBuffer(_:)``) for the synchronous span between the non-blocking
/// read and handing the bytes to the protocol core.
///
/// Contract (one reader at a time, as for every transport):
/// - ``readAvailable(into:)`` never waits. After it returned `nil`, or fewer bytes than
///   `buffer.count`, call ``waitUntilReadable(isolation:)`` before reading again: the medium may
///   be drained, and readiness is edge-triggered.
/// - ``waitUntilReadable(isolation:)`` returns at once when bytes may already be available, and
///   may return spuriously: the next ``readAvailable(into:)`` then returns `nil`.
package protocol ImmediateReading: Transport {
    /// Reads what is available now into the front of `buffer` (not empty), without waiting.
    /// - Returns: the byte count (at least 1); 0 once the peer ended the stream; `nil` when
    ///   nothing is available now.
    /// - Throws: as ``Transport/read(into:isolation:)`` does (`.closed` after `close()`, ...).
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int?

    /// Suspends until a read may find bytes, the end of the stream or an error.
    ///
    /// Does not observe task cancellation: the one caller is a connection's reader, which is never
    /// cancelled but ended by closing the transport (and a cancellation handler per wait costs two
    /// locked updates of the task's status on the hot path).
    /// - Throws: `.closed` after `close()`; what the transport's writes throw, for a transport that
    ///   must write before it can read more (TLS).
    func waitUntilReadable(isolation: isolated (any Actor)?) async throws
}

extension TCPTransport: ImmediateReading {
    /// One non-blocking `read`; `EAGAIN` is `nil`.
    package func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let (count, code) = try registration.withDescriptor(for: .readable) { fd -> (Int, CInt) in
                let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
                return (count, count < 0 ? errno : 0)
            }
            if count >= 0 { return count }
            switch code {
            case EAGAIN, EWOULDBLOCK: return nil
            case EINTR: continue
            default: throw WebSocketError(.connectionAborted, "read failed", errno: code)
            }
        }
    }

    /// Waits for the socket's next readable edge (at once if one arrived since the last read).
    package func waitUntilReadable(isolation: isolated (any Actor)?) async throws {
        try await registration.waitReadableIgnoringCancellation(isolation: isolation)
    }
}

/// A transport that can write without waiting: as much as the medium takes now, synchronously.
///
/// Why: a `send` made on the event loop thread (an application running its message loop there)
/// can then write its frame from the caller's own job, without entering the connection's actor
/// through the job queue and leaving it again (see `WebSocketConnection+ImmediateSend.swift`).
package protocol ImmediateFrameWriting: Transport {
    /// Writes as much of `buffers` (in order, gathered) as the medium takes now, without waiting.
    /// - Returns: the bytes written (0 when nothing could be written now).
    /// - Throws: as ``Transport/write(_:isolation:)`` does (`.connectionAborted`, `.closed`).
    func writeAvailable(_ buffers: [[UInt8]]) throws -> Int
}

extension TCPTransport: ImmediateFrameWriting {}
