/// Which proxy a client's connections go through (``MessageWebSocketControl/proxy``).
///
/// The default is ``system``, as in Python `websockets` and curl: a program behind a corporate
/// proxy works without code changes, and ``none`` is one setting away for one that must not use it.
public enum ProxySetting: Sendable, Hashable {
    /// The proxy named by the environment (see ``ProxyEnvironment``): `https_proxy` for `wss://`,
    /// `http_proxy` for `ws://`, else `all_proxy` (each also upper case), unless `no_proxy` lists
    /// the host. No variable set: a direct connection.
    case system
    /// Always connect directly, whatever the environment says.
    case none
    /// Always go through this proxy (the environment, `no_proxy` included, is not read).
    case explicit(ProxyServer)
    /// The proxy these variables name, by the same rules as ``system``: for a program that keeps
    /// its own settings, and for tests (the process environment is shared by everything in it).
    case environment(ProxyEnvironment)
}

/// A user name and password for a proxy (WinRT `ProxyCredential`): `Proxy-Authorization: Basic`
/// for an HTTP proxy (RFC 7617), username/password authentication for SOCKS5 (RFC 1929).
///
/// The password never appears in a description, an event or an error message.
public struct ProxyCredential: Sendable, Hashable, CustomStringConvertible {
    /// The user name. For HTTP Basic it may not contain `:` (RFC 7617 §2); for SOCKS5, 1 to 255 bytes.
    public var userName: String
    /// The password. For SOCKS5, 1 to 255 bytes.
    public var password: String

    /// A credential; checked when used (HTTP Basic: no `:` in the user name; SOCKS5: lengths).
    public init(userName: String, password: String) {
        self.userName = userName
        self.password = password
    }

    /// The user name only, so that logging a credential does not leak the password.
    public var description: String { "ProxyCredential(userName: \(userName))" }
}

/// One proxy server: its protocol, address and (optionally) credential, as curl's `--proxy` takes it.
public struct ProxyServer: Sendable, Hashable, CustomStringConvertible {
    /// How the client talks to the proxy.
    ///
    /// The raw values are the URL schemes (`http`, `https`, `socks5`, `socks5h`).
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        /// HTTP `CONNECT` (RFC 9110 §9.3.6) over plain TCP. Default port 80 (curl uses 1080 when
        /// no scheme is given at all; see ``ProxyServer/init(parsing:)``).
        case http
        /// HTTP `CONNECT` over TLS to the proxy; a `wss://` connection then runs a second TLS,
        /// end to end, inside. Default port 443.
        case https
        /// SOCKS5 (RFC 1928), the host name resolved here and sent as an address. Default port 1080.
        case socks5
        /// SOCKS5 with the host name sent to the proxy, which resolves it. Default port 1080.
        case socks5h

        /// The port used when the proxy URL names none.
        public var defaultPort: Int {
            switch self {
            case .http: return 80
            case .https: return 443
            case .socks5, .socks5h: return 1080
            }
        }
    }

    /// The protocol spoken to the proxy.
    public var scheme: Scheme
    /// The proxy's host name or IP literal (IPv6 without brackets).
    public var host: String
    /// The proxy's TCP port.
    public var port: Int
    /// The credential for the proxy; when `nil`, ``MessageWebSocketControl/proxyCredential`` is used.
    public var credential: ProxyCredential?

    /// A proxy from its parts; the host is a name or an IP literal (IPv6 without brackets). The
    /// host and port are checked when connecting (`.invalidArgument`).
    public init(scheme: Scheme, host: String, port: Int, credential: ProxyCredential? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.credential = credential
    }

    /// Parses a proxy URL as curl and the `*_proxy` variables spell it:
    /// `[scheme://][user[:password]@]host[:port][/]`. The scheme is `http` (default, also when
    /// missing), `https`, `socks5` or `socks5h`; user and password are percent-decoded; IPv6 hosts
    /// are bracketed.
    /// - Throws: `.invalidArgument` naming what is wrong (unknown scheme, no host, bad port, a path).
    public init(parsing url: String) throws(WebSocketError) {
        func invalid(_ why: String) -> WebSocketError {
            WebSocketError(.invalidArgument, "invalid proxy URL \"\(ProxyServer.redacted(url))\": \(why)")
        }
        var rest = Substring(url.trimmingASCIIWhitespace())
        var scheme = Scheme.http
        if let separator = rest.firstRange(of: "://") {
            let name = rest[..<separator.lowerBound].lowercased()
            guard let known = Scheme(rawValue: name) else {
                throw invalid("unsupported scheme \"\(name)\" (use http, https, socks5 or socks5h)")
            }
            scheme = known
            rest = rest[separator.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("#") else {
            throw invalid("a proxy URL has no path")
        }
        var credential: ProxyCredential?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = userInfo.firstIndex(of: ":")
            guard let user = Self.percentDecoded(userInfo[..<(colon ?? userInfo.endIndex)]),
                let password = Self.percentDecoded(colon.map { userInfo[userInfo.index(after: $0)...] } ?? "")
            else { throw invalid("malformed percent-encoding in the user name or password") }
            credential = ProxyCredential(userName: user, password: password)
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("no host") }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw invalid("the host has invalid characters") }
        var port = scheme.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("port \"\(portText)\" is not in 1...65535")
            }
            port = value
        }
        self.init(scheme: scheme, host: String(host), port: port, credential: credential)
    }

    /// `scheme://host:port`, with the user name but never the password: safe to log.
    public var description: String {
        let user = credential.map { "\($0.userName)@" } ?? ""
        return "\(scheme.rawValue)://\(user)\(authority)"
    }

    /// `host:port`, IPv6 bracketed.
    var authority: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    /// `url` with any password replaced by `***`, for error messages.
    static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let head = url[..<at]
        let start = head.firstRange(of: "://")?.upperBound ?? head.startIndex
        guard let colon = head[start...].firstIndex(of: ":") else { return url }
        return String(url[...colon]) + "***" + String(url[at...])
    }

    /// Decodes `%XX` escapes (UTF-8); nil when an escape is malformed.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> Substring {
        let text = Substring(self)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = text.lastIndex(where: { !isSpace($0) })!
        return text[first...last]
    }
}
