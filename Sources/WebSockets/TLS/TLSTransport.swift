import COpenSSL
import Synchronization

/// TLS over any other ``Transport`` (TCP, an in-memory pair, a tunnel), with the system OpenSSL.
///
/// The `SSL` object never touches a socket: it reads ciphertext from one memory BIO and writes
/// ciphertext into another, and this type shuttles those bytes through the inner transport. So
/// TLS runs on the caller's isolation like any transport, and works the same over every medium.
///
/// Secure by default on the client: TLS 1.2 or newer, SNI, the host name (or IP address) checked
/// against the certificate, the system's trust store, ALPN `http/1.1`. Validation has two
/// stages, as in WinRT: the chain is validated with every problem recorded (see
/// ``ChainValidationResult``); problems not listed in
/// ``TLSClientConfiguration/ignorableErrors`` fail the handshake with
/// `.serverCertificateInvalid`. Then ``TLSClientConfiguration/customValidation`` runs while the
/// handshake waits for it; rejecting fails with `.serverCertificateRejected`. Either way the
/// server receives nothing but a TLS alert.
public final class TLSTransport: Transport {
    /// What was negotiated (version, cipher) and the peer's certificates.
    public let info: TLSSessionInfo
    public var localAddress: String? { inner.localAddress }
    public var remoteAddress: String? { inner.remoteAddress }

    /// Live `SSL` objects in this process (a debugging and leak-test counter).
    package static var liveSessionCount: Int { TLSSession.live.load(ordering: .relaxed) }

    private let inner: any Transport
    private let session: Mutex<TLSSession>
    /// Serialises writes to `inner`; ciphertext is drained from the `SSL` only while holding it,
    /// so it reaches the wire in the order OpenSSL produced it.
    private let writeGate = AsyncGate()
    private let peerEnded = Atomic<Bool>(false)

    private init(inner: any Transport, session: TLSSession, info: TLSSessionInfo) {
        self.inner = inner
        self.session = Mutex(session)
        self.info = info
    }

    deinit {
        inner.close()
    }

    // MARK: Opening

    /// Runs the client side of a TLS handshake over `inner` and returns the secure transport.
    ///
    /// - Parameter serverName: the host (DNS name or IP literal) to send as SNI and to verify the
    ///   certificate against.
    /// - Throws: ``WebSocketError``: `.serverCertificateInvalid` (every problem listed in the
    ///   message and in ``WebSocketError/certificateProblems``), `.serverCertificateRejected` (the
    ///   hook said no or threw), `.secureConnectionFailed` (OpenSSL's reason), `.invalidArgument`
    ///   (unreadable certificates or key). On failure `inner` is closed.
    public static func connect(
        over inner: any Transport, serverName: String, configuration: TLSClientConfiguration,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> TLSTransport {
        do {
            let session = try TLSSession.client(serverName: serverName, configuration: configuration)
            let info = try await handshake(session, over: inner, serverName: serverName,
                                           hook: configuration.customValidation, isolation: isolation)
            return TLSTransport(inner: inner, session: session, info: info)
        } catch {
            inner.close()
            throw error
        }
    }

    /// Runs the server side of a TLS handshake over `inner` (an accepted connection).
    public static func accept(
        over inner: any Transport, context: TLSServerContext, isolation: isolated (any Actor)? = #isolation
    ) async throws -> TLSTransport {
        do {
            let session = try TLSSession.server(context: context)
            let info = try await handshake(session, over: inner, serverName: "", hook: nil, isolation: isolation)
            return TLSTransport(inner: inner, session: session, info: info)
        } catch {
            inner.close()
            throw error
        }
    }

    private static func handshake(
        _ session: TLSSession, over inner: any Transport, serverName: String, hook: ServerValidationHandler?,
        isolation: isolated (any Actor)?
    ) async throws -> TLSSessionInfo {
        var scratch = [UInt8](repeating: 0, count: 17 * 1024)
        var hookFailure: String?
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(session.ssl)
            let code = result == 1 ? SSL_ERROR_NONE : SSL_get_error(session.ssl, result)
            let reason = OpenSSL.takeErrors()
            let output = OpenSSL.drain(session.wbio)
            if !output.isEmpty {
                do {
                    try await inner.write([output], isolation: isolation)
                } catch where code == SSL_ERROR_NONE || code == SSL_ERROR_WANT_READ {
                    throw error
                } catch {
                    // Failing anyway; the alert could not be delivered. Report the real failure.
                }
            }
            switch code {
            case SSL_ERROR_NONE:
                return session.sessionInfo()
            case SSL_ERROR_WANT_READ:
                let count = try await inner.read(into: &scratch, isolation: isolation)
                guard count > 0 else {
                    throw WebSocketError(.secureConnectionFailed, "the peer closed the connection during the TLS handshake")
                }
                session.feed(scratch[..<count])
            case SSL_ERROR_WANT_RETRY_VERIFY:
                guard let hook else {
                    session.recorder.decision = true
                    continue
                }
                let request = session.validationRequest(serverName: serverName)
                do {
                    let decision = try await hook(request)
                    if Task.isCancelled { throw CancellationError() }
                    if decision == .reject { hookFailure = "the serverCustomValidation hook rejected \(request.serverCertificate)" }
                } catch {
                    if Task.isCancelled { throw WebSocketError(.operationCanceled, "cancelled during serverCustomValidation") }
                    hookFailure = "the serverCustomValidation hook threw: \(error)"
                }
                session.recorder.decision = hookFailure == nil
            default:
                if let hookFailure {
                    throw WebSocketError(.serverCertificateRejected, hookFailure)
                }
                let problems = session.recorder.fatalProblems
                if !problems.isEmpty {
                    var error = WebSocketError(
                        .serverCertificateInvalid,
                        "the certificate of \(serverName) failed validation: "
                            + problems.map(\.description).joined(separator: "; "))
                    error.certificateProblems = problems
                    throw error
                }
                throw WebSocketError(.secureConnectionFailed,
                                     "TLS handshake failed: \(reason.isEmpty ? "OpenSSL error \(code)" : reason)")
            }
        }
    }

