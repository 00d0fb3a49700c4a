/// Base64 with the standard alphabet and padding (RFC 4648 §4), for the handshake's
/// `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` values (RFC 6455 §4.1, §4.2.2).
///
/// Written in-house because the core module depends on nothing but the standard library.
package enum Base64 {
    /// Returns the padded base64 encoding of `bytes` (RFC 4648 §4).
    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        let count = bytes.count
        let outputCount = (count + 2) / 3 * 4
        if outputCount == 0 { return "" }
        return String(unsafeUninitializedCapacity: outputCount) { output in
            var written = 0
            var iterator = bytes.makeIterator()
            while let b0 = iterator.next() {
                let b1 = iterator.next()
                let b2 = iterator.next()
                output[written] = alphabet[Int(b0 >> 2)]
                output[written + 1] = alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)]
                if let b1 {
                    output[written + 2] = alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)]
                } else {
                    output[written + 2] = padding
                }
                if let b2 {
                    output[written + 3] = alphabet[Int(b2 & 0x3F)]
                } else {
                    output[written + 3] = padding
                }
                written += 4
            }
            return written
        }
    }

    /// Returns the bytes encoded by `string`, or `nil` unless it is canonical padded base64.
    ///
    /// Strict on purpose, because handshake values are compared and counted, never repaired:
    /// the length must be a multiple of 4, every character must be in the alphabet, `=` may only
    /// end the last quantum (`xx==` or `xxx=`), and the unused bits before the padding must be zero
    /// (RFC 4648 §3.5 lets decoders reject non-canonical encodings). Whitespace is rejected too
    /// (§3.3).
    package static func decode(_ string: String) -> [UInt8]? {
        // Native Swift strings are already contiguous UTF-8, so this copies nothing for them.
        var contiguous = string
        contiguous.makeContiguousUTF8()
        return contiguous.utf8.withContiguousStorageIfAvailable { decode(bytes: $0) } ?? nil
    }

    private static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = input.count
        guard count % 4 == 0 else { return nil }
        if count == 0 { return [] }

        var paddingCount = 0
        if input[count - 1] == padding {
            paddingCount = input[count - 2] == padding ? 2 : 1
        }
        var output = [UInt8]()
        output.reserveCapacity(count / 4 * 3 - paddingCount)

        var index = 0
        while index < count {
            let isLastQuantum = index + 4 == count
            let validCount = isLastQuantum ? 4 - paddingCount : 4
            var quantum: UInt32 = 0
            for offset in 0..<4 {
                var value: UInt8 = 0
                if offset < validCount {
                    value = decodingTable[Int(input[index + offset])]
                    // 0xFF marks bytes outside the alphabet, including a misplaced "=".
                    guard value != invalid else { return nil }
                }
                quantum = quantum << 6 | UInt32(value)
            }
            output.append(UInt8(truncatingIfNeeded: quantum >> 16))
            if validCount >= 3 { output.append(UInt8(truncatingIfNeeded: quantum >> 8)) }
            if validCount == 4 { output.append(UInt8(truncatingIfNeeded: quantum)) }
            // Canonical form only: bits that the padding stands for must be zero.
            if validCount == 2, quantum & 0xFFFF != 0 { return nil }
            if validCount == 3, quantum & 0xFF != 0 { return nil }
            index += 4
        }
        return output
    }

    private static let padding = UInt8(ascii: "=")
    private static let invalid: UInt8 = 0xFF

    private static let alphabet: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodingTable: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (value, character) in alphabet.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()
}
