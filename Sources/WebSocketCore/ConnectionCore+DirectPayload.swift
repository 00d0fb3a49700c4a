/// Reading a large payload straight into the message it becomes, instead of through a read buffer.
///
/// Why: through ``ConnectionCore/receive(_:maxMessages:)`` every payload byte is copied twice in
/// user space's view of it: the kernel copies it into the caller's read buffer, then the core
/// copies it into the message. For a message of 1 MiB that second copy is a tenth of the CPU a
/// round trip costs. When a frame announces a large payload, the core allocates the message at
/// its final size up front, and the caller reads the rest of the payload into it
/// (``receivePayload(reading:)``): the kernel's copy is the only one, and one read can take the
/// whole remainder instead of a read buffer's worth.
///
/// When it applies (``directPayloadCapacity`` > 0): the first and only frame of a message
/// (unfragmented), uncompressed, assembled whole (not ``Configuration/deliversFragments``), whose
/// payload is at least ``directPayloadThreshold`` and at most ``directPayloadLimit`` bytes. The
/// upper bound is what the general path reserves ahead of the bytes arriving anyway, so a header
/// that lies about its length makes us allocate no more than before. Masks (server role) are
/// removed in place and text is validated as the bytes land, exactly as on the general path, so a
/// violation fails the connection at the same byte.
extension ConnectionCore {
    /// Payloads smaller than this go through the read buffer: one read takes them anyway.
    public static let directPayloadThreshold = 64 * 1024
    /// The largest payload allocated at its announced size before its bytes arrive.
    public static let directPayloadLimit = 1 << 20

    /// How many bytes of the current frame's payload the caller may read straight into the
    /// message with ``receivePayload(reading:)``; 0 when bytes must go through `receive`.
    public var directPayloadCapacity: Int {
        guard inPayload, payloadFilled != nil, acceptsInput else { return 0 }
        return Int(frameRemaining)
    }

    /// Lets `read` fill the front of the rest of the current payload (``directPayloadCapacity``
    /// bytes, contents undefined on entry), then takes the bytes it reports as received.
    ///
    /// - Parameter read: returns how many bytes it wrote to the front of the buffer, or `nil`
    ///   (nothing available; nothing is taken). 0 means the stream ended: nothing is taken either,
    ///   and the caller goes on to ``receiveEndOfStream()``.
    /// - Returns: what `read` returned. Events (the completed message, a violation) are queued as
    ///   after `receive`.
    /// - Precondition: ``directPayloadCapacity`` > 0.
    public mutating func receivePayload(reading read: (UnsafeMutableRawBufferPointer) throws -> Int?) rethrows -> Int? {
        precondition(directPayloadCapacity > 0, "receivePayload(reading:) needs directPayloadCapacity > 0")
        let start = payloadFilled ?? 0
        let end = start + Int(frameRemaining)
        let count = try messagePayload.withUnsafeMutableBytes {
            try read(UnsafeMutableRawBufferPointer(rebasing: $0[start..<end]))
        }
        guard let count, count > 0 else { return count }
        precondition(count <= end - start, "the reader reported more bytes than the buffer holds")
        deliveredInCall = 0
        payloadFilled = start + count
        processPayload(from: start, count: count)
        frameRemaining -= UInt64(count)
        if frameRemaining == 0 && acceptsInput { finishFrame() }
        return count
    }

    /// Allocates the message at the size `header` announces when the frame qualifies (see the
    /// extension's documentation); otherwise reserves up to ``directPayloadLimit`` as before.
    mutating func preparePayloadStorage(for header: FrameHeader) {
        guard !messageCompressed else { return }
        let size = header.payloadLength
        guard header.isFinal, !configuration.deliversFragments, size >= UInt64(Self.directPayloadThreshold),
            size <= UInt64(Self.directPayloadLimit)
        else {
            // Reserve what the frame announces, but not more than 1 MiB ahead of the bytes
            // actually arriving, so a lying header cannot make us allocate.
            messagePayload.reserveCapacity(Int(min(size, UInt64(Self.directPayloadLimit))))
            return
        }
        // Uninitialized on purpose (zeroing it would cost half of the copy this saves): UInt8 is a
        // trivial type, only the first `payloadFilled` bytes are ever read, and the message is
        // delivered only once the payload filled all of it (a failure drops it unread).
        messagePayload = [UInt8](unsafeUninitializedCapacity: Int(size)) { _, initialized in initialized = Int(size) }
        payloadFilled = 0
    }

    /// Stores a payload chunk of the current data frame at the end of what the message holds and
    /// returns where it starts.
    mutating func storePayload(_ chunk: UnsafeRawBufferPointer) -> Int {
        guard let filled = payloadFilled else {
            let start = messagePayload.count
            messagePayload.append(contentsOf: chunk)
            return start
        }
        messagePayload.withUnsafeMutableBytes {
            UnsafeMutableRawBufferPointer(rebasing: $0[filled..<(filled + chunk.count)]).copyMemory(from: chunk)
        }
        payloadFilled = filled + chunk.count
        return filled
    }
}
