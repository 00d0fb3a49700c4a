import Testing

@testable import WebSocketCore

/// `directPayloadCapacity` / `receivePayload(reading:)`: the rest of a large payload read straight
/// into its message, with RFC 6455's rules (§5.1 masks, §5.6 / §8.1 UTF-8, §10.4 limits) applied
/// exactly as on the general path.
@Suite("Direct payload reads")
struct DirectPayloadTests {
    static let size = 200 * 1024

    static func payload(_ count: Int = size) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) } }

    /// Feeds `bytes` through `receivePayload(reading:)` in reads of at most `step` bytes.
    static func readDirectly(_ core: inout ConnectionCore, _ bytes: [UInt8], step: Int) {
        var offset = 0
        while offset < bytes.count, core.directPayloadCapacity > 0 {
            let read = core.receivePayload { buffer -> Int? in
                let count = min(step, buffer.count, bytes.count - offset)
                UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]).copyBytes(from: bytes[offset..<(offset + count)])
                return count
            }
            offset += read ?? 0
        }
    }

    @Test("a large unmasked binary frame (client side): the rest of its payload is read into the message")
    func clientReadsLargePayloadDirectly() {
        var core = ConnectionCore(role: .client)
        let payload = Self.payload()
        let bytes = frame(.binary, payload, masked: false)
        let header = bytes.count - payload.count
        #expect(core.directPayloadCapacity == 0)
        core.receive(Array(bytes[..<(header + 1000)]))
        #expect(core.directPayloadCapacity == payload.count - 1000)
        Self.readDirectly(&core, Array(bytes[(header + 1000)...]), step: 50_000)
        #expect(core.directPayloadCapacity == 0)
        #expect(core.drainEvents() == [.message(.binary(payload))])
    }

    @Test("§5.3: a masked frame (server side) is unmasked in place, whatever the read sizes")
    func serverUnmasksInPlace() {
        for step in [1, 3, 4096, 77_777] {
            var core = ConnectionCore(role: .server)
            let payload = Self.payload(70_000)
            let bytes = frame(.binary, payload, masked: true)
            let header = bytes.count - payload.count
            core.receive(Array(bytes[..<(header + 5)]))  // a mask phase other than 0
            Self.readDirectly(&core, Array(bytes[(header + 5)...]), step: step)
            #expect(core.drainEvents() == [.message(.binary(payload))], "reads of \(step) bytes")
        }
    }

    @Test("§8.1: text is validated as it lands; invalid UTF-8 fails the connection with 1007 at once")
    func textIsValidatedAsItLands() {
        var valid = ConnectionCore(role: .client)
        let text = String(repeating: "é€𝄞a", count: 10_000)
        let bytes = frame(.text, Array(text.utf8), masked: false)
        valid.receive(Array(bytes[..<10]))
        Self.readDirectly(&valid, Array(bytes[10...]), step: 4099)  // splits characters across reads
        #expect(valid.drainEvents() == [.message(.text(text))])

        var invalid = ConnectionCore(role: .client)
        var broken = Array(text.utf8)
        broken[50_000] = 0xFF
        let brokenBytes = frame(.text, broken, masked: false)
        invalid.receive(Array(brokenBytes[..<10]))
        Self.readDirectly(&invalid, Array(brokenBytes[10..<60_000]), step: 60_000)
        #expect(failureCode(of: invalid.drainEvents()) == 1007)
        #expect(invalid.directPayloadCapacity == 0)
    }

    @Test("nil (nothing available) and 0 (end of stream) take nothing")
    func emptyReadsTakeNothing() {
        var core = ConnectionCore(role: .client)
        let bytes = frame(.binary, Self.payload(), masked: false)
        core.receive(Array(bytes[..<20]))
        let before = core.directPayloadCapacity
        #expect(core.receivePayload { _ in nil } == nil)
        #expect(core.receivePayload { _ in 0 } == 0)
        #expect(core.directPayloadCapacity == before)
        #expect(core.drainEvents().isEmpty)
    }

    @Test("frames that do not qualify go through receive: small, fragmented, over 1 MiB, fragment delivery")
    func onlyLargeWholeFramesQualify() {
        func capacity(after bytes: [UInt8], configuration: ConnectionCore.Configuration = .init()) -> Int {
            var core = ConnectionCore(role: .client, configuration: configuration)
            core.receive(Array(bytes[..<20]))
            return core.directPayloadCapacity
        }
        #expect(capacity(after: frame(.binary, Self.payload(1000), masked: false)) == 0)
        #expect(capacity(after: frame(.binary, Self.payload(), fin: false, masked: false)) == 0)
        var large = ConnectionCore.Configuration()
        large.maxMessageSize = 4 << 20
        #expect(capacity(after: frame(.binary, Self.payload((1 << 20) + 1), masked: false), configuration: large) == 0)
        var fragments = ConnectionCore.Configuration()
        fragments.deliversFragments = true
        #expect(capacity(after: frame(.binary, Self.payload(), masked: false), configuration: fragments) == 0)
        #expect(capacity(after: frame(.binary, Self.payload(), masked: false)) > 0)
    }

    @Test("§10.4: a frame over maxMessageSize fails with 1009 before anything is allocated")
    func limitStillApplies() {
        var configuration = ConnectionCore.Configuration()
        configuration.maxMessageSize = 100_000
        var core = ConnectionCore(role: .client, configuration: configuration)
        core.receive(Array(frame(.binary, Self.payload(), masked: false)[..<20]))
        #expect(failureCode(of: core.drainEvents()) == 1009)
        #expect(core.directPayloadCapacity == 0)
    }

    @Test("a control frame after a directly read message is handled as usual")
    func controlFramesBetweenMessages() {
        var core = ConnectionCore(role: .client)
        let payload = Self.payload()
        let bytes = frame(.binary, payload, masked: false)
        core.receive(Array(bytes[..<14]))
        Self.readDirectly(&core, Array(bytes[14...]), step: 100_000)
        core.receive(frame(.ping, [1, 2, 3], masked: false) + frame(.binary, [9], masked: false))
        #expect(core.drainEvents() == [.message(.binary(payload)), .ping([1, 2, 3]), .message(.binary([9]))])
    }
}
