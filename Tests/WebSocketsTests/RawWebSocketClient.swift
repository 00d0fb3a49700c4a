import WebSocketCore
import WebSocketServer

@testable import WebSockets

/// A hand-driven client over real TCP for server tests: it writes exactly the request bytes it is
/// given, shows the raw response head, and speaks frames through a client-role `ConnectionCore`,
/// so a test can do what `MessageWebSocket` never would (stop reading, look at every frame,
/// send pings or broken handshakes).
final class RawWebSocketClient {
    let transport: TCPTransport
    private(set) var core = ConnectionCore(role: .client, randomNumberGenerator: SystemRandomNumberGenerator())
    private var pending: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1") async throws {
        transport = try await TCPTransport.connect(host: host, port: port)
    }

    /// A valid RFC 6455 §4.1 request for `path`, with extra header lines.
    static func upgradeRequest(path: String = "/", protocols: [String] = [], extraHeaders: [String] = []) -> String {
        var lines = [
            "GET \(path) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        ]
        if !protocols.isEmpty { lines.append("Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))") }
        lines += extraHeaders
        return lines.joined(separator: "\r\n") + "\r\n\r\n"
    }

    /// Connects to `port` on 127.0.0.1 and sends a valid upgrade request for `path`; the
    /// response is left for the caller to read.
    static func requestingUpgrade(port: Int, path: String = "/") async throws -> RawWebSocketClient {
        let client = try await RawWebSocketClient(port: port)
        try await client.send(raw: upgradeRequest(path: path))
        return client
    }

    func send(raw text: String) async throws {
        try await transport.write([Array(text.utf8)], isolation: nil)
    }

    /// Reads until the end of the response head and returns it (status line and headers);
    /// bytes after it stay for the frame reader.
    func readResponseHead() async throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<end.upperBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                return head
            }
            let count = try await transport.read(into: &buffer, isolation: nil)
            guard count > 0 else { return String(decoding: pending, as: UTF8.self) }
            pending += buffer[..<count]
        }
    }

    /// Sends the upgrade request and checks for 101; returns the response head.
    @discardableResult
    func upgrade(path: String = "/", protocols: [String] = []) async throws -> String {
        try await send(raw: Self.upgradeRequest(path: path, protocols: protocols))
        let head = try await readResponseHead()
        guard head.hasPrefix("HTTP/1.1 101 ") else { throw WebSocketError(.handshakeFailed(httpStatus: 0), head) }
        return head
    }

    /// Reads until the server closes the connection; returns everything after what was consumed.
    func readToEnd() async throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var all = pending
        pending = []
        while true {
            let count = try await transport.read(into: &buffer, isolation: nil)
            if count == 0 { return all }
            all += buffer[..<count]
        }
    }

    /// The next protocol event from the server (pings included), `nil` at end of stream.
    func nextEvent() async throws -> ConnectionCore.Event? {
        if !pending.isEmpty {
            core.receive(pending)
            pending = []
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            if let event = core.nextEvent() { return event }
            let count = try await transport.read(into: &buffer, isolation: nil)
            if count == 0 {
                core.receiveEndOfStream()
                return core.nextEvent()
            }
            core.receive(buffer[..<count])
        }
    }

    /// Queues frames through the client core (text, binary, pieces, pings, close) and writes them.
    func send(_ build: (inout ConnectionCore) throws -> Void) async throws {
        try build(&core)
        try await transport.write(core.takeOutput(), isolation: nil)
    }

    func close() {
        transport.close()
    }
}
