import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// A server the test scripts byte by byte, over the in-memory pair or over loopback TCP, so that
/// one test body checks the client over both.
protocol ScriptedPeer: Sendable {
    /// Writes bytes exactly as given (frames made with ``scriptedFrame(_:_:isFinal:)``).
    func sendRaw(_ bytes: [UInt8]) async throws
    /// Reads what the client sends until its close frame arrived, answers it with a close frame
    /// of the same code (completing the handshake, RFC 6455 §5.5.1) and returns the client's code.
    func awaitClientClose() async throws -> UInt16
}

/// Where the scripted peer runs.
enum PeerPlacement: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    case loopback

    var testDescription: String { rawValue }

    /// A client socket with `control`, connected to a new scripted peer.
    func connect(control: MessageWebSocketControl) async throws -> (socket: MessageWebSocket, peer: any ScriptedPeer) {
        switch self {
        case .inMemory:
            let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
            return (socket, peer)
        case .loopback:
            return try await LoopbackScriptedPeer.connectedPair(control: control)
        }
    }
}

/// An unmasked server frame (§5.1: servers never mask).
func scriptedFrame(_ opcode: Opcode, _ payload: [UInt8], isFinal: Bool = true) -> [UInt8] {
    FrameEncoder.encode(opcode: opcode, isFinal: isFinal, reservedBits: 0, payload: payload, maskingKey: nil)
}

extension MockWebSocketServer: ScriptedPeer {
    func awaitClientClose() async throws -> UInt16 {
        try await nextClose().code.rawValue  // the mock answers the close frame by itself
    }
}

/// A WebSocket server on 127.0.0.1 for one connection: it completes the opening handshake, then
/// writes only what the test tells it to.
final class LoopbackScriptedPeer: ScriptedPeer {
    let listener: TCPListener
    let connection: TCPTransport

    private init(listener: TCPListener, connection: TCPTransport) {
        self.listener = listener
        self.connection = connection
    }

    deinit {
        connection.close()
        listener.close()
    }

    static func connectedPair(control: MessageWebSocketControl) async throws -> (socket: MessageWebSocket, peer: any ScriptedPeer)
    {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        let socket = MessageWebSocket(control: control)
        async let accepted = accept(on: listener)
        do {
            try await socket.connect(to: "ws://127.0.0.1:\(listener.port)/")
        } catch {
            listener.close()
            _ = try? await accepted
            throw error
        }
        return (socket, try await accepted)
    }

    private static func accept(on listener: TCPListener) async throws -> LoopbackScriptedPeer {
        let connection = try await listener.accept()
        var parser = HTTPHeadParser<HTTPRequestHead>()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try await connection.read(into: &buffer)
            guard count > 0 else { throw WebSocketError(.connectionAborted, "the client left before its upgrade request") }
            guard case .complete(let head, _) = try parser.append(buffer[..<count]) else { continue }
            let request = try ServerHandshake.validate(request: head)
            try await connection.write([ServerHandshake.responseBytes(for: request, subprotocol: nil)])
            return LoopbackScriptedPeer(listener: listener, connection: connection)
        }
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await connection.write([bytes])
    }

    func awaitClientClose() async throws -> UInt16 {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try await connection.read(into: &buffer)
            guard count > 0 else { throw WebSocketError(.connectionAborted, "the client ended TCP without a close frame") }
            received += buffer[..<count]
            if let code = closeCodes(in: received, writtenBy: .client).first {
                let echo = scriptedFrame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)])
                try? await connection.write([echo])
                connection.close()  // the server ends TCP first (§7.1.1)
                return code
            }
        }
    }
}
