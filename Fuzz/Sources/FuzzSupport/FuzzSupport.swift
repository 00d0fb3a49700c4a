// Helpers shared by the libFuzzer targets in Fuzz/Sources (see README "Fuzzing"): reading
// parameters from the front of the input, deterministic chunking, and invariant checks that crash
// (so that libFuzzer saves the input) with a message saying which invariant broke.

import CFuzzerDriver
import WebSocketCore

#if canImport(Glibc)
    import Glibc
#endif

/// Crashes with `message` unless `condition` holds: libFuzzer reports the crash and writes the
/// input to `crash-<sha1>`.
@inlinable
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant violated: \(message())", file: file, line: line)
    }
}

/// Crashes with `message`: an invariant broke.
public func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz invariant violated: \(message)", file: file, line: line)
}

/// The fuzzer's input, read front to back: a few parameter bytes, then the payload.
/// Reading past the end yields zeros, so every input is a valid configuration.
public struct FuzzInput {
    public private(set) var bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        if let data, size > 0 {
            bytes = Array(UnsafeBufferPointer(start: data, count: size))
        } else {
            bytes = []
        }
    }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next two bytes, big-endian.
    public mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    /// Everything not read yet.
    public var rest: [UInt8] { offset < bytes.count ? Array(bytes[offset...]) : [] }
}

/// SplitMix64: a tiny deterministic generator, seeded from the input, for split points, per-call
/// limits and masking keys (so that a crash reproduces from its input alone).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound` (`bound` > 0).
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

/// Splits `bytes` into consecutive non-empty chunks whose sizes come from `rng`: often single
/// bytes (so that every header and UTF-8 sequence gets split somewhere), often small, sometimes
/// large.
public func chunks(of bytes: ArraySlice<UInt8>, using rng: inout SplitMix64) -> [ArraySlice<UInt8>] {
    var result: [ArraySlice<UInt8>] = []
    var start = bytes.startIndex
    while start < bytes.endIndex {
        let size: Int
        switch rng.below(8) {
        case 0, 1: size = 1
        case 2, 3, 4: size = 1 + rng.below(16)
        case 5, 6: size = 1 + rng.below(256)
        default: size = 1 + rng.below(8192)
        }
        let end = min(bytes.endIndex, start + size)
        result.append(bytes[start..<end])
        start = end
    }
    return result
}

/// Whether `bytes` is valid UTF-8, judged by the standard library (independently of the
/// library's own `UTF8Validator`).
public func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
    String(validating: bytes, as: UTF8.self) != nil
}

/// Runs libFuzzer with `callback` as the target (the target's exported `LLVMFuzzerTestOneInput`)
/// and exits with its status. Called from each target's main.swift.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, callback)
    exit(status)
}

/// How an HTTP head parse ended.
package enum HeadOutcome<Head: HTTPMessageHead & Equatable>: Equatable {
    case complete(Head, remaining: [UInt8])
    case needMoreData
    case failed(HTTPParseError)
}

/// Parses `chunks` with one ``HTTPHeadParser`` as the network would deliver them, and checks what
/// holds for every input: nothing beyond `maxHeadSize` was taken as head, the head and what
/// follows it add up to the input, and the fields are well formed. (The caller checks the field
/// count against `maxFieldCount`.)
package func parseHead<Head: HTTPMessageHead & Equatable>(
    _ chunks: [ArraySlice<UInt8>], maxHeadSize: Int, maxFieldCount: Int = .max, as: Head.Type = Head.self
) -> HeadOutcome<Head> {
    var parser = HTTPHeadParser<Head>(maxHeadSize: maxHeadSize, maxFieldCount: maxFieldCount)
    let total = chunks.reduce(0) { $0 + $1.count }
    for (index, chunk) in chunks.enumerated() {
        do {
            switch try parser.append(chunk) {
            case .needMoreData:
                continue
            case .complete(let head, var remaining):
                // Never call append again: the rest of the input belongs to the next stage.
                for later in chunks[(index + 1)...] { remaining.append(contentsOf: later) }
                require(
                    total - remaining.count <= maxHeadSize,
                    "head of \(total - remaining.count) bytes accepted with maxHeadSize \(maxHeadSize)")
                return .complete(head, remaining: remaining)
            }
        } catch {
            // A failed parser keeps failing with the same error.
            do {
                _ = try parser.append([UInt8(ascii: "\n")])
                require(false, "append succeeded after \(error)")
            } catch let again {
                require(again == error, "a failed parser threw \(again) after \(error)")
            }
            return .failed(error)
        }
    }
    return .needMoreData
}

/// Checks the header fields of a parsed head: token names, values without CR, LF, NUL or
/// surrounding whitespace (RFC 9110 §5.5, RFC 9112 §5).
package func checkFields(_ headers: HTTPHeaders) {
    for field in headers {
        require(HTTPSyntax.isToken(field.name), "field name \(field.name.debugDescription) is not a token")
        let value = Array(field.value.utf8)
        require(!value.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }, "CR, LF or NUL in \(field.value.debugDescription)")
        require(
            value.first != 0x20 && value.first != 0x09 && value.last != 0x20 && value.last != 0x09,
            "surrounding whitespace kept in \(field.value.debugDescription)")
    }
}

