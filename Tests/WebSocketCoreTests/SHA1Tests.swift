import Testing

@testable import WebSocketCore

/// RFC 3174 §7.3 test vectors, plus lengths around the 55/56/64-byte padding boundaries
/// (reference digests from Python's hashlib).
@Suite("RFC 3174 SHA-1")
struct SHA1Tests {
    @Test func abcMatchesRFC3174Test1() {
        #expect(hexString(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test func twoBlockMessageMatchesRFC3174Test2() {
        let message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(hexString(SHA1.hash(Array(message.utf8))) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func oneMillionAsMatchesRFC3174Test3() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hexString(SHA1.hash(message)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func repeatedDigitsMatchRFC3174Test4() {
        let message = Array(String(repeating: "01234567", count: 80).utf8)
        #expect(hexString(SHA1.hash(message)) == "dea356a2cddd90c7a7ecedc5ebb563934f460452")
    }

    /// FIPS 180-2 gives the digest of the empty message; RFC 3174 has no empty vector.
    @Test func emptyMessageHashesToKnownDigest() {
        #expect(hexString(SHA1.hash([UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    /// 55 bytes is the longest message whose padding fits one block; 56 needs a second block.
    @Test(arguments: [
        (55, "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2"),
        (56, "636e2ec698dac903498e648bd2f3af641d3c88cb"),
        (63, "6d942da0c4392b123528f2905c713a3ce28364bd"),
        (64, "c6138d514ffa2135bfce0ed0b8fac65669917ec7"),
        (65, "69bd728ad6e13cd76ff19751fde427b00e395746"),
        (119, "41c89d06001bab4ab78736b44efe7ce18ce6ae08"),
        (120, "d3dbd653bd8597b7475321b60a36891278e6a04a"),
    ])
    func paddingBoundaryLengthsHashCorrectly(length: Int, digest: String) {
        let message = (0..<length).map { UInt8($0 % 251) }
        #expect(hexString(SHA1.hash(message)) == digest)
    }

    @Test func digestIsTwentyBytesAndIndependentOfCollectionType() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        let fromArray = SHA1.hash(bytes)
        #expect(fromArray.count == SHA1.digestByteCount)
        #expect(hexString(fromArray) == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        #expect(SHA1.hash(bytes[...]) == fromArray)
        #expect(SHA1.hash("The quick brown fox jumps over the lazy dog".utf8) == fromArray)
        #expect(SHA1.hash(ContiguousArray(bytes)) == fromArray)
    }
}
