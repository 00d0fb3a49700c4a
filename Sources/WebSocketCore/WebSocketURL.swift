/// A validated `ws://` or `wss://` URL, split into what the opening handshake needs
/// (RFC 6455 §3).
///
/// Parse user input once with ``init(parsing:)``; a value of this type is always well formed, so
/// the connection code never re-checks it.
///
/// ```swift
/// let url = try WebSocketURL(parsing: "wss://example.com/chat?room=1")
/// url.host        // "example.com"
/// url.port        // 443
/// url.resource    // "/chat?room=1"
/// url.hostHeader  // "example.com"
/// ```
///
/// Non-ASCII characters and the few ASCII characters that RFC 3986 never allows in a URI
/// (`"<>\^`{|}`) are percent-encoded in the path and query, as browsers do. Spaces and control
/// characters are rejected rather than guessed at, and so are fragments and non-ASCII host names
/// (convert those to punycode first). User information (`user:password@`) is split off into
/// ``user`` and ``password`` (percent-decoded) and never appears in ``description``: the client
/// answers a `401` with it (HTTP Basic), never sends it unasked.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    /// Whether the scheme is `wss`, that is, whether the connection runs over TLS.
    public let isSecure: Bool
    /// The host name or IP address, lowercased; IPv6 literals are given without brackets.
    public let host: String
    /// The TCP port: the explicit one, else 80 for `ws` and 443 for `wss` (RFC 6455 §3).
    public let port: Int
    /// The "resource name" of RFC 6455 §3: the path (or `/` if empty), then `?` and the query if
    /// the query is non-empty. This is the request target of the handshake's `GET` line.
    public let resource: String
    /// The user name of `user:password@host`, percent-decoded; `nil` when the URL has none.
    public let user: String?
    /// The password of `user:password@host`, percent-decoded; `nil` when the URL has none (an
    /// empty one, `user:@host`, is `""`).
    public let password: String?

    /// Parses and validates `string` as a WebSocket URL.
    ///
    /// The scheme is case-insensitive; only `ws` and `wss` are accepted, not `http`/`https`.
    ///
    /// - Throws: ``WebSocketURLError`` naming the first problem found.
    public init(parsing string: String) throws(WebSocketURLError) {
        let bytes = Array(string.utf8)
        // Spaces and controls can't appear in a URI (RFC 3986 §2); refusing them also keeps them
        // out of the request line and the Host header.
        if let offset = bytes.firstIndex(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw .invalidCharacter(Unicode.Scalar(bytes[offset]), offset: offset)
        }
        // RFC 6455 §3: "Fragment identifiers ... MUST NOT be used on these URIs."
        if bytes.contains(UInt8(ascii: "#")) { throw .fragmentNotAllowed }

        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            colon > 0, bytes[..<colon].allSatisfy(Self.isSchemeByte)
        else { throw .missingScheme }
        let scheme = String(decoding: bytes[..<colon].map(HTTPSyntax.asciiLowercased), as: UTF8.self)
        let rest = bytes[(colon + 1)...]
        switch scheme {
        case "ws": isSecure = false
        case "wss": isSecure = true
        // "localhost:8080" has no scheme; "http://h" has the wrong one.
        default:
            guard rest.starts(with: "//".utf8) else { throw .missingScheme }
            throw .unsupportedScheme(String(decoding: bytes[..<colon], as: UTF8.self))
        }
        guard rest.starts(with: "//".utf8) else { throw .missingHost }
        let authorityStart = rest.startIndex + 2
        let authorityEnd =
            bytes[authorityStart...].firstIndex {
                $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?")
            } ?? bytes.endIndex
        var authority = bytes[authorityStart..<authorityEnd]
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) {
            (user, password) = try Self.parseUserInfo(authority[..<at])
            authority = authority[(at + 1)...]
        } else {
            (user, password) = (nil, nil)
        }

        (host, port) = try Self.parseAuthority(authority, isSecure: isSecure)
        resource = Self.makeResource(bytes[authorityEnd...])
    }

    /// The value for the handshake's `Host` header (RFC 6455 §4.1 item 4, RFC 9110 §7.2): the host,
    /// bracketed if IPv6, and `:port` only when it is not the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? name : "\(name):\(port)"
    }

    /// The URL in normal form, for example `wss://example.com/chat?room=1`.
    public var description: String {
        (isSecure ? "wss://" : "ws://") + hostHeader + resource
    }

    private var defaultPort: Int { isSecure ? 443 : 80 }

    /// Splits `user[:password]` (RFC 3986 §3.2.1) and percent-decodes both parts.
    private static func parseUserInfo(_ bytes: ArraySlice<UInt8>) throws(WebSocketURLError) -> (String?, String?) {
        guard !bytes.contains(UInt8(ascii: "@")), let user = percentDecoded(bytes.prefix { $0 != UInt8(ascii: ":") })
        else { throw .invalidUserInfo }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return (user, nil) }
        guard let password = percentDecoded(bytes[(colon + 1)...]) else { throw .invalidUserInfo }
        return (user, password)
    }

    /// `%XX` escapes decoded; `nil` for a broken escape or bytes that are not UTF-8.
    private static func percentDecoded(_ bytes: ArraySlice<UInt8>) -> String? {
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        if let digit = HTTPSyntax.digitValue(byte) { return UInt8(digit) }
        let lower = HTTPSyntax.asciiLowercased(byte)
        guard (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(lower) else { return nil }
        return lower - UInt8(ascii: "a") + 10
    }

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// Splits `host[:port]` or `[ipv6][:port]` (RFC 3986 §3.2.2, §3.2.3).
    private static func parseAuthority(_ authority: ArraySlice<UInt8>, isSecure: Bool) throws(WebSocketURLError) -> (String, Int)
    {
        let hostBytes: ArraySlice<UInt8>
        let portBytes: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw .invalidHost(String(decoding: authority, as: UTF8.self))
            }
            hostBytes = authority[(authority.startIndex + 1)..<close]
            let afterHost = authority[(close + 1)...]
            if afterHost.isEmpty {
                portBytes = nil
            } else if afterHost.first == UInt8(ascii: ":") {
                portBytes = afterHost.dropFirst()
            } else {
                throw .invalidHost(String(decoding: authority, as: UTF8.self))
            }
            // IPv6 only (no zone identifiers, no IPvFuture): hex digits, colons, and dots for an
            // embedded IPv4 address.
            guard hostBytes.contains(UInt8(ascii: ":")),
                hostBytes.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { throw .invalidHost(String(decoding: hostBytes, as: UTF8.self)) }
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                hostBytes = authority[..<colon]
                portBytes = authority[(colon + 1)...]
            } else {
                hostBytes = authority
                portBytes = nil
            }
            // RFC 3986 §3.2.2 reg-name: unreserved / pct-encoded / sub-delims. No "[" or ":" here.
            guard hostBytes.allSatisfy(isRegNameByte) else {
                throw .invalidHost(String(decoding: hostBytes, as: UTF8.self))
            }
        }
        if hostBytes.isEmpty { throw .missingHost }

        var port = isSecure ? 443 : 80
        // RFC 3986 §3.2.3: an empty port ("host:") means the default.
        if let portBytes, !portBytes.isEmpty {
            let text = String(decoding: portBytes, as: UTF8.self)
            guard portBytes.count <= 5, portBytes.allSatisfy({ HTTPSyntax.digitValue($0) != nil }),
                let value = Int(text), (1...65535).contains(value)
            else { throw .invalidPort(text) }
            port = value
        }
        return (String(decoding: hostBytes.map(HTTPSyntax.asciiLowercased), as: UTF8.self), port)
    }

    /// Builds the resource name from everything after the authority (RFC 6455 §3).
    private static func makeResource(_ pathAndQuery: ArraySlice<UInt8>) -> String {
        var path = pathAndQuery
        var query: ArraySlice<UInt8> = []
        if let mark = pathAndQuery.firstIndex(of: UInt8(ascii: "?")) {
            path = pathAndQuery[..<mark]
            query = pathAndQuery[(mark + 1)...]
        }
        var resource: [UInt8] = []
        resource.reserveCapacity(pathAndQuery.count + 1)
        if path.isEmpty { resource.append(UInt8(ascii: "/")) }
        appendPercentEncoded(path, to: &resource)
        if !query.isEmpty {
            resource.append(UInt8(ascii: "?"))
            appendPercentEncoded(query, to: &resource)
        }
        return String(decoding: resource, as: UTF8.self)
    }

    /// Copies `bytes`, percent-encoding non-ASCII bytes and ASCII characters that RFC 3986 never
    /// allows (§2: `"<>\^`{|}`). Existing `%XX` escapes are kept as they are.
    private static func appendPercentEncoded(_ bytes: ArraySlice<UInt8>, to output: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            switch byte {
            case 0x80...,
                UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"),
                UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default:
                output.append(byte)
            }
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        HTTPSyntax.digitValue(byte) != nil
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(HTTPSyntax.asciiLowercased(byte))
    }

    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}

