/// Reading frames from the byte stream (RFC 6455 §5.2): headers, masks, reserved bits, limits,
/// and the payload handed to the message assembler. A violation fails the connection
/// (`ConnectionCore+Closing.swift`) and stops the reading.
extension ConnectionCore {
    /// Feeds bytes read from the transport and returns how many it consumed. Never throws; see
    /// the type's documentation.
    ///
    /// - Parameters:
    ///   - bytes: what the transport delivered; only read during the call.
    ///   - maxMessages: stop after this many messages (or fragments, with
    ///     ``Configuration/deliversFragments``) were produced by this call, leaving the rest of
    ///     `bytes` unconsumed: a reader whose queue has room for `n` more stops exactly at the
    ///     message that fills it and feeds the rest once there is room again.
    /// - Returns: the number of bytes consumed: `bytes.count` unless `maxMessages` stopped it
    ///   (input after a terminal event or a violation counts as consumed: it is ignored).
    @discardableResult
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, maxMessages: Int = .max) -> Int {
        let count = bytes.count
        var offset = 0
        deliveredInCall = 0
        reading: while acceptsInput {
            if deliveredInCall >= maxMessages && !inPayload && headerBuffer.isEmpty { return offset }
            if inPayload {
                guard offset < count else { break reading }
                let available = count - offset
                let take = frameRemaining < UInt64(available) ? Int(frameRemaining) : available
                consumePayload(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                frameRemaining -= UInt64(take)
                if frameRemaining == 0 && acceptsInput { finishFrame() }
                continue
            }
            let result: FrameHeader.DecodeResult
            if headerBuffer.isEmpty {
                guard offset < count else { break reading }
                // Fast path: the whole header is in this chunk, decode it in place.
                result = FrameHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                if case .header(_, let size) = result { offset += size }
            } else {
                result = headerBuffer.withUnsafeBytes { FrameHeader.decode($0) }
            }
            switch result {
            case .header(let header, _):
                headerBuffer.removeAll(keepingCapacity: true)
                if let size = deliverInPlace(header, from: UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                    offset += size
                } else {
                    startFrame(header)
                }
            case .needBytes(let needed):
                guard offset < count else { break reading }
                // Buffer exactly up to what the header needs: the payload must stay in `bytes`.
                let take = min(needed - headerBuffer.count, count - offset)
                headerBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
            case .invalid(let violation):
                fail(violation)
            }
        }
        if configuration.deliversFragments && inPayload && !messagePayload.isEmpty && acceptsInput
            && deliveredInCall < maxMessages
        {
            deliverFragment(isFinal: false)
        }
        return count
    }

    /// Feeds bytes from any collection (convenience for tests and scripted peers).
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ _ = receive(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { _ = receive($0) }
        }
    }

    /// The fast path for the common case: a whole unfragmented, unmasked data message that is
    /// already entirely in `bytes` (which start at its payload) becomes a `Message` with a single
    /// copy, straight from the caller's buffer. Returns the payload size consumed, or `nil` when
    /// the frame needs the general path (fragments, masks, extensions, limits, partial payloads).
    mutating func deliverInPlace(_ header: FrameHeader, from bytes: UnsafeRawBufferPointer) -> Int? {
        guard role == .client, !configuration.deliversFragments, configuration.acceptsText || header.opcode != .text,
            header.isFinal, header.maskingKey == nil, header.reservedBits == 0,
            messageKind == nil, header.payloadLength <= UInt64(bytes.count),
            header.payloadLength <= UInt64(configuration.maxMessageSize)
        else { return nil }
        let size = Int(header.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[..<size])
        switch header.opcode {
        case .text:
            var validator = UTF8Validator()
            guard validator.validate(payload), validator.isComplete else { return nil }  // the general path fails it
            deliver(.message(.text(String(decoding: payload, as: UTF8.self))))
        case .binary:
            deliver(.message(.binary([UInt8](payload))))
        default:
            return nil
        }
        return size
    }

    mutating func startFrame(_ header: FrameHeader) {
        // §5.2: "If a nonzero value is received and none of the negotiated extensions defines the
        // meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_."
        var allowedBits = header.opcode.isControl ? 0 : configuration.allowedReservedBits
        if configuration.deflate != nil {
            // RFC 7692 §6.1: RSV1 is the "Per-Message Compressed" bit of a message's first frame;
            // §6: never on control frames, and continuation frames MUST have it clear.
            if header.opcode == .continuation && header.reservedBits & 0x4 != 0 {
                return fail(.init(.protocolError, "RSV1 set on a continuation frame (RFC 7692 §6.1)"))
            }
            if header.opcode == .text || header.opcode == .binary { allowedBits |= 0x4 }
        }
        guard header.reservedBits & ~allowedBits == 0 else {
            return fail(
                .init(
                    .protocolError, "reserved bits 0x\(String(header.reservedBits, radix: 16)) set without a negotiated extension"
                ))
        }
        // §5.1: servers MUST close on an unmasked frame; clients on a masked one.
        switch role {
        case .server where header.maskingKey == nil:
            return fail(.init(.protocolError, "unmasked frame from a client"))
        case .client where header.maskingKey != nil:
            return fail(.init(.protocolError, "masked frame from a server"))
        default:
            break
        }
        switch header.opcode {
        case .continuation:
            guard messageKind != nil else {
                return fail(.init(.protocolError, "continuation frame without a message in progress"))
            }
        case .text, .binary:
            guard messageKind == nil else {
                return fail(.init(.protocolError, "new data frame while a fragmented message is in progress"))
            }
            if header.opcode == .text && !configuration.acceptsText {
                // §7.4.1: 1003 "if it receives a type of data it cannot accept (e.g., an endpoint
                // that understands only text data MAY send this if it receives a binary message)".
                return fail(.init(.unsupportedData, "text message received by an endpoint that accepts only binary data"))
            }
        case .close, .ping, .pong:
            break
        }
        if !header.opcode.isControl {
            if messageKind == nil {
                messageCompressed = configuration.deflate != nil && header.reservedBits & 0x4 != 0
            }
            let limit = UInt64(configuration.maxMessageSize)
            let size = UInt64(messageDelivered + messagePayload.count) + header.payloadLength
            // Checked before anything is buffered: a header claiming exabytes allocates nothing.
            // A compressed message is never buffered compressed: its limit applies to the inflated
            // bytes, while inflating (consumePayload).
            guard messageCompressed || size <= limit else {
                return fail(.init(.messageTooBig, "message of at least \(size) bytes exceeds the limit of \(limit) bytes"))
            }
            if messageKind == nil {
                messageKind = header.opcode == .text ? .text : .binary
                preparePayloadStorage(for: header)  // ConnectionCore+DirectPayload.swift
            }
        }
        frameOpcode = header.opcode
        frameIsFinal = header.isFinal
        frameKey = header.maskingKey
        maskPhase = 0
        frameRemaining = header.payloadLength
        inPayload = true
        if frameRemaining == 0 { finishFrame() }
    }

    mutating func consumePayload(_ chunk: UnsafeRawBufferPointer) {
        if frameOpcode.isControl {
            let start = controlPayload.count
            controlPayload.append(contentsOf: chunk)
            if let key = frameKey {
                maskPhase = controlPayload.withUnsafeMutableBytes {
                    key.apply(to: UnsafeMutableRawBufferPointer(rebasing: $0[start...]), phase: maskPhase)
                }
            }
            return
        }
        if messageCompressed { return inflatePayload(chunk) }
        processPayload(from: storePayload(chunk), count: chunk.count)
    }

    /// Unmasks and validates the `count` payload bytes just stored at `start` of the message.
    mutating func processPayload(from start: Int, count: Int) {
        let key = frameKey
        let isText = messageKind == .text
        let phase = maskPhase
        let valid = messagePayload.withUnsafeMutableBytes { buffer -> Bool in
            let stored = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + count)])
            if let key { key.apply(to: stored, phase: phase) }
            // §8.1: fail as soon as invalid UTF-8 arrives, not when the message completes.
            return !isText || messageValidator.validate(UnsafeRawBufferPointer(stored))
        }
        maskPhase = (phase + count) & 3
        if !valid { fail(.init(.invalidPayload, "invalid UTF-8 in a text message")) }
    }

}
