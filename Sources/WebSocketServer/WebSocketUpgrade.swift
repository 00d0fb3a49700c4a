import Synchronization
import WebSocketCore
import WebSockets

/// A valid WebSocket upgrade request waiting for the application's answer: accept it (as a
/// message-level ``ServerWebSocket`` or an IIS-style ``WebSocketFragmentContext``) or reject it
/// with an HTTP status. Exactly one answer counts; an upgrade dropped unanswered is rejected with
/// 503 Service Unavailable.
public final class WebSocketUpgrade: Sendable {
    /// The request: path, query, `Host`, offered subprotocols and extensions, every header
    /// (`UpgradeRequest/header(_:)`).
    public let request: UpgradeRequest
    /// The client's address, `host:port` (`[v6]:port` for IPv6).
    public let remoteAddress: String?
    /// The address the client connected to.
    public let localAddress: String?
    /// The TLS session for `wss://` (version, cipher, ALPN, and the client's certificate when
    /// `TLSServerConfiguration/clientCertificates` asked for one), `nil` for `ws://`. Decide
    /// on the client's identity here, before accepting.
    public let tls: TLSSessionInfo?

    private let transport: any Transport
    private let bufferedBytes: [UInt8]
    private let configuration: WebSocketServerConfiguration
    private let registry: ConnectionRegistry
    private let handshakeID: ObjectIdentifier
    private let answered = Atomic<Bool>(false)

    init(
        request: UpgradeRequest, transport: any Transport, bufferedBytes: [UInt8],
        configuration: WebSocketServerConfiguration, registry: ConnectionRegistry, handshakeID: ObjectIdentifier
    ) {
        self.request = request
        self.transport = transport
        self.bufferedBytes = bufferedBytes
        self.configuration = configuration
        self.registry = registry
        self.handshakeID = handshakeID
        self.remoteAddress = transport.remoteAddress
        self.localAddress = transport.localAddress
        self.tls = (transport as? TLSTransport)?.info
    }

    deinit {
        guard !answered.load(ordering: .acquiring) else { return }
        registry.endHandshake(handshakeID)
        let transport = self.transport
        let response = ServerHandshake.rejectionBytes(status: 503, reason: "Service Unavailable")
        Task {
            try? await transport.write([response], isolation: nil)
            transport.close()
        }
    }

    /// Completes the handshake (101 Switching Protocols) and returns the connection, message level.
    ///
    /// - Parameters:
    ///   - subprotocol: the subprotocol to select; it must be one the client offered (RFC 6455
    ///     §4.2.2). `nil` selects the first of ``WebSocketServerConfiguration/subprotocols`` that
    ///     the client offered, or none.
    ///   - headers: extra response headers (for example `Set-Cookie`).
    /// - Throws: `.invalidArgument` for a subprotocol the client did not offer or an invalid
    ///   header (the upgrade stays unanswered); `.invalidState` if it was answered already;
    ///   `.closed` when the listener is shutting down or has
    ///   ``WebSocketServerConfiguration/maxConnections`` open (the client gets 503);
    ///   `.connectionAborted` if the client left.
    public func accept(subprotocol: String? = nil, headers: [(String, String)] = []) async throws -> ServerWebSocket {
        let inbox = MessageInbox(highWater: configuration.maxPendingMessages)
        let (connection, selected, deflate) = try await upgrade(
            subprotocol: subprotocol, headers: headers,
            delivery: .messages(inbox))
        return ServerWebSocket(
            request: request, negotiatedProtocol: selected, compression: deflate, tls: tls,
            connection: connection, messages: inbox.makeStream())
    }

    /// Completes the handshake and returns the connection as an IIS-style fragment context:
    /// data is read as it arrives, in pieces of the caller's buffer size, without assembling
    /// messages. Same parameters and errors as ``accept(subprotocol:headers:)``.
    public func acceptFragments(subprotocol: String? = nil, headers: [(String, String)] = []) async throws
        -> WebSocketFragmentContext
    {
        let inbox = Inbox<MessageFragment>(highWater: configuration.maxPendingMessages)
        let (connection, selected, deflate) = try await upgrade(
            subprotocol: subprotocol, headers: headers,
            delivery: .fragments(inbox))
        return WebSocketFragmentContext(
            request: request, negotiatedProtocol: selected, compression: deflate, tls: tls,
            connection: connection, inbox: inbox)
    }

    /// Completes the handshake and returns the connection as a byte stream (WinRT
    /// `ServerStreamWebSocket`): binary data read as it arrives, without message boundaries and
    /// without a message size limit (nothing is assembled); a text message fails the connection
    /// with 1003. Same parameters and errors as ``accept(subprotocol:headers:)``.
    public func acceptStream(subprotocol: String? = nil, headers: [(String, String)] = []) async throws -> ServerStreamWebSocket {
        let inbox = Inbox<MessageFragment>(highWater: configuration.maxPendingMessages)
        let (connection, selected, deflate) = try await upgrade(
            subprotocol: subprotocol, headers: headers,
            delivery: .fragments(inbox), binaryStream: true)
        return ServerStreamWebSocket(
            request: request, negotiatedProtocol: selected, compression: deflate, tls: tls,
            connection: connection, inbox: inbox)
    }

