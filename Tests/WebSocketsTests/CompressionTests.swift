import Testing
import WebSocketServer
import WebSocketTesting

@testable import WebSockets

/// permessage-deflate (RFC 7692) through the public API: negotiation in the handshake, both roles
/// over loopback, and what `information` reports.
@Suite("permessage-deflate through MessageWebSocket and WebSocketServer")
struct CompressionTests {
    static func echoServer(_ compression: WebSocketCompression = .serverDefault, maxMessageSize: Int = 16 << 20) async throws
        -> WebSocketServer
    {
        var configuration = WebSocketServer.Configuration()
        configuration.compression = compression
        configuration.receiveBufferLimit = maxMessageSize
        return try await WebSocketServer.start(configuration: configuration) { socket in
            for try await message in socket.messages { try await socket.send(message) }
        }
    }

    static func text(_ size: Int) -> String {
        var text = ""
        var index = 0
        while text.utf8.count < size {
            text += "{\"id\":\(index),\"name\":\"item \(index % 17)\",\"tags\":[\"a\",\"b\"]} "
            index += 1
        }
        return text
    }

    @Test("§7.1: by default the client offers and our server accepts with 12-bit windows; messages echo intact and shrink")
    func defaultsNegotiate() async throws {
        try await withTeardown(await Self.echoServer()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: "ws://127.0.0.1:\(server.port)/")
            let big = Self.text(1 << 20)
            let messages: [Message] = [.text("tiny"), .text(""), .text(Self.text(8 << 10)), .text(big), .binary(Array(big.utf8))]
            var iterator = socket.messages.makeAsyncIterator()
            for message in messages {
                try await socket.send(message)
                #expect(try await iterator.next() == message)
            }
            let info = await socket.information
            #expect(info.negotiatedExtensions == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
            #expect(info.compression == PerMessageDeflate.Parameters(serverMaxWindowBits: 12, clientMaxWindowBits: 12))
            let stats = info.statistics.compression
            #expect(stats.uncompressedBytesSent > 2 << 20)
            #expect(stats.compressedBytesSent * 4 < stats.uncompressedBytesSent)
            #expect(stats.uncompressedBytesReceived == stats.uncompressedBytesSent)
            #expect(info.statistics.bytesSent < stats.uncompressedBytesSent)
            try await socket.close()
        }
    }

    @Test(
        "§7.1: every window size 8–15 and both context-takeover settings round-trip against our server",
        arguments: 8...15)
    func windowSizes(bits: Int) async throws {
        try await withTeardown(await Self.echoServer(.deflate(.init()))) { server in
            for takeover in [true, false] {
                var control = MessageWebSocketControl()
                control.compression = .deflate(
                    .init(
                        clientMaxWindowBits: bits, serverMaxWindowBits: bits,
                        clientNoContextTakeover: !takeover, serverNoContextTakeover: !takeover,
                        minimumMessageSize: 0))
                let socket = MessageWebSocket(control: control)
                try await socket.connect(to: "ws://127.0.0.1:\(server.port)/")
                #expect(
                    await socket.information.compression
                        == PerMessageDeflate.Parameters(
                            serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover,
                            serverMaxWindowBits: bits, clientMaxWindowBits: bits))
                var iterator = socket.messages.makeAsyncIterator()
                for size in [0, 10, 1000, 100_000] {
                    let message = Message.text(Self.text(size))
                    try await socket.send(message)
                    #expect(try await iterator.next() == message)
                }
                try await socket.sendNonfinalFrame(Array(Self.text(5000).utf8))
                try await socket.sendFinalFrame(Array(Self.text(3000).utf8))
                #expect(try await iterator.next() == .binary(Array(Self.text(5000).utf8) + Array(Self.text(3000).utf8)))
                try await socket.close()
            }
        }
    }

    @Test("compression off on either side means no extension and plain frames")
    func disabled() async throws {
        try await withTeardown(await Self.echoServer(.disabled)) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: "ws://127.0.0.1:\(server.port)/")
            try await socket.send(text: Self.text(1000))
            var iterator = socket.messages.makeAsyncIterator()
            _ = try await iterator.next()
            #expect(await socket.information.compression == nil)
            #expect(await socket.information.negotiatedExtensions == nil)
            #expect(await socket.information.statistics.compression == .init())
            try await socket.close()

            try await withTeardown(await Self.echoServer()) { other in
                var control = MessageWebSocketControl()
                control.compression = .disabled
                let plain = MessageWebSocket(control: control)
                try await plain.connect(to: "ws://127.0.0.1:\(other.port)/")
                #expect(await plain.information.compression == nil)
                try await plain.close()
            }
        }
    }

    @Test("maxMessageSize limits the inflated size: a message that inflates past it fails with 1009 (messageTooBig)")
    func decompressedLimit() async throws {
        try await withTeardown(await Self.echoServer()) { server in
            var control = MessageWebSocketControl()
            control.maxMessageSize = 100_000
            let socket = MessageWebSocket(control: control)
            try await socket.connect(to: "ws://127.0.0.1:\(server.port)/")
            // The server echoes 1 MB of zeros (a few KB compressed) back to a client that allows 100 kB.
            try await socket.send(.binary([UInt8](repeating: 0, count: 1_000_000)))
            var iterator = socket.messages.makeAsyncIterator()
            await #expect { try await iterator.next() } throws: { ($0 as? WebSocketError)?.status == .messageTooBig }
        }
    }

    @Test("invalid compression options are rejected before connecting")
    func invalidOptions() async throws {
        var control = MessageWebSocketControl()
        control.compression = .deflate(.init(clientMaxWindowBits: 16))
        let socket = MessageWebSocket(control: control)
        await #expect { try await socket.connect(to: "ws://127.0.0.1:1/") } throws: {
            ($0 as? WebSocketError)?.status == .invalidArgument
        }
    }

    // MARK: §7 responses that do not match the offer

    static func connect(answering extensions: String, control: MessageWebSocketControl = .init()) async -> WebSocketError? {
        await HandshakeFailureTests.connect(
            answering: { request in
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(HandshakeFailureTests.accept(request))\r\nSec-WebSocket-Extensions: \(extensions)\r\n\r\n"
            }, control: control)
    }

    @Test(
        "§7: a response that does not match the offer fails with handshakeFailed(101) and says why",
        arguments: [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; foo=bar",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "x-webkit-deflate-frame",
            "permessage-deflate, permessage-deflate",
        ])
    func badResponses(extensions: String) async {
        let error = await Self.connect(answering: extensions)
        #expect(error?.status == .handshakeFailed(httpStatus: 101))
        #expect(error?.message.contains("permessage-deflate") == true)
    }

    @Test("§4.1: an extension in the response when compression is disabled fails the handshake")
    func unrequested() async {
        var control = MessageWebSocketControl()
        control.compression = .disabled
        let error = await Self.connect(answering: "permessage-deflate", control: control)
        #expect(error?.status == .handshakeFailed(httpStatus: 101))
    }

    @Test("the client's default offer is exactly `permessage-deflate; client_max_window_bits`")
    func defaultOfferOnTheWire() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let peer = MockWebSocketServer(transport: server)
        let socket = MessageWebSocket()
        async let connected: Void = socket.connect(to: "ws://mock.test/", over: client)
        let request = try await peer.readHandshakeRequest()
        #expect(request.extensions == "permessage-deflate; client_max_window_bits")
        await peer.endStream()
        _ = try? await connected
    }
}
