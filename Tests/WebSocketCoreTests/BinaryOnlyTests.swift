import Testing

@testable import WebSocketCore

/// `Configuration.acceptsText = false`: an endpoint that understands only binary data (the stream
/// socket) refuses text messages with 1003, as RFC 6455 §7.4.1 provides.
@Suite("Binary-only endpoint")
struct BinaryOnlyTests {
    static func client(fragments: Bool) -> ConnectionCore {
        var configuration = ConnectionCore.Configuration()
        configuration.acceptsText = false
        configuration.deliversFragments = fragments
        configuration.maxMessageSize = .max
        return ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 11))
    }

    @Test(
        "§7.4.1: a text message fails the connection with 1003 (unsupported data), with or without fragment delivery",
        arguments: [true, false])
    func textIsUnsupportedData(fragments: Bool) {
        var core = Self.client(fragments: fragments)
        let events = core.events(after: frame(.text, Array("hi".utf8), masked: false))
        #expect(failureCode(of: events) == 1003)
        #expect(
            !events.contains {
                if case .fragment = $0 { return true }
                if case .message = $0 { return true }
                return false
            })
        core.closeAfterFailure()
        #expect(closeCode(inOutput: core.takeOutput()) == 1003)
    }

    @Test("binary data before the text message is delivered; the text frame's bytes are not")
    func binaryBeforeTextIsDelivered() {
        var core = Self.client(fragments: true)
        let events = core.events(after: frame(.binary, [1, 2, 3], masked: false) + frame(.text, Array("x".utf8), masked: false))
        #expect(events.first == .fragment(.init(kind: .binary, bytes: [1, 2, 3], isFinal: true)))
        #expect(failureCode(of: events) == 1003)
    }

    @Test("binary messages, fragmented or not, are accepted as usual")
    func binaryIsAccepted() {
        var core = Self.client(fragments: false)
        let bytes = frame(.binary, [1], fin: false, masked: false) + frame(.continuation, [2], masked: false)
        #expect(core.events(after: bytes) == [.message(.binary([1, 2]))])
    }
}
