/// The server's side of the opening handshake (RFC 6455 §4.2): checking the client's upgrade
/// request and writing the 101 response or an HTTP error.
///
/// A namespace of pure functions: the server parses the request with an ``HTTPHeadParser`` of
/// ``HTTPRequestHead``, calls ``validate(request:)``, lets the application choose a subprotocol
/// from ``UpgradeRequest/protocols``, then sends ``responseBytes(for:subprotocol:extensions:extraHeaders:)``,
/// or ``rejectionBytes(for:)`` if validation threw.
package enum ServerHandshake {
    /// Checks `request` against RFC 6455 §4.2.1 and returns what the client asked for.
    ///
    /// - Throws: the first rule the request breaks, checked in this order: method, HTTP version,
    ///   request target, `Host`, absence of a body, `Upgrade`, `Connection`,
    ///   `Sec-WebSocket-Version`, `Sec-WebSocket-Key`, `Sec-WebSocket-Protocol`. Pass the error to
    ///   ``rejectionBytes(for:)`` for the matching HTTP answer.
    package static func validate(request: HTTPRequestHead) throws(HandshakeError) -> UpgradeRequest {
        let headers = request.headers
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        guard request.method == "GET" else { throw .invalidMethod(request.method) }
        guard request.version >= .http11 else { throw .unsupportedHTTPVersion(request.version) }
        let (path, query) = try parseTarget(request.target)

        // §4.2.1 item 2; RFC 9112 §3.2: a request with no Host or several gets a 400.
        let hosts = headers.all("Host")
        guard hosts.count == 1, let host = hosts.first, !host.isEmpty else { throw .missingHost }

        // Anything after the head is WebSocket data; a declared body would be read as frames
        // by us and as HTTP content by an intermediary, a classic smuggling ambiguity.
        if headers.contains("Transfer-Encoding") || headers.all("Content-Length").contains(where: { $0 != "0" }) {
            throw .malformedRequest("an upgrade request must not have a body")
        }

        // §4.2.1 items 3 and 4.
        guard headers.containsToken("Upgrade", token: "websocket") else {
            throw .missingUpgrade(got: headers.contains("Upgrade") ? headers.all("Upgrade").joined(separator: ", ") : nil)
        }
        guard headers.containsToken("Connection", token: "upgrade") else {
            throw .missingConnectionUpgrade(
                got: headers.contains("Connection") ? headers.all("Connection").joined(separator: ", ") : nil)
        }

        // §4.2.1 item 6, checked before the key so a client speaking another version learns
        // which one we support (§4.2.2: answer 426 with Sec-WebSocket-Version).
        let versions = headers.values("Sec-WebSocket-Version")
        guard versions == [Handshake.version] else {
            throw .unsupportedWebSocketVersion(
                headers.contains("Sec-WebSocket-Version") ? headers.all("Sec-WebSocket-Version").joined(separator: ", ") : nil)
        }

        // §4.2.1 item 5 and §11.3.1: one key, the base64 of 16 bytes.
        let keys = headers.all("Sec-WebSocket-Key")
        guard keys.count == 1, let key = keys.first, Base64.decode(key)?.count == 16 else {
            throw .invalidKey(keys.isEmpty ? nil : keys.joined(separator: ", "))
        }

        // §4.1 item 10: offered subprotocols are tokens; refuse a list the app could misread.
        let protocols = headers.values("Sec-WebSocket-Protocol")
        if let bad = protocols.first(where: { !Handshake.isValidSubprotocol($0) }) {
            throw .malformedRequest("invalid subprotocol \"\(bad)\" in Sec-WebSocket-Protocol")
        }
        let extensionFields = headers.all("Sec-WebSocket-Extensions")

        return UpgradeRequest(
            path: path,
            query: query,
            host: host,
            key: key,
            protocols: protocols,
            extensions: extensionFields.isEmpty ? nil : extensionFields.joined(separator: ", "),
            headers: headers
        )
    }

    /// Returns the 101 Switching Protocols response that completes the handshake (§4.2.2 step 5).
    ///
    /// After writing it, the connection is open: read frames, starting with any bytes that
    /// followed the request head.
    ///
    /// - Parameters:
    ///   - subprotocol: one of `request.protocols`, or `nil` to select none.
    ///   - extensions: the negotiated `Sec-WebSocket-Extensions` value, or `nil`.
    ///   - extraHeaders: more fields (for example `Set-Cookie`), written last, in order.
    /// - Precondition: `subprotocol` was offered by the client, since a client MUST fail the
    ///   connection otherwise (§4.1); headers pass ``Handshake/problem(withHeaderName:value:)`` and
    ///   `extensions` passes ``Handshake/isValidHeaderValue(_:)``.
    package static func responseBytes(
        for request: UpgradeRequest,
        subprotocol: String? = nil,
        extensions: String? = nil,
        extraHeaders: [(String, String)] = []
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160)
        bytes.append(contentsOf: "HTTP/1.1 101 Switching Protocols\r\n".utf8)
        Handshake.appendField("Upgrade", "websocket", to: &bytes)
        Handshake.appendField("Connection", "Upgrade", to: &bytes)
        Handshake.appendField("Sec-WebSocket-Accept", Handshake.acceptValue(forKey: request.key), to: &bytes)
        if let subprotocol {
            precondition(request.protocols.contains(subprotocol), "subprotocol \"\(subprotocol)\" was not offered by the client")
            Handshake.appendField("Sec-WebSocket-Protocol", subprotocol, to: &bytes)
        }
        if let extensions {
            precondition(Handshake.isValidHeaderValue(extensions), "invalid Sec-WebSocket-Extensions value")
            Handshake.appendField("Sec-WebSocket-Extensions", extensions, to: &bytes)
        }
        appendExtraHeaders(extraHeaders, to: &bytes)
        bytes.append(contentsOf: "\r\n".utf8)
        return bytes
    }

    /// Returns a complete HTTP response that refuses the upgrade, after which the server closes
    /// the connection.
    ///
    /// The response carries `Content-Length` and `Connection: close` (unless `headers` has its own
    /// `Connection`), so the client knows the body's end and that nothing follows.
    ///
    /// - Precondition: `status` is 200–599 other than 101; `reason` has no CR, LF or NUL; every
    ///   header name is a token and no value contains CR, LF or NUL; `headers` has no
    ///   `Content-Length` or `Transfer-Encoding`.
    package static func rejectionBytes(
        status: Int,
        reason: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) -> [UInt8] {
        precondition((200...599).contains(status), "a rejection needs a final status, got \(status)")
        precondition(Handshake.isValidHeaderValue(reason), "invalid reason phrase")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128 + body.count)
        bytes.append(contentsOf: "HTTP/1.1 \(status) \(reason)\r\n".utf8)
        var hasConnection = false
        for (name, value) in headers {
            precondition(Handshake.isValidHeaderName(name) && Handshake.isValidHeaderValue(value), "invalid header \(name)")
            precondition(
                !HTTPSyntax.equalsIgnoringASCIICase(name, "Content-Length")
                    && !HTTPSyntax.equalsIgnoringASCIICase(name, "Transfer-Encoding"), "Content-Length is computed from the body")
            hasConnection = hasConnection || HTTPSyntax.equalsIgnoringASCIICase(name, "Connection")
            Handshake.appendField(name, value, to: &bytes)
        }
        if !hasConnection { Handshake.appendField("Connection", "close", to: &bytes) }
        Handshake.appendField("Content-Length", String(body.count), to: &bytes)
        bytes.append(contentsOf: "\r\n".utf8)
        bytes.append(contentsOf: body)
        return bytes
    }

    /// Returns the HTTP response that answers a request ``validate(request:)`` refused.
    ///
    /// The status follows the error: 426 Upgrade Required with `Sec-WebSocket-Version: 13` for an
    /// unsupported WebSocket version (§4.2.2), 405 with `Allow: GET` for another method
    /// (RFC 9110 §15.5.6), 431 for an oversized head or too many header fields (RFC 6585 §5),
    /// 400 otherwise. The plain-text
    /// body names the problem without echoing what the client sent.
    package static func rejectionBytes(for error: HandshakeError) -> [UInt8] {
        let status: Int
        let reason: String
        let problem: String
        var headers: [(String, String)] = []
        switch error {
        case .unsupportedWebSocketVersion:
            (status, reason, problem) = (426, "Upgrade Required", "only WebSocket version 13 is supported")
            // RFC 9110 §15.5.22: a 426 MUST carry Upgrade, and Upgrade needs Connection: upgrade.
            headers = [("Upgrade", "websocket"), ("Connection", "Upgrade, close"), ("Sec-WebSocket-Version", Handshake.version)]
        case .invalidMethod:
            (status, reason, problem) = (405, "Method Not Allowed", "a WebSocket upgrade must use GET")
            headers = [("Allow", "GET")]
        case .requestTooLarge:
            (status, reason, problem) = (431, "Request Header Fields Too Large", "the request head is too large")
        case .tooManyRequestHeaderFields:
            (status, reason, problem) = (431, "Request Header Fields Too Large", "the request has too many header fields")
        case .unsupportedHTTPVersion:
            (status, reason, problem) = (400, "Bad Request", "a WebSocket upgrade needs HTTP/1.1")
        case .missingHost:
            (status, reason, problem) = (400, "Bad Request", "exactly one Host header is required")
        case .missingUpgrade, .missingConnectionUpgrade:
            (status, reason, problem) = (400, "Bad Request", "this endpoint only accepts WebSocket upgrades")
        case .invalidKey:
            (status, reason, problem) = (400, "Bad Request", "invalid Sec-WebSocket-Key")
        case .malformedRequest, .unexpectedStatus, .responseTooLarge, .malformedResponse,
            .invalidAccept, .unrequestedSubprotocol, .unrequestedExtension:
            (status, reason, problem) = (400, "Bad Request", "invalid WebSocket handshake request")
        }
        let body = Array("Failed to open a WebSocket connection: \(problem).\n".utf8)
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return rejectionBytes(status: status, reason: reason, headers: headers, body: body)
    }

    /// Splits a request target into path and query (RFC 9112 §3.2).
    ///
    /// Accepts origin-form (`/chat?x=1`) and, as RFC 6455 §4.2.1 item 1 allows, absolute-form
    /// (`ws://host/chat?x=1`, also with `wss`, `http` or `https`).
    private static func parseTarget(_ target: String) throws(HandshakeError) -> (path: String, query: String?) {
        // Anywhere in the target, the authority of the absolute form included (RFC 6455 §3).
        if target.contains("#") {
            throw .malformedRequest("the request target must not contain a fragment")
        }
        var rest = Substring(target)
        if !rest.hasPrefix("/") {
            let lowered = String(decoding: rest.utf8.map(HTTPSyntax.asciiLowercased), as: UTF8.self)
            guard let scheme = ["ws://", "wss://", "http://", "https://"].first(where: { lowered.hasPrefix($0) }) else {
                throw .malformedRequest("the request target must be a path such as /chat")
            }
            rest = rest.dropFirst(scheme.count)
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            guard authorityEnd != rest.startIndex else {
                throw .malformedRequest("the request target has no host")
            }
            rest = rest[authorityEnd...]
        }
        guard let mark = rest.firstIndex(of: "?") else {
            return (rest.isEmpty ? "/" : String(rest), nil)
        }
        let path = rest[..<mark]
        return (path.isEmpty ? "/" : String(path), String(rest[rest.index(after: mark)...]))
    }

    private static func appendExtraHeaders(_ headers: [(String, String)], to bytes: inout [UInt8]) {
        for (name, value) in headers {
            if let problem = Handshake.problem(withHeaderName: name, value: value) {
                preconditionFailure(problem)
            }
            Handshake.appendField(name, value, to: &bytes)
        }
    }
}

