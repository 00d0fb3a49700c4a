/// The client's side of the opening handshake (RFC 6455 §4.1): the upgrade request to send, and
/// the checks the server's response must pass before any frame is exchanged.
///
/// The value is immutable and does no I/O. The connection sends ``requestBytes()``, parses the
/// reply with an `HTTPHeadParser` of `HTTPResponseHead`, calls `validate(_:)`, then feeds the
/// parser's `remainingBytes` to the frame decoder.
///
/// ```swift
/// var rng = SystemRandomNumberGenerator()
/// let handshake = ClientHandshake(
///     url: try WebSocketURL(parsing: "wss://example.com/chat"),
///     protocols: ["chat.v2"],
///     key: ClientHandshake.makeKey(using: &rng)
/// )
/// try await transport.send(handshake.requestBytes())
/// // ... parse the response head, then:
/// let result = try handshake.validate(head)   // result.subprotocol == "chat.v2" or nil
/// ```
public struct ClientHandshake: Sendable {
    /// Where to connect; supplies the request target and the `Host` header.
    public let url: WebSocketURL
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, most preferred first (§4.1 item 10).
    public let protocols: [String]
    /// Additional request header fields, sent in order after the handshake's own.
    public let extraHeaders: [(String, String)]
    /// The `Sec-WebSocket-Extensions` value to offer (§9.1), or `nil` to offer none.
    public let extensionOffer: String?
    /// The 16 random bytes of this handshake's nonce (§4.1 item 7).
    public let key: [UInt8]
    /// `key` in base64, exactly as sent in `Sec-WebSocket-Key`.
    public let encodedKey: String
    /// The `Sec-WebSocket-Accept` value the server must answer with (§4.2.2 step 5.4).
    public let expectedAccept: String

    /// Creates a handshake for `url`.
    ///
    /// Randomness is an input, so the core never reads a random source: pass a fresh
    /// ``makeKey(using:)`` result for every connection (RFC 6455 §4.1 item 7 asks for a
    /// "randomly selected" nonce per connection).
    ///
    /// - Precondition: `key` has exactly 16 bytes; every protocol passes
    ///   ``Handshake/isValidSubprotocol(_:)`` and appears once; every extra header passes
    ///   ``Handshake/problem(withHeaderName:value:)``; `extensionOffer` passes
    ///   ``Handshake/isValidHeaderValue(_:)``. The public API validates user input with those
    ///   functions first, so a violation here is a bug in the caller, not bad input.
    package init(
        url: WebSocketURL,
        protocols: [String] = [],
        extraHeaders: [(String, String)] = [],
        extensionOffer: String? = nil,
        key: [UInt8]
    ) {
        precondition(key.count == 16, "Sec-WebSocket-Key must be 16 bytes (RFC 6455 §4.1), got \(key.count)")
        for (index, name) in protocols.enumerated() {
            precondition(Handshake.isValidSubprotocol(name), "invalid subprotocol name \"\(name)\"")
            precondition(!protocols[..<index].contains(name), "subprotocol \"\(name)\" offered twice")
        }
        for (name, value) in extraHeaders {
            if let problem = Handshake.problem(withHeaderName: name, value: value) {
                preconditionFailure(problem)
            }
        }
        if let extensionOffer {
            precondition(Handshake.isValidHeaderValue(extensionOffer), "invalid Sec-WebSocket-Extensions value")
        }
        self.url = url
        self.protocols = protocols
        self.extraHeaders = extraHeaders
        self.extensionOffer = extensionOffer
        self.key = key
        self.encodedKey = Base64.encode(key)
        self.expectedAccept = Handshake.acceptValue(forKey: encodedKey)
    }

    /// Returns 16 bytes from `rng` for use as a handshake key.
    ///
    /// Use a cryptographically secure generator such as `SystemRandomNumberGenerator` in
    /// production: RFC 6455 §10.3 relies on the nonce being unpredictable.
    public static func makeKey(using rng: inout some RandomNumberGenerator) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(16)
        for _ in 0..<2 {
            let word = rng.next()
            for shift in stride(from: 0, to: 64, by: 8) {
                key.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return key
    }

    /// Returns the complete upgrade request head, ready to write to the connection (§4.1).
    ///
    /// Fields are written in a fixed order: `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, then `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` if
    /// any, then ``extraHeaders``.
    public func requestBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes.append(contentsOf: "GET \(url.resource) HTTP/1.1\r\n".utf8)
        Handshake.appendField("Host", url.hostHeader, to: &bytes)
        Handshake.appendField("Upgrade", "websocket", to: &bytes)
        Handshake.appendField("Connection", "Upgrade", to: &bytes)
        Handshake.appendField("Sec-WebSocket-Key", encodedKey, to: &bytes)
        Handshake.appendField("Sec-WebSocket-Version", Handshake.version, to: &bytes)
        if !protocols.isEmpty {
            Handshake.appendField("Sec-WebSocket-Protocol", protocols.joined(separator: ", "), to: &bytes)
        }
        if let extensionOffer {
            Handshake.appendField("Sec-WebSocket-Extensions", extensionOffer, to: &bytes)
        }
        for (name, value) in extraHeaders {
            Handshake.appendField(name, value, to: &bytes)
        }
        bytes.append(contentsOf: "\r\n".utf8)
        return bytes
    }

