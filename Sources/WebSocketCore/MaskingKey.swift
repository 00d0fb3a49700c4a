/// A 4-byte masking key (RFC 6455 §5.3).
///
/// Masking XORs payload byte `i` with key byte `i % 4`. This is the hot loop of the client's send
/// path and of the server's receive path, so it works a machine word at a time; `phase` carries the
/// position within the key across chunks, so a payload may be masked piecewise as it arrives.
public struct MaskingKey: Sendable, Hashable {
    /// The key bytes in wire order.
    public var bytes: (UInt8, UInt8, UInt8, UInt8)

    /// A key from its four bytes, in wire order.
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        bytes = (b0, b1, b2, b3)
    }

    /// A key drawn from `generator`. The core never chooses randomness itself: the caller injects the
    /// generator (the system's in production, a seeded one in tests).
    public static func random(using generator: inout some RandomNumberGenerator) -> MaskingKey {
        // The low 32 bits of one draw: what `UInt32.random(in: .min ... .max, using:)` returns for
        // the full range, without its generic detour (unspecialized across modules, it looked up
        // `ClosedRange<UInt32>`'s metadata on every frame sent: ~1,000 instructions).
        let value = UInt32(truncatingIfNeeded: generator.next())
        return MaskingKey(
            UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24))
    }

    /// Whether the two keys have the same four bytes (a tuple is not `Equatable` by itself).
    public static func == (lhs: MaskingKey, rhs: MaskingKey) -> Bool {
        lhs.bytes.0 == rhs.bytes.0 && lhs.bytes.1 == rhs.bytes.1 && lhs.bytes.2 == rhs.bytes.2 && lhs.bytes.3 == rhs.bytes.3
    }

    /// Hashes the four bytes, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0)
        hasher.combine(bytes.1)
        hasher.combine(bytes.2)
        hasher.combine(bytes.3)
    }

    @inlinable subscript(index: Int) -> UInt8 {
        switch index & 3 {
        case 0: return bytes.0
        case 1: return bytes.1
        case 2: return bytes.2
        default: return bytes.3
        }
    }

    /// The key repeated over 8 bytes, starting at key byte `phase`, in memory order.
    @inlinable func wideKey(phase: Int) -> UInt64 {
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { raw in
            for i in 0..<8 { raw[i] = self[phase &+ i] }
        }
        return word
    }

    /// Masks (or unmasks: XOR is its own inverse) `buffer` in place.
    ///
    /// - Parameters:
    ///   - buffer: the bytes to mask, changed in place.
    ///   - phase: the offset within the key of `buffer`'s first byte (0 for a payload's start).
    /// - Returns: the phase for the byte after `buffer`, to pass to the next chunk of the same payload.
    @discardableResult
    @inlinable public func apply(to buffer: UnsafeMutableRawBufferPointer, phase: Int = 0) -> Int {
        guard let base = buffer.baseAddress else { return phase & 3 }
        mask(from: UnsafeRawPointer(base), to: base, count: buffer.count, phase: phase)
        return (phase &+ buffer.count) & 3
    }

    /// Masks `source` into `destination` (which must hold at least `source.count` bytes) in one pass.
    ///
    /// Used to encode a client frame straight into the output buffer, so the caller's payload is
    /// never modified and is read only once.
    /// - Returns: the phase after the last byte.
    @discardableResult
    @inlinable public func apply(from source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer, phase: Int = 0)
        -> Int
    {
        if let base = source.baseAddress {
            mask(from: base, to: destination, count: source.count, phase: phase)
        }
        return (phase &+ source.count) & 3
    }

    @inlinable func mask(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, phase: Int) {
        let key = wideKey(phase: phase)
        var offset = 0
        // Four words per iteration: the loop the optimiser turns into wide vector XORs.
        while offset &+ 32 <= count {
            let a = source.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self)
            let c = source.loadUnaligned(fromByteOffset: offset &+ 16, as: UInt64.self)
            let d = source.loadUnaligned(fromByteOffset: offset &+ 24, as: UInt64.self)
            destination.storeBytes(of: a ^ key, toByteOffset: offset, as: UInt64.self)
            destination.storeBytes(of: b ^ key, toByteOffset: offset &+ 8, as: UInt64.self)
            destination.storeBytes(of: c ^ key, toByteOffset: offset &+ 16, as: UInt64.self)
            destination.storeBytes(of: d ^ key, toByteOffset: offset &+ 24, as: UInt64.self)
            offset &+= 32
        }
        while offset &+ 8 <= count {
            let a = source.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            destination.storeBytes(of: a ^ key, toByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
        // Offsets that are multiples of 8 keep the key's phase, so the tail continues from `phase`.
        while offset < count {
            let byte = source.load(fromByteOffset: offset, as: UInt8.self) ^ self[phase &+ offset]
            destination.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset &+= 1
        }
    }
}
