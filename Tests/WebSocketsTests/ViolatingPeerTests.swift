import Testing
import WebSocketCore
import WebSocketServer

@testable import WebSockets

/// A WebSocket server on 127.0.0.1 that accepts one connection, sends `bytes` right after the
/// handshake, and records everything the client sends until the client closes TCP.
struct MisbehavingServer {
    let listener: TCPListener

    init() throws { listener = try TCPListener.bind(host: "127.0.0.1", port: 0) }

    var url: String { "ws://127.0.0.1:\(listener.port)/" }

    /// Serves one connection; returns the client's bytes after its upgrade request.
    func serveOnce(sending bytes: [UInt8]) async throws -> [UInt8] {
        defer { listener.close() }
        let connection = try await listener.accept()
        defer { connection.close() }
        var parser = HTTPHeadParser<HTTPRequestHead>()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var received: [UInt8] = []
        while true {
            let count = try await connection.read(into: &buffer)
            guard count > 0 else { throw WebSocketError(.connectionAborted, "the client left before its upgrade request") }
            guard case .complete(let head, let remaining) = try parser.append(buffer[..<count]) else { continue }
            let request = try ServerHandshake.validate(request: head)
            try await connection.write([ServerHandshake.responseBytes(for: request, subprotocol: nil), bytes])
            received = Array(remaining)
            break
        }
        while true {
            let count: Int
            do { count = try await connection.read(into: &buffer) } catch { return received }  // a reset ends it too
            if count == 0 { return received }
            received += buffer[..<count]
        }
    }
}

/// The lifecycle issue's scenarios over real TCP, with programs that exit on the error: the peer
/// must have the close frame with the right code (RFC 6455 §7.1.7) before the connection ends.
@Suite("Violating peers over loopback get the right close frame")
struct ViolatingPeerTests {
    @Test(
        "the websocket CLI, which exits as soon as messages throws, sends the violation's close code first",
        arguments: ViolationScenario.all(violatorIsServer: true))
    func cliClosesWithTheViolationsCode(_ scenario: ViolationScenario) async throws {
        let server = try MisbehavingServer()
        async let clientBytes = server.serveOnce(sending: scenario.bytes(false))
        let run = try await runCLI([server.url], closeInputWhen: { _ in false })  // stdin stays open
        #expect(run.status == 1, "\(scenario): \(run.stderr)")
        #expect(run.stderr.contains("error"), "\(scenario)")
        #expect(closeCodes(in: try await clientBytes, writtenBy: .client) == [scenario.expectedCode], "\(scenario)")
    }

    @Test(
        "our server, whose handler returns when messages throws, sends the violation's close code first",
        arguments: ViolationScenario.all(violatorIsServer: false))
    func serverClosesWithTheViolationsCode(_ scenario: ViolationScenario) async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                do { for try await _ in socket.messages {} } catch {}
            }
        ) { server in
            let raw = try await RawWebSocketClient(port: server.port)
            defer { raw.close() }
            try await raw.upgrade()
            try await raw.transport.write([scenario.bytes(true)], isolation: nil)
            #expect(closeCodes(in: try await raw.readToEnd(), writtenBy: .server) == [scenario.expectedCode], "\(scenario)")
        }
    }

    @Test(
        "the fragment context: when readFragment throws, the violation's close frame is on the wire",
        arguments: ViolationScenario.all(violatorIsServer: false))
    func fragmentContextClosesWithTheViolationsCode(_ scenario: ViolationScenario) async throws {
        try await withTeardown(
            await FragmentContextTests.connectRaw(),
            tearDown: { listener, raw, _ in
                raw.close()
                await listener.shutDown()
            }
        ) { _, raw, context in
            try await raw.transport.write([scenario.bytes(true)], isolation: nil)
            var buffer = [UInt8](repeating: 0, count: 1024)
            await #expect(throws: WebSocketError.self, "\(scenario)") {
                while try await !context.readFragment(into: &buffer).isConnectionClose {}
            }
            // The close frame was written before the error surfaced: the client reads it, then the end.
            #expect(closeCodes(in: try await raw.readToEnd(), writtenBy: .server) == [scenario.expectedCode], "\(scenario)")
        }
    }
}
