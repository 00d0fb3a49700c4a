#if canImport(Glibc)
    import Glibc
#endif

extension StreamSocket {
    /// Reads what is available into the front of `buffer`, waiting until at least one byte is
    /// (WinRT `InputStream.ReadAsync` with `InputStreamOptions.Partial`).
    ///
    /// One read at a time. Cancelling the task while it waits tears the connection down (see
    /// ``StreamSocket``).
    /// - Returns: the byte count, at most `buffer.count`; 0 once the peer ended its side (FIN,
    ///   or `close_notify` with TLS). Reading is then over: later reads return 0 too.
    /// - Throws: `.invalidArgument` for an empty buffer; `.invalidState` before connecting or
    ///   with another read pending; `.closed` after ``close()``; `.connectionReset`,
    ///   `.timedOut` (keep-alive), ... when the connection failed; `.operationCanceled`.
    public func read(into buffer: inout [UInt8]) async throws(SocketError) -> Int {
        guard !buffer.isEmpty else { throw SocketError(.invalidArgument, "read: the buffer is empty") }
        guard !isReading else { throw SocketError(.invalidState, "read: another read is pending (one at a time)") }
        isReading = true
        defer { isReading = false }
        let transport = try await secured(for: "read")
        do {
            return try await transport.read(into: &buffer, isolation: self)
        } catch {
            throw failure(error, "read")
        }
    }

    /// Reads what is available, at most `maxLength` bytes, waiting until at least one byte is.
    /// - Returns: the bytes; empty once the peer ended its side.
    /// - Throws: as ``read(into:)``; `.invalidArgument` when `maxLength` is not positive.
    public func read(upTo maxLength: Int) async throws(SocketError) -> [UInt8] {
        guard maxLength > 0 else { throw SocketError(.invalidArgument, "read: maxLength must be positive, not \(maxLength)") }
        var buffer = [UInt8](repeating: 0, count: maxLength)
        let count = try await read(into: &buffer)
        buffer.removeSubrange(count...)
        return buffer
    }

    /// The received bytes as chunks of at most `maxLength` bytes each, as they arrive; the
    /// sequence ends when the peer ends its side and throws what a read throws. One iteration at
    /// a time (it reads with ``read(upTo:)``).
    public nonisolated func chunks(maxLength: Int = 64 * 1024) -> StreamSocketChunks {
        StreamSocketChunks(socket: self, maxLength: maxLength)
    }

    /// Writes all of `bytes` (WinRT `OutputStream.WriteAsync`), waiting while the kernel's send
    /// buffer (``StreamSocketControl/outboundBufferSize``) is full: a peer that does not read
    /// holds the writer back instead of letting memory grow. Returns once every byte was handed
    /// to the kernel, not once the peer read it. Empty `bytes` return at once.
    ///
    /// One write at a time. Cancelling the task while it waits tears the connection down.
    /// - Throws: `.invalidState` before connecting, with another write pending, or after
    ///   ``shutdownWrite()``; `.closed` after ``close()``; `.connectionReset` when the peer is
    ///   gone; `.operationCanceled`. After a failure, what the peer received is unknown.
    public func write(_ bytes: [UInt8]) async throws(SocketError) {
        guard !isWriting else { throw SocketError(.invalidState, "write: another write is pending (one at a time)") }
        guard !isWriteShutDown else { throw SocketError(.invalidState, "write: writing was shut down (shutdownWrite)") }
        isWriting = true
        defer { isWriting = false }
        let transport = try await secured(for: "write")
        guard !bytes.isEmpty else { return }
        do {
            try await transport.write([bytes], isolation: self)
        } catch {
            throw failure(error, "write")
        }
    }

    /// Ends this side's sending (a half-close): the peer reads the end of the stream (FIN; with
    /// TLS, `close_notify` first), while this side can still read until the peer ends too.
    /// Idempotent.
    /// - Throws: `.invalidState` before connecting or while a write is pending; `.closed` after
    ///   ``close()``; what writing the TLS alert throws.
    public func shutdownWrite() async throws(SocketError) {
        guard !isWriteShutDown else { return }
        guard !isWriting else { throw SocketError(.invalidState, "shutdown write: a write is pending") }
        isWriting = true
        defer { isWriting = false }
        let transport = try await secured(for: "shutdown write")
        do {
            if let secure = transport as? TLSTransport { try await secure.shutdownWrite(isolation: self) }
        } catch {
            throw failure(error, "shutdown write")
        }
        isWriteShutDown = true
        let code = tcp?.registration.inspectDescriptor { Glibc.shutdown($0, CInt(SHUT_WR)) == 0 ? 0 : errno }
        if let code, code != 0 { throw SocketError(errno: code, "shutdown write") }
    }

    /// The error for a failed read or write: after cancellation the connection is torn down
    /// (the seed's rule) and the error says so; after ``close()``, `.closed`.
    private func failure(_ error: any Error, _ operation: String) -> SocketError {
        if Task.isCancelled || (error as? WebSocketError)?.status == .operationCanceled {
            abort()
            return SocketError(.operationCanceled, "\(operation): cancelled, so the connection was reset")
        }
        if phase == .closed { return SocketError(.closed, "\(operation): the socket was closed") }
        return SocketError(error, operation)
    }

    // MARK: Test hooks

    /// Test hook: returns `true` once a read is suspended waiting for bytes, `false` if the
    /// socket closes first (or is not connected).
    package func waitUntilReadIsPending() async -> Bool {
        guard let tcp else { return false }
        return await tcp.registration.waitUntilParked(.readable)
    }

    /// Test hook: returns `true` once a write is suspended waiting for room in the send buffer,
    /// `false` if the socket closes first (or is not connected).
    package func waitUntilWriteIsPending() async -> Bool {
        guard let tcp else { return false }
        return await tcp.registration.waitUntilParked(.writable)
    }
}

/// The received bytes of a ``StreamSocket`` as an `AsyncSequence` of chunks
/// (``StreamSocket/chunks(maxLength:)``).
public struct StreamSocketChunks: AsyncSequence, Sendable {
    /// A chunk: the bytes one read gave, never empty.
    public typealias Element = [UInt8]
    let socket: StreamSocket
    let maxLength: Int

    /// An iterator reading from the socket (one at a time per socket: reads are one at a time).
    public func makeAsyncIterator() -> Iterator {
        Iterator(socket: socket, maxLength: maxLength)
    }

    /// Reads the next chunk with ``StreamSocket/read(upTo:)``; `nil` at the end of the stream.
    public struct Iterator: AsyncIteratorProtocol {
        let socket: StreamSocket
        let maxLength: Int
        var ended = false

        /// The next chunk, `nil` once the peer ended its side.
        /// - Throws: ``SocketError``, as ``StreamSocket/read(into:)``.
        public mutating func next() async throws -> [UInt8]? {
            guard !ended else { return nil }
            let chunk = try await socket.read(upTo: maxLength)
            if chunk.isEmpty {
                ended = true
                return nil
            }
            return chunk
        }
    }
}