/// Why a string is not a usable WebSocket URL.
public enum WebSocketURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The string does not start with a scheme such as `ws:`.
    case missingScheme
    /// The scheme is not `ws` or `wss` (compared case-insensitively).
    case unsupportedScheme(String)
    /// There is no host after `//`.
    case missingHost
    /// The host is neither a valid ASCII name, an IPv4 address nor a bracketed IPv6 address.
    case invalidHost(String)
    /// The port is not a decimal number from 1 to 65535.
    case invalidPort(String)
    /// The URL carries `user:password@`, which the handshake has no way to send. No longer
    /// thrown: user information is parsed into ``WebSocketURL/user`` and ``WebSocketURL/password``.
    case userInfoNotAllowed
    /// The `user:password@` part has a broken percent-escape or is not UTF-8.
    case invalidUserInfo
    /// A redirect's `Location` is neither a `ws`/`wss`/`http`/`https` URL nor a relative reference.
    case invalidRedirectLocation(String)
    /// The URL has a `#fragment`, which RFC 6455 §3 forbids.
    case fragmentNotAllowed
    /// The URL contains a space or control character at the given UTF-8 offset.
    case invalidCharacter(Unicode.Scalar, offset: Int)

    /// What is wrong with the URL, in a sentence, for error messages.
    public var description: String {
        switch self {
        case .missingScheme:
            return "the URL has no scheme; expected one starting with ws:// or wss://"
        case .unsupportedScheme(let scheme):
            return "unsupported URL scheme \"\(scheme)\"; a WebSocket URL starts with ws:// or wss://"
        case .missingHost:
            return "the URL has no host; expected ws://host/path"
        case .invalidHost(let host):
            return "invalid host \"\(host)\" in URL; use an ASCII (punycode) name, an IPv4 address or a bracketed IPv6 address"
        case .invalidPort(let port):
            return "invalid port \"\(port)\" in URL; expected a number from 1 to 65535"
        case .userInfoNotAllowed:
            return "credentials in the URL (user:password@) are not supported; send an Authorization header instead"
        case .invalidUserInfo:
            return "the credentials in the URL (user:password@) have a broken percent-escape or are not UTF-8"
        case .invalidRedirectLocation(let location):
            return "the redirect Location \"\(location)\" is not a ws, wss, http or https URL or a relative reference"
        case .fragmentNotAllowed:
            return "a WebSocket URL must not contain a fragment (RFC 6455 §3); escape a literal # as %23"
        case .invalidCharacter(let scalar, let offset):
            let code = String(scalar.value, radix: 16, uppercase: true)
            return
                "the URL contains a space or control character (U+\(String(repeating: "0", count: max(0, 4 - code.count)) + code)) at offset \(offset); percent-encode it"
        }
    }
}
