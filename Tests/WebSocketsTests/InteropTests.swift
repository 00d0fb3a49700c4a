import Testing

@testable import WebSockets

/// Interoperability with independent implementations: Python `websockets` and `aiohttp` servers
/// from PyPI, on loopback. See ``PythonPeer`` for how they are enabled.
@Suite("Interop with Python peers", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage), .serialized)
struct InteropTests {
    static let peers = ["echo_server.py", "aiohttp_echo_server.py"]

    static func connect(_ url: String, protocols: [String] = [], maxMessageSize: Int? = nil) async throws -> MessageWebSocket {
        var control = MessageWebSocketControl()
        control.supportedProtocols = protocols
        if let maxMessageSize { control.maxMessageSize = maxMessageSize }
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: url)
        return socket
    }

    @Test("text, binary, empty and 1 MiB messages echo intact", arguments: peers)
    func echo(_ script: String) async throws {
        let peer = try await PythonPeer(script: script)
        let socket = try await Self.connect(peer.url())
        var iterator = socket.messages.makeAsyncIterator()
        let mebibyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for message: Message in [
            .text("héllo wörld"), .binary([0, 255, 1]), .text(""), .binary([]), .binary(mebibyte),
            .text(String(repeating: "ü", count: 300_000)),
        ] {
            try await socket.send(message)
            #expect(try await iterator.next() == message)
        }
        try await socket.close(code: .normalClosure, reason: "done")
        #expect(try await iterator.next() == nil)
        #expect(await socket.closeStatus?.code == .normalClosure)
    }

    @Test("a 16 MiB message round-trips", arguments: peers)
    func sixteenMebibytes(_ script: String) async throws {
        let peer = try await PythonPeer(script: script)
        let socket = try await Self.connect(peer.url(), maxMessageSize: 16 * 1024 * 1024 + 1)
        let big = [UInt8](repeating: 0x5A, count: 16 * 1024 * 1024)
        try await socket.send(big)
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .binary(big))
        try await socket.close()
    }

    @Test("a fragmented message is reassembled by the peer", arguments: peers)
    func fragmentedMessage(_ script: String) async throws {
        let peer = try await PythonPeer(script: script)
        let socket = try await Self.connect(peer.url())
        await socket.setMessageType(.text)
        try await socket.sendNonfinalFrame(Array("frag".utf8))
        try await socket.sendNonfinalFrame(Array("ment".utf8))
        try await socket.sendFinalFrame(Array("ed".utf8))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("fragmented"))
        try await socket.close()
    }

    @Test("close codes and reasons travel both ways", arguments: peers, [UInt16(1000), 1001, 3000, 4999])
    func closeCodes(_ script: String, _ code: UInt16) async throws {
        let peer = try await PythonPeer(script: script)
        // Server-initiated: the peer closes with the code and reason in the path.
        let first = try await Self.connect(peer.url("/close/\(code)/server%20reason"))
        let ending = await drain(first)
        #expect(ending.error == nil)
        #expect(await first.closeStatus == WebSocketCloseStatus(code: CloseCode(code), reason: "server reason"))
        // Client-initiated: the close handshake completes. Python websockets echoes our code
        // (RFC 6455 §5.5.1 "typically"); aiohttp always answers 1000.
        let second = try await Self.connect(peer.url())
        try await second.close(code: CloseCode(code), reason: "client reason")
        let answer = await second.closeStatus?.code
        #expect(answer == (script == "echo_server.py" ? CloseCode(code) : .normalClosure))
        #expect(await second.state == .closed)
    }

    @Test("the subprotocol the peer selects is reported", arguments: peers)
    func subprotocol(_ script: String) async throws {
        let peer = try await PythonPeer(script: script, arguments: ["--subprotocol", "chat.v1"])
        let socket = try await Self.connect(peer.url("/subprotocol"), protocols: ["chat.v2", "chat.v1"])
        #expect(await socket.information.negotiatedProtocol == "chat.v1")
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("chat.v1"))
        try await socket.close()
    }

    @Test("custom request headers reach the peer", arguments: peers)
    func customHeaders(_ script: String) async throws {
        let peer = try await PythonPeer(script: script)
        let socket = MessageWebSocket()
        try await socket.setRequestHeader("X-Custom-Token", "abc123")
        try await socket.connect(to: peer.url("/headers"))
        var iterator = socket.messages.makeAsyncIterator()
        let headers = try await iterator.next()?.text ?? ""
        #expect(headers.contains("\"x-custom-token\": \"abc123\""))
        try await socket.close()
    }

    @Test("the CLI against a Python websockets server: lines out, echoes printed, close 1000 at EOF")
    func cliAgainstPythonServer() async throws {
        let peer = try await PythonPeer()
        let text = try await runCLI([peer.url()], input: "first line\nsecond ✓\n") { $0.split(separator: "\n").count == 2 }
        #expect(text.stdout == "first line\nsecond ✓\n")
        #expect(text.stderr == "closed 1000 \n")
        #expect(text.status == 0)
        let binary = try await runCLI([peer.url(), "--binary"], input: "xyz\n") { $0.contains("\n") }
        #expect(binary.stdout == "binary 3 bytes 78797a\n")
        let closing = try await runCLI([peer.url("/close/4000/bye")], closeInputWhen: { _ in false })
        #expect(closing.stderr == "closed 4000 bye\n")
        #expect(closing.status == 0)
    }
}

