import WebSocketCore

/// A tunnel through a SOCKS5 proxy (RFC 1928): greeting, optional username/password (RFC 1929),
/// CONNECT, reply. Every read takes exactly the bytes the protocol says come next, so nothing the
/// server sends after the reply can be read by mistake and the bare transport is handed on.
///
/// `socks5h` sends the host name for the proxy to resolve (ATYP 3); `socks5` resolves it here and
/// sends the first address (ATYP 1 or 4). An IP literal is sent as an address either way.
enum SOCKS5Tunnel {
    /// Negotiates the tunnel to `host:port` over `transport` (connected to the proxy). On failure
    /// the transport is closed.
    static func open(
        to host: String, port: Int, through proxy: ProxyServer, credential: ProxyCredential?, over transport: any Transport
    ) async throws {
        do {
            try await negotiate(to: host, port: port, through: proxy, credential: credential, over: transport)
        } catch let failure as SOCKS5Messages.Failure {
            transport.close()
            throw WebSocketError(.proxyProtocolError, "SOCKS5 proxy \(proxy): \(failure.description)")
        } catch {
            transport.close()
            throw error
        }
    }

    private static func negotiate(
        to host: String, port: Int, through proxy: ProxyServer, credential: ProxyCredential?, over transport: any Transport
    ) async throws {
        let target = try await target(host: host, port: port, resolvedByProxy: proxy.scheme == .socks5h)
        try await transport.write([SOCKS5Messages.greeting(offeringPassword: credential != nil)], isolation: nil)
        let method = try SOCKS5Messages.chosenMethod(try await read(2, from: transport, proxy: proxy))
        switch method {
        case SOCKS5Messages.methodNoAuthentication:
            break
        case SOCKS5Messages.methodUsernamePassword where credential != nil:
            let request = try SOCKS5Messages.passwordRequest(user: credential!.userName, password: credential!.password)
            try await transport.write([request], isolation: nil)
            guard try SOCKS5Messages.passwordAccepted(try await read(2, from: transport, proxy: proxy)) else {
                throw WebSocketError(
                    .proxyAuthenticationRequired,
                    "the SOCKS5 proxy \(proxy) rejected the user name and password for \"\(credential!.userName)\"")
            }
        case SOCKS5Messages.methodNoneAcceptable:
            let what =
                credential == nil
                ? "it requires authentication and no proxy credential was given"
                : "neither no authentication nor username/password is acceptable to it"
            throw WebSocketError(.proxyAuthenticationRequired, "the SOCKS5 proxy \(proxy) refused: \(what)")
        default:
            throw SOCKS5Messages.Failure("the proxy chose authentication method \(method), which was not offered")
        }
        try await transport.write([SOCKS5Messages.connectRequest(to: target, port: port)], isolation: nil)
        let head = try SOCKS5Messages.replyHead(try await read(4, from: transport, proxy: proxy))
        guard head.code == 0 else {
            throw WebSocketError(
                .socksTunnelRefused(reply: Int(head.code)),
                "the SOCKS5 proxy \(proxy) could not connect to \(HTTPConnectTunnel.authority(host, port)): "
                    + "\(SOCKS5Messages.describe(reply: head.code)) (reply \(head.code))")
        }
        // The bound address and port: read and dropped, so the next byte is the server's.
        if let length = try SOCKS5Messages.boundAddressLength(addressType: head.addressType) {
            _ = try await read(length, from: transport, proxy: proxy)
        } else {
            let length = try await read(1, from: transport, proxy: proxy)[0]
            _ = try await read(Int(length) + 2, from: transport, proxy: proxy)
        }
    }

    /// The address to send: an IP literal as itself; a name as a domain (`socks5h`) or as its
    /// first resolved address (`socks5`, `.hostNameNotResolved` when it does not resolve).
    private static func target(host: String, port: Int, resolvedByProxy: Bool) async throws -> SOCKS5Messages.Target {
        if let address = IPAddress(host) { return address.bytes.count == 4 ? .ipv4(address.bytes) : .ipv6(address.bytes) }
        if resolvedByProxy { return .domain(host) }
        let resolved = try await NameResolution.resolve(host: host, port: port)
        guard let first = resolved.first, let address = IPAddress(first.host) else {
            throw WebSocketError(.hostNameNotResolved, "\(host) did not resolve to any address")
        }
        return address.bytes.count == 4 ? .ipv4(address.bytes) : .ipv6(address.bytes)
    }

    /// Exactly `count` bytes; `.proxyProtocolError` when the proxy ends the stream first.
    private static func read(_ count: Int, from transport: any Transport, proxy: ProxyServer) async throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while result.count < count {
            buffer.removeLast(buffer.count - (count - result.count))
            let read = try await transport.read(into: &buffer, isolation: nil)
            guard read > 0 else {
                throw WebSocketError(.proxyProtocolError, "the SOCKS5 proxy \(proxy) closed the connection mid-negotiation")
            }
            result += buffer[..<read]
        }
        return result
    }
}
