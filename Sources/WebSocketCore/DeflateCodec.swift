import CZlib

/// The zlib streams of permessage-deflate (RFC 7692 §7.2): raw deflate (no zlib header), flushed
/// with `Z_SYNC_FLUSH` at the end of each message, whose `00 00 ff ff` tail is removed by the
/// sender and put back by the receiver.
///
/// Each stream lives in a heap object (zlib keeps a pointer back to its `z_stream`, so it must not
/// move). ``ConnectionCore`` keeps value semantics by copying a stream (`deflateCopy`,
/// `inflateCopy`) before changing it whenever the object is shared with a copy of the core.
enum DeflateCodec {
    /// The empty stored block that ends a sync flush (§7.2.1) and that the receiver appends (§7.2.2).
    static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// zlib's raw deflate refuses windowBits 8 (zlib 1.2.9+); 9 is what implementations use instead.
    static func deflateWindowBits(_ negotiated: Int) -> Int32 { Int32(max(negotiated, 9)) }

    /// We always inflate with the largest window, whatever was negotiated for the peer's direction.
    ///
    /// Why: zlib checks a match's distance against its window *plus the output of the current
    /// `inflate()` call*, so with a smaller window a peer that compresses with a larger window than
    /// agreed would have its message accepted when it arrives in one read and rejected ("invalid
    /// distance too far back") when TCP splits it: the outcome would depend on segmentation (found
    /// by FuzzConnectionCore). With 15 bits every valid deflate distance (at most 32 KiB) is
    /// accepted, however the bytes arrive, and a distance beyond what was produced is always
    /// rejected. This also accepts peers that compress with 9 bits for a negotiated 8. The cost:
    /// zlib allocates the window (32 KiB instead of 2^bits) on the first compressed message a
    /// connection receives, never on an idle connection. Being lenient here follows RFC 7692
    /// §7.1.2, which limits the *sender's* window.
    static let inflateWindowBits: Int32 = 15

    /// Size of the output scratch that zlib writes into before the bytes are appended.
    static let scratchSize = 32 * 1024

    /// Lends `body` an output scratch for one call (on the stack where the runtime allows it).
    /// Not a stored buffer: an idle connection with compression would otherwise keep 32 KiB per
    /// direction for nothing.
    static func withScratch<Result>(_ body: (UnsafeMutableRawBufferPointer) -> Result) -> Result {
        withUnsafeTemporaryAllocation(byteCount: scratchSize, alignment: 16, body)
    }
}

/// A raw-deflate compressor.
// @unchecked: the z_stream is only touched through ConnectionCore, which copies it (deflateCopy) before any mutation while shared (isKnownUniquelyReferenced), so no instance is mutated from two places.
final class Deflater: @unchecked Sendable {
    private let stream: UnsafeMutablePointer<z_stream>

    init(windowBits: Int, memoryLevel: Int, level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit2_(
            stream, Int32(level), Z_DEFLATED, -DeflateCodec.deflateWindowBits(windowBits),
            Int32(memoryLevel), Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit2 failed (\(status)): out of memory or invalid options")
    }

    private init(copying other: Deflater) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateCopy(stream, other.stream)
        precondition(status == Z_OK, "deflateCopy failed (\(status)): out of memory")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func copy() -> Deflater { Deflater(copying: self) }

    /// Forgets the history (no context takeover, §7.1.1).
    func reset() { deflateReset(stream) }

    /// Compresses `input` with a sync flush; with `endOfMessage` the trailing `00 00 ff ff` is
    /// removed (§7.2.1). The result is the compressed payload for the frame.
    func compress(_ input: UnsafeRawBufferPointer, endOfMessage: Bool) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 2 + 64)
        let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base)
        stream.pointee.avail_in = UInt32(input.count)
        DeflateCodec.withScratch { buffer in
            let out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            while true {
                stream.pointee.next_out = out
                stream.pointee.avail_out = UInt32(buffer.count)
                let status = deflate(stream, Z_SYNC_FLUSH)
                let produced = buffer.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<produced]))
                // Z_BUF_ERROR: nothing left to do (a flush with no new input).
                precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed (\(status))")
                if stream.pointee.avail_out != 0 { break }  // all input consumed and flushed
            }
        }
        stream.pointee.next_in = nil
        if endOfMessage, output.count >= 4, output[(output.count - 4)...].elementsEqual(DeflateCodec.tail) {
            output.removeLast(4)
        } else if endOfMessage && output.isEmpty {
            // No new input since the last flush produces nothing, but the receiver appends the
            // tail, which must follow a stored block's header bits: send the empty block's 0x00
            // (§7.2.3.6).
            output = [0x00]
        }
        return output
    }
}

/// A raw-deflate decompressor that never produces more than it is allowed to.
// @unchecked: the z_stream is only touched through ConnectionCore, which copies it (inflateCopy) before any mutation while shared (isKnownUniquelyReferenced), so no instance is mutated from two places.
final class Inflater: @unchecked Sendable {
    enum Outcome: Equatable {
        case ok
        /// The output would pass the limit; what was produced stops at the limit.
        case tooBig
        case invalid(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>

    /// A raw-deflate stream with a 15-bit window, whatever was negotiated: see
    /// ``DeflateCodec/inflateWindowBits``.
    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, -DeflateCodec.inflateWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "inflateInit2 failed (\(status)): out of memory")
    }

    private init(copying other: Inflater) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateCopy(stream, other.stream)
        precondition(status == Z_OK, "inflateCopy failed (\(status)): out of memory")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func copy() -> Inflater { Inflater(copying: self) }

    /// Forgets the history (the peer does not take over its context, §7.1.1).
    func reset() { inflateReset(stream) }

    /// Inflates `input`, appending to `output` while `output.count` stays at most `limit`.
    ///
    /// Decompression-bomb safe: zlib is never given room for more than `limit - output.count + 1`
    /// bytes (at most 32 KiB at a time), so a tiny input that would inflate to gigabytes stops
    /// with ``Outcome/tooBig`` after at most `limit + 1` bytes were produced.
    func inflate(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8], limit: Int) -> Outcome {
        guard input.count > 0 else { return .ok }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        defer { stream.pointee.next_in = nil }
        return DeflateCodec.withScratch { buffer -> Outcome in
            let out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            while true {
                let room = limit - output.count  // >= 0
                let space = room >= buffer.count ? buffer.count : room + 1
                stream.pointee.next_out = out
                stream.pointee.avail_out = UInt32(space)
                let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                let produced = space - Int(stream.pointee.avail_out)
                if produced > room {
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<room]))
                    return .tooBig
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<produced]))
                switch status {
                case Z_OK:
                    break
                case Z_STREAM_END:
                    // A final block (BFINAL) ended the deflate stream: start a fresh one for what follows.
                    inflateReset(stream)
                case Z_BUF_ERROR:
                    return .ok  // no progress possible: input used up
                default:
                    let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                    return .invalid("invalid compressed data: \(message)")
                }
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return .ok }
            }
        }
    }
}
