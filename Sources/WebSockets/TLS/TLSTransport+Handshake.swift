import COpenSSL

extension TLSTransport {
    // MARK: Opening

    /// Runs the client side of a TLS handshake over `inner` and returns the secure transport.
    ///
    /// - Parameters:
    ///   - inner: the connected transport (usually TCP) the TLS records travel over.
    ///   - serverName: the host (DNS name or IP literal) to send as SNI and to verify the
    ///     certificate against.
    ///   - configuration: trust roots, ignorable errors, the validation hook, the client identity.
    ///   - isolation: the actor the handshake runs on (the caller's, by default).
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
            var buffer = [UInt8](repeating: 0, count: ciphertextBufferSize)
            let info = try await handshake(
                session, over: inner, buffer: &buffer, serverName: serverName,
                hook: configuration.customValidation, isolation: isolation)
            return TLSTransport(inner: inner, session: session, info: info)
        } catch {
            inner.close()
            throw error
        }
    }

    /// Runs the server side of a TLS handshake over `inner` (an accepted connection).
    ///
    /// - Throws: ``WebSocketError`` `.secureConnectionFailed` (OpenSSL's reason: no shared
    ///   version or cipher, a required client certificate missing or invalid, ...). On failure
    ///   `inner` is closed.
    public static func accept(
        over inner: any Transport, context: TLSServerContext, isolation: isolated (any Actor)? = #isolation
    ) async throws -> TLSTransport {
        do {
            let session = try TLSSession.server(context: context)
            var buffer = [UInt8](repeating: 0, count: ciphertextBufferSize)
            let info = try await handshake(
                session, over: inner, buffer: &buffer, serverName: "", hook: nil,
                isolation: isolation)
            return TLSTransport(inner: inner, session: session, info: info)
        } catch {
            inner.close()
            throw error
        }
    }

    /// Drives `SSL_do_handshake` to completion: after each step, sends what OpenSSL produced;
    /// when it wants input, reads ciphertext from `inner` into `buffer` (released with the
    /// handshake: an open connection reads without a buffer of its own) and feeds it; when verification is suspended for the hook, runs the hook and
    /// retries with its decision.
    ///
    /// On failure the error names the real cause, in this order: the hook's refusal, the
    /// certificate problems the recorder found, then OpenSSL's own reason. The alert that OpenSSL
    /// produced for the peer is sent when possible, but failing to send it does not hide the cause.
    private static func handshake(
        _ session: TLSSession, over inner: any Transport, buffer: inout [UInt8], serverName: String,
        hook: ServerValidationHandler?, isolation: isolated (any Actor)?
    ) async throws -> TLSSessionInfo {
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
                } catch  where code == SSL_ERROR_NONE || code == SSL_ERROR_WANT_READ {
                    throw error
                } catch {
                    // Failing anyway; the alert could not be delivered. Report the real failure.
                }
            }
            switch code {
            case SSL_ERROR_NONE:
                return session.sessionInfo()
            case SSL_ERROR_WANT_READ:
                let count = try await inner.read(into: &buffer, isolation: isolation)
                guard count > 0 else {
                    throw WebSocketError(.secureConnectionFailed, "the peer closed the connection during the TLS handshake")
                }
                session.feed(buffer[..<count])
            case SSL_ERROR_WANT_RETRY_VERIFY:
                guard let hook else {
                    session.recorder.decision = true
                    continue
                }
                let request = session.validationRequest(serverName: serverName)
                do {
                    let decision = try await hook(request)
                    if Task.isCancelled { throw CancellationError() }
                    if decision == .reject {
                        hookFailure = "the serverCustomValidation hook rejected \(request.serverCertificate)"
                    }
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
                throw WebSocketError(
                    .secureConnectionFailed,
                    "TLS handshake failed: \(reason.isEmpty ? "OpenSSL error \(code)" : reason)")
            }
        }
    }
}
