/// The header of one frame (RFC 6455 §5.2), as decoded from or encoded to the wire.
public struct FrameHeader: Sendable, Hashable {
    /// FIN: whether this is the last frame of its message (always `true` for a control frame, §5.5).
    public var isFinal: Bool
    /// RSV1, RSV2, RSV3 as the bits 0x4, 0x2, 0x1. Non-zero only when an extension negotiated them.
    public var reservedBits: UInt8
    /// The frame's type; its low 4 bits on the wire.
    public var opcode: Opcode
    /// The masking key, present exactly when the frame is masked (every client frame, no server frame, §5.3).
    public var maskingKey: MaskingKey?
    /// The payload's length in bytes, as on the wire (7, 16 or 64 bits, §5.2); at most 125 for a control frame.
    public var payloadLength: UInt64

    /// A header with these fields; `reservedBits` defaults to none set. Nothing is validated here: the
    /// encoder writes what it is given and the decoder rejects what the RFC forbids.
    public init(isFinal: Bool, reservedBits: UInt8 = 0, opcode: Opcode, maskingKey: MaskingKey?, payloadLength: UInt64) {
        self.isFinal = isFinal
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// The most bytes a header can take: 2 + 8 (64-bit length) + 4 (masking key).
    public static let maximumSize = 14

    /// How long the encoded header is.
    @inlinable public var encodedSize: Int {
        let lengthBytes = payloadLength < 126 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (maskingKey == nil ? 0 : 4)
    }

    /// Writes the header at `destination` (which must have ``encodedSize`` bytes) and returns its size.
    /// Lengths use the shortest form (§5.2: "the minimal number of bytes MUST be used").
    @inlinable public func encode(into destination: UnsafeMutableRawPointer) -> Int {
        destination.storeBytes(of: (isFinal ? 0x80 : 0) | (reservedBits & 0x7) << 4 | opcode.rawValue, as: UInt8.self)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        var offset = 2
        if payloadLength < 126 {
            destination.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
        } else if payloadLength <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            offset = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: payloadLength.bigEndian, toByteOffset: 2, as: UInt64.self)
            offset = 10
        }
        if let key = maskingKey {
            destination.storeBytes(of: key.bytes.0, toByteOffset: offset, as: UInt8.self)
            destination.storeBytes(of: key.bytes.1, toByteOffset: offset + 1, as: UInt8.self)
            destination.storeBytes(of: key.bytes.2, toByteOffset: offset + 2, as: UInt8.self)
            destination.storeBytes(of: key.bytes.3, toByteOffset: offset + 3, as: UInt8.self)
            offset += 4
        }
        return offset
    }

    /// The outcome of trying to decode a header from the front of some bytes.
    public enum DecodeResult: Sendable, Equatable {
        /// The header is complete and took `size` bytes.
        case header(FrameHeader, size: Int)
        /// At least this many bytes in total are needed before the header can be decoded.
        case needBytes(Int)
        /// The bytes are not a valid header; the connection must fail with this error.
        case invalid(ProtocolViolation)
    }

    /// Decodes a header from the front of `bytes`, checking the rules that need no connection state:
    /// defined opcodes (§5.2), control frames final and at most 125 bytes (§5.5), the 64-bit length's
    /// most significant bit zero (§5.2). Role, reserved-bit and size rules are the caller's.
    @inlinable public static func decode(_ bytes: UnsafeRawBufferPointer) -> DecodeResult {
        guard bytes.count >= 2 else { return .needBytes(2) }
        let first = bytes[0]
        let second = bytes[1]
        let masked = second & 0x80 != 0
        let shortLength = second & 0x7F
        let lengthBytes = shortLength == 127 ? 8 : (shortLength == 126 ? 2 : 0)
        let size = 2 + lengthBytes + (masked ? 4 : 0)
        guard bytes.count >= size else { return .needBytes(size) }

        guard let opcode = Opcode(rawValue: first & 0x0F) else {
            return .invalid(.init(.protocolError, "reserved opcode 0x\(String(first & 0x0F, radix: 16))"))
        }
        let isFinal = first & 0x80 != 0
        var length = UInt64(shortLength)
        if lengthBytes == 2 {
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if lengthBytes == 8 {
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(bytes[i]) }
            guard length & (1 << 63) == 0 else {
                return .invalid(.init(.protocolError, "64-bit payload length with its most significant bit set"))
            }
        }
        if opcode.isControl {
            guard isFinal else { return .invalid(.init(.protocolError, "fragmented control frame")) }
            guard length <= 125 else {
                return .invalid(.init(.protocolError, "control frame payload of \(length) bytes (at most 125 allowed)"))
            }
        }
        var key: MaskingKey? = nil
        if masked {
            let k = 2 + lengthBytes
            key = MaskingKey(bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3])
        }
        let header = FrameHeader(
            isFinal: isFinal, reservedBits: (first >> 4) & 0x7, opcode: opcode,
            maskingKey: key, payloadLength: length)
        return .header(header, size: size)
    }
}
