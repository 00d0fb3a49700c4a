/// Where certificates come from: a PEM file, PEM bytes (one or more certificates), or DER bytes
/// (exactly one).
public enum CertificateSource: Sendable, Hashable {
    /// The path of a PEM file, read when the TLS context is created (`connect` or `bind`).
    case pemFile(String)
    /// PEM text in memory: one or more `-----BEGIN ...-----` blocks.
    case pem([UInt8])
    /// DER bytes in memory: exactly one certificate (not accepted for a private key).
    case der([UInt8])
}

/// A private key and its certificate chain, presented to the peer: the client's identity for
/// mutual TLS, or the server's.
public struct TLSIdentity: Sendable, Hashable {
    /// The certificate chain: the leaf first, then intermediates.
    public var certificateChain: CertificateSource
    /// The private key, PEM (a PEM file path or PEM bytes; `.der` is not accepted for keys).
    public var privateKey: CertificateSource

    /// An identity from its chain and key; they are read and checked to match when the TLS context is
    /// created, and a bad one fails `connect` or `bind` with `.invalidArgument`.
    public init(certificateChain: CertificateSource, privateKey: CertificateSource) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// An identity from two PEM files (the chain file may hold the leaf and its intermediates).
    public static func pemFiles(certificateChain: String, privateKey: String) -> TLSIdentity {
        TLSIdentity(certificateChain: .pemFile(certificateChain), privateKey: .pemFile(privateKey))
    }

    /// An identity from PEM bytes in memory.
    public static func pem(certificateChain: [UInt8], privateKey: [UInt8]) -> TLSIdentity {
        TLSIdentity(certificateChain: .pem(certificateChain), privateKey: .pem(privateKey))
    }
}

/// Client-side TLS settings (the TLS part of ``MessageWebSocketControl``).
public struct TLSClientConfiguration: Sendable {
    /// Trust the system's root certificates (`SSL_CTX_set_default_verify_paths`). Default `true`.
    public var usesSystemTrustStore = true
    /// Extra trusted roots, for private CAs.
    public var additionalTrustRoots: [CertificateSource] = []
    /// Problems of the default validation to tolerate.
    public var ignorableErrors: Set<ChainValidationResult> = []
    /// The second-stage hook, run after the default validation passed.
    public var customValidation: ServerValidationHandler?
    /// The client certificate and key for mutual TLS.
    public var identity: TLSIdentity?
    /// The oldest TLS version offered (WinRT `MinProtectionLevel`). Default ``TLSVersion/tls12``;
    /// a server that cannot speak it fails the handshake with `.secureConnectionFailed`.
    public var minimumVersion: TLSVersion = .tls12

    /// The defaults: the system trust store, no extra roots, nothing tolerated, no hook, no client certificate.
    public init() {}
}

/// Server-side TLS settings.
public struct TLSServerConfiguration: Sendable, Hashable {
    /// Whether the server asks clients for a certificate.
    public enum ClientCertificatePolicy: Sendable, Hashable {
        /// No client certificate is asked for (the default).
        case none
        /// Asked for; a client without one is still accepted, one with an invalid one is not.
        case request
        /// Required: a client without a valid certificate fails the handshake.
        case require
    }

    /// The server's certificate chain and private key.
    public var identity: TLSIdentity
    /// Client certificates.
    public var clientCertificates: ClientCertificatePolicy = .none
    /// Roots that client certificates must chain to.
    public var clientTrustRoots: [CertificateSource] = []

    /// Serve with `identity`; no client certificates are asked for.
    public init(identity: TLSIdentity) {
        self.identity = identity
    }
}

/// What was negotiated and seen on a TLS connection.
public struct TLSSessionInfo: Sendable, Hashable {
    /// The protocol version, as OpenSSL names it (`TLSv1.3`).
    public var version: String
    /// The cipher suite (`TLS_AES_256_GCM_SHA384`).
    public var cipher: String
    /// The ALPN protocol selected, if any (`http/1.1`).
    public var alpnProtocol: String?
    /// The peer's certificate (the server's on a client; the client's, if it sent one, on a server).
    public var peerCertificate: Certificate?
    /// The other certificates the peer sent.
    public var peerIntermediateCertificates: [Certificate] = []
    /// Problems found in the peer's chain that were ignored (client side).
    public var certificateProblems: [CertificateProblem] = []
}

/// The TLS details every information value reports under the same names (WinRT's
/// `MessageWebSocketInformation` and `StreamSocketInformation` share them), filled in one place.
protocol TLSDetailsRecording {
    var serverCertificate: Certificate? { get set }
    var serverIntermediateCertificates: [Certificate] { get set }
    var serverCertificateErrors: [ChainValidationResult] { get set }
    var serverCertificateErrorSeverity: SSLErrorSeverity { get set }
    var tlsVersion: String? { get set }
    var cipher: String? { get set }
}

extension TLSDetailsRecording {
    /// Copies what the TLS handshake established (the peer's chain, the problems found in it, the
    /// protocol version and cipher).
    mutating func recordTLSDetails(_ info: TLSSessionInfo) {
        serverCertificate = info.peerCertificate
        serverIntermediateCertificates = info.peerIntermediateCertificates
        serverCertificateErrors = info.certificateProblems.map(\.result)
        serverCertificateErrorSeverity = SSLErrorSeverity(serverCertificateErrors)
        tlsVersion = info.version
        cipher = info.cipher
    }
}

extension MessageWebSocketInformation: TLSDetailsRecording {}
