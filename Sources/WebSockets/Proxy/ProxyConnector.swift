import WebSocketCore

/// The client's way through a proxy: which proxy a URL takes under a ``ProxySetting``, and the
/// transport to the server through it, ready for the opening handshake.
///
/// Layers, outermost last: TCP to the proxy; TLS to the proxy for an `https://` proxy (validated
/// with the connection's TLS settings, without ``MessageWebSocketControl/serverCustomValidation``,
/// which is about the server); the tunnel (`CONNECT` or SOCKS5); TLS to the server for `wss://`,
/// end to end, so the proxy sees only ciphertext.
enum ProxyConnector {
    /// The proxy `url` goes through, or `nil` for a direct connection. The credential is the
    /// proxy URL's userinfo, else `credential` (``MessageWebSocketControl/proxyCredential``).
    /// - Throws: `.invalidArgument` when an environment variable is not a valid proxy URL.
    static func proxy(for url: WebSocketURL, setting: ProxySetting, credential: ProxyCredential?) throws(WebSocketError)
        -> ProxyServer?
    {
        var server: ProxyServer?
        switch setting {
        case .none: return nil
        case .explicit(let explicit): server = explicit
        case .system: server = try ProxyEnvironment.process.proxy(for: url)
        case .environment(let environment): server = try environment.proxy(for: url)
        }
        if server?.credential == nil { server?.credential = credential }
        return server
    }

    /// How to reach `url` through `proxy`: the tunnel, then TLS for `wss://`.
    static func transport(
        to url: WebSocketURL, through proxy: ProxyServer, noDelay: Bool, tls: TLSClientConfiguration, maxResponseSize: Int
    ) -> @Sendable (OpeningStage) async throws -> any Transport {
        { stage in
            stage.set("connecting to the proxy \(proxy)")
            let tunnel = try await tunnel(
                to: url, through: proxy, noDelay: noDelay, tls: tls, maxResponseSize: maxResponseSize, stage: stage)
            guard url.isSecure else { return tunnel }
            stage.set(
                "the TLS handshake through the proxy (including serverCustomValidation, whose deferral may never have completed)")
            return try await TLSTransport.connect(over: tunnel, serverName: url.host, configuration: tls)
        }
    }

    /// The tunnel to `url`'s host and port, before any end-to-end TLS.
    private static func tunnel(
        to url: WebSocketURL, through proxy: ProxyServer, noDelay: Bool, tls: TLSClientConfiguration, maxResponseSize: Int,
        stage: OpeningStage
    ) async throws -> any Transport {
        let connect = { () async throws -> any Transport in
            try await connectToProxy(proxy, noDelay: noDelay, tls: tls)
        }
        switch proxy.scheme {
        case .http, .https:
            let (transport, leftover) = try await HTTPConnectTunnel.open(
                to: url.host, port: url.port, through: proxy, credential: proxy.credential,
                maxResponseSize: maxResponseSize, connect: connect)
            stage.set("the proxy \(proxy) opened the tunnel")
            // A bare TCP transport keeps its fast reads; anything else is wrapped (see the type).
            if leftover.isEmpty && transport is TCPTransport { return transport }
            return ProxyTunnelTransport(over: transport, leftover: leftover)
        case .socks5, .socks5h:
            let transport = try await connect()
            try await SOCKS5Tunnel.open(
                to: url.host, port: url.port, through: proxy, credential: proxy.credential, over: transport)
            return transport
        }
    }

    /// TCP to the proxy, plus TLS for an `https://` proxy; a failure is `.proxyUnreachable`
    /// (certificate problems keep their own statuses, with the proxy named).
    private static func connectToProxy(_ proxy: ProxyServer, noDelay: Bool, tls: TLSClientConfiguration) async throws
        -> any Transport
    {
        let tcp: TCPTransport
        do {
            tcp = try await TCPTransport.connect(host: proxy.host, port: proxy.port, noDelay: noDelay)
        } catch let error as WebSocketError where error.status == .cannotConnect || error.status == .hostNameNotResolved {
            throw WebSocketError(.proxyUnreachable, "could not reach the proxy \(proxy): \(error.message)")
        }
        guard proxy.scheme == .https else { return tcp }
        var configuration = tls
        configuration.customValidation = nil
        do {
            return try await TLSTransport.connect(over: tcp, serverName: proxy.host, configuration: configuration)
        } catch var error as WebSocketError {
            if error.status == .secureConnectionFailed || error.status == .connectionAborted {
                error.status = .proxyUnreachable
            }
            error.message = "TLS to the proxy \(proxy): \(error.message)"
            throw error
        }
    }
}
