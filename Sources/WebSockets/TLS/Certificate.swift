#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An X.509 certificate as the peer presented it (WinRT `Certificate`), decoded once into plain
/// values so that it can be handed anywhere (`Sendable`, no OpenSSL object behind it).
public struct Certificate: Sendable, Hashable, CustomStringConvertible {
    /// The certificate's DER encoding, byte for byte as received.
    public let derBytes: [UInt8]
    /// SHA-256 of ``derBytes`` (what `openssl x509 -fingerprint -sha256` prints).
    public let sha256Fingerprint: [UInt8]
    /// The subject, RFC 2253 (`CN=localhost,O=Example`).
    public let subject: String
    /// The issuer, RFC 2253.
    public let issuer: String
    /// Start of the validity period (`nil` if unreadable).
    public let notBefore: Date?
    /// End of the validity period (`nil` if unreadable).
    public let notAfter: Date?
    /// Subject alternative names as OpenSSL prints them: `DNS:localhost`, `IP Address:127.0.0.1`.
    public let subjectAlternativeNames: [String]

    /// ``sha256Fingerprint`` as lowercase hex without separators (64 characters).
    public var sha256Hex: String {
        sha256Fingerprint.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
    }

    /// `subject (sha256 <hex>)`.
    public var description: String { "\(subject) (sha256 \(sha256Hex))" }

    package init(
        derBytes: [UInt8], sha256Fingerprint: [UInt8], subject: String, issuer: String,
        notBefore: Date?, notAfter: Date?, subjectAlternativeNames: [String]
    ) {
        self.derBytes = derBytes
        self.sha256Fingerprint = sha256Fingerprint
        self.subject = subject
        self.issuer = issuer
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.subjectAlternativeNames = subjectAlternativeNames
    }

    /// Parses a SHA-256 fingerprint written as hex, with or without `:` separators, any case.
    /// Returns `nil` unless it is exactly 32 bytes.
    public static func parseSHA256(_ text: String) -> [UInt8]? {
        let digits = text.filter { $0 != ":" && !$0.isWhitespace }
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Why certificate-chain validation failed (WinRT `ChainValidationResult`). The names are the
/// spellings the CLI's `--ignore-cert-error` accepts.
public enum ChainValidationResult: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The chain is valid.
    case success
    /// The chain does not end at a trusted root (self-signed, unknown CA).
    case untrusted
    /// A certificate in the chain was revoked.
    case revoked
    /// A certificate is expired or not yet valid.
    case expired
    /// An issuer certificate is missing: the server did not send its intermediates.
    case incompleteChain
    /// A signature does not verify (or uses a key or digest that is too weak).
    case invalidSignature
    /// A certificate is not valid for this use (key usage, extended key usage).
    case wrongUsage
    /// The certificate does not name the host connected to (DNS name or IP address in the SAN).
    case invalidName
    /// A policy or name constraint of a CA is violated.
    case invalidCertificateAuthorityPolicy
    /// A CA certificate is not marked as a CA, or a path length is exceeded.
    case basicConstraintsError
    /// A certificate has a critical extension that is not understood.
    case unknownCriticalExtension
    /// Revocation information (a CRL) is missing.
    case revocationInformationMissing
    /// Revocation checking failed.
    case revocationFailure
    /// Anything else.
    case otherErrors

    /// The problem's name, its raw value (`untrusted`, `expired`, ...): what the CLI's `--ignore-cert-error` takes.
    public var description: String { rawValue }

    /// Whether ``MessageWebSocketControl/ignorableServerCertificateErrors`` may list it. A revoked
    /// certificate or a forged signature is never ignorable (severity `.fatal`).
    public var isIgnorable: Bool {
        switch self {
        case .revoked, .invalidSignature: return false
        default: return true
        }
    }
}

/// How bad the server certificate's problems are (WinRT `SocketSslErrorSeverity`).
public enum SSLErrorSeverity: String, Sendable, Hashable, CustomStringConvertible {
    /// No problem.
    case none
    /// Only problems that may be ignored (for example a self-signed certificate in a test).
    case ignorable
    /// At least one problem that cannot be ignored (revoked, invalid signature).
    case fatal

    /// The severity's name: `none`, `ignorable` or `fatal`.
    public var description: String { rawValue }

    init(_ errors: some Sequence<ChainValidationResult>) {
        var severity = SSLErrorSeverity.none
        for error in errors where error != .success {
            if !error.isIgnorable {
                self = .fatal
                return
            }
            severity = .ignorable
        }
        self = severity
    }
}

/// One problem found while validating the server's chain: what, where, and OpenSSL's words.
public struct CertificateProblem: Sendable, Hashable, CustomStringConvertible {
    /// The classification.
    public let result: ChainValidationResult
    /// Position in the chain: 0 is the server's own certificate.
    public let depth: Int
    /// The subject of the certificate at ``depth``, when known.
    public let subject: String?
    /// OpenSSL's `X509_V_ERR_*` code.
    public let code: Int
    /// OpenSSL's description of ``code``.
    public let reason: String

    /// `expired: certificate has expired (depth 0, CN=localhost)`.
    public var description: String {
        "\(result): \(reason) (depth \(depth)\(subject.map { ", \($0)" } ?? ""))"
    }

    package init(result: ChainValidationResult, depth: Int, subject: String?, code: Int, reason: String) {
        self.result = result
        self.depth = depth
        self.subject = subject
        self.code = code
        self.reason = reason
    }
}
