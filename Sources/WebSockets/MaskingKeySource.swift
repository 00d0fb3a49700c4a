import CWebSocketsShim

/// The connections' source of masking keys: the kernel's CSPRNG (RFC 6455 §5.3 asks for
/// unpredictable keys), fetched 4 KiB at a time so that a frame costs no system call.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` call per value, which was one system call
/// per sent frame on the hot path.
struct MaskingKeySource: RandomNumberGenerator, Sendable {
    private var buffer: [UInt64] = []
    private var index = 0

    init() {}

    mutating func next() -> UInt64 {
        if index == buffer.count { refill() }
        defer { index += 1 }
        return buffer[index]
    }

    private mutating func refill() {
        var words = [UInt64](repeating: 0, count: 512)
        let status = words.withUnsafeMutableBytes { cws_random_bytes($0.baseAddress, $0.count) }
        if status == 0 {
            buffer = words
            index = 0
            return
        }
        var system = SystemRandomNumberGenerator()
        buffer = (0..<512).map { _ in system.next() }
        index = 0
    }
}
