// Test helpers shared by the handshake test files.

extension SeededGenerator {
    /// Returns `count` random bytes, eight from each draw (a draw a byte made the round-trip test
    /// hold a thread of the cooperative pool for seconds under the sanitizers).
    mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < count {
                let n = min(8, count - offset)
                withUnsafeBytes(of: next().littleEndian) { buffer[offset..<offset + n].copyBytes(from: $0[..<n]) }
                offset += n
            }
        }
        return bytes
    }
}

/// Returns the lowercase hex spelling of `bytes`, for comparing digests with published vectors.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
