import COpenSSL
import Synchronization

/// One `SSL` object with its two memory BIOs and its verification record: the TLS state machine
/// of one connection, with no I/O of its own.
///
/// The `SSL` never touches a socket. Ciphertext from the peer goes in with ``feed(_:)``;
/// ciphertext for the peer accumulates in ``wbio`` and is taken with `OpenSSL.drain(wbio)`. Moving
/// those bytes over a ``Transport`` is the caller's job (``TLSTransport``), which is what lets TLS
/// run over any medium and on the caller's isolation.
///
/// Not thread-safe: a ``TLSTransport`` keeps it behind a lock; before that, only the handshaking
/// task touches it.
// Owns its OpenSSL pointers; they are touched by one task at a time: the single handshaking task
// before the TLSTransport exists, then only under TLSTransport's `state` lock.
final class TLSSession: @unchecked Sendable {
    /// Live `SSL` objects in this process (see ``TLSTransport/liveSessionCount``).
    static let live = Atomic<Int>(0)

    let ssl: OpaquePointer
    /// Ciphertext from the peer, written by us, read by OpenSSL (owned by `ssl`).
    let rbio: OpaquePointer
    /// Ciphertext for the peer, written by OpenSSL, drained by us (owned by `ssl`).
    let wbio: OpaquePointer
    let recorder = VerificationRecorder()
    /// Set once a read or write failed with a TLS error: OpenSSL must not be asked to shut down
    /// a connection after a fatal error.
    private var failed = false
    /// Set once ``closeNotify()`` ran.
    private var shutDown = false

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

    // MARK: Creating

    /// A client session for `serverName`: SNI for a DNS name, and the name (or IP literal, with
    /// or without brackets) that the certificate must match.
    static func client(serverName: String, configuration: TLSClientConfiguration) throws(WebSocketError) -> TLSSession {
        let context = try TLSContexts.client(configuration)
        // The SSL takes its own reference to the context.
        defer { SSL_CTX_free(context) }
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

    /// A server session on a shared, configured context.
    static func server(context: TLSServerContext) throws(WebSocketError) -> TLSSession {
        let session = try TLSSession(context: context.context)
        SSL_set_accept_state(session.ssl)
        return session
    }

    // MARK: Moving bytes

    /// Hands ciphertext received from the peer to OpenSSL (copied into the memory BIO).
    func feed(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// ``feed(_:)`` from borrowed memory (the caller's buffer may be reused afterwards).
    func feed(_ bytes: UnsafeRawBufferPointer) {
        _ = BIO_write(rbio, bytes.baseAddress, Int32(bytes.count))
    }

    /// Whether OpenSSL holds input not yet decrypted or not yet read (records, plaintext): a read
    /// may then make progress without more ciphertext from the peer.
    var hasBufferedInput: Bool {
        SSL_has_pending(ssl) == 1 || cws_bio_pending(rbio) > 0
    }

    /// Whether OpenSSL produced ciphertext for the peer that was not taken yet.
    var hasOutput: Bool {
        cws_bio_pending(wbio) > 0
    }

    enum ReadOutcome {
        /// Plaintext bytes were decrypted into the front of the buffer.
        case bytes(Int)
        /// OpenSSL needs more ciphertext; `hasOutput`: it also produced some that must be sent
        /// first (a handshake message, a key update).
        case needsInput(hasOutput: Bool)
        /// The peer sent `close_notify`.
        case ended
        case failed(WebSocketError)
    }

    /// Decrypts what it can straight into `buffer` (no intermediate copy).
    func readPlaintext(into buffer: inout [UInt8]) -> ReadOutcome {
        buffer.withUnsafeMutableBytes { readPlaintext(into: $0) }
    }

    /// ``readPlaintext(into:)`` into borrowed memory.
    func readPlaintext(into bytes: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        ERR_clear_error()
        let result = SSL_read(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
        if result > 0 { return .bytes(Int(result)) }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .needsInput(hasOutput: cws_bio_pending(wbio) > 0)
        case SSL_ERROR_ZERO_RETURN:
            return .ended
        default:
            failed = true
            let reason = OpenSSL.takeErrors()
            return .failed(
                WebSocketError(
                    .secureConnectionFailed,
                    "TLS error: \(reason.isEmpty ? "OpenSSL error \(code)" : reason)"))
        }
    }

    /// Encrypts all of `bytes` into ``wbio`` (the memory BIO never refuses, so this never waits).
    func writePlaintext(_ bytes: [UInt8]) throws(WebSocketError) {
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                SSL_write(ssl, buffer.baseAddress! + offset, Int32(min(buffer.count - offset, 1 << 30)))
            }
            guard result > 0 else {
                failed = true
                let reason = OpenSSL.takeErrors()
                throw WebSocketError(
                    .secureConnectionFailed, "TLS write failed: \(reason.isEmpty ? "connection closed" : reason)")
            }
            offset += Int(result)
        }
    }

    /// Queues a `close_notify` alert (`SSL_shutdown`, first stage: the peer's own `close_notify`
    /// is not waited for) and returns everything now pending for the peer, alert last.
    ///
    /// Empty when there is nothing to say: a second call, or after a fatal TLS error (OpenSSL
    /// forbids `SSL_shutdown` then; the peer already got an alert or nothing can be sent).
    func closeNotify() -> [UInt8] {
        guard !failed, !shutDown else { return [] }
        shutDown = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()  // a shutdown that could not be queued is not worth reporting
        return OpenSSL.drain(wbio)
    }

    // MARK: Describing

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

    /// The peer's leaf and the other certificates it sent: as captured during verification when
    /// the recorder ran (the client), else as OpenSSL kept them (the server's view of a client).
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

    /// What the ``TLSClientConfiguration/customValidation`` hook is shown.
    func validationRequest(serverName: String) -> ServerValidationRequest {
        let (leaf, intermediates) = peerCertificates()
        let problems = recorder.problems
        let errors = problems.map(\.result)
        return ServerValidationRequest(
            serverName: serverName,
            serverCertificate: leaf
                ?? Certificate(
                    derBytes: [], sha256Fingerprint: [], subject: "", issuer: "",
                    notBefore: nil, notAfter: nil, subjectAlternativeNames: []),
            serverIntermediateCertificates: intermediates,
            serverCertificateErrors: errors, serverCertificateProblems: problems,
            serverCertificateErrorSeverity: SSLErrorSeverity(errors))
    }
}
