extension StreamSocket {
    /// Upgrades a plaintext connection to TLS (WinRT `UpgradeToSslAsync`): the STARTTLS pattern,
    /// after the protocol on top agreed to switch. Client side only, as in WinRT.
    ///
    /// Validation is the one of `connect(..., tls: true)` and `wss://`: the chain, the name
    /// (`validationHostName`, else the host given to ``connect(host:port:tls:)``), the ignorable
    /// errors and the hook of ``StreamSocketControl/tls``. Bytes the peer sent before its TLS
    /// handshake and that were not read yet are taken as handshake bytes: finish the plaintext
    /// exchange (read the peer's "go ahead") before upgrading.
    /// - Throws: `.invalidState` before connecting, on an accepted socket, when TLS is already on,
    ///   or while a read or write is pending; `.serverCertificateInvalid` (every problem named),
    ///   `.secureConnectionFailed` (OpenSSL's reason); `.operationCanceled`. A failed upgrade
    ///   closes the socket.
    public func upgradeToTLS(validationHostName: String? = nil) async throws(SocketError) {
        guard phase == .open, let tcp, transport === tcp else {
            throw SocketError(
                .invalidState, "upgrade to TLS: \(phase == .open ? "TLS is already on" : "the socket is not connected")")
        }
        guard !isAccepted else {
            throw SocketError(.invalidState, "upgrade to TLS: only a client socket can upgrade (not one from a listener)")
        }
        guard !isReading, !isWriting, !isWriteShutDown else {
            throw SocketError(.invalidState, "upgrade to TLS: a read or write is pending, or writing was shut down")
        }
        guard let name = validationHostName ?? info.remoteHostName else {
            throw SocketError(.invalidArgument, "upgrade to TLS: no host name to validate the certificate against")
        }
        do {
            try await startTLS(serverName: name, operation: "TLS upgrade with \(name)")
        } catch {
            abort()
            throw error
        }
    }

    /// The client handshake over `tcp`, then reads and writes go through TLS.
    func startTLS(serverName: String, operation: String) async throws(SocketError) {
        guard let tcp else { throw SocketError(.closed, "\(operation): the socket was closed") }
        let bare = serverName.hasPrefix("[") && serverName.hasSuffix("]") ? String(serverName.dropFirst().dropLast()) : serverName
        do {
            let configuration = control.tls
            let secure = try await Self.withHandshakeDeadline(control.tlsHandshakeTimeout, closing: tcp) {
                try await TLSTransport.connect(over: tcp, serverName: bare, configuration: configuration, isolation: nil)
            }
            guard phase == .open else {
                secure.close()
                throw SocketError(.closed, "\(operation): the socket was closed")
            }
            transport = secure
            info.record(secure.info)
        } catch {
            throw SocketError(error, operation)
        }
    }

    /// The transport to read or write through, after the server handshake of an accepted TLS
    /// socket (run once, by whichever of a read and a write comes first; the other waits for it).
    /// - Throws: `.closed` when closed; the handshake's failure (the socket is then closed).
    func secured(for operation: String) async throws(SocketError) -> any Transport {
        guard phase == .open, let transport else {
            throw SocketError(
                phase == .closed ? .closed : .invalidState,
                "\(operation): the socket is \(phase == .closed ? "closed" : "not connected")")
        }
        guard let context = pendingServerTLS, let tcp else { return transport }
        let handshake: Task<TLSTransport, any Error>
        if let running = serverHandshake {
            handshake = running
        } else {
            let timeout = control.tlsHandshakeTimeout
            handshake = Task {
                try await Self.withHandshakeDeadline(timeout, closing: tcp) {
                    try await TLSTransport.accept(over: tcp, context: context, isolation: nil)
                }
            }
            serverHandshake = handshake
        }
        do {
            let secure = try await withTaskCancellationHandler {
                try await handshake.value
            } onCancel: {
                handshake.cancel()
            }
            if pendingServerTLS != nil {
                pendingServerTLS = nil
                serverHandshake = nil
                self.transport = secure
                info.record(secure.info)
            }
            guard phase == .open, let current = self.transport else {
                throw SocketError(.closed, "\(operation): the socket is closed")
            }
            return current
        } catch {
            let cancelled = Task.isCancelled
            abort()
            throw cancelled
                ? SocketError(.operationCanceled, "\(operation): cancelled during the TLS handshake")
                : SocketError(error, "TLS handshake")
        }
    }

    /// Runs a TLS handshake over `tcp` under `timeout` (``StreamSocketControl/tlsHandshakeTimeout``):
    /// when it passes, `tcp` is closed, which fails the handshake, and the error is `.timedOut`.
    static func withHandshakeDeadline(
        _ timeout: Duration, closing tcp: TCPTransport, _ handshake: @escaping @Sendable () async throws -> TLSTransport
    ) async throws -> TLSTransport {
        let timer = Task { () -> Bool in
            do { try await releasingSleep(for: timeout) } catch { return false }
            tcp.close()
            return true
        }
        do {
            let secure = try await handshake()
            timer.cancel()
            return secure
        } catch {
            timer.cancel()
            if await timer.value {
                throw SocketError(.timedOut, "no TLS handshake within \(timeout) (tlsHandshakeTimeout)")
            }
            throw error
        }
    }
}
