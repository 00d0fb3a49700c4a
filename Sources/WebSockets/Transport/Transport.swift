/// A bidirectional byte stream that a WebSocket speaks the protocol over.
///
/// Conforming types move bytes and nothing else: no framing, no masking, no WebSocket state. The
/// opening handshake, the frames and the close handshake all go through the transport as bytes, so
/// a custom transport (a proxy tunnel, TLS, an in-memory pair in tests) exercises the real protocol.
///
/// Contract:
/// - ``read(into:isolation:)`` is called from one task at a time; ``write(_:isolation:)`` likewise.
///   A read and a write may be outstanding at the same time (full duplex).
/// - Both run on the caller's isolation (the `isolation` parameter), so a transport that can complete
///   an operation without waiting does so without any executor hop.
/// - ``close()`` may be called from anywhere, at any time, any number of times.
public protocol Transport: AnyObject, Sendable {
    /// Reads the bytes that are available into the front of `buffer` and returns how many were read.
    ///
    /// `buffer.count` is the most that may be read; the caller keeps the buffer and reuses it, so a
    /// transport reads straight into it (one copy from the kernel, no allocation per read).
    /// Suspends until at least one byte is available.
    ///
    /// An empty `buffer` is a usage error, the same for every transport: the read throws
    /// `.invalidArgument` at once, before looking at the stream (even after ``close()``), and
    /// consumes nothing. It cannot return 0, because 0 means the stream ended.
    /// - Returns: the number of bytes read (at least 1), or 0 once the peer has ended the stream.
    /// - Throws: ``WebSocketError``: `.invalidArgument` for an empty `buffer`; `.closed` after
    ///   ``close()``; another status (for example `.connectionAborted`) when the stream failed.
    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)?) async throws -> Int

    /// Writes every byte of `buffers`, in order, as one gathered write where the medium allows.
    ///
    /// Returns once all bytes were handed to the medium (for TCP: the kernel's send buffer). Empty
    /// buffers among others are skipped.
    ///
    /// A write with no bytes at all (`[]`, `[[]]`, only empty buffers) is the same for every
    /// transport: it returns at once, writes nothing and throws nothing, whatever the state of the
    /// stream (even after ``close()``). There is nothing to deliver, so nothing can fail.
    /// - Throws: ``WebSocketError`` when the stream failed or was closed; what was written is unknown.
    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)?) async throws

    /// Closes both directions and releases the underlying resources (the file descriptor).
    ///
    /// Idempotent. A pending read returns 0 or throws, a pending write throws. Synchronous and
    /// callable from any thread, so it never waits: a transport with a goodbye of its own (TLS
    /// `close_notify`) sends it best effort, only what the medium takes at once.
    func close()

    /// The local endpoint as `host:port` (IPv6 as `[addr]:port`), when the medium has one.
    var localAddress: String? { get }
    /// The remote endpoint as `host:port` (IPv6 as `[addr]:port`), when the medium has one.
    var remoteAddress: String? { get }

    /// The kernel's figures of the TCP connection underneath, for
    /// ``MessageWebSocketInformation/roundTripTimeStatistics`` and
    /// ``MessageWebSocketInformation/bandwidthStatistics``; `nil` when there is none (the default).
    /// TCP reads `TCP_INFO`; TLS forwards to the transport it runs over, and so should a tunnel.
    /// Cheap (one system call), non-blocking, callable from any thread; `nil` after ``close()``.
    func tcpInfo() -> TCPInfo?
}