    // MARK: Transport

    public func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        guard !buffer.isEmpty else { return 0 }
        while true {
            let outcome = session.withLock { session in session.readPlaintext(into: &buffer) }
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
                var scratch = [UInt8](repeating: 0, count: 17 * 1024)
                let count = try await inner.read(into: &scratch, isolation: isolation)
                guard count > 0 else {
                    // The TCP stream ended without close_notify: an end all the same (the
                    // WebSocket close handshake above guards against truncation).
                    peerEnded.store(true, ordering: .relaxed)
                    return 0
                }
                session.withLock { session in session.feed(scratch[..<count]) }
            }
        }
    }

    public func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        try await flush(buffers, isolation: isolation)
    }

    /// Encrypts `buffers` (if any) and writes everything pending to `inner`, in order.
    private func flush(_ buffers: [[UInt8]]?, isolation: isolated (any Actor)?) async throws {
        await writeGate.acquire(isolation: isolation)
        defer { writeGate.release() }
        let ciphertext = try session.withLock { session throws(WebSocketError) -> [UInt8] in
            for buffer in buffers ?? [] where !buffer.isEmpty {
                try session.writePlaintext(buffer)
            }
            return OpenSSL.drain(session.wbio)
        }
        if !ciphertext.isEmpty {
            try await inner.write([ciphertext], isolation: isolation)
        }
    }

    public func close() {
        inner.close()
    }
}

