/// Builds complete frames (header and, masked when a key is given, payload) in one buffer.
public enum FrameEncoder {
    /// Encodes one frame into a new array sized exactly for it: one allocation, payload read once.
    ///
    /// The caller's payload is never modified; with a masking key the masked copy goes straight
    /// into the output (§5.3).
    @inlinable public static func encode(
        opcode: Opcode, isFinal: Bool = true, reservedBits: UInt8 = 0,
        payload: UnsafeRawBufferPointer, maskingKey: MaskingKey?
    ) -> [UInt8] {
        let header = FrameHeader(
            isFinal: isFinal, reservedBits: reservedBits, opcode: opcode,
            maskingKey: maskingKey, payloadLength: UInt64(payload.count))
        let total = header.encodedSize + payload.count
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            let headerSize = header.encode(into: base)
            if let key = maskingKey {
                key.apply(from: payload, to: base + headerSize)
            } else if let source = payload.baseAddress, payload.count > 0 {
                (base + headerSize).copyMemory(from: source, byteCount: payload.count)
            }
            initialized = total
        }
    }

    /// Encodes one frame whose payload is any collection of bytes. See ``encode(opcode:isFinal:reservedBits:payload:maskingKey:)``.
    @inlinable public static func encode(
        opcode: Opcode, isFinal: Bool = true, reservedBits: UInt8 = 0,
        payload: some Collection<UInt8>, maskingKey: MaskingKey?
    ) -> [UInt8] {
        if let frame = payload.withContiguousStorageIfAvailable({
            encode(
                opcode: opcode, isFinal: isFinal, reservedBits: reservedBits,
                payload: UnsafeRawBufferPointer($0), maskingKey: maskingKey)
        }) {
            return frame
        }
        return Array(payload).withUnsafeBytes {
            encode(opcode: opcode, isFinal: isFinal, reservedBits: reservedBits, payload: $0, maskingKey: maskingKey)
        }
    }
}
