@testable import WebSocketCore

/// A deterministic generator (SplitMix64) so that masking keys and fuzz inputs are reproducible.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    /// `count` characters drawn from "aé€𝄞" (1, 2, 3 and 4 UTF-8 bytes), assembled as UTF-8 bytes:
    /// building the `String` a `Character` at a time made the round-trip test the slowest of the
    /// suite (about 13 s under AddressSanitizer, holding a thread of the cooperative pool).
    mutating func text(characters count: Int) -> String {
        let encodings: [[UInt8]] = ["a", "é", "€", "𝄞"].map { Array($0.utf8) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(count * 4)
        var bits: UInt64 = 0
        for index in 0..<count {
            if index % 32 == 0 { bits = next() }  // 2 bits a character
            utf8 += encodings[Int(bits & 3)]
            bits >>= 2
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// Parses hex like "81 05 48 65" into bytes.
func hex(_ string: String) -> [UInt8] {
    let digits = string.filter { !$0.isWhitespace }
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

extension ConnectionCore {
    /// All events currently queued.
    mutating func drainEvents() -> [Event] {
        var events: [Event] = []
        while let event = nextEvent() { events.append(event) }
        return events
    }

    /// Feeds `bytes` and returns the events they produced.
    mutating func events(after bytes: [UInt8]) -> [Event] {
        receive(bytes)
        return drainEvents()
    }
}

/// Encodes a frame the way a peer in `role` would (clients mask with a fixed key).
func frame(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool) -> [UInt8] {
    FrameEncoder.encode(
        opcode: opcode, isFinal: fin, reservedBits: rsv, payload: payload,
        maskingKey: masked ? MaskingKey(0x37, 0xFA, 0x21, 0x3D) : nil)
}

/// A client core and its `failed` close code, for violation tables.
func failureCode(of events: [ConnectionCore.Event]) -> UInt16? {
    for case .failed(let violation) in events { return violation.closeCode.rawValue }
    return nil
}

/// The close code in the first close frame of `output` (unmasking it if needed).
func closeCode(inOutput output: [[UInt8]]) -> UInt16? {
    for bytes in output {
        let decoded = bytes.withUnsafeBytes { FrameHeader.decode($0) }
        guard case .header(let header, let size) = decoded, header.opcode == .close else { continue }
        var payload = Array(bytes[size...])
        if let key = header.maskingKey { payload.withUnsafeMutableBytes { _ = key.apply(to: $0) } }
        guard payload.count >= 2 else { return 1005 }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }
    return nil
}

/// The usage error `body` throws, or `nil` if it succeeds.
func usageError(_ body: () throws -> Void) -> UsageError? {
    do {
        try body()
        return nil
    } catch {
        return error as? UsageError
    }
}
