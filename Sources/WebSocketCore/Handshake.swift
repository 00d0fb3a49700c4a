/// Rules of the opening handshake shared by both roles (RFC 6455 §4): the accept-value
/// computation, which header fields the handshake owns, and what a header or subprotocol may
/// contain.
///
/// The roles themselves are ``ClientHandshake`` (§4.1) and ``ServerHandshake`` (§4.2).
package enum Handshake {
    /// The GUID that RFC 6455 §1.3 appends to the client's key before hashing.
    package static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The only protocol version this library speaks, sent in `Sec-WebSocket-Version` (§4.1 item 9).
    package static let version = "13"

    /// Returns the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 step 5.4):
    /// the base64 of the SHA-1 of the key, as sent, followed by ``acceptGUID``.
    ///
    /// The key is used as the exact header text, not decoded, so both sides agree byte for byte.
    package static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + acceptGUID).utf8)))
    }

    /// Returns whether the handshake itself writes the header field called `name`
    /// (ASCII case-insensitive), so an application must not supply it.
    ///
    /// The WebSocket fields and `Host`, `Upgrade` and `Connection` are computed from the URL,
    /// key, subprotocols and extensions; a second copy would break the exchange (RFC 6455 §11.3
    /// forbids duplicates of several). `Content-Length` and `Transfer-Encoding` would announce a
    /// body, making the peer read the first WebSocket frames as HTTP content.
    package static func isHandshakeOwnedHeader(_ name: String) -> Bool {
        ownedHeaders.contains { HTTPSyntax.equalsIgnoringASCIICase($0, name) }
    }

    private static let ownedHeaders = [
        "Host", "Upgrade", "Connection",
        "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Accept",
        "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions",
        "Content-Length", "Transfer-Encoding",
    ]

    /// Returns whether `name` can be sent as a header field name: a non-empty token
    /// (RFC 9110 §5.1, §5.6.2).
    package static func isValidHeaderName(_ name: String) -> Bool {
        HTTPSyntax.isToken(name)
    }

    /// Returns whether `value` can be sent as a header field value without ending the line:
    /// it contains no CR, LF or NUL (RFC 9110 §5.5).
    ///
    /// This is what stops header injection: a value with CRLF could add fields or end the head.
    package static func isValidHeaderValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Returns whether `name` can be offered as a subprotocol: RFC 6455 §4.1 item 10 requires
    /// non-empty strings of U+0021–U+007E without HTTP separators, which is exactly a token.
    package static func isValidSubprotocol(_ name: String) -> Bool {
        HTTPSyntax.isToken(name)
    }

    /// Returns why an application-supplied header field can't be sent, or `nil` if it can.
    ///
    /// The public API calls this for every custom header before it reaches ``ClientHandshake``
    /// or ``ServerHandshake``, whose initializers treat a bad header as a programmer error.
    package static func problem(withHeaderName name: String, value: String) -> String? {
        if !isValidHeaderName(name) {
            return "\"\(name)\" is not a valid HTTP header name (RFC 9110 §5.1)"
        }
        if isHandshakeOwnedHeader(name) {
            return "the \(name) header is set by the WebSocket handshake and can't be overridden"
        }
        if !isValidHeaderValue(value) {
            return "the value of the \(name) header contains CR, LF or NUL"
        }
        return nil
    }

    /// Appends `name: value` and CRLF to `bytes`.
    static func appendField(_ name: String, _ value: String, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: ": ".utf8)
        bytes.append(contentsOf: value.utf8)
        bytes.append(contentsOf: "\r\n".utf8)
    }
}
