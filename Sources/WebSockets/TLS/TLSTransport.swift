import COpenSSL
import Synchronization

/// TLS over any other ``Transport`` (TCP, an in-memory pair, a tunnel), with the system OpenSSL.
///
/// The `SSL` object never touches a socket: it reads ciphertext from one memory BIO and writes
/// ciphertext into another (see `TLSSession`), and this type shuttles those bytes through the
/// inner transport. So TLS runs on the caller's isolation like any transport, and works the same
/// over every medium.
///
/// Secure by default on the client: TLS 1.2 or newer, SNI, the host name (or IP address) checked
/// against the certificate, the system's trust store, ALPN `http/1.1`. Validation has two
/// stages, as in WinRT: the chain is validated with every problem recorded (see
/// ``ChainValidationResult``); problems not listed in
/// ``TLSClientConfiguration/ignorableErrors`` fail the handshake with
/// `.serverCertificateInvalid`. Then ``TLSClientConfiguration/customValidation`` runs while the
/// handshake waits for it; rejecting fails with `.serverCertificateRejected`. Either way the
/// server receives nothing but a TLS alert. (Opening: `TLSTransport+Handshake.swift`.)
///
/// Ending: ``close()`` sends `close_notify` (best effort) before closing the inner transport,
/// and a read returns 0 when the peer's `close_notify` arrives. A TCP end without `close_notify`
/// also reads as 0, not as an error: the WebSocket close handshake above already guards against
/// truncation, and many servers end that way.
public final class TLSTransport: Transport {
    /// What was negotiated (version, cipher) and the peer's certificates.
    public let info: TLSSessionInfo
    public var localAddress: String? { inner.localAddress }
    public var remoteAddress: String? { inner.remoteAddress }

    /// Live `SSL` objects in this process (a debugging and leak-test counter).
    package static var liveSessionCount: Int { TLSSession.live.load(ordering: .relaxed) }

    /// How much ciphertext one read takes from the inner transport: a whole full-size record (16 KiB
    /// of plaintext plus header, padding and tag), so bulk data needs about one read per record.
    static let ciphertextBufferSize = 17 * 1024

    /// What reads, writes and ``close()`` must see consistently, behind one lock. The lock is held
    /// only for OpenSSL calls on memory and, in ``close()``, one non-blocking `send`; never across
    /// an `await`.
    struct State {
        let session: TLSSession
        var closed = false
        /// Where ciphertext from `inner` is read into by ``read(into:isolation:)`` and, over an
        /// inner transport that cannot read without waiting, by
        /// ``waitUntilReadable(isolation:)``: allocated on the first such read, then reused by
        /// every read, so a read allocates nothing. The one read in progress borrows it (swapping
        /// in an empty array, which moves the storage without copying) and puts it back after.
        /// Over TCP the connection's reader never needs it (``readAvailable(into:)``), so an idle
        /// TLS connection over TCP holds no ciphertext buffer.
        var ciphertextBuffer: [UInt8] = []
    }

    let inner: any Transport
    let state: Lock<State>
    /// Serialises writes to `inner`; ciphertext is drained from the `SSL` only while holding it,
    /// so it reaches the wire in the order OpenSSL produced it, one record never cut by another.
    let writeGate = AsyncGate()
    /// Set once `inner` reached its end without `close_notify`; later reads return 0 at once.
    let peerEnded = Atomic<Bool>(false)
    /// Set when the last immediate read of `inner` filled the ciphertext buffer: more may be
    /// there, and readiness is edge-triggered, so waiting would not see it
    /// (`TLSTransport+ImmediateReading.swift`).
    let innerMayHaveBytes = Atomic<Bool>(false)

    init(inner: any Transport, session: TLSSession, info: TLSSessionInfo) {
        self.inner = inner
        self.state = Lock(State(session: session))
        self.info = info
    }

    /// Dropping the transport closes it like ``close()`` (`close_notify` included).
    deinit {
        close()
    }

    static let closedError = WebSocketError(.closed, "the TLS transport was closed locally")

    // MARK: Transport

