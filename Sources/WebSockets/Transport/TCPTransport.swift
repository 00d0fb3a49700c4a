import CWebSocketsShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection over a non-blocking socket driven by an `EventLoop`.
///
/// Every operation first tries its system call directly on the caller's isolation; only when the
/// kernel answers `EAGAIN` does it wait for the loop to report readiness. A caller whose actor runs
/// on the same loop (see `EventLoop`) therefore never changes threads: the read, the write and
/// the readiness report all happen on the loop thread.
///
/// Cost per call: one system call, a few uncontended lock operations, and no allocation (a
/// gathered write uses a small stack array of `iovec`s).
public final class TCPTransport: Transport {
    /// Owns the socket: closing it, or releasing the last reference to it, closes the socket.
    let registration: FDRegistration
    /// Set after a read returned less than asked: the socket was drained, so the next read waits
    /// for readiness first instead of spending a system call to learn `EAGAIN`.
    private let drained = Atomic<Bool>(false)
    public let localAddress: String?
    public let remoteAddress: String?

    /// At most this many buffers go into one `sendmsg` (stack-allocated `iovec`s; IOV_MAX is 1024).
    private static let maxIOVecs = 32

    init(registration: FDRegistration, localAddress: String?, remoteAddress: String?) {
        self.registration = registration
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
    }

    // MARK: Connecting

