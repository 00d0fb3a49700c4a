import Testing

@testable import WebSocketCore

/// `Configuration.deliversFragments`: messages handed over piece by piece as their bytes arrive
/// (what the server's IIS-style fragment context reads), with RFC 6455's rules unchanged.
@Suite("Fragment delivery")
struct FragmentDeliveryTests {
    static func server(maxMessageSize: Int = 16 << 20, deflate: PerMessageDeflate.Parameters? = nil) -> ConnectionCore {
        var configuration = ConnectionCore.Configuration()
        configuration.deliversFragments = true
        configuration.maxMessageSize = maxMessageSize
        configuration.deflate = deflate
        return ConnectionCore(role: .server, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 3))
    }

    static func fragments(_ events: [ConnectionCore.Event]) -> [MessageFragment] {
        events.compactMap { if case .fragment(let fragment) = $0 { return fragment } else { return nil } }
    }

    @Test("§5.4: a message sent in three frames arrives as three fragments, the last one final")
    func threeFramesThreeFragments() {
        var core = Self.server()
        let bytes =
            frame(.text, Array("Hel".utf8), fin: false, masked: true)
            + frame(.continuation, Array("lo, ".utf8), fin: false, masked: true)
            + frame(.continuation, Array("world".utf8), masked: true)
        #expect(
            core.events(after: bytes) == [
                .fragment(.init(kind: .text, bytes: Array("Hel".utf8), isFinal: false)),
                .fragment(.init(kind: .text, bytes: Array("lo, ".utf8), isFinal: false)),
                .fragment(.init(kind: .text, bytes: Array("world".utf8), isFinal: true)),
            ])
    }

    @Test("a frame whose payload arrives in pieces is delivered as it arrives, not when it completes")
    func partialFrameIsDeliveredEarly() {
        var core = Self.server()
        let payload = (0..<1000).map { UInt8($0 & 0xFF) }
        let bytes = frame(.binary, payload, masked: true)
        let header = bytes.count - payload.count
        let first = core.events(after: Array(bytes[..<(header + 400)]))
        #expect(first == [.fragment(.init(kind: .binary, bytes: Array(payload[..<400]), isFinal: false))])
        let second = core.events(after: Array(bytes[(header + 400)...]))
        #expect(second == [.fragment(.init(kind: .binary, bytes: Array(payload[400...]), isFinal: true))])
    }

    @Test("an empty final frame still ends the message with an empty final fragment (§5.4)")
    func emptyFinalFrame() {
        var core = Self.server()
        let bytes = frame(.binary, [1, 2], fin: false, masked: true) + frame(.continuation, [], masked: true)
        #expect(
            core.events(after: bytes) == [
                .fragment(.init(kind: .binary, bytes: [1, 2], isFinal: false)),
                .fragment(.init(kind: .binary, bytes: [], isFinal: true)),
            ])
    }

    @Test("§5.5: a ping between fragments is answered and does not disturb the message")
    func pingBetweenFragments() {
        var core = Self.server()
        let bytes =
            frame(.binary, [1], fin: false, masked: true) + frame(.ping, [9], masked: true)
            + frame(.continuation, [2], masked: true)
        #expect(
            core.events(after: bytes) == [
                .fragment(.init(kind: .binary, bytes: [1], isFinal: false)),
                .ping([9]),
                .fragment(.init(kind: .binary, bytes: [2], isFinal: true)),
            ])
        #expect(core.takeOutput() == [frame(.pong, [9], masked: false)])
    }

    @Test("§8.1: invalid UTF-8 fails with 1007 at the fragment that carries it, after the valid ones")
    func invalidUTF8AcrossFragments() {
        var core = Self.server()
        // "é" is C3 A9: the first frame ends inside the sequence (allowed), the second breaks it.
        let bytes = frame(.text, [0x61, 0xC3], fin: false, masked: true) + frame(.continuation, [0x28], masked: true)
        let events = core.events(after: bytes)
        #expect(Self.fragments(events) == [.init(kind: .text, bytes: [0x61, 0xC3], isFinal: false)])
        #expect(failureCode(of: events) == 1007)
    }

    @Test("a UTF-8 sequence split between fragments is valid (§5.6: validity is per message)")
    func splitSequenceIsValid() {
        var core = Self.server()
        let bytes = frame(.text, [0x61, 0xC3], fin: false, masked: true) + frame(.continuation, [0xA9], masked: true)
        let events = core.events(after: bytes)
        #expect(failureCode(of: events) == nil)
        #expect(Self.fragments(events).flatMap(\.bytes) == Array("aé".utf8))
    }

    @Test("§10.4: the message size limit applies to the sum of the fragments (1009)")
    func limitAppliesToTheWholeMessage() {
        var core = Self.server(maxMessageSize: 10)
        let first = core.events(after: frame(.binary, Array(repeating: 1, count: 8), fin: false, masked: true))
        #expect(Self.fragments(first).count == 1)
        let second = core.events(after: frame(.continuation, Array(repeating: 2, count: 3), masked: true))
        #expect(failureCode(of: second) == 1009)
        #expect(Self.fragments(second).isEmpty)
    }

    @Test("a new message after a complete one starts from zero against the limit")
    func limitResetsPerMessage() {
        var core = Self.server(maxMessageSize: 10)
        let bytes =
            frame(.binary, Array(repeating: 1, count: 10), masked: true)
            + frame(.binary, Array(repeating: 2, count: 10), masked: true)
        let events = core.events(after: bytes)
        #expect(failureCode(of: events) == nil)
        #expect(Self.fragments(events).map(\.isFinal) == [true, true])
    }

    @Test("RFC 7692: a compressed message is delivered inflated, and the limit applies to inflated bytes")
    func compressedFragments() {
        func compressingClient() -> ConnectionCore {
            var configuration = ConnectionCore.Configuration()
            configuration.deflate = .init()
            configuration.deflateOptions.minimumMessageSize = 0
            return ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 4))
        }
        var client = compressingClient()
        let text = String(repeating: "compressible ", count: 100)
        try? client.send(text: text)
        var server = Self.server(deflate: .init())
        var events: [ConnectionCore.Event] = []
        for bytes in client.takeOutput() { events += server.events(after: bytes) }
        #expect(Self.fragments(events).flatMap(\.bytes) == Array(text.utf8))
        #expect(Self.fragments(events).last?.isFinal == true)

        // A fresh pair: with context takeover the second message depends on the first one's window.
        client = compressingClient()
        var small = Self.server(maxMessageSize: 100, deflate: .init())
        try? client.send(text: text)
        var failed: [ConnectionCore.Event] = []
        for bytes in client.takeOutput() { failed += small.events(after: bytes) }
        #expect(failureCode(of: failed) == 1009)
    }

    @Test("without the option whole messages are assembled as before")
    func defaultAssemblesMessages() {
        var core = ConnectionCore(role: .server, randomNumberGenerator: SeededGenerator(seed: 5))
        let bytes = frame(.binary, [1], fin: false, masked: true) + frame(.continuation, [2], masked: true)
        #expect(core.events(after: bytes) == [.message(.binary([1, 2]))])
    }
}

