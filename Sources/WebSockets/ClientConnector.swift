/// The client's way from a URL to an open ``WebSocketConnection``'s ingredients, shared by the
/// socket actors: URL parsing, request-header rules, the transport (TCP, TLS over TCP, or one the
/// caller supplies), the opening handshake under the open timeout, the connect events, and the
/// information known once open. Both ``MessageWebSocket`` and ``StreamWebSocket`` use it (the
/// bookkeeping around the connection they share is ``ClientSocketCore``).

import WebSocketCore

enum ClientConnector {
    /// Parses a `ws://` or `wss://` URL; `.invalidArgument` when malformed.
    static func parse(_ url: String) throws(WebSocketError) -> WebSocketURL {
        do {
            return try WebSocketURL(parsing: url)
        } catch {
            throw WebSocketError(.invalidArgument, "invalid WebSocket URL \"\(url)\": \(error.description)")
        }
    }

    /// Throws `.invalidArgument` for a request header the application may not set: one the
    /// handshake owns (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) or invalid HTTP.
    static func validateRequestHeader(_ name: String, _ value: String) throws(WebSocketError) {
        if Handshake.isHandshakeOwnedHeader(name) {
            let what =
                HTTPSyntax.equalsIgnoringASCIICase(name, "Sec-WebSocket-Extensions")
                ? "extensions are negotiated by the library, not set by hand"
                : "the opening handshake sets it"
            throw WebSocketError(.invalidArgument, "header \"\(name)\" cannot be set: \(what)")
        }
        if let problem = Handshake.problem(withHeaderName: name, value: value) {
            throw WebSocketError(.invalidArgument, problem)
        }
    }

    /// How to reach `url` over the network: TCP (Happy Eyeballs over its addresses, attempts
    /// `attemptDelay` apart), plus TLS for `wss://`; through `proxy` when one is given
    /// (``ProxyConnector``).
    static func networkTransport(
        for url: WebSocketURL, noDelay: Bool, tls: TLSClientConfiguration,
        attemptDelay: Duration = HappyEyeballs.defaultAttemptDelay, proxy: ProxyServer? = nil,
        maxProxyResponseSize: Int = 16 * 1024
    ) -> @Sendable (OpeningStage) async throws -> any Transport {
        if let proxy {
            return ProxyConnector.transport(
                to: url, through: proxy, noDelay: noDelay, tls: tls, maxResponseSize: maxProxyResponseSize)
        }
        guard url.isSecure else {
            return { _ in
                try await TCPTransport.connect(
                    host: url.host, port: url.port, noDelay: noDelay, attemptDelay: attemptDelay, loop: .shared)
            }
        }
        return { stage in
            let tcp = try await TCPTransport.connect(
                host: url.host, port: url.port, noDelay: noDelay, attemptDelay: attemptDelay, loop: .shared)
            stage.set(
                "the TLS handshake with \(url.host):\(url.port) (including serverCustomValidation, whose deferral may never have completed)"
            )
            return try await TLSTransport.connect(over: tcp, serverName: url.host, configuration: tls)
        }
    }

    /// ``networkTransport(for:noDelay:tls:attemptDelay:)`` for each URL a redirect leads to.
    static func networkTransports(
        control: MessageWebSocketControl
    ) -> @Sendable (WebSocketURL) -> @Sendable (OpeningStage) async throws -> any Transport {
        let (noDelay, tls, delay) = (control.noDelay, control.tlsConfiguration, control.connectionAttemptDelay)
        let (setting, credential, maxResponse) = (control.proxy, control.proxyCredential, control.maxHandshakeResponseSize)
        return { url in
            let proxy: ProxyServer?
            do {
                proxy = try ProxyConnector.proxy(for: url, setting: setting, credential: credential)
            } catch {
                return { _ in throw error }  // a malformed proxy setting fails the connect that uses it
            }
            return networkTransport(
                for: url, noDelay: noDelay, tls: tls, attemptDelay: delay, proxy: proxy, maxProxyResponseSize: maxResponse)
        }
    }