/// permessage-deflate options from one byte: 0x01 server_no_context_takeover, 0x02
/// client_no_context_takeover, bits 2-4 client window 8 + n, bits 5-7 server window 8 + n
/// (so 0xFC is 15/15, the default).
public func deflateOptions(_ byte: UInt8) -> PerMessageDeflate.Options {
    PerMessageDeflate.Options(
        clientMaxWindowBits: 8 + Int((byte >> 2) & 7), serverMaxWindowBits: 8 + Int(byte >> 5),
        clientNoContextTakeover: byte & 0x02 != 0, serverNoContextTakeover: byte & 0x01 != 0)
}

/// Checks agreed parameters against what the client offered (RFC 7692 §7.1).
public func checkAgreement(_ agreed: PerMessageDeflate.Parameters, clientOffered offer: PerMessageDeflate.Options) {
    checkRanges(agreed)
    require(agreed.clientMaxWindowBits <= offer.clientMaxWindowBits, "client window \(agreed) above the offer \(offer)")
    require(
        offer.serverMaxWindowBits == 15 || agreed.serverMaxWindowBits <= offer.serverMaxWindowBits,
        "server window \(agreed) above the offer \(offer)")
    require(!offer.serverNoContextTakeover || agreed.serverNoContextTakeover, "server_no_context_takeover lost: \(agreed)")
    require(!offer.clientNoContextTakeover || agreed.clientNoContextTakeover, "client_no_context_takeover lost: \(agreed)")
}

/// Checks agreed parameters against what the server is configured to accept.
public func checkAgreement(_ agreed: PerMessageDeflate.Parameters, serverOptions options: PerMessageDeflate.Options) {
    checkRanges(agreed)
    require(agreed.serverMaxWindowBits <= options.serverMaxWindowBits, "server window \(agreed) above the server's \(options)")
    require(agreed.clientMaxWindowBits <= options.clientMaxWindowBits, "client window \(agreed) above the server's \(options)")
    require(!options.serverNoContextTakeover || agreed.serverNoContextTakeover, "server_no_context_takeover lost: \(agreed)")
    require(!options.clientNoContextTakeover || agreed.clientNoContextTakeover, "client_no_context_takeover lost: \(agreed)")
}

func checkRanges(_ agreed: PerMessageDeflate.Parameters) {
    require(
        (8...15).contains(agreed.serverMaxWindowBits) && (8...15).contains(agreed.clientMaxWindowBits),
        "window bits out of range: \(agreed)")
}

/// Set FUZZ_VERBOSE=1 to have targets print what they did with each input (for triaging a crash:
/// `FUZZ_VERBOSE=1 .build-fuzz/release/<target> crash-…`).
public let verbose = getenv("FUZZ_VERBOSE") != nil

/// Prints `message()` when ``verbose``.
public func trace(_ message: @autoclosure () -> String) {
    if verbose { print(message()) }
}

// MARK: - Comparisons
//
// `==` on byte arrays is specialized into the (instrumented) target and traces every byte compared,
// which made comparing large messages the slowest part of a run; these compare with memcmp.

/// Whether two byte buffers hold the same bytes.
public func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard let x = a.baseAddress, let y = b.baseAddress, a.count > 0 else { return true }
    return memcmp(x, y, a.count) == 0
}

/// Whether two byte sequences hold the same bytes.
public func sameBytes(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in sameBytes(x, y) } }
}

/// Whether two byte arrays hold the same bytes.
public func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in sameBytes(x, y) } }
}

/// Whether two lists of byte arrays are the same.
public func sameBytes(_ a: [[UInt8]], _ b: [[UInt8]]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { sameBytes($0, $1) }
}

/// Whether two strings have the same UTF-8.
public func sameText(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { x in b.withUTF8 { y in sameBytes(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
}

/// `==` for messages, comparing payloads with memcmp.
public func sameMessage(_ a: Message, _ b: Message) -> Bool {
    switch (a, b) {
    case (.text(let x), .text(let y)): return sameText(x, y)
    case (.binary(let x), .binary(let y)): return sameBytes(x, y)
    default: return false
    }
}

/// `==` for lists of messages, comparing payloads with memcmp.
public func sameMessages(_ a: [Message], _ b: [Message]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { sameMessage($0, $1) }
}

/// `==` for connection events, comparing payloads with memcmp.
public func sameEvents(_ a: [ConnectionCore.Event], _ b: [ConnectionCore.Event]) -> Bool {
    a.count == b.count
        && zip(a, b).allSatisfy { pair in
            switch pair {
            case (.message(let x), .message(let y)): return sameMessage(x, y)
            case (.fragment(let x), .fragment(let y)):
                return x.kind == y.kind && x.isFinal == y.isFinal && sameBytes(x.bytes, y.bytes)
            default: return pair.0 == pair.1
            }
        }
}