/// permessage-deflate (RFC 7692) against Python `websockets`, an independent implementation.
@Suite("Interop: compression with Python websockets", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage), .serialized)
struct CompressionInteropTests {
    static func messages() -> [Message] {
        var json = ""
        for index in 0..<3000 { json += "{\"id\":\(index),\"name\":\"item \(index % 13)\",\"ok\":true}," }
        return [
            .text("héllo wörld"), .text(""), .binary([]), .text(json), .binary(Array(json.utf8).reversed()),
            .text(String(repeating: "ü", count: 300_000)), .binary((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
        ]
    }

    static func roundTrip(_ socket: MessageWebSocket) async throws {
        var iterator = socket.messages.makeAsyncIterator()
        for message in messages() {
            try await socket.send(message)
            #expect(try await iterator.next() == message)
        }
        await socket.setMessageType(.text)
        try await socket.sendNonfinalFrame(Array("compressed ".utf8))
        try await socket.sendNonfinalFrame(Array(repeating: UInt8(ascii: "f"), count: 10_000))
        try await socket.sendFinalFrame(Array(" fragments".utf8))
        #expect(try await iterator.next() == .text("compressed " + String(repeating: "f", count: 10_000) + " fragments"))
        try await socket.close(code: .normalClosure, reason: "done")
        #expect(try await iterator.next() == nil)
    }

    @Test("§7.1: the default offer against the peer's defaults (--compression on) negotiates 12-bit windows")
    func defaults() async throws {
        let peer = try await PythonPeer(script: "echo_server.py", arguments: ["--compression", "on"])
        let socket = MessageWebSocket()
        try await socket.connect(to: peer.url())
        #expect(
            await socket.information.compression == PerMessageDeflate.Parameters(serverMaxWindowBits: 12, clientMaxWindowBits: 12)
        )
        try await Self.roundTrip(socket)
        let stats = await socket.information.statistics.compression
        #expect(stats.compressedBytesSent * 3 < stats.uncompressedBytesSent)
        #expect(stats.compressedBytesReceived * 3 < stats.uncompressedBytesReceived)
    }

    @Test("§7.1: round trips at window sizes 9–15, with and without context takeover", arguments: 9...15)
    func windowSizes(bits: Int) async throws {
        let peer = try await PythonPeer(script: "echo_server.py", arguments: ["--compression", "accept-all"])
        for takeover in [true, false] {
            var control = MessageWebSocketControl()
            control.compression = .deflate(
                .init(
                    clientMaxWindowBits: bits, serverMaxWindowBits: bits,
                    clientNoContextTakeover: !takeover, serverNoContextTakeover: !takeover,
                    minimumMessageSize: 0))
            let socket = MessageWebSocket(control: control)
            try await socket.connect(to: peer.url())
            #expect(
                await socket.information.compression
                    == PerMessageDeflate.Parameters(
                        serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover,
                        serverMaxWindowBits: bits, clientMaxWindowBits: bits))
            try await Self.roundTrip(socket)
        }
    }

    @Test("compression off on the peer: the offer is declined and messages flow uncompressed")
    func declined() async throws {
        let peer = try await PythonPeer(script: "echo_server.py")
        let socket = MessageWebSocket()
        try await socket.connect(to: peer.url())
        #expect(await socket.information.compression == nil)
        try await Self.roundTrip(socket)
    }

    @Test("aiohttp with compression: negotiated and echoed")
    func aiohttp() async throws {
        let peer = try await PythonPeer(script: "aiohttp_echo_server.py", arguments: ["--compression", "on"])
        let socket = MessageWebSocket()
        try await socket.connect(to: peer.url())
        #expect(await socket.information.compression != nil)
        try await Self.roundTrip(socket)
    }
}