/// `Configuration.fragmentsEndOnCharacterBoundaries` (the client's partial receive): a text
/// fragment never ends inside a UTF-8 sequence; the incomplete tail starts the next fragment.
@Suite("Fragment delivery on character boundaries")
struct CharacterBoundaryFragmentTests {
    static func client(onBoundaries: Bool = true) -> ConnectionCore {
        var configuration = ConnectionCore.Configuration()
        configuration.deliversFragments = true
        configuration.fragmentsEndOnCharacterBoundaries = onBoundaries
        return ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 5))
    }

    @Test("§5.6: \"é\" split between frames is carried to the next fragment")
    func twoByteCharacterBetweenFrames() {
        var core = Self.client()
        let bytes = frame(.text, [0x61, 0xC3], fin: false, masked: false) + frame(.continuation, [0xA9, 0x62], masked: false)
        #expect(
            core.events(after: bytes) == [
                .fragment(.init(kind: .text, bytes: [0x61], isFinal: false)),
                .fragment(.init(kind: .text, bytes: [0xC3, 0xA9, 0x62], isFinal: true)),
            ])
    }

    @Test("a 4-byte character over three frames: the frame holding only part of it gives no fragment")
    func fourByteCharacterOverThreeFrames() {
        var core = Self.client()
        let bytes =
            frame(.text, [0x78, 0xF0, 0x9F], fin: false, masked: false)
            + frame(.continuation, [0x98], fin: false, masked: false) + frame(.continuation, [0x80], masked: false)
        #expect(
            core.events(after: bytes) == [
                .fragment(.init(kind: .text, bytes: [0x78], isFinal: false)),
                .fragment(.init(kind: .text, bytes: [0xF0, 0x9F, 0x98, 0x80], isFinal: true)),
            ])
    }

    @Test("a frame cut by the end of a receive call is cut before the incomplete character")
    func receiveBoundaryInsideACharacter() {
        var core = Self.client()
        let bytes = frame(.text, Array("a€b".utf8), masked: false)  // 61 E2 82 AC 62
        let cut = bytes.count - 3  // inside "€"
        #expect(core.events(after: Array(bytes[..<cut])) == [.fragment(.init(kind: .text, bytes: [0x61], isFinal: false))])
        #expect(
            core.events(after: Array(bytes[cut...])) == [
                .fragment(.init(kind: .text, bytes: Array("€b".utf8), isFinal: true))
            ])
    }

    @Test("binary fragments keep raw boundaries; so do text fragments without the option (the server's fragment context)")
    func rawBoundariesOtherwise() {
        var binary = Self.client()
        #expect(
            binary.events(after: frame(.binary, [0x61, 0xC3], fin: false, masked: false))
                == [.fragment(.init(kind: .binary, bytes: [0x61, 0xC3], isFinal: false))])
        var raw = Self.client(onBoundaries: false)
        #expect(
            raw.events(after: frame(.text, [0x61, 0xC3], fin: false, masked: false))
                == [.fragment(.init(kind: .text, bytes: [0x61, 0xC3], isFinal: false))])
    }

    @Test("§8.1: the carried tail is still validated: a bad continuation fails with 1007")
    func carriedTailIsValidated() {
        var core = Self.client()
        let bytes = frame(.text, [0x61, 0xC3], fin: false, masked: false) + frame(.continuation, [0x28], masked: false)
        let events = core.events(after: bytes)
        #expect(FragmentDeliveryTests.fragments(events) == [.init(kind: .text, bytes: [0x61], isFinal: false)])
        #expect(failureCode(of: events) == 1007)
    }

    @Test("§10.4: the carried tail counts toward maxMessageSize exactly once")
    func tailCountsOnce() {
        var configuration = ConnectionCore.Configuration()
        configuration.deliversFragments = true
        configuration.fragmentsEndOnCharacterBoundaries = true
        configuration.maxMessageSize = 4
        var core = ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 5))
        // 61 C3 | A9 62: 4 bytes in all, exactly the limit.
        let bytes = frame(.text, [0x61, 0xC3], fin: false, masked: false) + frame(.continuation, [0xA9, 0x62], masked: false)
        let events = core.events(after: bytes)
        #expect(failureCode(of: events) == nil)
        #expect(FragmentDeliveryTests.fragments(events).last?.isFinal == true)
    }
}
