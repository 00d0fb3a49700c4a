// Fuzz target: Inflater.inflate(_:appendingTo:limit:), the size-limited raw inflate of
// permessage-deflate (DeflateCodec.swift), against decompression bombs; and Deflater → Inflater
// round trips.
//
// Input: 3 parameter bytes, then the data.
//   0: bit 0 mode (0 inflate the data, 1 round trip), bits 1-3 the compressor's window bits 8 + n
//      in a round trip (we always inflate with 15, DeflateCodec.inflateWindowBits), bits 4-7 zlib
//      memLevel and level for the round trip, with 0x80 also meaning "no context takeover"
//   1: the limit (see `limits`; up to 16 MiB, or none)
//   2: seed of the split points
// Run it with -rss_limit_mb (Scripts/fuzz.sh uses 1024): memory must stay bounded whatever the data.
// Invariants:
// - inflating never appends more than the limit; `.tooBig` means the output stopped exactly at it;
// - one-shot and chunked inflation of the same data (then the 00 00 ff ff tail, as a message end)
//   give the same outcome and the same bytes, however the data is split;
// - round trip: messages made from the data, compressed in random pieces (sync-flushed, tail
//   removed), inflate back to themselves, or to exactly `limit` bytes of themselves with `.tooBig`
//   when they are larger; with context takeover across messages, or a reset after each.

import FuzzSupport

@testable import WebSocketCore

let limits = [0, 1, 2, 10, 100, 1000, 4095, 4096, 32767, 32768, 32769, 65536, 100_000, 1 << 20, 16 << 20, Int.max]
let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let limit = limits[Int(input.byte() & 15)]
    var rng = SplitMix64(seed: UInt64(input.byte()))
    let windowBits = 8 + Int((config >> 1) & 7)
    let bytes = input.rest
    if config & 1 == 0 {
        let whole = inflate([bytes[...]], limit: limit)
        let pieces = inflate(chunks(of: bytes[...], using: &rng), limit: limit)
        require(
            whole.outcome == pieces.outcome && sameBytes(whole.output, pieces.output),
            "one-shot \(whole.outcome) after \(whole.output.count) bytes, chunked \(pieces.outcome) after \(pieces.output.count)")
    } else {
        roundTrip(
            bytes, windowBits: windowBits, level: 1 + Int(config >> 4) % 9, noContextTakeover: config & 0x80 != 0,
            limit: limit, rng: &rng)
    }
    return 0
}

/// Inflates `chunks` then the tail, as the connection does for one message.
func inflate(_ chunks: [ArraySlice<UInt8>], limit: Int) -> (outcome: Inflater.Outcome, output: [UInt8]) {
    let inflater = Inflater()
    var output: [UInt8] = []
    for chunk in chunks + [tail[...]] {
        let outcome = chunk.withUnsafeBytes { inflater.inflate($0, appendingTo: &output, limit: limit) }
        require(output.count <= limit, "inflated \(output.count) bytes with a limit of \(limit)")
        switch outcome {
        case .ok: continue
        case .tooBig: require(output.count == limit, "tooBig after \(output.count) bytes with a limit of \(limit)")
        case .invalid(let detail): require(!detail.isEmpty, "empty error")
        }
        return (outcome, output)
    }
    return (.ok, output)
}

func roundTrip(_ bytes: [UInt8], windowBits: Int, level: Int, noContextTakeover: Bool, limit: Int, rng: inout SplitMix64) {
    let deflater = Deflater(windowBits: windowBits, memoryLevel: level, level: level)
    let inflater = Inflater()
    // Up to four messages: pieces of the data, and the data repeated (compressible, bomb-like).
    var messages: [[UInt8]] = []
    var start = 0
    for _ in 0..<3 where start < bytes.count {
        let end = min(bytes.count, start + 1 + rng.below(bytes.count - start))
        messages.append(Array(bytes[start..<end]))
        start = end
    }
    messages.append(Array(repeating: bytes.first ?? 0, count: rng.below(16) == 0 ? 70_000 : rng.below(3000)))
    for message in messages {
        // Compress in random pieces (a fragmented send), the last one ending the message.
        var compressed: [[UInt8]] = []
        // (At most 8 pieces for the large message: each piece is a sync flush.)
        let pieces =
            message.count <= 4096
            ? chunks(of: message[...], using: &rng)
            : stride(from: 0, to: message.count, by: message.count / 8 + 1).map {
                message[$0..<min(message.count, $0 + message.count / 8 + 1)]
            }
        if pieces.isEmpty {
            compressed.append(deflater.compress(UnsafeRawBufferPointer(start: nil, count: 0), endOfMessage: true))
        }
        for (index, piece) in pieces.enumerated() {
            compressed.append(piece.withUnsafeBytes { deflater.compress($0, endOfMessage: index == pieces.count - 1) })
        }
        if noContextTakeover { deflater.reset() }
        var output: [UInt8] = []
        var outcome = Inflater.Outcome.ok
        for piece in compressed + [tail] where outcome == .ok {
            outcome = piece.withUnsafeBytes { inflater.inflate($0, appendingTo: &output, limit: limit) }
            require(output.count <= limit, "inflated \(output.count) bytes with a limit of \(limit)")
        }
        if message.count <= limit {
            require(
                outcome == .ok && sameBytes(output, message),
                "a message of \(message.count) bytes inflates to \(output.count) bytes: \(outcome)")
        } else {
            require(
                outcome == .tooBig && output.count == limit && sameBytes(output[...], message[..<limit]),
                "a message of \(message.count) bytes over the limit \(limit) gives \(outcome) after \(output.count) bytes")
            return  // the stream stops at the limit; the connection fails there
        }
        if noContextTakeover { inflater.reset() }
    }
}

runFuzzer(fuzzInflate)