    /// Refuses the upgrade with an HTTP response and closes the connection.
    ///
    /// - Parameters:
    ///   - status: a final status, 200–599 except 101 (for example 401, 403, 404). Others are
    ///     sent as 500.
    ///   - reason: the reason phrase; `nil` uses the standard one for common statuses.
    ///   - headers: extra headers (for example `WWW-Authenticate`); invalid ones are left out.
    ///   - body: a plain-text body.
    /// Does nothing if the upgrade was answered already.
    public func reject(status: Int = 403, reason: String? = nil, headers: [(String, String)] = [], body: String = "") async {
        guard claim() else { return }
        let status = (200...599).contains(status) && status != 101 ? status : 500
        var reason = reason ?? Self.standardReason(status)
        if !Handshake.isValidHeaderValue(reason) { reason = Self.standardReason(status) }
        var fields = headers.filter { name, value in
            Handshake.isValidHeaderName(name) && Handshake.isValidHeaderValue(value)
                && !HTTPSyntax.equalsIgnoringASCIICase(name, "Content-Length")
                && !HTTPSyntax.equalsIgnoringASCIICase(name, "Transfer-Encoding")
        }
        if !body.isEmpty && !fields.contains(where: { HTTPSyntax.equalsIgnoringASCIICase($0.0, "Content-Type") }) {
            fields.append(("Content-Type", "text/plain; charset=utf-8"))
        }
        let response = ServerHandshake.rejectionBytes(status: status, reason: reason, headers: fields, body: Array(body.utf8))
        try? await transport.write([response], isolation: nil)
        transport.close()
    }

    /// Answers 503 Service Unavailable with `Retry-After: 1` (connections come and go; a client
    /// that honours it retries soon, a browser ignores it) and closes: the server has
    /// ``WebSocketServerConfiguration/maxConnections`` open.
    func refuseAtConnectionLimit() async {
        guard claim() else { return }
        await Self.refuseAtConnectionLimit(transport)
    }

    private static func refuseAtConnectionLimit(_ transport: any Transport) async {
        let response = ServerHandshake.rejectionBytes(
            status: 503, reason: "Service Unavailable",
            headers: [("Retry-After", "1"), ("Content-Type", "text/plain; charset=utf-8")],
            body: Array("The server is at its connection limit.\n".utf8))
        try? await transport.write([response], isolation: nil)
        transport.close()
    }

    // MARK: - Internals

    /// Marks the upgrade answered; `false` if it was already.
    private func claim() -> Bool {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        registry.endHandshake(handshakeID)
        return true
    }

    private func upgrade(
        subprotocol: String?, headers: [(String, String)], delivery: WebSocketConnection.Delivery, binaryStream: Bool = false
    ) async throws -> (WebSocketConnection, String?, PerMessageDeflate.Parameters?) {
        if let subprotocol, !request.protocols.contains(subprotocol) {
            throw WebSocketError(
                .invalidArgument, "subprotocol \"\(subprotocol)\" was not offered by the client (offered: \(request.protocols))")
        }
        for (name, value) in headers where !Handshake.isValidHeaderName(name) || !Handshake.isValidHeaderValue(value) {
            throw WebSocketError(.invalidArgument, "invalid response header \"\(name)\"")
        }
        guard claim() else {
            throw WebSocketError(.invalidState, "this upgrade request was already accepted or rejected")
        }
        guard !registry.isShuttingDown else {
            try? await transport.write(
                [ServerHandshake.rejectionBytes(status: 503, reason: "Service Unavailable")], isolation: nil)
            transport.close()
            throw WebSocketError(.closed, "the listener is shutting down; the client was refused with 503")
        }
        guard registry.reserveConnection() else {
            await Self.refuseAtConnectionLimit(transport)
            throw WebSocketError(
                .closed, "the server has maxConnections (\(registry.maxConnections)) open; the client was refused with 503")
        }
        let selected = subprotocol ?? configuration.subprotocols.first { request.protocols.contains($0) }
        let deflate = configuration.compression.options.flatMap {
            PerMessageDeflate.serverAccept(offers: request.extensions, options: $0)
        }
        var core = ConnectionCore.Configuration()
        core.maxMessageSize = configuration.receiveBufferLimit
        if binaryStream {
            core.maxMessageSize = .max  // a stream has no message size: pieces leave as they arrive
            core.acceptsText = false  // 1003 for a text message (RFC 6455 §7.4.1)
        }
        core.deflate = deflate?.parameters
        if let options = configuration.compression.options { core.deflateOptions = options }
        let events = EventEmitter(configuration.eventHandler)
        let connection = WebSocketConnection(
            transport: transport, role: .server, configuration: core, delivery: delivery,
            closeTimeout: configuration.closeTimeout, outboundBufferSize: configuration.outboundBufferSize,
            messageType: .binary, pingInterval: configuration.pingInterval, pingTimeout: configuration.pingTimeout,
            idleTimeout: configuration.idleTimeout, unsolicitedPongInterval: configuration.unsolicitedPongInterval,
            events: events)
        let response = ServerHandshake.responseBytes(
            for: request, subprotocol: selected, extensions: deflate?.response,
            extraHeaders: headers)
        do {
            try await transport.write([response], isolation: nil)
        } catch {
            registry.releaseReservation()
            transport.close()
            throw WebSocketError(.connectionAborted, "the client left before the handshake response was sent")
        }
        guard registry.add(connection) else {
            await connection.abort()
            throw WebSocketError(.closed, "the listener shut down while the connection was being accepted")
        }
        if let events {
            events.emit(
                .connected(
                    .init(
                        subprotocol: selected, extensions: deflate?.response, remoteAddress: transport.remoteAddress,
                        localAddress: transport.localAddress, isSecure: transport is TLSTransport)))
        }
        await connection.start(bufferedBytes: bufferedBytes)
        return (connection, selected, deflate?.parameters)
    }

    private static func standardReason(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error"
        }
    }
}