/// A client's valid request to open a WebSocket, as seen by the server (RFC 6455 §4.2.1).
///
/// Obtained from `ServerHandshake/validate(request:)`; the server application inspects it to
/// decide whether to accept the connection and which subprotocol to select.
public struct UpgradeRequest: Sendable, Hashable {
    /// The request path, still percent-encoded as received, for example `/chat`. Never empty.
    public let path: String
    /// The query after `?`, still percent-encoded, or `nil` if the target had no `?`.
    public let query: String?
    /// The `Host` header value, for example `example.com:8080`.
    public let host: String
    /// The `Sec-WebSocket-Key` value exactly as received; the accept value is computed from it.
    public let key: String
    /// The subprotocols the client offered, in its order of preference (§4.2.1 item 8).
    public let protocols: [String]
    /// The raw `Sec-WebSocket-Extensions` offer (several fields joined with `", "`), or `nil`.
    public let extensions: String?
    /// Every header field of the request, for cookies, `Origin`, authorization and the like.
    package let headers: HTTPHeaders

    /// Every header field of the request in the order received, names as the client spelled them.
    public var headerFields: [(name: String, value: String)] {
        headers.fields.map { ($0.name, $0.value) }
    }

    /// The value of header `name` (case-insensitive); several fields with that name are joined
    /// with `", "` (RFC 9110 §5.3). `nil` when absent. For example `request.header("Origin")`.
    public func header(_ name: String) -> String? {
        let values = headers.all(name)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Creates a request description directly, for tests and scripted peers; servers get theirs
    /// from `ServerHandshake/validate(request:)`, which guarantees the fields are consistent.
    package init(
        path: String,
        query: String?,
        host: String,
        key: String,
        protocols: [String],
        extensions: String?,
        headers: HTTPHeaders
    ) {
        self.path = path
        self.query = query
        self.host = host
        self.key = key
        self.protocols = protocols
        self.extensions = extensions
        self.headers = headers
    }
}
