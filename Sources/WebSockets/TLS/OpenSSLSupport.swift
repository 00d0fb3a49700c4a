import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Small helpers around OpenSSL objects. Every `OpaquePointer` here is borrowed for the call.
enum OpenSSL {
    /// Initializes OpenSSL once, before the first context is made, *without* its exit-time cleanup
    /// (`OPENSSL_INIT_NO_ATEXIT`).
    ///
    /// Why: by default OpenSSL registers an `atexit` handler that frees its global state, locks
    /// included. A process that calls `exit` while another thread still frees a session (a
    /// connection's transport released on the event loop as the process ends) then has that thread
    /// unlock a freed lock: ThreadSanitizer caught the `websocket` CLI crashing in
    /// `pthread_rwlock_unlock` under `SSL_free` right after it printed its last line. The memory is
    /// the process's to return at exit anyway.
    static func initialize() {
        _ = initialized
    }

    private static let initialized: Bool = OPENSSL_init_ssl(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1

    /// Drains the calling thread's OpenSSL error queue into one line (`""` when empty).
    static func takeErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            let line = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason.
            reasons.append(line.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? line)
        }
        return reasons.joined(separator: "; ")
    }

    /// Everything pending in a memory BIO, as bytes.
    static func drain(_ bio: OpaquePointer) -> [UInt8] {
        let pending = cws_bio_pending(bio)
        guard pending > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
            let read = BIO_read(bio, buffer.baseAddress, Int32(pending))
            count = max(0, Int(read))
        }
    }

    /// Runs `body` with a fresh memory BIO and returns what it printed into it.
    static func printed(_ body: (OpaquePointer) -> Void) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        body(bio)
        return String(decoding: drain(bio), as: UTF8.self)
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    /// Decodes an `X509*` into a ``Certificate``.
    static func certificate(_ x509: OpaquePointer) -> Certificate {
        let length = i2d_X509(x509, nil)
        var der = [UInt8](repeating: 0, count: max(0, Int(length)))
        der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(x509, &cursor)
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        _ = EVP_Digest(der, der.count, &digest, &digestLength, EVP_sha256(), nil)
        let subject = printed { bio in _ = cws_print_name(bio, X509_get_subject_name(x509)) }
        let issuer = printed { bio in _ = cws_print_name(bio, X509_get_issuer_name(x509)) }
        let names = printed { bio in _ = cws_print_subject_alt_names(x509, bio) }
        func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
            let seconds = cws_asn1_time_to_unix(time)
            return seconds < 0 ? nil : Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        return Certificate(
            derBytes: der, sha256Fingerprint: Array(digest.prefix(Int(digestLength))),
            subject: subject, issuer: issuer,
            notBefore: date(X509_get0_notBefore(x509)), notAfter: date(X509_get0_notAfter(x509)),
            subjectAlternativeNames: names.split(separator: "\n").map(String.init))
    }

    /// Reads certificates (caller frees each with `X509_free`).
    static func loadCertificates(_ source: CertificateSource) throws(WebSocketError) -> [OpaquePointer] {
        var certificates: [OpaquePointer] = []
        switch source {
        case .der(let bytes):
            bytes.withUnsafeBufferPointer { buffer in
                var cursor = buffer.baseAddress
                if let certificate = d2i_X509(nil, &cursor, buffer.count) { certificates.append(certificate) }
            }
        case .pem, .pemFile:
            try withBIO(source) { bio in
                while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                    certificates.append(certificate)
                }
            }
        }
        ERR_clear_error()  // the end of a PEM stream leaves a "no start line" error behind
        guard !certificates.isEmpty else {
            throw WebSocketError(.invalidArgument, "no certificate could be read from \(describe(source))")
        }
        return certificates
    }

    /// Reads a PEM private key (caller frees it with `EVP_PKEY_free`).
    static func loadPrivateKey(_ source: CertificateSource) throws(WebSocketError) -> OpaquePointer {
        if case .der = source {
            throw WebSocketError(.invalidArgument, "private keys must be PEM")
        }
        var key: OpaquePointer?
        try withBIO(source) { bio in key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) }
        guard let key else {
            let reason = takeErrors()
            throw WebSocketError(
                .invalidArgument, "no private key could be read from \(describe(source))\(reason.isEmpty ? "" : ": \(reason)")")
        }
        return key
    }

    private static func withBIO(_ source: CertificateSource, _ body: (OpaquePointer) -> Void) throws(WebSocketError) {
        switch source {
        case .pemFile(let path):
            guard let bio = BIO_new_file(path, "r") else {
                ERR_clear_error()
                throw WebSocketError(.invalidArgument, "cannot open \(path)")
            }
            defer { BIO_free(bio) }
            body(bio)
        case .pem(let bytes), .der(let bytes):
            bytes.withUnsafeBytes { buffer in
                guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return }
                defer { BIO_free(bio) }
                body(bio)
            }
        }
    }

    static func describe(_ source: CertificateSource) -> String {
        switch source {
        case .pemFile(let path): return path
        case .pem(let bytes): return "\(bytes.count) bytes of PEM"
        case .der(let bytes): return "\(bytes.count) bytes of DER"
        }
    }

    /// Maps an `X509_V_ERR_*` code to the public classification.
    static func classify(_ code: Int32) -> ChainValidationResult {
        switch code {
        case X509_V_OK:
            return .success
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID,
            X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
            return .expired
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_CERT_REJECTED,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return .untrusted
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            return .incompleteChain
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, X509_V_ERR_EE_KEY_TOO_SMALL,
            X509_V_ERR_CA_KEY_TOO_SMALL, X509_V_ERR_CA_MD_TOO_WEAK:
            return .invalidSignature
        case X509_V_ERR_CERT_REVOKED:
            return .revoked
        case X509_V_ERR_INVALID_PURPOSE, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE,
            X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
            return .wrongUsage
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH, X509_V_ERR_EMAIL_MISMATCH:
            return .invalidName
        case X509_V_ERR_INVALID_CA, X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_INVALID_NON_CA,
            X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
            return .basicConstraintsError
        case X509_V_ERR_INVALID_POLICY_EXTENSION, X509_V_ERR_NO_EXPLICIT_POLICY, X509_V_ERR_PERMITTED_VIOLATION,
            X509_V_ERR_EXCLUDED_VIOLATION, X509_V_ERR_SUBTREE_MINMAX, X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
            return .invalidCertificateAuthorityPolicy
        case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
            return .unknownCriticalExtension
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
            return .revocationInformationMissing
        case X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_CRL_HAS_EXPIRED, X509_V_ERR_CRL_NOT_YET_VALID,
            X509_V_ERR_OCSP_VERIFY_NEEDED, X509_V_ERR_OCSP_VERIFY_FAILED, X509_V_ERR_OCSP_CERT_UNKNOWN:
            return .revocationFailure
        default:
            return .otherErrors
        }
    }
}
