import Testing

@testable import WebSocketCore

@Suite("RFC 4648 Base64")
struct Base64Tests {
    /// RFC 4648 §10 test vectors.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: vectors)
    func encodingMatchesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
    }

    @Test(arguments: vectors)
    func decodingMatchesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    /// The whole alphabet, including `+` and `/`, round-trips (RFC 4648 §4, table 1).
    @Test func everyByteValueRoundTrips() {
        let bytes = (0...255).map { UInt8($0) }
        let encoded = Base64.encode(bytes)
        #expect(encoded.contains("+") && encoded.contains("/"))
        #expect(Base64.decode(encoded) == bytes)
    }

    @Test func randomBytesRoundTripAtEveryLength() {
        var rng = SeededGenerator(seed: 4648)
        for length in 0..<200 {
            let bytes = rng.bytes(length)
            let encoded = Base64.encode(bytes)
            #expect(encoded.utf8.count == (length + 2) / 3 * 4)
            #expect(Base64.decode(encoded) == bytes, "length \(length)")
        }
    }

    /// RFC 4648 §3.3 (no characters outside the alphabet), §3.5 (canonical padding bits) and §4
    /// (length a multiple of 4, `=` only at the end).
    @Test(arguments: [
        "Zg", "Zg=", "Zm9", "Z", "Zm9vY",  // length not a multiple of 4
        "Zm9v!A==", "Zm-v", "Zm_v", "Zm9v\n", " Zg==",  // characters outside the alphabet
        "=Zg=", "Z=g=", "Zg==Zg==", "Zm9v====", "====", "Z===",  // misplaced padding
        "Zh==", "Zm9=",  // non-zero bits under the padding
        "Zm9vé==",  // non-ASCII
    ])
    func invalidInputIsRejected(_ input: String) {
        #expect(Base64.decode(input) == nil)
    }

    @Test func randomStringsNeverTrap() {
        var rng = SeededGenerator(seed: 0xB64)
        let characters = Array("ABCxyz019+/=-_ \n\u{0}é".unicodeScalars)
        for _ in 0..<5000 {
            var string = ""
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                string.unicodeScalars.append(characters.randomElement(using: &rng)!)
            }
            if let decoded = Base64.decode(string) {
                // Anything accepted is canonical: it re-encodes to the same text.
                #expect(Base64.encode(decoded) == string)
            }
        }
    }
}
