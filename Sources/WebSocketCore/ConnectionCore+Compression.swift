/// permessage-deflate (RFC 7692) glue: the deflate and inflate streams, context takeover,
/// decompression-bomb protection and the statistics.
extension ConnectionCore {
    var ownNoContextTakeover: Bool {
        role == .client
            ? configuration.deflate?.clientNoContextTakeover == true : configuration.deflate?.serverNoContextTakeover == true
    }

    var peerNoContextTakeover: Bool {
        role == .client
            ? configuration.deflate?.serverNoContextTakeover == true : configuration.deflate?.clientNoContextTakeover == true
    }

    mutating func compress(_ payload: UnsafeRawBufferPointer, endOfMessage: Bool) -> [UInt8] {
        if deflater == nil {
            let parameters = configuration.deflate ?? .init()
            let options = configuration.deflateOptions
            deflater = Deflater(
                windowBits: role == .client ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits,
                memoryLevel: options.memoryLevel, level: options.compressionLevel)
        } else if !isKnownUniquelyReferenced(&deflater) {
            deflater = deflater!.copy()  // value semantics: a copy of this core shares the stream
        }
        let compressed = deflater!.compress(payload, endOfMessage: endOfMessage)
        // §7.1.1: without context takeover every message starts from an empty window.
        if endOfMessage && ownNoContextTakeover { deflater!.reset() }
        compressionStatistics.uncompressedBytesSent += payload.count
        compressionStatistics.compressedBytesSent += compressed.count
        return compressed
    }

    mutating func uniqueInflater() -> Inflater {
        if inflater == nil {
            inflater = Inflater()  // always a 15-bit window: the outcome must not depend on TCP segmentation
        } else if !isKnownUniquelyReferenced(&inflater) {
            inflater = inflater!.copy()  // value semantics: a copy of this core shares the stream
        }
        return inflater!
    }

    /// Unmasks (server role) and inflates a chunk of a compressed message's payload.
    mutating func inflatePayload(_ chunk: UnsafeRawBufferPointer) {
        guard let key = frameKey else {
            _ = inflate(chunk, countsAsReceived: true)
            return
        }
        // Unmasked in a copy that lives for this call only (the chunk is the reader's borrowed
        // buffer, at most one read's worth): nothing stays allocated between messages.
        guard !chunk.isEmpty else { return }
        withUnsafeTemporaryAllocation(byteCount: chunk.count, alignment: 16) { scratch in
            maskPhase = key.apply(from: chunk, to: scratch.baseAddress!, phase: maskPhase)
            _ = inflate(UnsafeRawBufferPointer(scratch), countsAsReceived: true)
        }
    }

    /// Inflates compressed bytes into the message, at most up to ``Configuration/maxMessageSize``
    /// (decompression-bomb protection: stops at the limit, fails with 1009), validating text as it
    /// is produced (§8.1 of RFC 6455 applies to the inflated bytes). Returns `false` on failure.
    mutating func inflate(_ compressed: UnsafeRawBufferPointer, countsAsReceived: Bool) -> Bool {
        if countsAsReceived { compressionStatistics.compressedBytesReceived += compressed.count }
        let start = messagePayload.count
        let outcome = uniqueInflater().inflate(
            compressed, appendingTo: &messagePayload,
            limit: configuration.maxMessageSize - messageDelivered)
        if messageKind == .text {
            let valid = messagePayload.withUnsafeBytes {
                messageValidator.validate(UnsafeRawBufferPointer(rebasing: $0[start...]))
            }
            guard valid else {
                fail(.init(.invalidPayload, "invalid UTF-8 in a text message"))
                return false
            }
        }
        switch outcome {
        case .ok:
            return true
        case .tooBig:
            fail(.init(.messageTooBig, "message inflates beyond the limit of \(configuration.maxMessageSize) bytes"))
            return false
        case .invalid(let detail):
            fail(.init(.invalidPayload, detail))
            return false
        }
    }
}
