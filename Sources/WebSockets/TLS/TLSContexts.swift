import COpenSSL

/// A configured server-side `SSL_CTX`, shared by every connection a server accepts.
///
/// Built once per server because loading and checking the identity is the expensive part; each
/// accepted connection then gets its own cheap `SSL` from it (`TLSSession/server(context:)`).
/// TLS 1.2 or newer, no renegotiation, ALPN `http/1.1` when the client offers it.
// SSL_CTX is fully configured in init and only read afterwards (SSL_new on a configured
// SSL_CTX is thread-safe in OpenSSL); this class owns it and frees it once, in deinit.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads the identity and client-certificate settings.
    /// - Throws: `.invalidArgument` when the certificate chain or key cannot be read or do not match.
    public init(configuration: TLSServerConfiguration) throws {
        OpenSSL.initialize()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw WebSocketError(.secureConnectionFailed, "SSL_CTX_new failed: \(OpenSSL.takeErrors())")
        }
        self.context = context
        _ = cws_ssl_ctx_set_min_tls12(context)
        cws_ssl_ctx_disable_renegotiation(context)
        // An idle connection keeps no record buffers (about 34 KiB per SSL otherwise).
        cws_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        try TLSContexts.use(configuration.identity, in: context)
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
        SSL_CTX_set_alpn_select_cb(
            context,
            { _, out, outLength, input, inputLength, _ in
                guard let out, let outLength, let input else { return SSL_TLSEXT_ERR_NOACK }
                var index = 0
                while index < Int(inputLength) {
                    let length = Int(input[index])
                    if length == 8, index + 9 <= Int(inputLength),
                        Array(UnsafeBufferPointer(start: input + index + 1, count: 8)) == Array("http/1.1".utf8)
                    {
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

/// Building `SSL_CTX`s: the client's (one per connection) and the pieces shared with the server's.
enum TLSContexts {
    /// A new client `SSL_CTX` for `configuration`; the caller owns it (`SSL_CTX_free`).
    ///
    /// One per connection rather than one per configuration: a client connects rarely, and a
    /// fresh context keeps configurations (trust roots, identity) from leaking into each other.
    /// Secure by default: TLS 1.2 or newer, no renegotiation, peer verification through
    /// ``VerificationRecorder`` (every problem recorded), ALPN `http/1.1`. What is per connection
    /// (SNI, the name to check) is set on the `SSL` by ``TLSSession/client(serverName:configuration:)``.
    static func client(_ configuration: TLSClientConfiguration) throws(WebSocketError) -> OpaquePointer {
        OpenSSL.initialize()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw WebSocketError(.secureConnectionFailed, "SSL_CTX_new failed: \(OpenSSL.takeErrors())")
        }
        do throws(WebSocketError) {
            _ = configuration.minimumVersion == .tls13 ? cws_ssl_ctx_set_min_tls13(context) : cws_ssl_ctx_set_min_tls12(context)
            cws_ssl_ctx_disable_renegotiation(context)
            // An idle connection keeps no record buffers (about 34 KiB per SSL otherwise).
            cws_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
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
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        SSL_CTX_set_cert_verify_callback(context, VerificationRecorder.certificateVerifyCallback, nil)
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count))
        return context
    }

    /// Installs a certificate chain (leaf first) and its private key in `context`.
    /// - Throws: `.invalidArgument` when they cannot be read or the key does not match.
    static func use(_ identity: TLSIdentity, in context: OpaquePointer) throws(WebSocketError) {
        let chain = try OpenSSL.loadCertificates(identity.certificateChain)
        defer { for certificate in chain { X509_free(certificate) } }
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
}
