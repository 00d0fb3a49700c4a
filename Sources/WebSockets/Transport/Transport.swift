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
    /// - Returns: the number of bytes read, or 0 once the peer has ended the stream.
    /// - Throws: ``WebSocketError`` (for example `.connectionAborted`) when the stream failed, or
    ///   after ``close()``.
    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)?) async throws -> Int

    /// Writes every byte of `buffers`, in order, as one gathered write where the medium allows.
    ///
    /// Returns once all bytes were handed to the medium (for TCP: the kernel's send buffer).
    /// - Throws: ``WebSocketError`` when the stream failed or was closed; what was written is unknown.
    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)?) async throws

    /// Closes both directions and releases the underlying resources (the file descriptor).
    ///
    /// Idempotent. A pending read returns 0 or throws, a pending write throws.
    func close()

    /// The local endpoint as `host:port` (IPv6 as `[addr]:port`), when the medium has one.
    var localAddress: String? { get }
    /// The remote endpoint as `host:port` (IPv6 as `[addr]:port`), when the medium has one.
    var remoteAddress: String? { get }
}
