/// The request that asks an HTTP proxy for a tunnel (RFC 9110 §9.3.6), as bytes: the tunnel in
/// `WebSockets` writes it and reads the answer with ``HTTPHeadParser``.
package enum HTTPConnectRequest {
    /// `CONNECT host:port HTTP/1.1` with the matching `Host`, plus `Proxy-Authorization: Basic …`
    /// (RFC 7617) when a credential is given. IPv6 hosts are bracketed (RFC 9110 §7.2).
    package static func bytes(host: String, port: Int, basicCredential: (user: String, password: String)?) -> [UInt8] {
        let authority = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        var text = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let credential = basicCredential {
            text += "Proxy-Authorization: \(basicAuthorization(user: credential.user, password: credential.password))\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// `Basic base64(user:password)` (RFC 7617 §2, UTF-8).
    package static func basicAuthorization(user: String, password: String) -> String {
        "Basic " + Base64.encode(Array("\(user):\(password)".utf8))
    }
}