/// A configured server-side `SSL_CTX`, shared by every connection a server accepts.
// SSL_CTX is fully configured in init and only read afterwards (SSL_new on a configured
// SSL_CTX is thread-safe in OpenSSL); this class owns it and frees it once, in deinit.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads the identity and client-certificate settings.
    /// - Throws: `.invalidArgument` when the certificate chain or key cannot be read or do not match.
    public init(configuration: TLSServerConfiguration) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw WebSocketError(.secureConnectionFailed, "SSL_CTX_new failed: \(OpenSSL.takeErrors())")
        }
        self.context = context
        _ = cws_ssl_ctx_set_min_tls12(context)
        cws_ssl_ctx_disable_renegotiation(context)
        try TLSSession.use(configuration.identity, in: context)
        switch configuration.clientCertificates {
        case .none:
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .request:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .require:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        let store = SSL_CTX_get_cert_store(context)
        for source in configuration.clientTrustRoots {
            for certificate in try OpenSSL.loadCertificates(source) {
                _ = X509_STORE_add_cert(store, certificate)
                X509_free(certificate)
            }
        }
        // Offer http/1.1 when the client asks for ALPN.
        SSL_CTX_set_alpn_select_cb(context, { _, out, outLength, input, inputLength, _ in
            guard let out, let outLength, let input else { return SSL_TLSEXT_ERR_NOACK }
            var index = 0
            while index < Int(inputLength) {
                let length = Int(input[index])
                if length == 8, index + 9 <= Int(inputLength),
                   Array(UnsafeBufferPointer(start: input + index + 1, count: 8)) == Array("http/1.1".utf8) {
                    out.pointee = input + index + 1
                    outLength.pointee = 8
                    return SSL_TLSEXT_ERR_OK
                }
                index += 1 + length
            }
            return SSL_TLSEXT_ERR_NOACK
        }, nil)
    }

    deinit {
        SSL_CTX_free(context)
    }
}

/// One `SSL` object with its two memory BIOs and its verification record. Not thread-safe: a
/// ``TLSTransport`` keeps it behind a lock; before that, only the handshaking task touches it.
// Owns its OpenSSL pointers; they are touched by one task at a time: the single handshaking task
// before the TLSTransport exists, then only under TLSTransport's `session` lock.
final class TLSSession: @unchecked Sendable {
    static let live = Atomic<Int>(0)

    let ssl: OpaquePointer
    /// Ciphertext from the peer, written by us, read by OpenSSL (owned by `ssl`).
    let rbio: OpaquePointer
    /// Ciphertext for the peer, written by OpenSSL, drained by us (owned by `ssl`).
    let wbio: OpaquePointer
    let recorder = VerificationRecorder()

