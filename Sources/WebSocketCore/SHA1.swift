/// SHA-1 (RFC 3174), here only so the opening handshake can compute `Sec-WebSocket-Accept`.
///
/// RFC 6455 §4.2.2 defines the accept value as the base64 of the SHA-1 of the client's key and a
/// fixed GUID. The hash proves the server understood a WebSocket request; it is not a security
/// measure, and SHA-1 is broken for collision resistance. Do not use this type for anything else.
///
/// Written in-house because the core module depends on nothing but the standard library.
package enum SHA1 {
    /// The length of a digest in bytes (160 bits).
    package static let digestByteCount = 20

    /// Returns the 20-byte SHA-1 digest of `bytes` (RFC 3174 §6).
    ///
    /// The message is copied once into a padded buffer, so the cost is one allocation plus
    /// 80 rounds per 64-byte block. That is plenty for handshake keys, which are 60 bytes.
    package static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        // RFC 3174 §4: append 0x80, zero-pad to 56 mod 64, then the 64-bit big-endian bit length.
        let messageLength = bytes.count
        let paddedLength = (messageLength + 8) / 64 * 64 + 64
        var message = [UInt8]()
        message.reserveCapacity(paddedLength)
        message.append(contentsOf: bytes)
        message.append(0x80)
        message.append(contentsOf: repeatElement(0, count: paddedLength - 8 - message.count))
        let bitLength = UInt64(messageLength) &* 8
        for shift in stride(from: 56, through: 0, by: -8) {
            message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }

        // RFC 3174 §6.1: the initial H0…H4.
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) =
            (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)

        message.withUnsafeBufferPointer { input in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
                var blockStart = 0
                while blockStart < input.count {
                    compress(block: input, at: blockStart, schedule: w, state: &h)
                    blockStart += 64
                }
            }
        }

        var digest = [UInt8]()
        digest.reserveCapacity(digestByteCount)
        for word in [h.0, h.1, h.2, h.3, h.4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    /// Processes one 64-byte block starting at `offset` (RFC 3174 §6.1, method 1).
    private static func compress(
        block input: UnsafeBufferPointer<UInt8>,
        at offset: Int,
        schedule w: UnsafeMutableBufferPointer<UInt32>,
        state h: inout (UInt32, UInt32, UInt32, UInt32, UInt32)
    ) {
        for t in 0..<16 {
            let i = offset + t * 4
            w[t] =
                UInt32(input[i]) << 24 | UInt32(input[i + 1]) << 16
                | UInt32(input[i + 2]) << 8 | UInt32(input[i + 3])
        }
        for t in 16..<80 {
            w[t] = rotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], by: 1)
        }

        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20:
                f = (b & c) | (~b & d)
                k = 0x5A82_7999
            case 20..<40:
                f = b ^ c ^ d
                k = 0x6ED9_EBA1
            case 40..<60:
                f = (b & c) | (b & d) | (c & d)
                k = 0x8F1B_BCDC
            default:
                f = b ^ c ^ d
                k = 0xCA62_C1D6
            }
            let temp = rotateLeft(a, by: 5) &+ f &+ e &+ w[t] &+ k
            e = d
            d = c
            c = rotateLeft(b, by: 30)
            b = a
            a = temp
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt32, by amount: UInt32) -> UInt32 {
        (value << amount) | (value >> (32 - amount))
    }
}