    /// Makes the transport and performs the opening handshake under `control.openTimeout`,
    /// reporting `connecting` (and `failed`) to `events`. Redirects and a Basic challenge are
    /// answered as ``OpeningNavigator`` decides, each with a new transport from `transportTo`
    /// (without it, over a supplied transport, they fail as today); all share the open timeout.
    static func open(
        url: WebSocketURL, control: MessageWebSocketControl, headers: [(String, String)], events: EventEmitter?,
        transport makeTransport: @escaping @Sendable (OpeningStage) async throws -> any Transport,
        transportTo: (@Sendable (WebSocketURL) -> @Sendable (OpeningStage) async throws -> any Transport)? = nil
    ) async throws -> ClientOpening.Opened {
        let stage = OpeningStage()
        if let events { events.emit(.connecting(url: url.description)) }
        let navigator = OpeningNavigator(
            url: url, headers: headers, credential: control.serverCredential, maxRedirects: control.maxRedirects,
            allowsInsecureRedirects: control.allowsInsecureRedirects)
        do {
            return try await ClientOpening.withOpenTimeout(control.openTimeout, stage: stage) {
                var navigator = navigator
                var make = makeTransport
                while true {
                    // Each hop (a redirect, a credential retry) names itself: a timeout then says
                    // which connection and which step of it did not finish.
                    stage.set("connecting to \(navigator.current.host):\(navigator.current.port)")
                    let transport = try await make(stage)
                    stage.set("the WebSocket opening handshake with \(navigator.current)")
                    do {
                        var opened = try await ClientOpening.handshake(
                            over: transport, url: navigator.current, protocols: control.supportedProtocols,
                            headers: navigator.headers, maxResponseSize: control.maxHandshakeResponseSize,
                            compression: control.compression)
                        opened.url = navigator.current
                        return opened
                    } catch let error as WebSocketError {
                        switch navigator.next(after: error) {
                        case .fail(let failure): throw failure
                        case .retry:
                            guard let transportTo else { throw error }
                            make = transportTo(navigator.current)
                        }
                        if let events { events.emit(.connecting(url: navigator.current.description)) }
                    }
                }
            }
        } catch {
            if let events { events.emit(.failed(error as? WebSocketError ?? WebSocketError(.cannotConnect, "\(error)"))) }
            throw error
        }
    }

    /// What is known once the handshake succeeded (negotiation, addresses, TLS).
    static func information(of opened: ClientOpening.Opened, control: MessageWebSocketControl) -> MessageWebSocketInformation {
        var information = MessageWebSocketInformation()
        information.url = opened.url?.description
        information.actualUnsolicitedPongInterval = control.desiredUnsolicitedPongInterval
        information.negotiatedProtocol = opened.result.subprotocol
        information.negotiatedExtensions = opened.result.extensions
        information.compression = opened.deflate
        information.localAddress = opened.transport.localAddress
        information.remoteAddress = opened.transport.remoteAddress
        if let tls = opened.transport as? TLSTransport {
            information.recordTLSDetails(tls.info)
        }
        return information
    }

    /// The client connection over `opened`'s transport, set up from `control` (message size,
    /// compression, timeouts, buffer, keep-alive); `configure` adjusts the core's configuration
    /// for the socket's kind. Not started yet.
    static func makeConnection(
        _ opened: ClientOpening.Opened, control: MessageWebSocketControl, delivery: WebSocketConnection.Delivery,
        messageType: MessageKind, events: EventEmitter?, configure: (inout ConnectionCore.Configuration) -> Void
    ) -> WebSocketConnection {
        var configuration = ConnectionCore.Configuration()
        configuration.maxMessageSize = control.maxMessageSize
        configuration.deflate = opened.deflate
        if let options = control.compression.options { configuration.deflateOptions = options }
        configure(&configuration)
        return WebSocketConnection(
            transport: opened.transport, role: .client, configuration: configuration, delivery: delivery,
            closeTimeout: control.closeTimeout, outboundBufferSize: control.outboundBufferSize,
            messageType: messageType, pingInterval: control.pingInterval, pingTimeout: control.pongTimeout,
            unsolicitedPongInterval: control.desiredUnsolicitedPongInterval, events: events)
    }

    /// Reports the open connection to `events`.
    static func reportConnected(_ opened: ClientOpening.Opened, to events: EventEmitter?) {
        guard let events else { return }
        events.emit(
            .connected(
                .init(
                    subprotocol: opened.result.subprotocol, extensions: opened.result.extensions,
                    remoteAddress: opened.transport.remoteAddress, localAddress: opened.transport.localAddress,
                    isSecure: opened.transport is TLSTransport)))
    }
}
