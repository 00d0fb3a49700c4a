import Testing

@testable import WebSocketCore

/// permessage-deflate in the connection core (RFC 7692 §6, §7.2): RSV1, the tail, context
/// takeover, window sizes, and the decompressed-size limit.
@Suite("RFC 7692 compressed messages")
struct PerMessageDeflateConnectionTests {
    typealias PMD = PerMessageDeflate

    static func core(
        _ role: ConnectionCore.Role, _ parameters: PMD.Parameters? = .init(),
        maxMessageSize: Int = 16 << 20, minimumMessageSize: Int = 0
    ) -> ConnectionCore {
        var configuration = ConnectionCore.Configuration()
        configuration.maxMessageSize = maxMessageSize
        configuration.deflate = parameters
        configuration.deflateOptions.minimumMessageSize = minimumMessageSize
        return ConnectionCore(role: role, configuration: configuration, randomNumberGenerator: SeededGenerator(seed: 7))
    }

    /// Moves everything `from` wrote into `to` and returns the events it produced.
    static func transfer(_ from: inout ConnectionCore, _ to: inout ConnectionCore) -> [ConnectionCore.Event] {
        for bytes in from.takeOutput() { to.receive(bytes) }
        return to.drainEvents()
    }

    // MARK: §7.2.3 examples, received

    @Test(
        "§7.2.3.1: \"Hello\" compressed in one frame and in two fragments",
        arguments: [
            "c1 07 f2 48 cd c9 c9 07 00",
            "41 03 f2 48 cd 80 04 c9 c9 07 00",
        ])
    func helloExamples(bytes: String) {
        var client = Self.core(.client)
        #expect(client.events(after: hex(bytes)) == [.message(.text("Hello"))])
    }

    @Test("§7.2.3.2: the second \"Hello\" uses the first one's window (context takeover)")
    func sharedWindow() {
        var client = Self.core(.client)
        #expect(
            client.events(after: hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"))
                == [.message(.text("Hello")), .message(.text("Hello"))])
    }

    @Test(
        "§7.2.3.3–7.2.3.6: a stored block, BFINAL set, two blocks, an empty message",
        arguments: [
            ("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00", "Hello"),
            ("c1 08 f3 48 cd c9 c9 07 00 00", "Hello"),
            ("c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00", "Hello"),
            ("c1 01 00", ""),
        ])
    func otherExamples(bytes: String, text: String) {
        var client = Self.core(.client)
        #expect(client.events(after: hex(bytes)) == [.message(.text(text))])
    }

