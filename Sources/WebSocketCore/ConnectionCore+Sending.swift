/// Sending (§5.1, §5.4, §5.5): whole messages, frames of a fragmented message, pings and pongs,
/// masked in the client role, compressed when permessage-deflate was negotiated. Closing is in
/// `ConnectionCore+Closing.swift`.
extension ConnectionCore {
    /// Queues a complete text message (one frame).
    public mutating func send(text: String) throws(UsageError) {
        try checkCanSendMessage()
        var text = text
        text.withUTF8 { enqueueMessage(.text, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Queues a complete binary message (one frame).
    public mutating func send(binary payload: UnsafeRawBufferPointer) throws(UsageError) {
        try checkCanSendMessage()
        enqueueMessage(.binary, payload: payload)
    }

    /// Queues a complete message of `kind` from raw bytes; text must be valid UTF-8.
    public mutating func send(_ payload: UnsafeRawBufferPointer, kind: MessageKind) throws(UsageError) {
        try checkCanSendMessage()
        if kind == .text {
            var validator = UTF8Validator()
            guard validator.validate(payload), validator.isComplete else { throw .invalidUTF8 }
        }
        enqueueMessage(kind == .text ? .text : .binary, payload: payload)
    }

    /// Queues one frame of a fragmented message (§5.4).
    ///
    /// The first frame carries `kind`'s opcode, later ones are continuations; `isFinal` ends the
    /// message. Text may split UTF-8 sequences between frames, but the whole must be valid.
    public mutating func sendFrame(_ payload: UnsafeRawBufferPointer, kind: MessageKind, isFinal: Bool) throws(UsageError) {
        guard acceptsSends else { throw .notOpen(state) }
        let opcode: Opcode
        if let inProgress = outboundFragmentKind {
            guard inProgress == kind else { throw .fragmentedMessageInProgress }
            opcode = .continuation
        } else {
            opcode = kind == .text ? .text : .binary
            outboundValidator = UTF8Validator()
            // A fragmented message is compressed as one message whenever deflate was negotiated
            // (its total size is unknown here, so the minimum size does not apply).
            outboundCompressed = configuration.deflate != nil
        }
        if kind == .text {
            guard outboundValidator.validate(payload), !isFinal || outboundValidator.isComplete else {
                throw .invalidUTF8
            }
        }
        outboundFragmentKind = isFinal ? nil : kind
        guard outboundCompressed else { return enqueueFrame(opcode, isFinal: isFinal, payload: payload) }
        // RFC 7692 §6.1: RSV1 on the first frame only; each fragment is sync-flushed so the peer
        // can inflate it at once, and the tail is removed at the end of the message (§7.2.1).
        let compressed = compress(payload, endOfMessage: isFinal)
        compressed.withUnsafeBytes {
            enqueueFrame(opcode, isFinal: isFinal, reservedBits: opcode == .continuation ? 0 : 0x4, payload: $0)
        }
    }

    /// Queues a ping (§5.5.2) with at most 125 bytes of application data.
    public mutating func sendPing(_ payload: [UInt8] = []) throws(UsageError) {
        try sendControl(.ping, payload)
    }

    /// Queues an unsolicited pong (§5.5.3: a unidirectional heartbeat).
    public mutating func sendPong(_ payload: [UInt8] = []) throws(UsageError) {
        try sendControl(.pong, payload)
    }

    private func checkCanSendMessage() throws(UsageError) {
        guard acceptsSends else { throw .notOpen(state) }
        guard outboundFragmentKind == nil else { throw .fragmentedMessageInProgress }
    }

    private mutating func sendControl(_ opcode: Opcode, _ payload: [UInt8]) throws(UsageError) {
        guard acceptsSends else { throw .notOpen(state) }
        guard payload.count <= 125 else { throw .controlPayloadTooLong(payload.count) }
        enqueueFrame(opcode, payload: payload)
    }

    mutating func enqueueClose(_ code: CloseCode?, reason: String) {
        guard let code else { return enqueueFrame(.close, payload: [UInt8]()) }
        var payload: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        payload.append(contentsOf: reason.utf8.prefix(123))
        enqueueFrame(.close, payload: payload)
    }

    mutating func enqueueFrame(_ opcode: Opcode, isFinal: Bool = true, reservedBits: UInt8 = 0, payload: UnsafeRawBufferPointer) {
        let key: MaskingKey? = role == .client ? .random(using: &randomNumberGenerator) : nil
        output.append(
            FrameEncoder.encode(
                opcode: opcode, isFinal: isFinal, reservedBits: reservedBits,
                payload: payload, maskingKey: key))
    }

    mutating func enqueueFrame(_ opcode: Opcode, payload: [UInt8]) {
        payload.withUnsafeBytes { enqueueFrame(opcode, payload: $0) }
    }

    /// Queues a whole message, compressed (RSV1 set, §6.1) when deflate was negotiated and the
    /// message is at least ``PerMessageDeflate/Options/minimumMessageSize`` bytes.
    mutating func enqueueMessage(_ opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard configuration.deflate != nil, payload.count >= configuration.deflateOptions.minimumMessageSize else {
            return enqueueFrame(opcode, payload: payload)
        }
        let compressed = compress(payload, endOfMessage: true)
        compressed.withUnsafeBytes { enqueueFrame(opcode, reservedBits: 0x4, payload: $0) }
    }
}
