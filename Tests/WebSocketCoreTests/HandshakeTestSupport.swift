// Test helpers shared by the handshake test files.

extension SeededGenerator {
    /// Returns `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// Returns the lowercase hex spelling of `bytes`, for comparing digests with published vectors.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
