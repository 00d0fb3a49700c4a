import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// RFC 6455 §4.1: the client fails the connection on any defect in the server's response.
@Suite("Opening handshake failures")
struct HandshakeFailureTests {
    /// Connects a socket to a peer that answers the upgrade request with `response`.
    static func connect(answering response: (UpgradeRequest) -> String, control: MessageWebSocketControl = .init())
        async -> WebSocketError?
    {
        let (client, server) = InMemoryTransport.makePair()
        let peer = MockWebSocketServer(transport: server)
        let socket = MessageWebSocket(control: control)
        async let connected: Void = socket.connect(to: "ws://mock.test/", over: client)
        do {
            let request = try await peer.readHandshakeRequest()
            try await peer.sendRaw(Array(response(request).utf8))
            await peer.endStream()
            try await connected
            return nil
        } catch {
            _ = try? await connected
            return error as? WebSocketError
        }
    }

    static func accept(_ request: UpgradeRequest) -> String {
        Handshake.acceptValue(forKey: request.key)
    }

    @Test("a non-101 status fails with handshakeFailed(status), keeping headers and the body's start")
    func nonSwitchingStatus() async throws {
        let error = await Self.connect { _ in
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nno route!"
        }
        #expect(error?.status == .handshakeFailed(httpStatus: 404))
        #expect(error?.handshakeResponse?.status == 404)
        #expect(error?.handshakeResponse?.headers.first?.name == "Content-Type")
        #expect(error?.handshakeResponse?.bodyPrefix == Array("no route!".utf8))
    }

    @Test("a wrong Sec-WebSocket-Accept fails the handshake (§4.1, §4.2.2)")
    func wrongAcceptKey() async throws {
        let error = await Self.connect { _ in
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
        }
        #expect(error?.status == .handshakeFailed(httpStatus: 101))
    }

    @Test("a missing Upgrade header fails the handshake")
    func missingUpgrade() async throws {
        let error = await Self.connect { request in
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(Self.accept(request))\r\n\r\n"
        }
        #expect(error?.status == .handshakeFailed(httpStatus: 101))
    }

    @Test("a subprotocol the client never offered fails the handshake")
    func unofferedSubprotocol() async throws {
        var control = MessageWebSocketControl()
        control.supportedProtocols = ["a"]
        let error = await Self.connect(
            answering: { request in
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(Self.accept(request))\r\nSec-WebSocket-Protocol: b\r\n\r\n"
            }, control: control)
        #expect(error?.status == .handshakeFailed(httpStatus: 101))
        #expect(error?.message.contains("b") == true)
    }

    @Test("a response head over maxHandshakeResponseSize fails without buffering it all")
    func oversizedResponse() async throws {
        var control = MessageWebSocketControl()
        control.maxHandshakeResponseSize = 1024
        let error = await Self.connect(
            answering: { _ in
                "HTTP/1.1 101 Switching Protocols\r\nX-Filler: " + String(repeating: "x", count: 4096) + "\r\n\r\n"
            }, control: control)
        #expect(error?.status == .handshakeFailed(httpStatus: 0))
    }

    @Test("a server that closes during the handshake fails it")
    func closedDuringHandshake() async throws {
        let error = await Self.connect { _ in "HTTP/1.1 101 Switch" }
        #expect(error?.status == .handshakeFailed(httpStatus: 0))
    }

    @Test("a server that never answers fails with timeout after openTimeout, naming the step and the URL")
    func silentServerTimesOut() async throws {
        var control = MessageWebSocketControl()
        control.openTimeout = .milliseconds(150)
        let (client, server) = InMemoryTransport.makePair()
        let socket = MessageWebSocket(control: control)
        let error = await #expect(throws: WebSocketError.self) { try await socket.connect(to: "ws://mock.test/", over: client) }
        #expect(error?.status == .timeout)
        let message = error?.message ?? ""
        #expect(message.hasSuffix("timed out during the WebSocket opening handshake with ws://mock.test/"), "\(message)")
        #expect(await socket.state == .idle)  // a failed connect leaves the socket reusable
        _ = server
    }

    @Test(
        "malformed URLs are refused before any I/O",
        arguments: [
            ("http://example.com/", WebSocketError.Status.invalidArgument),
            ("ws://example.com/#fragment", .invalidArgument),
            ("ws://:80/", .invalidArgument),
            ("ws://example.com:99999/", .invalidArgument),
            ("wss://example.com:99999/", .invalidArgument),
        ])
    func refusedURLs(_ url: String, _ status: WebSocketError.Status) async {
        let socket = MessageWebSocket()
        #expect(await thrownStatus { try await socket.connect(to: url) } == status)
    }
}