    private init(context: OpaquePointer) throws(WebSocketError) {
        guard let ssl = SSL_new(context) else {
            throw WebSocketError(.secureConnectionFailed, "SSL_new failed: \(OpenSSL.takeErrors())")
        }
        guard let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw WebSocketError(.secureConnectionFailed, "BIO_new failed")
        }
        // An empty memory BIO reports "retry", not EOF.
        _ = BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        _ = BIO_ctrl(wbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, rbio, wbio)
        self.ssl = ssl
        self.rbio = rbio
        self.wbio = wbio
        Self.live.add(1, ordering: .relaxed)
        // Unretained: the recorder lives exactly as long as this session, which owns `ssl`.
        _ = cws_ssl_set_app_data(ssl, Unmanaged.passUnretained(recorder).toOpaque())
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs too
        Self.live.subtract(1, ordering: .relaxed)
    }

    static func client(serverName: String, configuration: TLSClientConfiguration) throws(WebSocketError) -> TLSSession {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw WebSocketError(.secureConnectionFailed, "SSL_CTX_new failed: \(OpenSSL.takeErrors())")
        }
        // The SSL takes its own reference to the context.
        defer { SSL_CTX_free(context) }
        _ = cws_ssl_ctx_set_min_tls12(context)
        cws_ssl_ctx_disable_renegotiation(context)
        if configuration.usesSystemTrustStore {
            _ = SSL_CTX_set_default_verify_paths(context)
            ERR_clear_error()
        }
        let store = SSL_CTX_get_cert_store(context)
        for source in configuration.additionalTrustRoots {
            for certificate in try OpenSSL.loadCertificates(source) {
                _ = X509_STORE_add_cert(store, certificate)
                X509_free(certificate)
            }
        }
        ERR_clear_error()  // adding a root twice is not an error worth reporting
        if let identity = configuration.identity {
            try use(identity, in: context)
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        SSL_CTX_set_cert_verify_callback(context, certificateVerifyCallback, nil)
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count))

        let session = try TLSSession(context: context)
        session.recorder.ignorable = configuration.ignorableErrors
        session.recorder.hasHook = configuration.customValidation != nil
        SSL_set_connect_state(session.ssl)
        var host = serverName
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let parameters = SSL_get0_param(session.ssl)
        if X509_VERIFY_PARAM_set1_ip_asc(parameters, host) != 1 {
            ERR_clear_error()
            // Not an IP literal: a DNS name, sent as SNI and matched against the certificate.
            _ = cws_ssl_set_sni(session.ssl, host)
            X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            _ = X509_VERIFY_PARAM_set1_host(parameters, host, 0)
        }
        return session
    }

    static func server(context: TLSServerContext) throws(WebSocketError) -> TLSSession {
        let session = try TLSSession(context: context.context)
        SSL_set_accept_state(session.ssl)
        return session
    }

    /// Installs a certificate chain and private key in `context`.
    static func use(_ identity: TLSIdentity, in context: OpaquePointer) throws(WebSocketError) {
        let chain = try OpenSSL.loadCertificates(identity.certificateChain)
        defer { chain.forEach { X509_free($0) } }
        let key = try OpenSSL.loadPrivateKey(identity.privateKey)
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_certificate(context, chain[0]) == 1 else {
            throw WebSocketError(.invalidArgument, "the certificate cannot be used: \(OpenSSL.takeErrors())")
        }
        for intermediate in chain.dropFirst() {
            _ = cws_ssl_ctx_add1_chain_cert(context, intermediate)
        }
        guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw WebSocketError(.invalidArgument, "the private key does not match the certificate: \(OpenSSL.takeErrors())")
        }
    }

    func feed(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { buffer in
            _ = BIO_write(rbio, buffer.baseAddress, Int32(buffer.count))
        }
    }

    enum ReadOutcome {
        case bytes(Int)
        case needsInput(hasOutput: Bool)
        case ended
        case failed(WebSocketError)
    }

    func readPlaintext(into buffer: inout [UInt8]) -> ReadOutcome {
        ERR_clear_error()
        let result = buffer.withUnsafeMutableBytes { bytes in
            SSL_read(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
        }
        if result > 0 { return .bytes(Int(result)) }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .needsInput(hasOutput: cws_bio_pending(wbio) > 0)
        case SSL_ERROR_ZERO_RETURN:
            return .ended
        default:
            let reason = OpenSSL.takeErrors()
            return .failed(WebSocketError(.secureConnectionFailed,
                                          "TLS error: \(reason.isEmpty ? "OpenSSL error \(code)" : reason)"))
        }
    }

    func writePlaintext(_ bytes: [UInt8]) throws(WebSocketError) {
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                SSL_write(ssl, buffer.baseAddress! + offset, Int32(min(buffer.count - offset, 1 << 30)))
            }
            guard result > 0 else {
                let reason = OpenSSL.takeErrors()
                throw WebSocketError(.secureConnectionFailed, "TLS write failed: \(reason.isEmpty ? "connection closed" : reason)")
            }
            offset += Int(result)
        }
    }

    func sessionInfo() -> TLSSessionInfo {
        var alpnBytes: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnBytes, &alpnLength)
        let alpn = alpnBytes.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
        let (leaf, intermediates) = peerCertificates()
        return TLSSessionInfo(
            version: OpenSSL.string(SSL_get_version(ssl)) ?? "unknown",
            cipher: OpenSSL.string(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))) ?? "unknown",
            alpnProtocol: alpn, peerCertificate: leaf, peerIntermediateCertificates: intermediates,
            certificateProblems: recorder.problems)
    }

    func peerCertificates() -> (Certificate?, [Certificate]) {
        if let chain = recorder.chain {
            return (chain.first, Array(chain.dropFirst()))
        }
        let leaf = SSL_get0_peer_certificate(ssl).map(OpenSSL.certificate)
        let stack = SSL_get_peer_cert_chain(ssl)
        var others: [Certificate] = []
        for index in 0..<cws_sk_x509_num(stack) {
            guard let certificate = cws_sk_x509_value(stack, index) else { continue }
            let decoded = OpenSSL.certificate(certificate)
            if decoded != leaf { others.append(decoded) }
        }
        return (leaf, others)
    }

    func validationRequest(serverName: String) -> ServerValidationRequest {
        let (leaf, intermediates) = peerCertificates()
        let problems = recorder.problems
        let errors = problems.map(\.result)
        return ServerValidationRequest(
            serverName: serverName,
            serverCertificate: leaf ?? Certificate(derBytes: [], sha256Fingerprint: [], subject: "", issuer: "",
                                                   notBefore: nil, notAfter: nil, subjectAlternativeNames: []),
            serverIntermediateCertificates: intermediates,
            serverCertificateErrors: errors, serverCertificateProblems: problems,
            serverCertificateErrorSeverity: SSLErrorSeverity(errors))
    }
}