    @Test("§7.2.3.2: the first message still decodes after BFINAL ended its deflate stream, and so does the next")
    func afterFinalBlock() {
        var client = Self.core(.client)
        #expect(
            client.events(after: hex("c1 08 f3 48 cd c9 c9 07 00 00 c1 07 f2 48 cd c9 c9 07 00"))
                == [.message(.text("Hello")), .message(.text("Hello"))])
    }

    // MARK: §7.2.3 examples, sent

    @Test("§7.2.1: \"Hello\" is sent as c1 07 f2 48 cd c9 c9 07 00, then c1 05 f2 00 11 00 00 with context takeover")
    func sendsHello() throws {
        var server = Self.core(.server)
        try server.send(text: "Hello")
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [hex("c1 07 f2 48 cd c9 c9 07 00"), hex("c1 05 f2 00 11 00 00")])
        #expect(server.compressionStatistics.uncompressedBytesSent == 10)
        #expect(server.compressionStatistics.compressedBytesSent == 12)
    }

    @Test("§7.1.1.1: with server_no_context_takeover every \"Hello\" is compressed alone")
    func sendsHelloWithoutTakeover() throws {
        var server = Self.core(.server, .init(serverNoContextTakeover: true))
        try server.send(text: "Hello")
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [hex("c1 07 f2 48 cd c9 c9 07 00"), hex("c1 07 f2 48 cd c9 c9 07 00")])
    }

    @Test("§7.2.3.6: an empty message compresses to one 00 byte")
    func sendsEmpty() throws {
        var server = Self.core(.server)
        try server.send(text: "")
        try server.send(text: "Hello")
        try server.send(text: "")  // nothing new to flush: still the 00 byte, never an empty payload
        #expect(server.takeOutput() == [hex("c1 01 00"), hex("c1 07 f2 48 cd c9 c9 07 00"), hex("c1 01 00")])
    }

    @Test("messages below the minimum size go uncompressed, with RSV1 clear")
    func minimumSize() throws {
        var server = Self.core(.server, minimumMessageSize: 6)
        try server.send(text: "Hello")
        try server.send(text: "Hello!")
        let output = server.takeOutput()
        #expect(output[0] == hex("81 05 48 65 6c 6c 6f"))
        #expect(output[1][0] == 0xC1)
        var client = Self.core(.client)
        for bytes in output { client.receive(bytes) }
        #expect(client.drainEvents() == [.message(.text("Hello")), .message(.text("Hello!"))])
    }

    @Test("§6.1: control frames are never compressed")
    func controlFramesUncompressed() throws {
        var server = Self.core(.server)
        try server.sendPing(Array(repeating: 0x61, count: 100))
        try server.close(code: .normalClosure, reason: String(repeating: "x", count: 100))
        for frame in server.takeOutput() { #expect(frame[0] & 0x70 == 0) }
    }

    @Test("§6.1: fragments are compressed as one message, RSV1 on the first frame only")
    func sendsFragments() throws {
        var client = Self.core(.client)
        var server = Self.core(.server)
        let text = String(repeating: "fragmented text ", count: 100)
        let bytes = Array(text.utf8)
        try bytes[..<700].withUnsafeBytes { try client.sendFrame($0, kind: .text, isFinal: false) }
        try bytes[700..<701].withUnsafeBytes { try client.sendFrame($0, kind: .text, isFinal: false) }
        try bytes[701...].withUnsafeBytes { try client.sendFrame($0, kind: .text, isFinal: true) }
        try [UInt8]().withUnsafeBytes { try client.sendFrame($0, kind: .binary, isFinal: false) }
        try [UInt8]().withUnsafeBytes { try client.sendFrame($0, kind: .binary, isFinal: true) }
        let output = client.takeOutput()
        #expect(output.map { $0[0] } == [0x41, 0x00, 0x80, 0x42, 0x80])
        for bytes in output { server.receive(bytes) }
        #expect(server.drainEvents() == [.message(.text(text)), .message(.binary([]))])
    }

    // MARK: §6 RSV1 rules

    @Test(
        "§6: RSV1 is a protocol error without negotiation, on a continuation, and on control frames",
        arguments: [
            (false, "c1 07 f2 48 cd c9 c9 07 00"),
            (true, "41 03 f2 48 cd c0 04 c9 c9 07 00"),
            (true, "c9 00"),
            (true, "ca 00"),
            (true, "c8 02 03 e8"),
            (true, "a1 07 f2 48 cd c9 c9 07 00"),  // RSV2 is still reserved
        ])
    func reservedBitViolations(negotiated: Bool, bytes: String) {
        var client = Self.core(.client, negotiated ? .init() : nil)
        #expect(failureCode(of: client.events(after: hex(bytes))) == 1002)
    }

    @Test("§6.1: an uncompressed message (RSV1 clear) is accepted when deflate was negotiated")
    func uncompressedAccepted() {
        var client = Self.core(.client)
        #expect(client.events(after: hex("01 03 48 65 6c 80 02 6c 6f")) == [.message(.text("Hello"))])
    }

    @Test("RFC 6455 §8.1: invalid UTF-8 in the inflated text fails with 1007; garbage fails with 1007")
    func invalidInflatedPayload() throws {
        var server = Self.core(.server)
        try [UInt8]([0x48, 0xC3, 0x28]).withUnsafeBytes { try server.send($0, kind: .binary) }
        var bytes = server.takeOutput()[0]
        bytes[0] = 0xC1  // now claims to be text
        var client = Self.core(.client)
        #expect(failureCode(of: client.events(after: bytes)) == 1007)
        var other = Self.core(.client)
        #expect(failureCode(of: other.events(after: hex("c1 03 ff ff ff"))) == 1007)
    }

    // MARK: Round trips at every window size

    @Test(
        "§7.1: client ↔ server round trips at every window size 8–15, with and without context takeover",
        arguments: 8...15)
    func roundTrips(bits: Int) throws {
        var generator = SeededGenerator(seed: UInt64(bits))
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "ünïcödé", "🙂"]
        for takeover in [true, false] {
            let parameters = PMD.Parameters(
                serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover,
                serverMaxWindowBits: bits, clientMaxWindowBits: bits)
            var client = Self.core(.client, parameters)
            var server = Self.core(.server, parameters)
            for round in 0..<12 {
                let count = [0, 1, 50, 300, 2_000, 40_000][round % 6]
                var text = ""
                while text.utf8.count < count { text += words[Int(generator.next() % UInt64(words.count))] + " " }
                let binary = (0..<count).map { _ in UInt8(generator.next() % 16) }
                try client.send(text: text)
                #expect(Self.transfer(&client, &server) == [.message(.text(text))], "bits \(bits) takeover \(takeover)")
                try binary.withUnsafeBytes { try server.send(binary: $0) }
                #expect(Self.transfer(&server, &client) == [.message(.binary(binary))], "bits \(bits) takeover \(takeover)")
            }
            #expect(client.compressionStatistics.compressedBytesSent < client.compressionStatistics.uncompressedBytesSent)
            #expect(server.compressionStatistics.uncompressedBytesReceived == client.compressionStatistics.uncompressedBytesSent)
            #expect(server.compressionStatistics.compressedBytesReceived == client.compressionStatistics.compressedBytesSent)
        }
    }

    @Test("a copy of the core keeps its own compression context (value semantics)")
    func copiesAreIndependent() throws {
        var server = Self.core(.server)
        try server.send(text: "Hello")
        _ = server.takeOutput()
        var copy = server
        try copy.send(text: "Hello")
        try server.send(text: "Hello")
        #expect(copy.takeOutput() == [hex("c1 05 f2 00 11 00 00")])
        #expect(server.takeOutput() == [hex("c1 05 f2 00 11 00 00")])
    }

    // MARK: Decompression bombs

    /// 1 GiB of zeros, deflated to about 1 MB.
    ///
    /// Deflating the whole GiB took zlib 10 s or more on this 2-core VM, while both bomb tests held
    /// a thread of the cooperative pool (one deflating, one waiting for this `static let`), which
    /// starved the tests with deadlines running alongside. Every `compress` ends in a sync flush
    /// (a byte boundary), and from the second MiB on the window holds only zeros, so the second
    /// MiB's bytes also encode every later MiB: they are repeated instead of recomputed.
    static let bomb: [UInt8] = {
        let deflater = Deflater(windowBits: 15, memoryLevel: 9, level: 9)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        func next(last: Bool = false) -> [UInt8] { zeros.withUnsafeBytes { deflater.compress($0, endOfMessage: last) } }
        var compressed = next()
        let steady = next()
        for _ in 1..<1023 { compressed += steady }
        return compressed + next(last: true)
    }()

    @Test("maxMessageSize applies to the inflated size: 1 GiB of zeros in a ~1 MB frame fails with 1009 at the limit")
    func decompressionBomb() throws {
        let bomb = Self.bomb
        #expect(bomb.count < 2 << 20)
        // The inflater alone stops at the limit, having read only a sliver of the input.
        let inflater = Inflater()
        var output: [UInt8] = []
        #expect(bomb.withUnsafeBytes { inflater.inflate($0, appendingTo: &output, limit: 1 << 20) } == .tooBig)
        #expect(output.count == 1 << 20)
        #expect(output.capacity < 4 << 20)
        // The core fails on the first 64 KiB of the frame: nothing near 1 GiB was inflated.
        var client = Self.core(.client, maxMessageSize: 1 << 20)
        let frame = FrameEncoder.encode(opcode: .binary, reservedBits: 0x4, payload: bomb, maskingKey: nil)
        client.receive(frame[..<(64 << 10)])
        let events = client.drainEvents()
        #expect(failureCode(of: events) == 1009)
        #expect(client.compressionStatistics.compressedBytesReceived < 64 << 10)
        client.closeAfterFailure()
        #expect(closeCode(inOutput: client.takeOutput()) == 1009)
    }

    @Test("a bomb spread over many small fragments is stopped at the limit too")
    func fragmentedBomb() throws {
        var client = Self.core(.client, maxMessageSize: 100_000)
        let bomb = Self.bomb
        var events: [ConnectionCore.Event] = []
        var offset = 0
        var first = true
        while offset < bomb.count && events.isEmpty {
            let end = min(offset + 100, bomb.count)
            client.receive(
                FrameEncoder.encode(
                    opcode: first ? .binary : .continuation, isFinal: end == bomb.count,
                    reservedBits: first ? 0x4 : 0, payload: bomb[offset..<end], maskingKey: nil))
            events = client.drainEvents()
            offset = end
            first = false
        }
        #expect(failureCode(of: events) == 1009)
        #expect(offset < 10_000)
    }
}