    /// Checks the server's response head against RFC 6455 §4.1 and returns what it negotiated.
    ///
    /// On success the connection is open: start reading frames, beginning with the bytes that
    /// followed the head. On failure the client MUST fail the WebSocket connection (§4.1), which
    /// for a handshake means closing the TCP connection without sending a close frame.
    ///
    /// - Throws: ``HandshakeError/unexpectedStatus(_:)`` for any status but 101 (the caller may
    ///   handle redirects or authentication, §4.1 "the client handles the response per HTTP
    ///   procedures"), otherwise the first rule the response breaks.
    package func validate(_ response: HTTPResponseHead) throws(HandshakeError) -> HandshakeResult {
        // §4.1: "If the status code received from the server is not 101, the client handles the
        // response per HTTP procedures."
        guard response.status == 101 else { throw .unexpectedStatus(response) }
        guard response.version >= .http11 else {
            throw .malformedResponse("101 Switching Protocols sent as \(response.version)")
        }
        let headers = response.headers

        // §4.1 item 2: Upgrade must be an ASCII case-insensitive match for "websocket".
        let upgrade = headers.values("Upgrade")
        guard upgrade.count == 1, HTTPSyntax.equalsIgnoringASCIICase(upgrade[0], "websocket") else {
            throw .missingUpgrade(got: headers.contains("Upgrade") ? headers.all("Upgrade").joined(separator: ", ") : nil)
        }

        // §4.1 item 3: Connection must contain the token "Upgrade", case-insensitively.
        guard headers.containsToken("Connection", token: "upgrade") else {
            throw .missingConnectionUpgrade(
                got: headers.contains("Connection") ? headers.all("Connection").joined(separator: ", ") : nil)
        }

        // §4.1 item 4 and §11.3.3: exactly one Sec-WebSocket-Accept, equal to the expected value.
        let accepts = headers.all("Sec-WebSocket-Accept")
        guard accepts.count <= 1 else {
            throw .malformedResponse("more than one Sec-WebSocket-Accept header")
        }
        guard accepts.first == expectedAccept else {
            throw .invalidAccept(expected: expectedAccept, got: accepts.first)
        }

        // §4.1 item 5: extensions "not present in the client's handshake" fail the connection.
        // Which offered extensions were accepted, and with what parameters, is for the extension
        // negotiation to check against `extensionOffer`; here only "none offered" is decidable.
        let extensionFields = headers.all("Sec-WebSocket-Extensions")
        let extensions = extensionFields.isEmpty ? nil : extensionFields.joined(separator: ", ")
        if let extensions, extensionOffer == nil {
            throw .unrequestedExtension(extensions)
        }

        // §4.1 item 6 and §11.3.4: at most one subprotocol, and it must be one we offered.
        let selected = headers.values("Sec-WebSocket-Protocol")
        guard selected.count <= 1 else {
            throw .malformedResponse("the server selected several subprotocols: \(selected.joined(separator: ", "))")
        }
        if let subprotocol = selected.first, !protocols.contains(subprotocol) {
            throw .unrequestedSubprotocol(subprotocol)
        }

        return HandshakeResult(subprotocol: selected.first, extensions: extensions, headers: headers)
    }
}

/// What a successful opening handshake negotiated.
package struct HandshakeResult: Sendable, Hashable {
    /// The subprotocol the server selected from the client's offer, or `nil` if none.
    package var subprotocol: String?
    /// The raw `Sec-WebSocket-Extensions` value of the response (several fields joined with
    /// `", "`), or `nil`. Interpreting it belongs to the extension negotiation.
    package var extensions: String?
    /// All response header fields, for applications that read cookies or custom headers.
    package var headers: HTTPHeaders

    package init(subprotocol: String?, extensions: String?, headers: HTTPHeaders) {
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.headers = headers
    }
}
