import Testing

@testable import WebSocketCore

/// RFC 6455 §5.3: masking XORs octet i with key octet i mod 4.
@Suite("RFC 6455 §5.3 Masking")
struct MaskingTests {
    /// The obvious per-byte definition, against which the word-at-a-time loop is checked.
    static func referenceMask(_ bytes: [UInt8], key: MaskingKey, phase: Int) -> [UInt8] {
        bytes.enumerated().map { $0.element ^ key[(phase + $0.offset) & 3] }
    }

    @Test("RFC 6455 §5.7 masked \"Hello\" frame is byte-exact")
    func rfcMaskedHelloVector() {
        let frame = FrameEncoder.encode(
            opcode: .text, payload: Array("Hello".utf8), maskingKey: MaskingKey(0x37, 0xFA, 0x21, 0x3D))
        #expect(frame == hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))
    }

    @Test("python-websockets' masked \"Spam\" vector is byte-exact")
    func spamVector() {
        let frame = FrameEncoder.encode(
            opcode: .text, payload: Array("Spam".utf8), maskingKey: MaskingKey(0x00, 0xFF, 0x00, 0xFF))
        #expect(frame == hex("81 84 00 FF 00 FF 53 8F 61 92"))
    }

    @Test("fast masking equals the reference for every length 0...300 and phase 0...3")
    func fastMatchesReference() {
        var rng = SeededGenerator(seed: 7)
        let key = MaskingKey.random(using: &rng)
        for length in 0...300 {
            let input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for phase in 0..<4 {
                var output = input
                let next = output.withUnsafeMutableBytes { key.apply(to: $0, phase: phase) }
                #expect(output == Self.referenceMask(input, key: key, phase: phase))
                #expect(next == (phase + length) & 3)
            }
        }
    }

    @Test("masking in chunks with the carried phase equals masking the whole payload")
    func chunkedMaskingCarriesPhase() {
        var rng = SeededGenerator(seed: 11)
        let key = MaskingKey.random(using: &rng)
        let input = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = Self.referenceMask(input, key: key, phase: 0)
        for chunkSize in [1, 3, 5, 7, 8, 13, 64, 333] {
            var output = input
            var phase = 0
            var offset = 0
            output.withUnsafeMutableBytes { buffer in
                while offset < buffer.count {
                    let end = min(offset + chunkSize, buffer.count)
                    phase = key.apply(to: UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<end]), phase: phase)
                    offset = end
                }
            }
            #expect(output == whole, "chunk size \(chunkSize)")
        }
    }

    @Test("masking twice restores the payload, and copying masks leave the source untouched")
    func maskingIsAnInvolutionAndCopyLeavesSource() {
        let key = MaskingKey(1, 2, 3, 4)
        let input: [UInt8] = Array(0..<77)
        var destination = [UInt8](repeating: 0, count: input.count)
        input.withUnsafeBytes { source in
            destination.withUnsafeMutableBytes { _ = key.apply(from: source, to: $0.baseAddress!, phase: 2) }
        }
        #expect(destination == Self.referenceMask(input, key: key, phase: 2))
        destination.withUnsafeMutableBytes { _ = key.apply(to: $0, phase: 2) }
        #expect(destination == input)
    }
}
