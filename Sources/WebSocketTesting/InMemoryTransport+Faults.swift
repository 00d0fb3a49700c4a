import WebSockets

extension InMemoryTransport {
    /// Misbehaviour injected into what one end writes. Set it with ``InMemoryTransport/faults`` or
    /// ``InMemoryTransport/updateFaults(_:)``, at any time; it applies from the next write on.
    ///
    ///     server.faults = .init(splitWritesInto: 3, writeDelay: .milliseconds(5))
    ///     server.updateFaults { $0.dropAfterBytes = 100 }
    ///
    /// The faults combine: a write is first checked against ``failNextWrite``, then cut at
    /// ``dropAfterBytes``, then split into ``splitWritesInto``-byte segments that all arrive after
    /// ``writeDelay``.
    public struct Faults: Sendable, Hashable {
        /// Delivers every write in pieces of at most this many bytes, each a separate segment, so
        /// the peer reads them one read at a time. `nil`: a write is delivered as one segment.
        public var splitWritesInto: Int?

        /// How long the bytes of each write (and the end-of-stream of ``InMemoryTransport/close()``)
        /// take to arrive. The write itself returns at once. Arrivals keep the order of the writes,
        /// even when the delay is lowered in between. `.zero`: bytes arrive during the write.
        public var writeDelay: Duration

        /// Drops the connection once this end has written this many more bytes.
        ///
        /// The peer receives exactly that many bytes, then its reads throw `.connectionAborted`
        /// (not a clean end-of-stream), as do this end's reads once they have read what had
        /// arrived. A write that crosses the limit delivers the bytes up to it and throws
        /// `.connectionAborted`; a write that reaches it exactly succeeds. All later writes, on both
        /// ends, throw `.connectionAborted`. Counts down as this end writes; `0` drops the connection
        /// on the next non-empty write, delivering nothing. `nil`: never.
        public var dropAfterBytes: Int?

        /// Fails the next write that carries bytes with this error, delivering none of its bytes. Cleared
        /// by that write; the write after it goes through. `nil`: no failure.
        public var failNextWrite: WebSocketError?

        /// - Parameters:
        ///   - splitWritesInto: see ``splitWritesInto``.
        ///   - writeDelay: see ``writeDelay``.
        ///   - dropAfterBytes: see ``dropAfterBytes``.
        ///   - failNextWrite: see ``failNextWrite``.
        public init(
            splitWritesInto: Int? = nil,
            writeDelay: Duration = .zero,
            dropAfterBytes: Int? = nil,
            failNextWrite: WebSocketError? = nil
        ) {
            self.splitWritesInto = splitWritesInto
            self.writeDelay = writeDelay
            self.dropAfterBytes = dropAfterBytes
            self.failNextWrite = failNextWrite
        }

        /// No faults: every write arrives whole and at once.
        public static var none: Faults { Faults() }

        /// The usual injected write failure: `.connectionAborted`.
        public static var abortedWriteError: WebSocketError {
            WebSocketError(.connectionAborted, "injected fault: the write failed")
        }

        func validate() {
            precondition((splitWritesInto ?? 1) >= 1, "splitWritesInto must be at least 1")
            precondition((dropAfterBytes ?? 0) >= 0, "dropAfterBytes must not be negative")
            precondition(writeDelay >= .zero, "writeDelay must not be negative")
        }
    }

    /// Fails this end's next write with `error` (by default `.connectionAborted`), delivering none of
    /// its bytes. Shorthand for setting ``Faults/failNextWrite``.
    public func failNextWrite(with error: WebSocketError = Faults.abortedWriteError) {
        updateFaults { $0.failNextWrite = error }
    }
}
