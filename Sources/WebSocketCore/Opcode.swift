/// A frame opcode (RFC 6455 §5.2). Only the six defined values are representable: a reserved opcode
/// on the wire is a protocol error caught by the decoder, never a value of this type.
public enum Opcode: UInt8, Sendable, Hashable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set (§5.5).
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}
