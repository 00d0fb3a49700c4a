import Synchronization
import WebSocketCore
import WebSockets

/// What one `WebSocketFragmentContext/readFragment(into:isolation:)` produced: the out
/// parameters of IIS `IWebSocketContext::ReadFragment`.
public struct FragmentReadResult: Sendable, Hashable {
    /// Bytes written into the buffer (`pcbData`). 0 for an empty message or a close.
    public var byteCount: Int
    /// Whether the bytes belong to a text message (`pfUTF8Encoded`).
    public var isUTF8: Bool
    /// Whether these are the last bytes of their message (`pfFinalFragment`).
    public var isFinalFragment: Bool
    /// Whether the client's close frame arrived (`pfConnectionClose`): no data follows, and
    /// ``WebSocketFragmentContext/closeStatus`` has the client's code and reason.
    public var isConnectionClose: Bool

    /// A result with these values (the context builds them; public for tests of code that consumes them).
    public init(byteCount: Int, isUTF8: Bool, isFinalFragment: Bool, isConnectionClose: Bool) {
        self.byteCount = byteCount
        self.isUTF8 = isUTF8
        self.isFinalFragment = isFinalFragment
        self.isConnectionClose = isConnectionClose
    }
}

/// A server connection at the fragment level, modelled on IIS's `IWebSocketContext`: the
/// application reads each message in pieces of its own buffer's size, as the bytes arrive, and
/// writes messages piece by piece, without anything being assembled in memory.
///
/// ```swift
/// let context = try await upgrade.acceptFragments()
/// var buffer = [UInt8](repeating: 0, count: 16 * 1024)
/// while true {
///     let read = try await context.readFragment(into: &buffer)
///     if read.isConnectionClose { break }
///     _ = try await context.writeFragment(Array(buffer[..<read.byteCount]),
///                                         isUTF8: read.isUTF8, isFinalFragment: read.isFinalFragment)
/// }
/// ```
///
/// Rules (the IIS contract, made explicit):
/// - At most one read and one write may be outstanding at a time; a read and a write may overlap
///   (full duplex). Starting a second read (or write) while one is pending throws `.invalidState`.
/// - Fragments are pieces of messages as they arrived, not wire frames: a frame may come as
///   several reads, and a buffer smaller than what arrived leaves the rest for the next read.
///   The UTF-8 of text messages is validated over the whole message (a read may end inside a
///   character); invalid text fails the connection with 1007 and the read throws.
/// - Pings are answered automatically and never surfaced; unsolicited pongs are ignored.
/// - A message longer than ``WebSocketServerConfiguration/receiveBufferLimit`` (in total) fails
///   the connection with 1009; the read throws `.messageTooBig`.
/// - ``cancelOutstandingIO()`` tears the connection down and *reliably* completes a pending read
///   and write with `.operationCanceled` before it returns.
/// - When the client closes, the server answers with the same code at once (RFC 6455 §5.5.1);
///   the next read reports ``FragmentReadResult/isConnectionClose``.
public final class WebSocketFragmentContext: Sendable {
    /// The upgrade request this connection was accepted from.
    public let request: UpgradeRequest
    /// The subprotocol the server selected, if any.
    public let negotiatedProtocol: String?
    /// The permessage-deflate parameters agreed on (RFC 7692), `nil` when messages are not compressed.
    public let compression: PerMessageDeflate.Parameters?
    /// The client's address, `host:port`.
    public let remoteAddress: String?
    /// The TLS session for `wss://` (with the client's certificate, if one was requested), `nil` for `ws://`.
    public let tls: TLSSessionInfo?

    private let connection: WebSocketConnection
    private let inbox: Inbox<MessageFragment>

    private struct ReadState {
        /// The fragment partly copied out by the previous read, and how far.
        var leftover: MessageFragment?
        var leftoverOffset = 0
        var closeSeen = false
        var reading = false
        var writing = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        /// The outstanding read found nothing left over and asked the connection for the next
        /// fragment (until that read ends).
        var readAwaitsFragment = false
        /// Tests waiting for `readAwaitsFragment` (``WebSocketFragmentContext/waitUntilReadAwaitsData()``).
        /// Empty unless a test waits: reads check it under the lock they take anyway.
        var readWatchers: [CheckedContinuation<Void, Never>] = []
    }

    /// Where ``nextPiece(limit:)`` starts.
    private enum Start {
        case leftover(MessageFragment, offset: Int)
        case closed
        case next(watchers: [CheckedContinuation<Void, Never>])
    }
    private let state = Lock(ReadState())

