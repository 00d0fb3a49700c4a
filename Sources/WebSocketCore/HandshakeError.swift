/// Why an opening handshake failed (RFC 6455 §4).
///
/// Client-side cases describe a server response that RFC 6455 §4.1 says must fail the
/// connection; server-side cases describe a request that §4.2.1 says is not a valid upgrade, and
/// ``ServerHandshake/rejectionBytes(for:)`` turns each into the HTTP answer to send. Values the
/// peer sent are included so the message explains what actually arrived.
package enum HandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    // MARK: Client side (validating the server's response, RFC 6455 §4.1)

    /// The server answered with a status other than 101 Switching Protocols; the head is kept so
    /// the caller can report it or follow a redirect.
    case unexpectedStatus(HTTPResponseHead)
    /// The response head exceeded the size limit before it ended.
    case responseTooLarge(limit: Int)
    /// The response was not valid HTTP/1.1, or broke a handshake rule not covered by another case.
    case malformedResponse(String)
    /// `Sec-WebSocket-Accept` was missing (`got` is `nil`) or did not match the key we sent.
    case invalidAccept(expected: String, got: String?)
    /// The server selected a subprotocol that the client did not offer.
    case unrequestedSubprotocol(String)
    /// The server answered with `Sec-WebSocket-Extensions` though the client offered none.
    case unrequestedExtension(String)

    // MARK: Both sides

    /// `Upgrade` was missing (`got` is `nil`) or did not name `websocket`.
    case missingUpgrade(got: String?)
    /// `Connection` was missing (`got` is `nil`) or lacked the `upgrade` option.
    case missingConnectionUpgrade(got: String?)

    // MARK: Server side (validating the client's request, RFC 6455 §4.2.1)

    /// The request head exceeded the size limit before it ended. Answer 431.
    case requestTooLarge(limit: Int)
    /// The request head had more than `limit` header fields. Answer 431.
    case tooManyRequestHeaderFields(limit: Int)
    /// The request was not valid HTTP/1.1, or broke a handshake rule not covered by another case.
    case malformedRequest(String)
    /// The method was not `GET`. Answer 405.
    case invalidMethod(String)
    /// The request was older than HTTP/1.1.
    case unsupportedHTTPVersion(HTTPVersion)
    /// There was no `Host` header, or more than one.
    case missingHost
    /// `Sec-WebSocket-Version` was missing (`nil`) or not `13`. Answer 426 with
    /// `Sec-WebSocket-Version: 13` so the client can retry (RFC 6455 §4.2.2, §4.4).
    case unsupportedWebSocketVersion(String?)
    /// `Sec-WebSocket-Key` was missing (`nil`), repeated, or not the base64 of 16 bytes.
    case invalidKey(String?)

    /// Maps a parse failure of the server's response to the client-side case.
    package init(response error: HTTPParseError) {
        switch error {
        case .tooLarge(let limit): self = .responseTooLarge(limit: limit)
        case .tooManyFields(let limit): self = .malformedResponse("more than \(limit) header fields")
        case .malformed(let detail): self = .malformedResponse(detail)
        }
    }

    /// Maps a parse failure of the client's request to the server-side case.
    package init(request error: HTTPParseError) {
        switch error {
        case .tooLarge(let limit): self = .requestTooLarge(limit: limit)
        case .tooManyFields(let limit): self = .tooManyRequestHeaderFields(limit: limit)
        case .malformed(let detail): self = .malformedRequest(detail)
        }
    }

    package var description: String {
        switch self {
        case .unexpectedStatus(let head):
            let reason = head.reason.isEmpty ? "" : " \(head.reason)"
            return "the server answered \(head.status)\(reason) instead of 101 Switching Protocols"
        case .responseTooLarge(let limit):
            return "the server's handshake response is larger than the limit of \(limit) bytes"
        case .malformedResponse(let detail):
            return "the server's handshake response is invalid: \(detail)"
        case .invalidAccept(let expected, nil):
            return "the server's response has no Sec-WebSocket-Accept header (expected \"\(expected)\")"
        case .invalidAccept(let expected, let got?):
            return "the server's Sec-WebSocket-Accept \"\(got)\" does not match the key sent (expected \"\(expected)\")"
        case .unrequestedSubprotocol(let name):
            return "the server selected subprotocol \"\(name)\", which the client did not offer"
        case .unrequestedExtension(let value):
            return "the server enabled extensions \"\(value)\", but the client offered none"
        case .missingUpgrade(nil):
            return "the handshake has no Upgrade header; expected \"Upgrade: websocket\""
        case .missingUpgrade(let got?):
            return "the handshake has \"Upgrade: \(got)\"; expected \"Upgrade: websocket\""
        case .missingConnectionUpgrade(nil):
            return "the handshake has no Connection header; expected \"Connection: Upgrade\""
        case .missingConnectionUpgrade(let got?):
            return "the handshake has \"Connection: \(got)\", which lacks the \"Upgrade\" option"
        case .requestTooLarge(let limit):
            return "the handshake request is larger than the limit of \(limit) bytes"
        case .tooManyRequestHeaderFields(let limit):
            return "the handshake request has more than \(limit) header fields"
        case .malformedRequest(let detail):
            return "the handshake request is invalid: \(detail)"
        case .invalidMethod(let method):
            return "the handshake request uses method \(method); a WebSocket upgrade must use GET"
        case .unsupportedHTTPVersion(let version):
            return "the handshake request uses \(version); a WebSocket upgrade needs HTTP/1.1 or later"
        case .missingHost:
            return "the handshake request must have exactly one Host header"
        case .unsupportedWebSocketVersion(nil):
            return "the handshake request has no Sec-WebSocket-Version header; expected 13"
        case .unsupportedWebSocketVersion(let version?):
            return "the handshake request asks for WebSocket version \"\(version)\"; only 13 is supported"
        case .invalidKey(nil):
            return "the handshake request has no Sec-WebSocket-Key header"
        case .invalidKey(let key?):
            return "the handshake request's Sec-WebSocket-Key \"\(key)\" is not exactly one base64-encoded 16-byte value"
        }
    }
}
