/// Incremental UTF-8 validation (RFC 3629) for text messages and close reasons.
///
/// RFC 6455 §8.1: an endpoint that receives invalid UTF-8 in a text message MUST fail the
/// connection. Validating chunk by chunk, as payload bytes arrive, lets the connection fail *as soon
/// as* the invalid sequence arrives, not once the whole message is buffered. A multi-byte sequence
/// split across chunks or fragments is carried in the validator's state.
///
/// ASCII runs are skipped eight bytes at a time.
public struct UTF8Validator: Sendable, Hashable {
    /// Continuation bytes still expected for the sequence in progress.
    @usableFromInline var pending: UInt8 = 0
    /// Allowed range of the next continuation byte (tighter than 0x80...0xBF right after E0, ED, F0,
    /// F4, to reject overlong forms, surrogates and code points above U+10FFFF).
    @usableFromInline var lower: UInt8 = 0x80
    @usableFromInline var upper: UInt8 = 0xBF

    /// A validator at the start of a text, expecting the first byte of a character.
    public init() {}

    /// Whether the bytes seen so far end on a character boundary (required at the end of a message).
    @inlinable public var isComplete: Bool { pending == 0 }

    /// Feeds `bytes`, returning `false` as soon as they cannot be (the continuation of) valid UTF-8.
    /// After `false` the validator's state is meaningless; the caller fails the connection.
    @inlinable public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if pending == 0 {
                // Fast path: skip ASCII a word at a time.
                while i &+ 8 <= count,
                    base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
                {
                    i &+= 8
                }
                guard i < count else { return true }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF:
                    pending = 1
                    lower = 0x80
                    upper = 0xBF
                case 0xE0:
                    pending = 2
                    lower = 0xA0
                    upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF:
                    pending = 2
                    lower = 0x80
                    upper = 0xBF
                case 0xED:
                    pending = 2
                    lower = 0x80
                    upper = 0x9F
                case 0xF0:
                    pending = 3
                    lower = 0x90
                    upper = 0xBF
                case 0xF1...0xF3:
                    pending = 3
                    lower = 0x80
                    upper = 0xBF
                case 0xF4:
                    pending = 3
                    lower = 0x80
                    upper = 0x8F
                default: return false  // 0x80...0xC1 (stray continuation, overlong lead), 0xF5...0xFF
                }
            } else {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                guard byte >= lower && byte <= upper else { return false }
                pending &-= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Feeds the bytes of any contiguous collection. See ``validate(_:)-(UnsafeRawBufferPointer)``.
    @inlinable public mutating func validate(_ bytes: some Collection<UInt8>) -> Bool {
        if let result = bytes.withContiguousStorageIfAvailable({ validate(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { validate($0) }
    }
}