    init(
        request: UpgradeRequest, negotiatedProtocol: String?, compression: PerMessageDeflate.Parameters?, tls: TLSSessionInfo?,
        connection: WebSocketConnection, inbox: Inbox<MessageFragment>
    ) {
        self.request = request
        self.negotiatedProtocol = negotiatedProtocol
        self.compression = compression
        self.tls = tls
        self.remoteAddress = connection.transport.remoteAddress
        self.connection = connection
        self.inbox = inbox
    }

    deinit {
        let connection = self.connection
        Task { await connection.shutDown(code: .goingAway) }
    }

    // MARK: - Reading

    /// Reads the next piece of the current (or next) message into `buffer`
    /// (IIS `ReadFragment`; `buffer.count` plays `pcbData`'s input role).
    ///
    /// - Returns: how many bytes were written to the front of `buffer` and the message's flags;
    ///   after the client's close frame, `isConnectionClose` (and 0 bytes), on every later call too.
    /// - Throws: `WebSocketError`: `.invalidState` while another read is pending,
    ///   `.invalidArgument` for an empty buffer, `.protocolViolation(code)` / `.messageTooBig`
    ///   when the client broke the protocol or a limit (the connection is failed with that code),
    ///   `.connectionAborted` when the connection dropped, `.operationCanceled` after
    ///   ``cancelOutstandingIO()``.
    public func readFragment(
        into buffer: UnsafeMutableRawBufferPointer, isolation: isolated (any Actor)? = #isolation
    ) async throws -> FragmentReadResult {
        // The read stays outstanding until the copy is done: `cancelOutstandingIO` returning
        // means the buffer is no longer touched.
        try begin(read: true)
        defer { end(read: true) }
        guard let (fragment, range) = try await nextPiece(limit: buffer.count) else { return Self.closeResult }
        fragment.bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + range.lowerBound, byteCount: range.count)
        }
        return Self.result(fragment, range)
    }

    /// Reads the next piece into `buffer`, at most `buffer.count` bytes (the array keeps its size;
    /// the result says how many bytes at its front are new).
    public func readFragment(
        into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation
    ) async throws -> FragmentReadResult {
        try begin(read: true)
        defer { end(read: true) }
        guard let (fragment, range) = try await nextPiece(limit: buffer.count) else { return Self.closeResult }
        buffer.replaceSubrange(0..<range.count, with: fragment.bytes[range])
        return Self.result(fragment, range)
    }

    /// The next bytes to hand out, at most `limit`: the rest of a fragment partly read before, or
    /// the next fragment. `nil` once the client's close frame arrived. The caller holds the read.
    private func nextPiece(limit: Int) async throws -> (MessageFragment, Range<Int>)? {
        guard limit > 0 else {
            throw WebSocketError(.invalidArgument, "readFragment needs a buffer of at least one byte")
        }
        let start = state.withLock { state -> Start in
            if let leftover = state.leftover {
                state.leftover = nil
                return .leftover(leftover, offset: state.leftoverOffset)
            }
            if state.closeSeen { return .closed }
            state.readAwaitsFragment = true
            guard !state.readWatchers.isEmpty else { return .next(watchers: []) }
            defer { state.readWatchers = [] }
            return .next(watchers: state.readWatchers)
        }
        let fragment: MessageFragment
        var offset = 0
        switch start {
        case .leftover(let leftover, let leftoverOffset):
            (fragment, offset) = (leftover, leftoverOffset)
        case .closed:
            return nil
        case .next(let watchers):
            for watcher in watchers { watcher.resume() }
            guard let next = try await inbox.next() else {
                state.withLock { $0.closeSeen = true }
                return nil
            }
            fragment = next
        }
        let end = offset + min(limit, fragment.bytes.count - offset)
        if end < fragment.bytes.count {
            state.withLock { state in
                state.leftover = fragment
                state.leftoverOffset = end
            }
        }
        return (fragment, offset..<end)
    }

    private static func result(_ fragment: MessageFragment, _ range: Range<Int>) -> FragmentReadResult {
        FragmentReadResult(
            byteCount: range.count, isUTF8: fragment.kind == .text,
            isFinalFragment: fragment.isFinal && range.upperBound == fragment.bytes.count,
            isConnectionClose: false)
    }

    private static let closeResult = FragmentReadResult(
        byteCount: 0, isUTF8: false, isFinalFragment: true,
        isConnectionClose: true)

    // MARK: - Writing

    /// Sends `bytes` as the next frame of the current message (IIS `WriteFragment`); the first
    /// frame of a message sets its type from `isUTF8`, `isFinalFragment` ends it.
    ///
    /// - Returns: the number of bytes sent (`pcbSent`): all of them.
    /// - Throws: `.invalidState` while another write is pending; `.invalidArgument` for text that
    ///   is not valid UTF-8 (checked over the whole message: a piece may end inside a character)
    ///   or a type change in the middle of a message; `.closed` after a close; `.operationCanceled`
    ///   after ``cancelOutstandingIO()``; `.connectionAborted` when the connection dropped.
    public func writeFragment(_ bytes: [UInt8], isUTF8: Bool, isFinalFragment: Bool) async throws -> Int {
        try begin(read: false)
        defer { end(read: false) }
        try await connection.sendFrame(bytes, kind: isUTF8 ? .text : .binary, isFinal: isFinalFragment)
        return bytes.count
    }

    /// Sends bytes from a raw buffer (copied before the call suspends); see ``writeFragment(_:isUTF8:isFinalFragment:)``.
    public func writeFragment(
        _ bytes: UnsafeRawBufferPointer, isUTF8: Bool, isFinalFragment: Bool,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> Int {
        try await writeFragment([UInt8](bytes), isUTF8: isUTF8, isFinalFragment: isFinalFragment)
    }

    // MARK: - Closing

    /// Sends a close frame (IIS `SendConnectionClose`) and returns without waiting for the
    /// client's answer, which the next reads report (``FragmentReadResult/isConnectionClose``).
    /// Does nothing when the connection is no longer open (for example, the client closed first
    /// and was answered automatically).
    /// - Parameters:
    ///   - code: `nil` sends an empty close frame (the client sees 1005); `reason` must then be
    ///     empty.
    ///   - reason: at most 123 UTF-8 bytes (RFC 6455 §5.5: a control frame's payload is at most
    ///     125 bytes, 2 of them the code).
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason too long.
    public func sendConnectionClose(code: CloseCode? = .normalClosure, reason: String = "") async throws {
        try await connection.startClose(code: code, reason: reason)
    }

    /// The client's close frame (IIS `GetCloseStatus`: the *peer's* code and reason), once received.
    public var closeStatus: WebSocketCloseStatus? {
        get async { await connection.closeStatus }
    }

    /// Closes the TCP connection (IIS `CloseTcpConnection`): gracefully after a completed close
    /// handshake, otherwise at once (pending operations then throw `.closed`). Returns when it is
    /// closed.
    public func closeTCPConnection() async {
        await connection.closeTransport(error: WebSocketError(.closed, "the TCP connection was closed locally"))
    }

    /// Cancels the pending read and write (IIS `CancelOutstandingIO`): the connection is torn down
    /// without a close handshake (a half-sent frame cannot be taken back), and both operations
    /// throw `.operationCanceled`. When this returns, they have completed: unlike IIS's, this is a
    /// guarantee. Later calls throw too.
    public func cancelOutstandingIO() async {
        await connection.abort(with: WebSocketError(.operationCanceled, "cancelled by cancelOutstandingIO()"))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state -> Bool in
                if !state.reading && !state.writing { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Traffic counters.
    public var statistics: WebSocketStatistics {
        get async { await connection.statistics }
    }

    // MARK: - One read and one write at a time

    /// Whether a read and a write are outstanding (for tests that need an operation pending).
    var outstanding: (read: Bool, write: Bool) {
        state.withLock { ($0.reading, $0.writing) }
    }

    /// Test hook: returns once the outstanding read has found nothing left over from earlier
    /// reads and asked the connection for the next fragment (at once if it has): from then on it
    /// is pending until a fragment or the close arrives, or ``cancelOutstandingIO()``.
    package func waitUntilReadAwaitsData() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.readAwaitsFragment { return true }
                state.readWatchers.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Test hook: returns `true` once a write of this connection is blocked on the socket, its
    /// buffer full because the client does not read (at once if one is now); `false` if the
    /// socket is closed first (or is not a plain TCP socket).
    package func waitUntilWriteBlocksOnSocket() async -> Bool {
        await connection.waitUntilTransportParked(.writable)
    }

    private func begin(read: Bool) throws {
        let busy = state.withLock { state -> Bool in
            if read {
                if state.reading { return true }
                state.reading = true
            } else {
                if state.writing { return true }
                state.writing = true
            }
            return false
        }
        if busy {
            throw WebSocketError(
                .invalidState, "another \(read ? "read" : "write") is pending: at most one of each may be outstanding")
        }
    }

    private func end(read: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if read {
                state.reading = false
                state.readAwaitsFragment = false
            } else {
                state.writing = false
            }
            guard !state.reading && !state.writing else { return [] }
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
