import Testing

@testable import WebSocketCore

/// RFC 6455 §8.1 requires failing on invalid UTF-8 (RFC 3629) in text messages and close reasons.
@Suite("RFC 6455 §8.1 UTF-8 validation")
struct UTF8ValidatorTests {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }

    @Test(
        "valid text of every sequence length is accepted",
        arguments: [
            "", "hello", "κόσμε", "€", "𝄞 music", "Ünïcödé ✓ 日本語 🎉", String(repeating: "a", count: 100) + "é",
        ])
    func validTextIsAccepted(_ text: String) {
        #expect(Self.isValid(Array(text.utf8)))
    }

    @Test(
        "invalid sequences are rejected",
        arguments: [
            "80",  // stray continuation byte
            "C0 80",  // overlong NUL
            "C1 BF",  // overlong
            "E0 80 80",  // overlong 3-byte
            "ED A0 80",  // UTF-16 surrogate U+D800
            "F4 90 80 80",  // above U+10FFFF
            "F5 80 80 80",  // invalid lead byte
            "FF",
            "CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64",  // Autobahn 6.3.1
            "C2 41",  // lead byte followed by ASCII
        ])
    func invalidSequencesAreRejected(_ hexBytes: String) {
        #expect(!Self.isValid(hex(hexBytes)))
    }

    @Test("a truncated sequence is valid so far but not complete")
    func truncatedSequenceIsIncomplete() {
        var validator = UTF8Validator()
        let firstPart = validator.validate(hex("E2 82"))
        #expect(firstPart)
        #expect(!validator.isComplete)
        let secondPart = validator.validate(hex("AC"))
        #expect(secondPart)
        #expect(validator.isComplete)
    }

    @Test("splitting at every byte boundary gives the same verdict")
    func splitAtEveryBoundary() {
        let samples: [[UInt8]] = [Array("aé€𝄞z".utf8), hex("CE BA E1 BD B9 ED A0 80"), hex("F0 9F 98 80 F4 90 80 80")]
        for bytes in samples {
            let whole = Self.isValid(bytes)
            for split in 0...bytes.count {
                var validator = UTF8Validator()
                let ok =
                    validator.validate(Array(bytes[..<split])) && validator.validate(Array(bytes[split...]))
                    && validator.isComplete
                #expect(ok == whole)
            }
        }
    }

    @Test("the verdict fails at the chunk containing the first invalid byte (fail fast)")
    func failsAtTheOffendingChunk() {
        var validator = UTF8Validator()
        let start = validator.validate(Array("valid start ".utf8))
        #expect(start)
        let surrogate = validator.validate(hex("ED A0"))  // detectable at its second byte
        #expect(!surrogate)
    }

    @Test("agrees with the standard library on random input")
    func agreesWithStandardLibrary() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<5000 {
            let length = Int.random(in: 0...24, using: &rng)
            // Bias towards interesting bytes: ASCII, continuation bytes and lead bytes.
            let pool: [UInt8] = [0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xC0]
            let bytes = (0..<length).map { _ in pool.randomElement(using: &rng)! }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(Self.isValid(bytes) == expected, "\(bytes)")
        }
    }
}
