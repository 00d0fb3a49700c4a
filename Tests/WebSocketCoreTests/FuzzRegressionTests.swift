import Testing

@testable import WebSocketCore

/// Inputs found by the fuzz targets in Fuzz/ (README "Fuzzing"), reduced to what they show.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// FuzzConnectionCore, "events differ with chunking" (and FuzzInflate, one-shot vs chunked):
    /// a peer that compresses with a larger LZ77 window than negotiated. zlib checks a match's
    /// distance against the window *plus the output of the current inflate() call*, so a distance
    /// beyond 2^bits is accepted when the whole message arrives in one read and fails the
    /// connection with 1007 ("invalid distance too far back") when it arrives split. The outcome
    /// should not depend on how TCP segments the stream. Fixed: we always inflate with a 15-bit
    /// window (`DeflateCodec.inflateWindowBits`), so the message is accepted however it arrives
    /// (RFC 7692 §7.1.2 limits the sender's window, not what a receiver may accept).
    @Test func peerExceedingTheNegotiatedWindowGetsTheSameOutcomeWhateverTheSplit() {
        // 1000 random bytes, then the same again: deflate with a 15-bit window encodes the second
        // half as a match at distance 1000, beyond the 512-byte window agreed (9 bits, as for 8).
        var generator = SeededGenerator(seed: 11)
        let half = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let message = half + half
        let compressed = message.withUnsafeBytes {
            Deflater(windowBits: 15, memoryLevel: 8, level: 6).compress($0, endOfMessage: true)
        }
        let stream = FrameEncoder.encode(opcode: .binary, reservedBits: 0x4, payload: compressed, maskingKey: nil)

        func events(feeding pieces: [ArraySlice<UInt8>]) -> [ConnectionCore.Event] {
            var configuration = ConnectionCore.Configuration()
            configuration.deflate = .init(serverMaxWindowBits: 8, clientMaxWindowBits: 8)
            var core = ConnectionCore(
                role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 1))
            var events: [ConnectionCore.Event] = []
            for piece in pieces {
                core.receive(piece)
                while let event = core.nextEvent() { events.append(event) }
            }
            return events
        }
        let whole = events(feeding: [stream[...]])
        let split = events(feeding: stream.indices.map { stream[$0...$0] })
        #expect(whole.map(summary) == ["binary message of 2000 bytes"])
        let wholeIsTheMessage = whole == [.message(.binary(message))]  // (a Bool: no megabyte dumps)
        #expect(wholeIsTheMessage)
        #expect(split.map(summary) == whole.map(summary))
        let splitIsTheSame = split == whole
        #expect(splitIsTheSame)
    }

    /// FuzzServerHandshake, "accepted target ws://h#x/chat as path /chat": a `#` in the authority of
    /// an absolute-form target slipped past the fragment check, which only looked at what follows
    /// the authority (RFC 6455 §3: no fragment in a WebSocket URI). Fixed: the whole target is
    /// checked.
    @Test(arguments: ["ws://h#x/chat", "ws://h#/", "http://h#x", "wss://h:443#x?a=b", "/chat#x", "/chat?q#x"])
    func aFragmentAnywhereInTheTargetIsRefused(target: String) throws {
        var parser = HTTPHeadParser<HTTPRequestHead>()
        let bytes = Array(
            ("GET \(target) HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
        guard case .complete(let head, _) = try parser.append(bytes) else {
            Issue.record("the request head is incomplete")
            return
        }
        #expect(throws: HandshakeError.malformedRequest("the request target must not contain a fragment")) {
            try ServerHandshake.validate(request: head)
        }
    }

    /// An event in one line: messages by kind and size, so that a failure does not print megabytes.
    func summary(_ event: ConnectionCore.Event) -> String {
        switch event {
        case .message(let message): return "\(message.kind) message of \(message.bytes.count) bytes"
        default: return "\(event)"
        }
    }
}
