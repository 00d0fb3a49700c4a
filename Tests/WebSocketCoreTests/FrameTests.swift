import Testing

@testable import WebSocketCore

/// RFC 6455 §5.2 base framing and the §5.7 examples, byte-exact both ways.
@Suite("RFC 6455 §5.2 and §5.7 Framing")
struct FrameTests {
    static let examples: [(name: String, bytes: String, opcode: Opcode, fin: Bool, payload: [UInt8], masked: Bool)] = [
        ("single-frame unmasked text", "81 05 48 65 6c 6c 6f", .text, true, Array("Hello".utf8), false),
        ("single-frame masked text", "81 85 37 fa 21 3d 7f 9f 4d 51 58", .text, true, Array("Hello".utf8), true),
        ("first fragment", "01 03 48 65 6c", .text, false, Array("Hel".utf8), false),
        ("last fragment", "80 02 6c 6f", .continuation, true, Array("lo".utf8), false),
        ("unmasked ping", "89 05 48 65 6c 6c 6f", .ping, true, Array("Hello".utf8), false),
        ("masked pong", "8a 85 37 fa 21 3d 7f 9f 4d 51 58", .pong, true, Array("Hello".utf8), true),
    ]

    @Test("§5.7 examples encode byte-exact", arguments: 0..<6)
    func examplesEncode(_ index: Int) {
        let example = Self.examples[index]
        let encoded = frame(example.opcode, example.payload, fin: example.fin, masked: example.masked)
        #expect(encoded == hex(example.bytes), "\(example.name)")
    }

    @Test("§5.7 examples decode to the right header", arguments: 0..<6)
    func examplesDecode(_ index: Int) {
        let example = Self.examples[index]
        let bytes = hex(example.bytes)
        let result = bytes.withUnsafeBytes { FrameHeader.decode($0) }
        guard case .header(let header, let size) = result else {
            Issue.record("\(example.name): \(result)")
            return
        }
        #expect(header.opcode == example.opcode)
        #expect(header.isFinal == example.fin)
        #expect(header.payloadLength == UInt64(example.payload.count))
        #expect((header.maskingKey != nil) == example.masked)
        #expect(size == bytes.count - example.payload.count)
    }

    @Test("§5.7: 256 bytes use the 16-bit length, 64 KiB the 64-bit length, minimal forms only")
    func lengthEncodings() {
        let medium = frame(.binary, [UInt8](repeating: 0, count: 256), masked: false)
        #expect(Array(medium.prefix(4)) == hex("82 7E 01 00"))
        let large = frame(.binary, [UInt8](repeating: 0, count: 65536), masked: false)
        #expect(Array(large.prefix(10)) == hex("82 7F 00 00 00 00 00 01 00 00"))
        let edge125 = frame(.binary, [UInt8](repeating: 0, count: 125), masked: false)
        #expect(edge125[1] == 125)
        let edge126 = frame(.binary, [UInt8](repeating: 0, count: 126), masked: false)
        #expect(Array(edge126.prefix(4)) == hex("82 7E 00 7E"))
        let edge65535 = frame(.binary, [UInt8](repeating: 0, count: 65535), masked: false)
        #expect(Array(edge65535.prefix(4)) == hex("82 7E FF FF"))
    }

    @Test("a header arriving byte by byte asks for exactly the bytes it needs")
    func incrementalHeaderNeeds() {
        let bytes = hex("82 FF 00 00 00 00 00 01 00 00 01 02 03 04")
        #expect(bytes.prefix(1).withUnsafeBytes { FrameHeader.decode($0) } == .needBytes(2))
        #expect(bytes.prefix(2).withUnsafeBytes { FrameHeader.decode($0) } == .needBytes(14))
        #expect(bytes.prefix(13).withUnsafeBytes { FrameHeader.decode($0) } == .needBytes(14))
        guard case .header(let header, 14) = bytes.withUnsafeBytes({ FrameHeader.decode($0) }) else {
            Issue.record("header not decoded")
            return
        }
        #expect(header.payloadLength == 65536)
        #expect(header.maskingKey == MaskingKey(1, 2, 3, 4))
    }

    @Test(
        "invalid headers are rejected with 1002",
        arguments: [
            "83 00",  // reserved opcode 3
            "8B 00",  // reserved control opcode 0xB
            "09 00",  // fragmented ping (§5.5)
            "89 7E 00 7E",  // ping of 126 bytes (§5.5)
            "82 7F 80 00 00 00 00 00 00 00",  // 64-bit length with the MSB set (§5.2)
        ])
    func invalidHeaders(_ hexBytes: String) {
        let result = hex(hexBytes).withUnsafeBytes { FrameHeader.decode($0) }
        guard case .invalid(let violation) = result else {
            Issue.record("accepted: \(result)")
            return
        }
        #expect(violation.closeCode == .protocolError)
    }
}
