/// The header fields of an HTTP/1.1 message head, in the order they arrived.
///
/// Order and duplicates are kept because the handshake needs both: RFC 6455 §11.3 forbids some
/// fields from appearing twice (`Sec-WebSocket-Key`, `Sec-WebSocket-Accept`), and list-valued
/// fields may be split across several lines (RFC 9110 §5.3). Names are compared ASCII
/// case-insensitively (RFC 9110 §5.1); values are kept as received, without surrounding
/// whitespace.
package struct HTTPHeaders: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// One `name: value` line.
    package struct Field: Sendable, Hashable {
        package var name: String
        package var value: String

        package init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    package private(set) var fields: [Field]

    package init() { fields = [] }

    /// Creates headers from `(name, value)` pairs, keeping their order and duplicates.
    package init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    package init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    package mutating func append(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    package mutating func append(_ field: Field) {
        fields.append(field)
    }

    package var startIndex: Int { fields.startIndex }
    package var endIndex: Int { fields.endIndex }
    package subscript(position: Int) -> Field { fields[position] }

    /// Returns the value of the first field called `name`, or `nil` if there is none.
    package func first(_ name: String) -> String? {
        fields.first { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// Returns the raw value of every field called `name`, one entry per line, in order.
    package func all(_ name: String) -> [String] {
        fields.filter { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// Returns the elements of the comma-separated list carried by every field called `name`.
    ///
    /// RFC 9110 §5.3 makes `A: x` + `A: y` equivalent to `A: x, y`, and §5.6.1 says empty list
    /// elements are ignored, so both forms give `["x", "y"]`. Elements are trimmed of spaces and
    /// tabs. Commas inside quoted strings are not special-cased: none of the fields the handshake
    /// reads with this method (`Upgrade`, `Connection`, `Sec-WebSocket-Protocol`,
    /// `Sec-WebSocket-Version`) can contain quoted strings.
    package func values(_ name: String) -> [String] {
        var result: [String] = []
        for field in fields where HTTPSyntax.equalsIgnoringASCIICase(field.name, name) {
            for element in field.value.unicodeScalars.split(separator: ",") {
                let trimmed = HTTPSyntax.trimmingWhitespace(element)
                if !trimmed.isEmpty { result.append(String(trimmed)) }
            }
        }
        return result
    }

    /// Returns whether any list element of the fields called `name` equals `token`, ignoring ASCII
    /// case, as tokens in `Connection` and `Upgrade` are case-insensitive (RFC 9110 §7.6.1, §7.8).
    package func containsToken(_ name: String, token: String) -> Bool {
        values(name).contains { HTTPSyntax.equalsIgnoringASCIICase($0, token) }
    }

    /// Returns whether at least one field is called `name`.
    package func contains(_ name: String) -> Bool {
        first(name) != nil
    }
}

/// Character classes and comparisons from the HTTP grammar (RFC 9110 §5.6), shared by the head
/// parser and the handshake's header policy.
package enum HTTPSyntax {
    /// Whether `byte` is a `tchar`, a character allowed in a token such as a field name or method
    /// (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, digits and letters.
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Whether `string` is a non-empty token (RFC 9110 §5.6.2).
    package static func isToken(_ string: String) -> Bool {
        !string.utf8.isEmpty && string.utf8.allSatisfy(isTokenByte)
    }

    /// Compares two strings byte by byte, folding only ASCII letters (RFC 9110 §5.1: field names
    /// are case-insensitive). Non-ASCII bytes must match exactly.
    package static func equalsIgnoringASCIICase(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8
        let right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { asciiLowercased($0) == asciiLowercased($1) }
    }

    @inline(__always)
    package static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Returns `scalars` without leading and trailing spaces and tabs (RFC 9110 §5.6.3, `OWS`).
    package static func trimmingWhitespace(_ scalars: Substring.UnicodeScalarView) -> Substring.UnicodeScalarView {
        let isWhitespace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }),
            let last = scalars.lastIndex(where: { !isWhitespace($0) })
        else { return scalars[scalars.endIndex...] }
        return scalars[first...last]
    }
}
