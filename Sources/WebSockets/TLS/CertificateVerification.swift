import COpenSSL

/// What the certificate-verification callback found, and the decision it returns on a retry.
///
/// OpenSSL's own verification stops at the first problem; WinRT-style validation reports them all
/// (see ``ChainValidationResult``) and lets the caller ignore some and then run a hook. So the
/// client context installs ``certificateVerifyCallback``, which runs `X509_verify_cert` itself with
/// ``recordingCallback`` recording every problem and carrying on, decides from
/// ``TLSClientConfiguration/ignorableErrors`` whether the handshake fails, and, when there is a
/// hook, suspends the handshake (`SSL_set_retry_verify`) until the hook's ``decision`` is known.
///
/// Found from the callbacks through the `SSL` object's app data (see ``TLSSession``), which owns
/// this recorder and lives exactly as long. Touched only from inside `SSL_do_handshake` (the
/// callbacks) and by the handshaking task between its calls: one thread at a time.
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
        problems.append(
            CertificateProblem(
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
        X509_STORE_CTX_set_verify_cb(store, Self.recordingCallback)
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

    // MARK: Callbacks

    /// The client context's `SSL_CTX_set_cert_verify_callback`: hands the chain to the recorder
    /// of the `SSL` being verified.
    static let certificateVerifyCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { store, _ in
        guard let store, let recorder = recorder(of: store), let ssl = cws_store_ctx_get_ssl(store) else { return 0 }
        return recorder.verify(store, ssl: ssl)
    }

    /// Records each problem and carries on, so that every problem in the chain is found.
    private static let recordingCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, store in
        guard ok == 0, let store, let recorder = recorder(of: store) else { return ok }
        recorder.record(
            code: X509_STORE_CTX_get_error(store), depth: X509_STORE_CTX_get_error_depth(store),
            certificate: X509_STORE_CTX_get_current_cert(store))
        return 1
    }

    /// The recorder of the `SSL` that `store` verifies for (its app data; see ``TLSSession``).
    private static func recorder(of store: OpaquePointer) -> VerificationRecorder? {
        guard let ssl = cws_store_ctx_get_ssl(store), let raw = cws_ssl_get_app_data(ssl) else { return nil }
        return Unmanaged<VerificationRecorder>.fromOpaque(raw).takeUnretainedValue()
    }
}
