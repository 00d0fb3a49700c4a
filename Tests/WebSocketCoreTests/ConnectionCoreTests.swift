import Testing

@testable import WebSocketCore

/// The connection state machine, bytes in and bytes out, per RFC 6455 section.
@Suite("RFC 6455 connection core")
struct ConnectionCoreTests {
    static func client(maxMessageSize: Int = 16 << 20) -> ConnectionCore {
        var configuration = ConnectionCore.Configuration()
        configuration.maxMessageSize = maxMessageSize
        return ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 1))
    }

    static func server() -> ConnectionCore {
        ConnectionCore(role: .server, randomNumberGenerator: SeededGenerator(seed: 2))
    }

    // MARK: §5.6 data frames and §5.4 fragmentation

    @Test("§5.6: a client receives an unmasked text frame as a text message")
    func clientReceivesText() {
        var core = Self.client()
        #expect(core.events(after: hex("81 05 48 65 6c 6c 6f")) == [.message(.text("Hello"))])
    }

    @Test("§5.1: a server receives a masked frame and unmasks it")
    func serverUnmasks() {
        var core = Self.server()
        #expect(core.events(after: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")) == [.message(.text("Hello"))])
    }

    @Test("§5.4: fragments are reassembled, with a ping interleaved and answered")
    func fragmentsWithInterleavedPing() {
        var core = Self.client()
        let bytes = hex("01 03 48 65 6c") + hex("89 02 68 69") + hex("80 02 6c 6f")
        #expect(core.events(after: bytes) == [.ping(Array("hi".utf8)), .message(.text("Hello"))])
        let output = core.takeOutput()
        #expect(output.count == 1)
        // §5.5.3: the pong echoes the ping's payload (and a client masks it).
        guard case .header(let header, let size) = output[0].withUnsafeBytes({ FrameHeader.decode($0) }) else {
            Issue.record("no pong")
            return
        }
        #expect(header.opcode == .pong)
        var payload = Array(output[0][size...])
        payload.withUnsafeMutableBytes { _ = header.maskingKey!.apply(to: $0) }
        #expect(payload == Array("hi".utf8))
    }

    @Test("a byte stream split at every boundary yields the same events")
    func splitAtEveryBoundary() {
        let stream =
            hex("01 03 48 65 6c") + hex("8A 00") + hex("80 02 6c 6f")
            + frame(.binary, Array(0..<200), masked: false) + hex("82 00") + hex("81 00")
        var reference = Self.client()
        let expected = reference.events(after: stream)
        #expect(expected.count == 5)
        for split in 0...stream.count {
            var core = Self.client()
            core.receive(Array(stream[..<split]))
            core.receive(Array(stream[split...]))
            #expect(core.drainEvents() == expected, "split at \(split)")
        }
    }

    @Test("empty text and binary messages are delivered, never skipped")
    func emptyMessagesAreDelivered() {
        var core = Self.client()
        #expect(core.events(after: hex("81 00 82 00")) == [.message(.text("")), .message(.binary([]))])
    }

    @Test("round trip: random messages from a client core reach a server core intact at any chunking")
    func randomRoundTrip() async throws {
        var rng = SeededGenerator(seed: 99)
        var sender = ConnectionCore(role: .client, randomNumberGenerator: SeededGenerator(seed: 3))
        var expected: [ConnectionCore.Event] = []
        for round in 0..<200 {
            // Seconds of CPU under the sanitizers: let tests with deadlines have the pool meanwhile.
            if round % 10 == 0 { await Task.yield() }
            let length = [0, 1, 125, 126, 1000, 65535, 65536, 70000].randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                let text = rng.text(characters: length)
                try sender.send(text: text)
                expected.append(.message(.text(text)))
            } else {
                let bytes = rng.bytes(length)
                try bytes.withUnsafeBytes { try sender.send(binary: $0) }
                expected.append(.message(.binary(bytes)))
            }
        }
        let stream = sender.takeOutput().flatMap { $0 }
        var receiver = Self.server()
        var offset = 0
        var events: [ConnectionCore.Event] = []
        var chunks = 0
        while offset < stream.count {
            chunks += 1
            if chunks % 100 == 0 { await Task.yield() }
            let end = min(stream.count, offset + Int.random(in: 1...9000, using: &rng))
            receiver.receive(Array(stream[offset..<end]))
            events += receiver.drainEvents()
            offset = end
        }
        #expect(events == expected)
    }

    // MARK: §5 violations fail the connection with the right code

    @Test(
        "protocol violations fail the connection with the RFC's close code",
        arguments: [
            ("masked frame from a server (§5.1)", frame(.text, [0x41], masked: true), UInt16(1002)),
            ("reserved opcode (§5.2)", hex("83 00"), 1002),
            ("RSV1 without an extension (§5.2)", frame(.text, [0x41], rsv: 4, masked: false), 1002),
            ("continuation without a start (§5.4)", hex("80 01 41"), 1002),
            ("new message inside a fragmented one (§5.4)", hex("01 01 41 81 01 42"), 1002),
            ("oversized ping (§5.5)", hex("89 7E 00 7E") + [UInt8](repeating: 0, count: 126), 1002),
            ("fragmented close (§5.5)", hex("08 02 03 E8"), 1002),
            ("invalid UTF-8 in text (§8.1)", hex("81 02 C0 80"), 1007),
            ("text ending inside a sequence (§8.1)", hex("81 02 E2 82"), 1007),
            ("1-byte close payload (§5.5.1)", hex("88 01 03"), 1002),
            ("close code 1005 on the wire (§7.4.1)", hex("88 02 03 ED"), 1002),
            ("close code 999 (§7.4.2)", hex("88 02 03 E7"), 1002),
            ("close code 1004 (§7.4.1)", hex("88 02 03 EC"), 1002),
            ("close code 5000 (§7.4.2)", hex("88 02 13 88"), 1002),
            ("invalid UTF-8 in a close reason (§5.5.1)", hex("88 04 03 E8 C0 80"), 1007),
            ("64-bit length with the MSB set (§5.2)", hex("82 7F 80 00 00 00 00 00 00 00"), 1002),
        ])
    func violations(_ name: String, _ bytes: [UInt8], _ code: UInt16) {
        var core = Self.client()
        let events = core.events(after: bytes)
        #expect(failureCode(of: events) == code, "\(name)")
        #expect(core.state == .closing, "\(name): failing is not open")
        core.closeAfterFailure()
        #expect(closeCode(inOutput: core.takeOutput()) == code, "\(name): close frame sent")
        #expect(core.state == .closed)
    }

    @Test("§5.1: a server fails an unmasked client frame with 1002")
    func serverRejectsUnmaskedFrame() {
        var core = Self.server()
        #expect(failureCode(of: core.events(after: hex("81 01 41"))) == 1002)
    }

    @Test("§8.1: invalid UTF-8 fails at the offending fragment, before the message completes")
    func invalidUTF8FailsFast() {
        var core = Self.client()
        #expect(core.events(after: hex("01 03 41 42 43")).isEmpty)
        // The second fragment contains a surrogate; the final fragment has not arrived.
        #expect(failureCode(of: core.events(after: hex("00 03 ED A0 80"))) == 1007)
    }

    @Test("§8.1: invalid UTF-8 fails fast even inside a frame arriving in pieces")
    func invalidUTF8FailsInsidePartialFrame() {
        var core = Self.client()
        let whole = hex("81 08 41 42 ED A0 80 43 44 45")
        #expect(core.events(after: Array(whole.prefix(4))).isEmpty)
        #expect(failureCode(of: core.events(after: Array(whole[4..<6]))) == 1007)
    }

    @Test("a header claiming exabytes fails with 1009 before any payload is buffered")
    func exabyteLengthIsRejected() {
        var core = Self.client()
        let events = core.events(after: hex("82 7F 40 00 00 00 00 00 00 00"))
        #expect(failureCode(of: events) == 1009)
    }

    @Test("a message over maxMessageSize across fragments fails with 1009")
    func fragmentedMessageOverLimit() {
        var core = Self.client(maxMessageSize: 10)
        #expect(core.events(after: hex("02 06 01 02 03 04 05 06")).isEmpty)
        #expect(failureCode(of: core.events(after: hex("80 05 01 02 03 04 05"))) == 1009)
    }

    @Test("a message of exactly maxMessageSize is accepted")
    func messageAtLimitIsAccepted() {
        var core = Self.client(maxMessageSize: 3)
        #expect(core.events(after: hex("82 03 01 02 03")) == [.message(.binary([1, 2, 3]))])
    }

    @Test("§7.1.7: messages before a violation can still be answered, then closeAfterFailure sends the close")
    func failingLetsEarlierMessagesBeAnswered() throws {
        var core = ConnectionCore(role: .client, randomNumberGenerator: SeededGenerator(seed: 5))
        // A valid message, then a frame with RSV2 set (Autobahn 3.2), then a ping that must be ignored.
        let events = core.events(after: hex("81 02 48 69") + hex("A1 01 41") + hex("89 00"))
        #expect(events.count == 2)
        #expect(events.first == .message(.text("Hi")))
        #expect(failureCode(of: events) == 1002)
        #expect(core.takeOutput().isEmpty)  // no pong, no close yet
        #expect(core.pendingFailure?.closeCode == .protocolError)
        try core.send(text: "Hi")  // the echo still goes out first
        core.closeAfterFailure()
        let output = core.takeOutput()
        #expect(output.count == 2)
        #expect(closeCode(inOutput: Array(output.dropFirst())) == 1002)
        #expect(core.state == .closed)
        #expect(core.lifecycle == .closed(.failed(.init(.protocolError, "reserved bits 0x2 set without a negotiated extension"))))
        #expect(core.events(after: hex("81 01 41")).isEmpty)
    }

    @Test("§1.4: after a failure further input is ignored")
    func inputAfterFailureIsIgnored() {
        var core = Self.client()
        _ = core.events(after: hex("83 00"))
        _ = core.takeOutput()
        #expect(core.events(after: hex("81 01 41 89 00")).isEmpty)
        #expect(core.takeOutput().isEmpty)
    }

    // MARK: §7 closing

    @Test("§5.5.1: a peer's close is echoed with its code, and the connection is closed cleanly")
    func peerCloseIsEchoed() {
        var core = Self.client()
        let events = core.events(after: hex("88 05 0F A0 62 79 65"))  // 4000 "bye"
        #expect(events == [.closed(.init(code: CloseCode(4000), reason: "bye"))])
        #expect(closeCode(inOutput: core.takeOutput()) == 4000)
        #expect(core.state == .closed)
        #expect(core.events(after: hex("81 01 41")).isEmpty)
    }

    @Test("§7.1.5: an empty close frame is reported as 1005 and echoed empty")
    func emptyCloseReports1005() {
        var core = Self.server()
        #expect(core.events(after: frame(.close, [], masked: true)) == [.closed(.init(code: .noStatusReceived, reason: ""))])
        #expect(core.takeOutput() == [hex("88 00")])
    }

    @Test("§7.1.2: a local close waits for the peer's close, still delivering data until then")
    func localCloseThenPeerClose() throws {
        var core = Self.client()
        try core.close(code: .goingAway, reason: "done")
        #expect(core.state == .closing)
        #expect(core.closeExpected)
        #expect(closeCode(inOutput: core.takeOutput()) == 1001)
        let events = core.events(after: hex("81 01 41 88 02 03 E9"))
        #expect(events == [.message(.text("A")), .closed(.init(code: .goingAway, reason: ""))])
        // No second close frame is sent in reply (§5.5.1: only if not already sent).
        #expect(core.takeOutput().isEmpty)
        #expect(core.state == .closed)
    }

    @Test("§7.1.5: the stream ending before the close handshake is an abort (1006), after it nothing")
    func endOfStream() {
        var open = Self.client()
        open.receiveEndOfStream()
        #expect(open.drainEvents() == [.aborted])
        var closed = Self.client()
        _ = closed.events(after: hex("88 02 03 E8"))
        closed.receiveEndOfStream()
        #expect(closed.drainEvents().isEmpty)
    }

    // MARK: usage errors

    @Test("sending after close throws a typed usage error")
    func sendAfterCloseThrows() throws {
        var core = Self.client()
        try core.close()
        let thrown1 = usageError { try core.send(text: "late") }
        #expect(thrown1 == UsageError.notOpen(.closing))
        let thrown2 = usageError { try core.close() }
        #expect(thrown2 == UsageError.notOpen(.closing))
    }

    @Test(
        "close codes that may not be sent, and over-long reasons, are refused",
        arguments: [UInt16(1005), 1006, 1015, 999, 1004, 5000])
    func unsendableCloseCodes(_ code: UInt16) {
        var core = Self.client()
        let thrown = usageError { try core.close(code: CloseCode(code)) }
        #expect(thrown == UsageError.invalidCloseCode(CloseCode(code)))
        let thrown3 = usageError { try core.close(code: .normalClosure, reason: String(repeating: "x", count: 124)) }
        #expect(thrown3 == UsageError.closeReasonTooLong(124))
        #expect(core.state == .open)
    }

    @Test("§5.4: fragments are sent as first-opcode then continuations; interleaving a message is refused")
    func sendFragments() throws {
        var core = Self.server()
        let part: [UInt8] = Array("ab".utf8)
        try part.withUnsafeBytes { try core.sendFrame($0, kind: .text, isFinal: false) }
        let thrown4 = usageError { try core.send(text: "x") }
        #expect(thrown4 == UsageError.fragmentedMessageInProgress)
        try core.sendPing([1])
        try part.withUnsafeBytes { try core.sendFrame($0, kind: .text, isFinal: true) }
        #expect(core.takeOutput() == [hex("01 02 61 62"), hex("89 01 01"), hex("80 02 61 62")])
    }

    @Test("outgoing text fragments must form valid UTF-8, split sequences allowed")
    func outgoingFragmentUTF8() throws {
        var core = Self.server()
        try [UInt8]([0xE2, 0x82]).withUnsafeBytes { try core.sendFrame($0, kind: .text, isFinal: false) }
        try [UInt8]([0xAC]).withUnsafeBytes { try core.sendFrame($0, kind: .text, isFinal: true) }
        let thrown = usageError { try [UInt8]([0xC0, 0x80]).withUnsafeBytes { bytes in try core.send(bytes, kind: .text) } }
        #expect(thrown == UsageError.invalidUTF8)
    }

    // MARK: robustness

    @Test("random input never traps, in either role")
    func fuzzNeverTraps() {
        var rng = SeededGenerator(seed: 2024)
        for iteration in 0..<3000 {
            var core = iteration.isMultiple(of: 2) ? Self.client(maxMessageSize: 4096) : Self.server()
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let length = Int.random(in: 0...64, using: &rng)
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // Bias the first byte towards valid opcodes so parsing gets deep.
                if !bytes.isEmpty, Bool.random(using: &rng) {
                    bytes[0] = [0x81, 0x82, 0x01, 0x80, 0x00, 0x88, 0x89, 0x8A].randomElement(using: &rng)!
                }
                core.receive(bytes)
                _ = core.drainEvents()
                _ = core.takeOutput()
            }
            core.receiveEndOfStream()
            _ = core.drainEvents()
        }
    }
}
