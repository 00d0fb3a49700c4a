/// A frame opcode (RFC 6455 §5.2). Only the six defined values are representable: a reserved opcode
/// on the wire is a protocol error caught by the decoder, never a value of this type.
public enum Opcode: UInt8, Sendable, Hashable {
    /// 0x0: a later frame of a fragmented message (§5.4).
    case continuation = 0x0
    /// 0x1: the first frame of a text message.
    case text = 0x1
    /// 0x2: the first frame of a binary message.
    case binary = 0x2
    /// 0x8: a close frame, with an optional code and reason (§5.5.1).
    case close = 0x8
    /// 0x9: a ping, which the receiver answers with a pong carrying the same payload (§5.5.2).
    case ping = 0x9
    /// 0xA: a pong, the answer to a ping or an unsolicited heartbeat (§5.5.3).
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set (§5.5).
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}
