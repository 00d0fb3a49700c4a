import WebSocketCore

/// A user name and password for HTTP authentication to the WebSocket server (WinRT
/// `ServerCredential`, a `PasswordCredential`), set as ``MessageWebSocketControl/serverCredential``
/// or given as `user:password@` in the URL.
///
/// Sent only when asked: a `401` whose `WWW-Authenticate` offers `Basic` is answered once, on a
/// new connection, with `Authorization: Basic base64(user:password)` (RFC 7617). A second `401`
/// fails `connect` with `.handshakeFailed(httpStatus: 401)` and the response. The credential
/// belongs to the host (and port) of the URL it was given for: after a redirect to another host it
/// is never sent, so a redirect cannot make the client hand it to a third party (over `ws://`
/// or `wss://`).
public struct ServerCredential: Sendable, Hashable {
    /// The user name (RFC 7617: it must not contain `:`).
    public var user: String
    /// The password (any characters; sent as UTF-8).
    public var password: String

    /// A credential; checked when `connect` starts (`.invalidArgument` for a `:` in `user`).
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// The `Authorization` header value: `Basic` and the base64 of `user:password` in UTF-8
    /// (RFC 7617 §2, with `charset="UTF-8"` as §2.1 lets servers ask for).
    public var basicAuthorization: String {
        "Basic " + Base64.encode(Array("\(user):\(password)".utf8))
    }

    /// Whether any `WWW-Authenticate` value offers the `Basic` scheme (RFC 9110 §11.6.1; a value
    /// may list several challenges, `Bearer realm="a", Basic realm="b"`).
    static func offersBasic(_ challenges: [String]) -> Bool {
        challenges.contains { value in
            value.split(separator: ",").contains { piece in
                let token = piece.drop { $0 == " " || $0 == "\t" }.prefix { $0 != " " && $0 != "\t" && $0 != "=" }
                return token.lowercased() == "basic"
            }
        }
    }

    /// Throws `.invalidArgument` for a user name RFC 7617 cannot carry.
    func validate() throws(WebSocketError) {
        if user.contains(":") {
            throw WebSocketError(.invalidArgument, "serverCredential: the user name must not contain ':' (RFC 7617 §2)")
        }
        if (user + password).unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw WebSocketError(.invalidArgument, "serverCredential: control characters cannot be sent (RFC 7617 §2)")
        }
    }
}
