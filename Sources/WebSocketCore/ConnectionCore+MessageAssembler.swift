/// Turning frames into what the application receives: control frames handled as they complete,
/// data frames assembled into messages (or handed over as fragments), validated (§5.4, §8.1).
extension ConnectionCore {
    mutating func finishFrame() {
        inPayload = false
        switch frameOpcode {
        case .ping:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            if configuration.answersPings, case .open = lifecycle {
                // §5.5.3: a pong in response to a ping carries the ping's application data.
                enqueueFrame(.pong, payload: payload)
            }
            events.append(.ping(payload))
        case .pong:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            events.append(.pong(payload))
        case .close:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            receivedClose(payload)
        case .text, .binary, .continuation:
            guard frameIsFinal else {
                if configuration.deliversFragments && !messagePayload.isEmpty { deliverFragment(isFinal: false) }
                return
            }
            if messageCompressed {
                // RFC 7692 §7.2.2: append 00 00 ff ff to the payload of the whole message, inflate.
                let done = DeflateCodec.tail.withUnsafeBytes { inflate($0, countsAsReceived: false) }
                guard done, acceptsInput else { return }
                compressionStatistics.uncompressedBytesReceived += messageDelivered + messagePayload.count
                if peerNoContextTakeover { uniqueInflater().reset() }
                messageCompressed = false
            }
            if messageKind == .text {
                guard messageValidator.isComplete else {
                    return fail(.init(.invalidPayload, "text message ends inside a UTF-8 sequence"))
                }
            }
            if configuration.deliversFragments {
                deliverFragment(isFinal: true)
            } else if messageKind == .text {
                deliver(.message(.text(String(decoding: messagePayload, as: UTF8.self))))
            } else {
                deliver(.message(.binary(messagePayload)))
            }
            messagePayload = []
            payloadFilled = nil
            messageDelivered = 0
            messageKind = nil
            messageValidator = UTF8Validator()
        }
    }

    /// Hands the message bytes received so far to the application as a fragment.
    ///
    /// With ``Configuration/fragmentsEndOnCharacterBoundaries``, a non-final text fragment keeps
    /// back an incomplete UTF-8 sequence at its end (the validator knows one is pending), which
    /// then starts the next fragment; nothing is delivered when that tail is all there is.
    mutating func deliverFragment(isFinal: Bool) {
        guard let kind = messageKind else { return }
        let tail =
            isFinal || kind != .text || !configuration.fragmentsEndOnCharacterBoundaries
            ? 0 : incompleteCharacterTail()
        guard tail > 0 else {
            messageDelivered += messagePayload.count
            deliver(.fragment(MessageFragment(kind: kind, bytes: messagePayload, isFinal: isFinal)))
            messagePayload = []
            return
        }
        guard messagePayload.count > tail else { return }
        // Hand over the buffer itself and keep a copy of the tail (at most 3 bytes), not the reverse.
        let carried = Array(messagePayload.suffix(tail))
        messagePayload.removeLast(tail)
        messageDelivered += messagePayload.count
        deliver(.fragment(MessageFragment(kind: kind, bytes: messagePayload, isFinal: false)))
        messagePayload = carried
    }

    /// How many bytes at the end of `messagePayload` belong to a UTF-8 sequence still missing
    /// continuation bytes: 0 when the text so far ends on a character boundary. The payload was
    /// validated, so the tail is one lead byte followed by at most two continuation bytes.
    func incompleteCharacterTail() -> Int {
        guard !messageValidator.isComplete else { return 0 }
        var count = 0
        // Continuation bytes are 10xxxxxx; the lead byte before them starts the sequence. A
        // sequence begun in bytes already delivered is impossible: fragments end on boundaries.
        for byte in messagePayload.reversed() {
            count += 1
            if byte & 0xC0 != 0x80 || count == 4 { break }
        }
        return min(count, messagePayload.count)
    }

    /// Queues a message or fragment for the application and counts it for `maxMessages`.
    mutating func deliver(_ event: Event) {
        events.append(event)
        deliveredInCall += 1
    }
}
