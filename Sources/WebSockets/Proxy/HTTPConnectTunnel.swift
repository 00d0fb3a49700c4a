import WebSocketCore

/// A tunnel through an HTTP proxy: `CONNECT host:port` (RFC 9110 §9.3.6), a 2xx answer, and from
/// then on the connection carries the WebSocket's bytes (TLS end to end for `wss://`).
///
/// Authentication: the first `CONNECT` carries no credential; a 407 is answered once, on a new
/// connection (the proxy may close the first, and reading its 407 body to reuse it buys nothing),
/// with `Proxy-Authorization: Basic` (RFC 7617). A second 407 (or 401, which some proxies send
/// for a wrong credential), or a 407 with no credential to send, is `.proxyAuthenticationRequired`.
enum HTTPConnectTunnel {
    /// Opens the tunnel to `host:port`; `connect` makes a fresh connection to the proxy (TCP, or
    /// TLS over TCP for an `https://` proxy).
    static func open(
        to host: String, port: Int, through proxy: ProxyServer, credential: ProxyCredential?,
        maxResponseSize: Int, connect: () async throws -> any Transport
    ) async throws -> (transport: any Transport, leftover: [UInt8]) {
        if let credential, credential.userName.contains(":") {
            throw WebSocketError(.invalidArgument, "a proxy user name for HTTP Basic may not contain \":\" (RFC 7617 §2)")
        }
        let first = try await connect()
        let answer = try await request(
            over: first, host: host, port: port, credential: nil, proxy: proxy, maxResponseSize: maxResponseSize)
        if answer.head.status != 407 { return try accept(answer, over: first, host: host, port: port, proxy: proxy) }
        first.close()
        guard let credential else {
            throw WebSocketError(
                .proxyAuthenticationRequired,
                "the proxy \(proxy) requires authentication (407) and no proxy credential was given")
        }
        let second = try await connect()
        let retry = try await request(
            over: second, host: host, port: port, credential: credential, proxy: proxy, maxResponseSize: maxResponseSize)
        // 401 too: tinyproxy answers a wrong Proxy-Authorization so, and a CONNECT has no
        // origin server that could have sent it.
        if retry.head.status == 407 || retry.head.status == 401 {
            second.close()
            throw WebSocketError(
                .proxyAuthenticationRequired,
                "the proxy \(proxy) rejected the credential for user \"\(credential.userName)\" (\(retry.head.status))")
        }
        return try accept(retry, over: second, host: host, port: port, proxy: proxy)
    }

    /// A 2xx opens the tunnel; any other status is `.proxyTunnelRefused(status:)`.
    private static func accept(
        _ answer: (head: HTTPResponseHead, leftover: [UInt8]), over transport: any Transport, host: String, port: Int,
        proxy: ProxyServer
    ) throws -> (transport: any Transport, leftover: [UInt8]) {
        guard (200..<300).contains(answer.head.status) else {
            transport.close()
            throw WebSocketError(
                .proxyTunnelRefused(status: answer.head.status),
                "the proxy \(proxy) refused the tunnel to \(authority(host, port)): \(answer.head.status) \(answer.head.reason)")
        }
        return (transport, answer.leftover)
    }

    /// Writes one `CONNECT` and reads the answer's head; the bytes after it are returned too.
    /// On failure the transport is closed.
    private static func request(
        over transport: any Transport, host: String, port: Int, credential: ProxyCredential?, proxy: ProxyServer,
        maxResponseSize: Int
    ) async throws -> (head: HTTPResponseHead, leftover: [UInt8]) {
        do {
            let basic = credential.map { (user: $0.userName, password: $0.password) }
            try await transport.write([HTTPConnectRequest.bytes(host: host, port: port, basicCredential: basic)], isolation: nil)
            var parser = HTTPHeadParser<HTTPResponseHead>(maxHeadSize: maxResponseSize)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = try await transport.read(into: &buffer, isolation: nil)
                guard count > 0 else {
                    throw WebSocketError(.proxyProtocolError, "the proxy \(proxy) closed the connection before answering CONNECT")
                }
                let progress: HTTPHeadParser<HTTPResponseHead>.Progress
                do {
                    progress = try parser.append(buffer[..<count])
                } catch {
                    throw WebSocketError(.proxyProtocolError, "the proxy \(proxy) answered CONNECT with invalid HTTP: \(error)")
                }
                if case .complete(let head, let remaining) = progress { return (head, remaining) }
            }
        } catch {
            transport.close()
            throw error
        }
    }

    static func authority(_ host: String, _ port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }
}
