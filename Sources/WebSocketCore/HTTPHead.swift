// The HTTP message heads exchanged by the WebSocket opening handshake (RFC 6455 §4), and how
// their start lines are parsed (RFC 9112 §3, §4).
//
// Only what the upgrade needs is modelled: no bodies, no chunked coding, no HTTP/2. The
// `HTTPHeadParser` finds the end of a head and splits it into lines; the types here interpret
// the first line.

/// An HTTP version number such as `HTTP/1.1` (RFC 9112 §2.3).
package struct HTTPVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var major: Int
    package var minor: Int

    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.1, the version the handshake requires (RFC 6455 §4.1, §4.2.1).
    package static let http11 = HTTPVersion(major: 1, minor: 1)

    package static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    package var description: String { "HTTP/\(major).\(minor)" }

    /// Parses `HTTP/<digit>.<digit>` exactly (RFC 9112 §2.3: the name is case-sensitive).
    init?(parsing bytes: UnsafeBufferPointer<UInt8>.SubSequence) {
        guard bytes.count == 8,
            bytes.starts(with: "HTTP/".utf8),
            bytes[bytes.startIndex + 6] == UInt8(ascii: "."),
            let major = HTTPSyntax.digitValue(bytes[bytes.startIndex + 5]),
            let minor = HTTPSyntax.digitValue(bytes[bytes.startIndex + 7])
        else { return nil }
        self.init(major: major, minor: minor)
    }
}

/// A head that ``HTTPHeadParser`` can produce: it interprets the start line once the header
/// fields have been parsed.
package protocol HTTPMessageHead: Sendable {
    /// Creates the head from its start line (without the line ending) and its header fields.
    ///
    /// - Throws: ``HTTPParseError/malformed(_:)`` when the start line does not follow the grammar.
    init(startLine: UnsafeBufferPointer<UInt8>.SubSequence, headers: HTTPHeaders) throws(HTTPParseError)
}

/// The head of an HTTP response: status line and header fields (RFC 9112 §4).
package struct HTTPResponseHead: HTTPMessageHead, Hashable {
    package var version: HTTPVersion
    package var status: Int
    package var reason: String
    package var headers: HTTPHeaders

    package init(version: HTTPVersion = .http11, status: Int, reason: String, headers: HTTPHeaders) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// Parses `HTTP-version SP 3DIGIT [SP reason-phrase]`.
    ///
    /// The space and reason after the code are optional because real servers omit them, and
    /// RFC 9112 §4 asks clients to ignore the reason phrase anyway.
    package init(startLine line: UnsafeBufferPointer<UInt8>.SubSequence, headers: HTTPHeaders) throws(HTTPParseError) {
        let start = line.startIndex
        guard line.count >= 12,
            let version = HTTPVersion(parsing: line[start..<start + 8]),
            line[start + 8] == UInt8(ascii: " "),
            let hundreds = HTTPSyntax.digitValue(line[start + 9]), hundreds >= 1,
            let tens = HTTPSyntax.digitValue(line[start + 10]),
            let units = HTTPSyntax.digitValue(line[start + 11])
        else {
            throw .malformed("invalid status line \(HTTPSyntax.quoted(line))")
        }
        var reason = ""
        if line.count > 12 {
            // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no control characters.
            guard line[start + 12] == UInt8(ascii: " "),
                line[(start + 13)...].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
            else {
                throw .malformed("invalid status line \(HTTPSyntax.quoted(line))")
            }
            reason = String(decoding: line[(start + 13)...], as: UTF8.self)
        }
        self.init(version: version, status: hundreds * 100 + tens * 10 + units, reason: reason, headers: headers)
    }
}

/// The head of an HTTP request: request line and header fields (RFC 9112 §3).
package struct HTTPRequestHead: HTTPMessageHead, Hashable {
    package var method: String
    /// The request target exactly as received, usually origin-form such as `/chat?room=1`.
    package var target: String
    package var version: HTTPVersion
    package var headers: HTTPHeaders

    package init(method: String, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// Parses `method SP request-target SP HTTP-version`, with exactly one space between parts.
    ///
    /// RFC 9112 §3 allows lenient whitespace, but a strict split leaves no room for a target that
    /// two parsers would read differently (request smuggling, RFC 9112 §11.2).
    package init(startLine line: UnsafeBufferPointer<UInt8>.SubSequence, headers: HTTPHeaders) throws(HTTPParseError) {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3,
            !parts[0].isEmpty, parts[0].allSatisfy(HTTPSyntax.isTokenByte),
            !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }),
            let version = HTTPVersion(parsing: parts[2])
        else {
            throw .malformed("invalid request line \(HTTPSyntax.quoted(line))")
        }
        self.init(
            method: String(decoding: parts[0], as: UTF8.self),
            target: String(decoding: parts[1], as: UTF8.self),
            version: version,
            headers: headers
        )
    }
}

/// Why an HTTP head could not be parsed.
package enum HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The head did not end within `limit` bytes. Nothing beyond the limit was buffered.
    case tooLarge(limit: Int)
    /// The head had more than `limit` header fields (``HTTPHeadParser/maxFieldCount``).
    case tooManyFields(limit: Int)
    /// The head broke the HTTP/1.1 grammar; the message says where.
    case malformed(String)

    package var description: String {
        switch self {
        case .tooLarge(let limit):
            return "the HTTP head is larger than the limit of \(limit) bytes"
        case .tooManyFields(let limit):
            return "the HTTP head has more than \(limit) header fields"
        case .malformed(let detail):
            return "malformed HTTP head: \(detail)"
        }
    }
}

extension HTTPSyntax {
    /// Returns the value of an ASCII digit, or `nil`.
    static func digitValue(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// Renders untrusted bytes for an error message: quoted, non-printable bytes escaped, and cut
    /// at 80 bytes so a hostile peer cannot make errors arbitrarily large.
    static func quoted(_ bytes: some Collection<UInt8>) -> String {
        var result = "\""
        for byte in bytes.prefix(80) {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                result += "\\" + String(UnicodeScalar(byte))
            case 0x20..<0x7F:
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        if bytes.count > 80 { result += "…" }
        return result + "\""
    }
}