    /// Opens a TCP connection to `host:port` on the shared event loop.
    ///
    /// Resolves `host` (numeric literals in place; names with the AAAA and A lookups concurrent,
    /// on helper threads), then races the addresses with Happy Eyeballs v2 (RFC 8305): families
    /// interleaved, the next attempt 250 ms after the previous one unless that failed sooner
    /// (``MessageWebSocketControl/connectionAttemptDelay``'s default), the first to connect wins
    /// and the others are closed.
    /// - Parameters:
    ///   - host: a DNS name or an IPv4/IPv6 literal (without brackets).
    ///   - port: the TCP port.
    ///   - noDelay: sets `TCP_NODELAY` (on by default: WebSocket frames are written whole, so
    ///     Nagle's algorithm would only add latency).
    ///   - isolation: the actor the connect runs on (the caller's, by default).
    /// - Throws: `.hostNameNotResolved` naming the host; `.cannotConnect` naming `host:port` and the
    ///   last failed address's error (refused, unreachable, ...); `.operationCanceled` when cancelled.
    public static func connect(
        host: String,
        port: Int,
        noDelay: Bool = true,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> TCPTransport {
        try await connect(host: host, port: port, noDelay: noDelay, loop: .shared, isolation: isolation)
    }

    /// ``connect(host:port:noDelay:isolation:)`` on a specific loop, with Happy Eyeballs'
    /// `attemptDelay`.
    package static func connect(
        host: String,
        port: Int,
        noDelay: Bool = true,
        attemptDelay: Duration = HappyEyeballs.defaultAttemptDelay,
        loop: EventLoop,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> TCPTransport {
        let addresses = try await NameResolution.resolveBothFamilies(host: host, port: port, isolation: isolation)
        return try await HappyEyeballs.connect(
            to: HappyEyeballs.interleave(addresses), name: endpoint(host, port), noDelay: noDelay,
            attemptDelay: attemptDelay, loop: loop)
    }

    /// Connects to one address: non-blocking `connect`, wait for writability, then `SO_ERROR`.
    package static func connect(
        to address: SocketAddress,
        noDelay: Bool = true,
        loop: EventLoop,
        name: String? = nil,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> TCPTransport {
        let name = name ?? address.description
        func failure(_ code: CInt) -> WebSocketError {
            let via = name == address.description ? "" : " (\(address))"
            return WebSocketError(.cannotConnect, "could not connect to \(name)\(via)", errno: code)
        }
        let fd = cws_stream_socket(address.family)
        guard fd >= 0 else { throw failure(errno) }
        if noDelay { setNoDelay(fd) }
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        let connectError = result == 0 ? 0 : errno
        if result != 0 && connectError != EINPROGRESS && connectError != EINTR {
            _ = Glibc.close(fd)
            throw failure(connectError)
        }
        // Registered after connect() started: a connecting socket reports no readiness, so the
        // first writable edge is the connection's outcome. (Stray edges are re-checked below.)
        let registration = try loop.register(fd)
        do {
            if result != 0 {
                let code = try await connectOutcome(of: registration, isolation: isolation)
                if code != 0 { throw failure(code) }
            }
            let local = try registration.withDescriptor(for: .writable) { SocketAddress.local(of: $0) }
            return TCPTransport(
                registration: registration,
                localAddress: local?.description,
                remoteAddress: address.description
            )
        } catch {
            registration.close()
            throw error
        }
    }

    /// Waits for a non-blocking `connect` on `registration`'s descriptor to finish: the first
    /// writable edge, then `SO_ERROR` (a stray edge while still connecting is waited past).
    /// - Returns: 0 when connected, else the `errno` the connect failed with.
    /// - Throws: only the loop's errors (`.closed`, `.operationCanceled`).
    package static func connectOutcome(
        of registration: FDRegistration, isolation: isolated (any Actor)? = #isolation
    ) async throws -> CInt {
        while true {
            try await registration.waitWritable(isolation: isolation)
            let code = try registration.withDescriptor(for: .writable) { fd -> CInt in
                var code: CInt = 0
                var length = socklen_t(MemoryLayout<CInt>.size)
                if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { return errno }
                if code == 0 && SocketAddress.peer(of: fd) == nil { return EINPROGRESS }
                return code
            }
            if code != EINPROGRESS { return code }
        }
    }

    static func setNoDelay(_ fd: CInt) {
        var one: CInt = 1
        _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
    }

    private static func endpoint(_ host: String, _ port: Int) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    // MARK: Transport

    /// One `read` straight into `buffer`; on `EAGAIN`, waits for readability and tries again.
    /// - Returns: the byte count, or 0 at end of stream (the peer closed or shut down its side).
    /// - Throws: `.connectionAborted` (reset, timed out, ...), `.closed` after ``close()``,
    ///   `.operationCanceled` if the task is cancelled while waiting, `.invalidArgument` for an
    ///   empty buffer (checked first, as for every ``Transport``).
    public func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        guard !buffer.isEmpty else {
            throw WebSocketError(.invalidArgument, "read needs a buffer of at least one byte")
        }
        if drained.load(ordering: .relaxed) {
            // Readiness is edge-triggered and was reset before the short read, so any byte that
            // arrived since has set it again: waiting returns at once if there is data.
            drained.store(false, ordering: .relaxed)
            try await registration.waitReadable(isolation: isolation)
        }
        while true {
            let (count, code) = try registration.withDescriptor(for: .readable) { fd -> (Int, CInt) in
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                return (count, count < 0 ? errno : 0)
            }
            if count >= 0 {
                if count > 0 && count < buffer.count { drained.store(true, ordering: .relaxed) }
                return count
            }
            switch code {
            case EAGAIN, EWOULDBLOCK: try await registration.waitReadable(isolation: isolation)
            case EINTR: continue
            default: throw WebSocketError(.connectionAborted, "read failed", errno: code)
            }
        }
    }

    /// Writes all of `buffers` with `sendmsg` (gathered, `MSG_NOSIGNAL`), continuing after partial
    /// writes and waiting for writability on `EAGAIN`. Empty buffers are skipped; a write with no
    /// bytes returns at once without a system call, even after ``close()`` (as for every
    /// ``Transport``).
    /// - Throws: `.connectionAborted` (broken pipe, reset, ...), `.closed` after ``close()``,
    ///   `.operationCanceled` if the task is cancelled while waiting.
    public func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        var index = 0  // first buffer not fully written
        var offset = 0  // bytes of buffers[index] already written
        while true {
            while index < buffers.count && offset >= buffers[index].count {
                index += 1
                offset = 0
            }
            if index == buffers.count { return }
            let (written, code) = try registration.withDescriptor(for: .writable) { fd in
                Self.send(buffers, from: index, offset: offset, on: fd)
            }
            if written >= 0 {
                Self.advance(buffers, index: &index, offset: &offset, by: written)
                continue
            }
            switch code {
            case EAGAIN, EWOULDBLOCK: try await registration.waitWritable(isolation: isolation)
            case EINTR: continue
            default: throw WebSocketError(.connectionAborted, "write failed", errno: code)
            }
        }
    }

    /// ``ImmediateFrameWriting``: `sendmsg` until everything is written or the socket is full (`EAGAIN`).
    package func writeAvailable(_ buffers: [[UInt8]]) throws -> Int {
        var index = 0  // first buffer not fully written
        var offset = 0  // bytes of buffers[index] already written
        var total = 0
        while true {
            while index < buffers.count && offset >= buffers[index].count {
                index += 1
                offset = 0
            }
            if index == buffers.count { return total }
            let (written, code) = try registration.withDescriptor(for: .writable) { fd in
                Self.send(buffers, from: index, offset: offset, on: fd)
            }
            if written >= 0 {
                total += written
                Self.advance(buffers, index: &index, offset: &offset, by: written)
                continue
            }
            switch code {
            case EAGAIN, EWOULDBLOCK: return total
            case EINTR: continue
            default: throw WebSocketError(.connectionAborted, "write failed", errno: code)
            }
        }
    }

    /// Closes the socket: idempotent, any thread. A pending read or write throws `.closed`.
    public func close() {
        registration.close()
    }

    // MARK: Gathered send

    /// Moves the write position (`buffers[index]` + `offset`) past `written` bytes.
    private static func advance(_ buffers: [[UInt8]], index: inout Int, offset: inout Int, by written: Int) {
        var remaining = written
        while remaining > 0 {
            let available = buffers[index].count - offset
            if remaining < available {
                offset += remaining
                remaining = 0
            } else {
                remaining -= available
                index += 1
                offset = 0
            }
        }
    }

    /// One `send` (single buffer) or `sendmsg` (several) from `buffers[index]` + `offset` on.
    /// Returns the system call's result and its `errno`.
    private static func send(_ buffers: [[UInt8]], from index: Int, offset: Int, on fd: CInt) -> (Int, CInt) {
        let flags = CInt(MSG_NOSIGNAL)
        if index == buffers.count - 1 {
            let count = buffers[index].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, flags)
            }
            return (count, count < 0 ? errno : 0)
        }
        let end = min(buffers.count, index + maxIOVecs)
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: end - index) { vectors in
            gather(buffers, index, end, offset, into: vectors, used: 0) { vectors, used in
                var message = msghdr()
                message.msg_iov = vectors.baseAddress
                message.msg_iovlen = used
                let count = sendmsg(fd, &message, flags)
                return (count, count < 0 ? errno : 0)
            }
        }
    }

    /// Pins `buffers[index..<end]` one by one (nested `withUnsafeBytes`, so every pointer is valid
    /// during the call) into `vectors`, then calls `body` with the number of `iovec`s filled.
    private static func gather(
        _ buffers: [[UInt8]],
        _ index: Int,
        _ end: Int,
        _ offset: Int,
        into vectors: UnsafeMutableBufferPointer<iovec>,
        used: Int,
        _ body: (UnsafeMutableBufferPointer<iovec>, Int) -> (Int, CInt)
    ) -> (Int, CInt) {
        guard index < end else { return body(vectors, used) }
        return buffers[index].withUnsafeBytes { raw in
            var used = used
            if raw.count > offset {
                vectors[used] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress! + offset), iov_len: raw.count - offset)
                used += 1
            }
            return gather(buffers, index + 1, end, 0, into: vectors, used: used, body)
        }
    }
}