/// What the certificate-verification callback found, and the decision it returns on a retry.
/// Touched only from inside `SSL_do_handshake` (the callbacks) and by the handshaking task
/// between its calls: one thread at a time.
final class VerificationRecorder {
    var ignorable: Set<ChainValidationResult> = []
    var hasHook = false
    /// Every problem found, ignorable or not.
    var problems: [CertificateProblem] = []
    /// The server's chain as sent (leaf first), captured during verification.
    var chain: [Certificate]?
    /// Set by the handshaking task after the hook ran; the retried verification returns it.
    var decision: Bool?

    /// The problems that fail the handshake.
    var fatalProblems: [CertificateProblem] {
        problems.filter { !$0.result.isIgnorable || !ignorable.contains($0.result) }
    }

    func record(code: Int32, depth: Int32, certificate: OpaquePointer?) {
        guard !problems.contains(where: { $0.code == Int(code) && $0.depth == Int(depth) }) else { return }
        let subject = certificate.map { certificate in
            OpenSSL.printed { bio in _ = cws_print_name(bio, X509_get_subject_name(certificate)) }
        }
        problems.append(CertificateProblem(
            result: OpenSSL.classify(code), depth: Int(depth), subject: subject, code: Int(code),
            reason: OpenSSL.string(X509_verify_cert_error_string(Int(code))) ?? "error \(code)"))
    }

    /// The whole-chain verification (`SSL_CTX_set_cert_verify_callback`).
    func verify(_ store: OpaquePointer, ssl: OpaquePointer) -> Int32 {
        if let decision {
            if decision { return 1 }
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
            return 0
        }
        problems = []
        X509_STORE_CTX_set_verify_cb(store, recordingCallback)
        let verified = X509_verify_cert(store)
        if verified <= 0 && problems.isEmpty {
            record(code: X509_STORE_CTX_get_error(store), depth: X509_STORE_CTX_get_error_depth(store), certificate: nil)
        }
        if let untrusted = X509_STORE_CTX_get0_untrusted(store) {
            var sent: [Certificate] = []
            for index in 0..<cws_sk_x509_num(untrusted) {
                if let certificate = cws_sk_x509_value(untrusted, index) { sent.append(OpenSSL.certificate(certificate)) }
            }
            chain = sent
        }
        if let first = fatalProblems.first {
            X509_STORE_CTX_set_error(store, Int32(first.code))
            return 0
        }
        if hasHook {
            // Suspend the handshake: SSL_do_handshake returns SSL_ERROR_WANT_RETRY_VERIFY, the
            // hook runs, and the retried verification returns `decision`.
            _ = cws_ssl_set_retry_verify(ssl)
        }
        return 1
    }
}

private let certificateVerifyCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { store, _ in
    guard let store, let recorder = recorder(of: store), let ssl = cws_store_ctx_get_ssl(store) else { return 0 }
    return recorder.verify(store, ssl: ssl)
}

/// Records each problem and carries on, so that every problem in the chain is found.
private let recordingCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, store in
    guard ok == 0, let store, let recorder = recorder(of: store) else { return ok }
    recorder.record(code: X509_STORE_CTX_get_error(store), depth: X509_STORE_CTX_get_error_depth(store),
                    certificate: X509_STORE_CTX_get_current_cert(store))
    return 1
}

private func recorder(of store: OpaquePointer) -> VerificationRecorder? {
    guard let ssl = cws_store_ctx_get_ssl(store), let raw = cws_ssl_get_app_data(ssl) else { return nil }
    return Unmanaged<VerificationRecorder>.fromOpaque(raw).takeUnretainedValue()
}

/// A FIFO async lock.
final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func acquire(isolation: isolated (any Actor)? = #isolation) async {
        let acquired = state.withLock { state -> Bool in
            if state.busy { return false }
            state.busy = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if !state.busy {
                    state.busy = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the gate to the next waiter, or opens it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