    /// Decrypts into the front of `buffer`: what OpenSSL already holds, else after reading
    /// ciphertext from the inner transport (as much as one read gives, up to a record's worth).
    /// - Returns: the number of bytes read; 0 once the peer sent `close_notify` or the inner
    ///   stream ended.
    /// - Throws: `.invalidArgument` for an empty `buffer` (at once, nothing consumed); `.closed`
    ///   after ``close()``; `.secureConnectionFailed` on a TLS error; whatever the inner
    ///   transport's read or write throws.
    public func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        guard !buffer.isEmpty else {
            throw WebSocketError(.invalidArgument, "read needs a buffer of at least one byte")
        }
        while true {
            let outcome = try state.withLock { state throws(WebSocketError) in
                guard !state.closed else { throw Self.closedError }
                return state.session.readPlaintext(into: &buffer)
            }
            switch outcome {
            case .bytes(let count):
                return count
            case .ended:
                return 0
            case .failed(let error):
                throw error
            case .needsInput(let hasOutput):
                if hasOutput { try await flush(nil, isolation: isolation) }
                if peerEnded.load(ordering: .relaxed) { return 0 }
                if try await receiveCiphertext(isolation: isolation) == 0 {
                    // The TCP stream ended without close_notify: an end all the same (the
                    // WebSocket close handshake above guards against truncation).
                    peerEnded.store(true, ordering: .relaxed)
                    return 0
                }
            }
        }
    }

    /// One read from `inner` into the reusable ciphertext buffer, fed to OpenSSL.
    /// - Returns: the byte count; 0 at the inner stream's end.
    func receiveCiphertext(isolation: isolated (any Actor)?) async throws -> Int {
        var ciphertext = state.withLock { state in
            let borrowed = state.ciphertextBuffer
            state.ciphertextBuffer = []
            return borrowed
        }
        if ciphertext.isEmpty {
            // The first read (or overlapping reads, which the Transport contract rules out).
            ciphertext = [UInt8](repeating: 0, count: Self.ciphertextBufferSize)
        }
        let count: Int
        do {
            count = try await inner.read(into: &ciphertext, isolation: isolation)
        } catch {
            state.withLock { $0.ciphertextBuffer = ciphertext }
            throw error
        }
        state.withLock { state in
            if count > 0 { state.session.feed(ciphertext[..<count]) }
            state.ciphertextBuffer = ciphertext
        }
        return count
    }

    /// Encrypts `buffers` and writes the ciphertext to the inner transport as one write.
    ///
    /// A write with no bytes (no buffers, or only empty ones) returns at once: it writes nothing
    /// and throws nothing, as for every ``Transport``.
    /// - Throws: `.closed` after ``close()``; `.secureConnectionFailed` on a TLS error; whatever
    ///   the inner transport's write throws (what reached the peer is then unknown).
    public func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        guard buffers.contains(where: { !$0.isEmpty }) else { return }
        try await flush(buffers, isolation: isolation)
    }

    /// Encrypts `buffers` (if any) and writes everything pending to `inner`, in order.
    func flush(_ buffers: [[UInt8]]?, isolation: isolated (any Actor)?) async throws {
        await writeGate.acquire(isolation: isolation)
        defer { writeGate.release() }
        let ciphertext = try state.withLock { state throws(WebSocketError) -> [UInt8] in
            guard !state.closed else { throw Self.closedError }
            for buffer in buffers ?? [] where !buffer.isEmpty {
                try state.session.writePlaintext(buffer)
            }
            return OpenSSL.drain(state.session.wbio)
        }
        if !ciphertext.isEmpty {
            try await inner.write([ciphertext], isolation: isolation)
        }
    }

    /// Sends `close_notify`, best effort, then closes the inner transport. Idempotent; any thread;
    /// never waits.
    ///
    /// The alert (`SSL_shutdown`; the peer's reply is not awaited) goes straight to the socket
    /// with a non-blocking `send`: whatever the kernel takes at once is sent, the rest is dropped.
    /// It is skipped, leaving a bare TCP end, when a write is on its way (the alert would land
    /// inside that write's records), after a TLS error, or when the inner transport cannot take
    /// bytes without waiting (only ``TCPTransport`` can). The peer's read then ends anyway.
    ///
    /// Afterwards reads and writes throw `.closed`; a pending read or write throws what the
    /// inner transport throws when closed (`.closed` for TCP).
    public func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            // Under the lock, so that a concurrent close() returns only after the alert went out.
            guard let immediate = inner as? any ImmediateWriting, writeGate.tryAcquire() else { return }
            defer { writeGate.release() }
            let farewell = state.session.closeNotify()
            if !farewell.isEmpty { _ = immediate.writeWithoutWaiting(farewell) }
        }
        inner.close()
    }
}
